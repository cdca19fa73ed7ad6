"""Attacks 4, 5, 6, 8 and 9: rollback, freeze, mix-and-match, bad signatures,
fast-forward, all on TUF metadata served by a hostile mirror.

Each test lets the client trust the repository first, then serves the
attacker's metadata; the run must fail in one line naming the failure class,
install nothing, and leave the trusted metadata where an honest run still
works. Files the real repository never published (expired copies, metadata
signed by a stolen, wrong or revoked key) are made by ``forge.Forger``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root, Snapshot, TargetFile, Targets, Timestamp

from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tests.attacks.forge import NOBODY, Forger, fresh_signer, past, role_signers
from tests.support.distributions import make_wheel
from tests.support.repositories import repo_sign

PAGE = "simple/beta/vnd.pypi.simple.v1.json"


def _trusted(client: Client) -> None:
    run = client("refresh")
    assert run.returncode == 0, run.describe()


def _published(mirror: Mirror) -> dict[str, bytes]:
    """Every metadata file the mirror serves now, by URL path."""
    return {
        f"/metadata/{p.name}": p.read_bytes() for p in (mirror.workspace / "metadata").iterdir()
    }


def _newer_state(mirror: Mirror, client: Client, tmp_path: Path) -> dict[str, bytes]:
    """The client trusts state A; the repository publishes B (beta 2.0) and the
    client trusts B. Returns A's metadata files."""
    _trusted(client)
    old = _published(mirror)
    repo_sign("add", "--repo", mirror.workspace, make_wheel(tmp_path / "new", "beta", "2.0"))
    _trusted(client)
    return old


def _attack(client: Client, venv: Path, *words: str | tuple[str, ...], code: int = 4) -> str:
    before = tree(venv)
    line = assert_refused(client.install(venv, "beta"), *words, code=code)
    assert tree(venv) == before
    return line


