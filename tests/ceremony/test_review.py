"""What a key holder reads before signing: only what changes against the current version."""

from __future__ import annotations

import shutil
from pathlib import Path

from tuf.api.metadata import Metadata

from repo_sign import keys
from repo_sign.ceremony.signatures import digest
from repo_sign.workspace import Workspace
from tests.ceremony.helpers import Holder, repo_sign, workspace_holders

TIME = "%Y-%m-%dT%H:%M:%SZ"


def proposal_md(usb: Path) -> Metadata:
    return Metadata.from_file(str(usb / "root.json"))


def sign_trusting(holder: Holder, proposal: Path) -> str:
    """Sign on the holder's machine, comparing with the trusted root they were given."""
    local = holder.machine / proposal.name
    shutil.copyfile(proposal, local)
    args = ("--key", holder.key.name, "--trusted", "trusted-root.json", "--yes")
    out = repo_sign("ceremony", "sign", local.name, *args, cwd=holder.machine, separate=True).stdout
    shutil.copyfile(local, proposal)
    return out


def test_review_shows_keys_added_and_removed_thresholds_expiry_and_digest(
    workspace: Workspace, tmp_path: Path
) -> None:
    alice = Holder(tmp_path / "alice")
    old = workspace_holders(workspace)
    removed, kept = keys.read_public_key(old[0].pub), keys.read_public_key(old[1].pub)
    repo_sign(
        "--repo",
        workspace.root,
        "ceremony",
        "propose",
        "root",
        "--add-key",
        alice.pub,
        "--remove-key",
        removed.keyid,
        "--expires",
        "200",
    )
    staged = workspace.staged / "root.json"
    proposal = Metadata.from_file(str(staged)).signed
    current = Metadata.from_file(str(workspace.metadata / "1.root.json")).signed
    usb = tmp_path / "usb"
    usb.mkdir()
    shutil.copy(staged, usb / "root.json")
    shutil.copy(workspace.metadata / "root.json", usb / "trusted-root.json")
    for holder in old[1], old[0]:
        shutil.copy(usb / "trusted-root.json", holder.machine / "trusted-root.json")
    # Holders without the workspace compare with the current root they were given.
    signed = [sign_trusting(holder, usb / "root.json") for holder in (old[1], old[0])]
    status = repo_sign("--repo", workspace.root, "ceremony", "status", usb / "root.json").stdout
    for out in (*signed, status):
        review = out[out.index("root version 1 -> 2") : out.index("digest: ")].splitlines()
        assert review[0] == (
            f"root version 1 -> 2, expires {current.expires.strftime(TIME)} -> "
            f"{proposal.expires.strftime(TIME)}"
        )
        assert "  root: threshold 2 of 3 keys" in review
        assert f"    + {keys.fingerprint(keys.read_public_key(alice.pub))}  (ed25519)" in review
        assert f"    - {keys.fingerprint(removed)}  (ed25519)" in review
        assert not [line for line in review if keys.fingerprint(kept) in line]  # unchanged
        for role in ("targets", "snapshot", "timestamp"):
            assert f"  {role}: unchanged (1 of 1)" in review
        assert f"digest: {digest(proposal_md(usb))}" in out
    # With the current root known, each holder learns exactly what their signature did.
    assert "this signature counts for keys of current root version 1: 1 of 2\n" in signed[0]
    assert "this signature counts for keys of new root version 2: 1 of 2\n" in signed[0]
    assert "this signature counts for keys of current root version 1: 2 of 2 (now met)" in signed[1]
    assert signed[1].splitlines()[-1].strip() == (
        "NOT ready to publish: 1 more needed from keys of new root version 2 "
        f"(any of: {', '.join(sorted(k[:16] for k in (alice.keyid, old[2].keyid)))})"
    )
    # Without it, the holder is told the list is complete, not a change, and nothing
    # is called ready or useless that cannot be judged here.
    bare = repo_sign("ceremony", "status", usb / "root.json", cwd=tmp_path).stdout
    assert "every key is listed: pass --trusted" in bare
    assert keys.fingerprint(kept) in bare
    assert f"signatures not counted here: {removed.keyid[:16]}" in bare
    assert "count for" not in bare
    repo_sign("--repo", workspace.root, "ceremony", "discard", "root")
    repo_sign("--repo", workspace.root, "verify")
