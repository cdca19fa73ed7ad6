"""Online keys: routine rotation, and recovery after a stolen timestamp key.

The thief's timestamp has version 1000. Clients that accepted it refuse every
honest timestamp (lower version) until the key is revoked: the new root
trusts a new timestamp key, clients discard their cached timestamp (TUF spec
5.3.11) and accept the honest timestamp again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Timestamp

from repo_sign import keys
from repo_sign.workspace import Workspace
from tests.ceremony.helpers import (
    PASSPHRASE,
    ngclient,
    ngclient_fetch,
    rebin,
    refused,
    repo_sign,
    role_keyids,
    serve_from,
    served,
    sign_and_publish,
    trusted_version,
    tufpip,
)

WHEEL = "packages/ceremony-demo/ceremony_demo-1.0-py3-none-any.whl"


def stolen_timestamp(ws: Workspace, keyid: str, version: int) -> bytes:
    """What a thief holding the timestamp key signs: the current timestamp, inflated."""
    name = f"timestamp-{keyid[:16]}"
    private = serialization.load_pem_private_key((ws.keys / name).read_bytes(), PASSPHRASE.encode())
    public = keys.read_public_key(ws.keys / f"{name}.pub")
    md = Metadata[Timestamp].from_file(str(ws.metadata / "timestamp.json"))
    md.signed.version = version
    md.sign(CryptoSigner(private, public))  # type: ignore[arg-type]
    return md.to_bytes()


@pytest.mark.parametrize("rebins", [(), ("16", "4")], ids=["init bins", "rebinned"])
def test_revoking_a_stolen_timestamp_key_recovers_fast_forwarded_clients(
    workspace: Workspace, tmp_path: Path, wheels: list[Path], rebins: tuple[str, ...]
) -> None:
    rebin(workspace, *rebins)
    home, ng_cache = tmp_path / "client", tmp_path / "ngclient"
    bootstrap = (workspace.metadata / "1.root.json").read_bytes()
    (stolen_keyid,) = role_keyids(workspace, "timestamp")
    evil = tmp_path / "evil"
    shutil.copytree(workspace.metadata, evil / "metadata")
    shutil.copytree(workspace.targets, evil / "targets")
    (evil / "metadata" / "timestamp.json").write_bytes(
        stolen_timestamp(workspace, stolen_keyid, 1000)
    )
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        serve_from(server, evil)  # the attacker controls the server for a while
        tufpip(home, "refresh")
        ngclient(server.url, ng_cache, bootstrap).refresh()
        assert trusted_version(home, "timestamp") == 1000
        serve_from(server, workspace.root)  # the maintainers take the server back
        repo_sign("--repo", workspace.root, "add", wheels[1])
        assert tufpip(home, "refresh", check=False).returncode != 0  # stuck at 1000

        out = repo_sign("--repo", workspace.root, "revoke", stolen_keyid[:12]).stdout
        stolen = keys.read_public_key(workspace.keys / f"timestamp-{stolen_keyid[:16]}.pub")
        assert f"- {keys.fingerprint(stolen)}" in out
        published = sign_and_publish(workspace)
        assert "published root version 2" in published
        assert f"retired keys/timestamp-{stolen_keyid[:16]}" in published
        assert role_keyids(workspace, "timestamp") != [stolen_keyid]
        honest = Metadata.from_file(str(workspace.metadata / "timestamp.json")).signed.version
        assert honest < 1000

        tufpip(home, "refresh")
        assert trusted_version(home, "timestamp") == honest
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==2.0")
        assert "2.0" in (target / "ceremony_demo" / "__init__.py").read_text()
        ngclient_fetch(server.url, ng_cache, None, WHEEL)
        # Routine work goes on with the new key.
        repo_sign("--repo", workspace.root, "refresh")
        repo_sign("--repo", workspace.root, "verify")


@pytest.mark.parametrize(
    "role, delegator, rebins, bins",
    [("snapshot", "root", (), 2), ("bins", "targets", (), 2), ("bins", "targets", ("16", "4"), 4)],
)
def test_routine_rotation_of_an_online_key(
    workspace: Workspace,
    tmp_path: Path,
    wheels: list[Path],
    role: str,
    delegator: str,
    rebins: tuple[str, ...],
    bins: int,
) -> None:
    rebin(workspace, *rebins)
    home = tmp_path / "client"
    old = role_keyids(workspace, "bins-0" if role == "bins" else role)
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        tufpip(home, "refresh")
        out = repo_sign("--repo", workspace.root, "rotate", role).stdout
        assert f"proposal: {workspace.staged / f'{delegator}.json'}" in out
        assert "not signed by a threshold" in refused(
            "--repo", workspace.root, "ceremony", "publish"
        )
        published = sign_and_publish(workspace, delegator)
        new = role_keyids(workspace, "bins-0" if role == "bins" else role)
        assert new != old and len(new) == 1
        assert (workspace.keys / f"{role}-{new[0][:16]}").exists()
        if role == "bins":
            current = ", ".join(f"bins-{i}" for i in range(bins))
            assert f"re-signed with the new keys: {current}\n" in published
        # The new key signs from now on: adding a package needs no key holder.
        repo_sign("--repo", workspace.root, "add", wheels[1])
        repo_sign("--repo", workspace.root, "verify")
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==2.0")
        assert "2.0" in (target / "ceremony_demo" / "__init__.py").read_text()


def test_an_online_key_made_elsewhere_signs_once_published_with_no_hand_edit(
    workspace: Workspace, tmp_path: Path, wheels: list[Path]
) -> None:
    """A timestamp key made with 'repo-sign key new' and proposed with --add-key."""
    home = tmp_path / "client"
    (old,) = role_keyids(workspace, "timestamp")
    ops = tmp_path / "ops"
    ops.mkdir()
    repo_sign("key", "new", "--out", "timestamp-key", cwd=ops)
    new = keys.read_public_key(ops / "timestamp-key.pub").keyid
    policy_before = workspace.policy_file.read_text()
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        tufpip(home, "refresh")
        out = repo_sign(
            "--repo",
            workspace.root,
            "ceremony",
            "propose",
            "root",
            "--role",
            "timestamp",
            "--add-key",
            ops / "timestamp-key.pub",
            "--remove-key",
            old,
        ).stdout
        assert f"new timestamp key {new[:16]}: keys/timestamp-{new[:16]}" in out
        assert workspace.policy_file.read_text() == policy_before  # follows what is published
        published = sign_and_publish(workspace)
        assert "published root version 2" in published
        assert role_keyids(workspace, "timestamp") == [new]
        policy = workspace.policy_file.read_text()
        assert f'keyid = "{new}", signer = "keys/timestamp-{new[:16]}"' in policy
        assert old not in policy
        repo_sign("--repo", workspace.root, "refresh", "--force")
        timestamp = Metadata.from_file(str(workspace.metadata / "timestamp.json"))
        assert set(timestamp.signatures) == {new}
        repo_sign("--repo", workspace.root, "add", wheels[1])
        tufpip(home, "refresh")
        assert trusted_version(home, "root") == 2
        assert trusted_version(home, "timestamp") == timestamp.signed.version + 1
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==2.0")
        assert "2.0" in (target / "ceremony_demo" / "__init__.py").read_text()
    repo_sign("--repo", workspace.root, "verify")