# ---- 4. rollback -------------------------------------------------------------
def test_rollback_timestamp(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    old = _newer_state(mirror, client, tmp_path)
    mirror.server.serve_files({"/metadata/timestamp.json": old["/metadata/timestamp.json"]})
    _attack(client, venv, "rollback refused: timestamp version 2 is older than trusted version 3")
    assert_recovers(client, mirror, venv2)


def test_rollback_snapshot_with_stolen_timestamp_key(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """A new timestamp, signed with the real key, pointing at the older snapshot."""
    old = _newer_state(mirror, client, tmp_path)
    old_snapshot = Forger(mirror.workspace).snapshot().signed.version - 1

    def point_back(md: Metadata) -> None:
        md.signed.snapshot_meta.version = old_snapshot
        md.signed.snapshot_meta.hashes = None
        md.signed.snapshot_meta.length = None

    mirror.server.serve_files(mirror.forger.chain({Timestamp.type: point_back}))
    assert f"/metadata/{old_snapshot}.snapshot.json" in old
    _attack(client, venv, f"rollback refused: snapshot version {old_snapshot} is older")
    assert_recovers(client, mirror, venv2)


def test_rollback_bin_bytes_at_the_new_name(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """Without keys: the bin listing beta 1.0 only, served as the bin listing 2.0."""
    old = _newer_state(mirror, client, tmp_path)
    forger = mirror.forger
    role = forger.role_of(PAGE)
    version = forger.snapshot().signed.meta[f"{role}.json"].version
    mirror.server.serve_files({forger.url(role): old[f"/metadata/{version - 1}.{role}.json"]})
    _attack(client, venv, "rollback", role, str(version - 1), str(version))
    assert_recovers(client, mirror, venv2)


@pytest.mark.parametrize("role", ["bin", Targets.type])
def test_rollback_listed_by_stolen_snapshot_key(
    role: str, mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """A new snapshot (and timestamp), signed with the real keys, listing an older
    targets or bin version."""
    _newer_state(mirror, client, tmp_path)
    forger = mirror.forger
    name = forger.role_of(PAGE) if role == "bin" else Targets.type
    if role == Targets.type:  # make targets move on first: only bins change when adding
        forger.write_into(forger.chain({Targets.type: lambda md: None}))
        _trusted(client)
    trusted = forger.snapshot().signed.meta[f"{name}.json"].version

    def list_older(md: Metadata) -> None:
        md.signed.meta[f"{name}.json"].version = trusted - 1

    mirror.server.serve_files(forger.chain({Snapshot.type: list_older}))
    _attack(client, venv, f"rollback refused: {name}.json version {trusted - 1} is older")
    assert_recovers(client, mirror, venv2, publishes=2)


# ---- 5. freeze ------------------------------------------------------------------
def _expire(md: Metadata) -> None:
    md.signed.expires = past()


@pytest.mark.parametrize("role", [Timestamp.type, Snapshot.type])
def test_freeze(role: str, mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    """The repository's own signatures, on a state whose validity has run out (a
    mirror that froze it). An expired timestamp is never persisted; the
    timestamp above an expired snapshot is, so the client recovers at the
    repository's next publish."""
    frozen = role == Timestamp.type
    mirror.server.serve_files(mirror.forger.chain({role: _expire}, bump_timestamp=frozen))
    _attack(client, venv, f"{role}.json expired at", "stale metadata")
    assert_recovers(client, mirror, venv2, publishes=0 if frozen else 1)


@pytest.mark.parametrize("role", [Targets.type, "bin"])
def test_freeze_targets_metadata(
    role: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """The version the snapshot lists, signed by the repository, past its expiry."""
    name = mirror.forger.role_of(PAGE) if role == "bin" else role
    mirror.server.serve_files(mirror.forger.replace_role(name, _expire))
    _attack(client, venv, f"{name}.json expired at", "stale metadata")
    assert_recovers(client, mirror, venv2)


def test_freeze_root(mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    """Root version 2, published by the repository, has expired: clients stop
    (a root is trusted once its keys sign it, expired or not, so only the root
    key holders can end this) until they sign version 3 in a ceremony."""
    url, data, _ = mirror.forger.new_root(_expire)
    mirror.forger.write_into({url: data})
    (mirror.workspace / "metadata" / "root.json").write_bytes(data)
    _attack(client, venv, "root.json expired at")

    workspace = mirror.workspace
    repo_sign("--repo", workspace, "ceremony", "propose", "root")
    root_key = next(p for p in (workspace / "keys").glob("root-*") if p.suffix != ".pub")
    staged = workspace / "staged" / "root.json"
    repo_sign("--repo", workspace, "ceremony", "sign", staged, "--key", root_key, "--yes")
    repo_sign("--repo", workspace, "ceremony", "publish")
    assert_recovers(client, mirror, venv2)


# ---- 6. mix-and-match -------------------------------------------------------------
def test_mix_new_timestamp_with_old_snapshot(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """A client trusting state A is served B's timestamp with A's snapshot under
    B's name: the timestamp pins the snapshot's hash (also the keyless form of a
    snapshot rollback)."""
    _trusted(client)
    old_snapshot = mirror.forger.snapshot().to_bytes()
    repo_sign("add", "--repo", mirror.workspace, make_wheel(tmp_path / "new", "beta", "2.0"))
    mirror.server.serve_files({mirror.forger.url(Snapshot.type): old_snapshot})
    _attack(client, venv, "metadata failed verification", "hash")
    assert_recovers(client, mirror, venv2)


@pytest.mark.parametrize("file", ["page", "wheel"])
def test_mix_index_page_or_file_of_one_state_into_another(
    file: str, mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """State B lists beta 2.0: the mirror serves A's project page (no 2.0) under B's
    name, or beta 1.0's wheel as 2.0's."""
    _trusted(client)
    forger = mirror.forger
    old_page = (mirror.workspace / forger.target_url(PAGE).lstrip("/")).read_bytes()
    old_wheel_url = forger.target_url("packages/beta/beta-1.0-py3-none-any.whl")
    old_wheel = (mirror.workspace / old_wheel_url.lstrip("/")).read_bytes()
    repo_sign("add", "--repo", mirror.workspace, make_wheel(tmp_path / "new", "beta", "2.0"))
    if file == "page":
        target, data = PAGE, old_page
    else:
        target, data = "packages/beta/beta-2.0-py3-none-any.whl", old_wheel
    mirror.server.serve_files({forger.target_url(target): data})
    _attack(client, venv, target, ("does not match signed metadata", "longer than its signed"))
    assert_recovers(client, mirror, venv2)


# ---- 8. signatures --------------------------------------------------------------


def _later(md: Metadata) -> None:
    md.signed.expires = md.signed.expires.replace(year=md.signed.expires.year + 1)


HOW = ["unsigned", "wrong-key", "edited-after-signing"]


def _evil_entry(md: Metadata) -> None:
    """What a mirror would want a bin or targets to say: one more target."""
    md.signed.targets["packages/beta/beta-9.9-py3-none-any.whl"] = TargetFile(
        10, {"sha256": "0" * 64}, "packages/beta/beta-9.9-py3-none-any.whl"
    )


def _signers(how: str) -> list | None:
    return {"unsigned": NOBODY, "wrong-key": [fresh_signer()]}.get(how)


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("role", [Targets.type, "bin"])
def test_badly_signed_targets_metadata(
    role: str, how: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """No key needed above it: the snapshot pins the version of targets metadata,
    not its hash, so the mirror swaps the file in place (the client has not
    cached it yet)."""
    name = mirror.forger.role_of(PAGE) if role == "bin" else role
    after = _later if how == "edited-after-signing" else None
    edit = _evil_entry if how != "edited-after-signing" else (lambda md: None)
    mirror.server.serve_files(
        mirror.forger.replace_role(name, edit, signers=_signers(how), after_signing=after)
    )
    _attack(client, venv, "not signed by trusted keys", f"{name} was signed by 0/1 keys")
    assert_recovers(client, mirror, venv2)


@pytest.mark.parametrize("how", HOW)
def test_badly_signed_timestamp(
    how: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    _trusted(client)
    signers = {Timestamp.type: s} if (s := _signers(how)) is not None else {}
    after = {Timestamp.type: _later} if how == "edited-after-signing" else None
    mirror.server.serve_files(mirror.forger.chain({}, signers=signers, after_signing=after))
    _attack(client, venv, "not signed by trusted keys", "timestamp was signed by 0/1 keys")
    assert_recovers(client, mirror, venv2)


@pytest.mark.parametrize("how", HOW)
def test_badly_signed_snapshot_under_a_stolen_timestamp_key(
    how: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """Without the timestamp key a changed snapshot fails the hash the timestamp
    pins (test_mix_new_timestamp_with_old_snapshot); with it, the snapshot's own
    signature is what is checked."""
    signers = {Snapshot.type: s} if (s := _signers(how)) is not None else {}
    after = {Snapshot.type: _later} if how == "edited-after-signing" else None
    mirror.server.serve_files(
        mirror.forger.chain(
            {Snapshot.type: lambda md: None},
            signers=signers,
            after_signing=after,
            bump_timestamp=False,
        )
    )
    _attack(client, venv, "not signed by trusted keys", "snapshot was signed by 0/1 keys")
    assert_recovers(client, mirror, venv2, publishes=1)


@pytest.mark.parametrize("how", HOW)
def test_badly_signed_root(
    how: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    url, data, root = mirror.forger.new_root(lambda md: None, signers=_signers(how))
    if how == "edited-after-signing":
        _later(root)
        data = root.to_bytes()
    mirror.server.serve_files({url: data})
    _attack(client, venv, "not signed by trusted keys", "root")
    assert_recovers(client, mirror, venv2)


def test_root_under_threshold(mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    """Root version 2 asks for 2 of 2 root keys and carries only the old key's signature."""
    extra = fresh_signer()

    def two_of_two(md: Metadata) -> None:
        md.signed.add_key(extra.public_key, Root.type)
        md.signed.roles[Root.type].threshold = 2

    url, data, _ = mirror.forger.new_root(two_of_two)
    mirror.server.serve_files({url: data})
    _attack(client, venv, "not signed by trusted keys", "root")
    assert_recovers(client, mirror, venv2)


def test_timestamp_under_threshold(mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    """The repository raises the timestamp threshold to 2 (root version 2, properly
    signed); a mirror serves a timestamp signed by one of the two keys."""
    second = fresh_signer()

    def two_timestamp_keys(md: Metadata) -> None:
        md.signed.add_key(second.public_key, Timestamp.type)
        md.signed.roles[Timestamp.type].threshold = 2

    url, data, _ = mirror.forger.new_root(two_timestamp_keys)
    forger = mirror.forger
    both = [*role_signers(mirror.workspace, Timestamp.type), second]
    honest_timestamp = forger.chain({}, signers={Timestamp.type: both})
    forger.write_into({url: data, **honest_timestamp})
    (mirror.workspace / "metadata" / "root.json").write_bytes(data)
    _trusted(client)

    mirror.server.serve_files(forger.chain({}))  # signed by the first key only
    _attack(client, venv, "not signed by trusted keys", "timestamp was signed by 1/2 keys")
    assert_recovers(client, mirror, venv2)


def _rotate_timestamp_key(workspace: Path) -> None:
    """The maintainers' rotation, with the real ceremony commands."""
    repo_sign("--repo", workspace, "rotate", "timestamp")
    root_key = next(p for p in (workspace / "keys").glob("root-*") if p.suffix != ".pub")
    staged = workspace / "staged" / "root.json"
    repo_sign("--repo", workspace, "ceremony", "sign", staged, "--key", root_key, "--yes")
    repo_sign("--repo", workspace, "ceremony", "publish")


def test_metadata_signed_by_a_revoked_key(
    mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """The timestamp key leaked and was rotated out; its thief signs a newer timestamp."""
    _trusted(client)
    stolen = role_signers(mirror.workspace, Timestamp.type)
    _rotate_timestamp_key(mirror.workspace)
    _trusted(client)

    mirror.server.serve_files(mirror.forger.chain({}, signers={Timestamp.type: stolen}))
    _attack(client, venv, "not signed by trusted keys", "timestamp was signed by 0/1 keys")
    assert_recovers(client, mirror, venv2)


# ---- 9. fast-forward ------------------------------------------------------------
def test_fast_forward_then_recovery_by_key_rotation(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """A thief of the timestamp key makes clients trust version +1000: from then
    on the honest repository looks like a rollback (fail closed), until the
    maintainers rotate the timestamp key; clients then discard the inflated
    timestamp (TUF 5.3.11) and install again."""
    _trusted(client)
    honest_version = mirror.forger.timestamp().signed.version

    def inflate(md: Metadata) -> None:
        md.signed.version += 1000

    mirror.server.serve_files(mirror.forger.chain({Timestamp.type: inflate}))
    assert client("refresh").returncode == 0  # validly signed: the attack itself succeeds
    inflated = honest_version + 1001

    mirror.server.honest()
    repo_sign("refresh", "--repo", mirror.workspace, "--force")
    _attack(
        client,
        venv,
        f"timestamp version {honest_version + 1} is older than trusted version {inflated}",
    )

    _rotate_timestamp_key(mirror.workspace)
    assert_recovers(client, mirror, venv2)
    status = client("status", "--json")
    assert f'"version": {inflated}' not in status.stdout
