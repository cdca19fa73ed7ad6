"""``ceremony propose``: lint first, one proposal per role, a summary and a digest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tuf.api.metadata import Metadata

from repo_sign import keys
from repo_sign.workspace import Workspace
from tests.ceremony.helpers import Holder, refused, repo_sign, workspace_holders


def root_pubs(ws: Workspace) -> list[Path]:
    return sorted(ws.keys.glob("root-*.pub"))


def test_summary_shows_fingerprints_thresholds_expiry_and_digest(
    workspace: Workspace, tmp_path: Path
) -> None:
    alice = Holder(tmp_path / "alice")
    old = keys.read_public_key(root_pubs(workspace)[0])
    out = repo_sign(
        "--repo",
        workspace.root,
        "ceremony",
        "propose",
        "root",
        "--add-key",
        alice.pub,
        "--remove-key",
        old.keyid[:12],
        "--threshold",
        "3",
        "--expires",
        "200",
    ).stdout
    staged = workspace.staged / "root.json"
    md = Metadata.from_file(str(staged))
    assert md.signatures == {}
    assert md.signed.version == 2
    assert alice.keyid in md.signed.roles["root"].keyids
    assert old.keyid not in md.signed.roles["root"].keyids
    assert "root version 1 -> 2" in out
    assert "root: threshold 2 -> 3 of 3 keys" in out
    assert f"+ {keys.fingerprint(keys.read_public_key(alice.pub))}" in out
    assert f"- {keys.fingerprint(old)}" in out
    assert md.signed.expires.strftime("%Y-%m-%dT%H:%M:%SZ") in out
    digest = hashlib.sha256(md.signed_bytes).hexdigest()[:16]
    assert f"digest: {' '.join(digest[i : i + 4] for i in range(0, 16, 4))}" in out


def test_lint_refuses_bad_proposals_with_one_line(workspace: Workspace, tmp_path: Path) -> None:
    alice = Holder(tmp_path / "alice")
    propose = ("--repo", workspace.root, "ceremony", "propose", "root")
    assert "threshold of 4" in refused(*propose, "--threshold", "4")
    assert "threshold of 0" in refused(*propose, "--threshold", "0")
    assert "already a root key" in refused(*propose, "--add-key", root_pubs(workspace)[0])
    assert "given twice" in refused(*propose, "--add-key", alice.pub, "--add-key", alice.pub)
    assert "in the past" in refused(*propose, "--expires", "0")
    assert "not a root key" in refused(*propose, "--remove-key", alice.pub)
    # A public key file whose key id was edited, and one that does not parse.
    data = json.loads(alice.pub.read_text())
    data["keyid"] = "0" * 64
    edited = tmp_path / "edited.pub"
    edited.write_text(json.dumps(data))
    assert "does not match its key" in refused(*propose, "--add-key", edited)
    garbage = tmp_path / "garbage.pub"
    garbage.write_text("not a key")
    assert "not a public key file" in refused(*propose, "--add-key", garbage)
    assert not (workspace.staged / "root.json").exists()


def test_two_proposals_for_one_role_are_refused(workspace: Workspace) -> None:
    ws = ("--repo", workspace.root)
    repo_sign(*ws, "ceremony", "propose", "root")
    first = (workspace.staged / "root.json").read_bytes()
    assert "already staged" in refused(*ws, "ceremony", "propose", "root", "--expires", "30")
    assert "already staged" in refused(*ws, "rotate", "timestamp")
    assert (workspace.staged / "root.json").read_bytes() == first
    repo_sign(*ws, "ceremony", "propose", "targets")  # another role is fine
    repo_sign(*ws, "ceremony", "discard", "root")
    repo_sign(*ws, "ceremony", "propose", "root", "--expires", "30")


def test_signing_refuses_an_edited_proposal(workspace: Workspace) -> None:
    holder = workspace_holders(workspace)[0]
    repo_sign("--repo", workspace.root, "ceremony", "propose", "root")
    staged = workspace.staged / "root.json"
    data = json.loads(staged.read_text())
    keyid = data["signed"]["roles"]["root"]["keyids"][0]
    data["signed"]["keys"][keyid]["keyval"]["public"] = "00" * 32  # a swapped key
    copy = holder.machine / "root.json"
    copy.write_text(json.dumps(data))
    line = refused("ceremony", "sign", "root.json", "--key", "key", "--yes", cwd=holder.machine)
    assert "does not match its key" in line
    assert json.loads(copy.read_text())["signatures"] == []


def test_a_key_that_counts_for_nothing_does_not_sign(workspace: Workspace, tmp_path: Path) -> None:
    stranger = Holder(tmp_path / "stranger")
    repo_sign("--repo", workspace.root, "ceremony", "propose", "root")
    line = refused(
        "--repo",
        workspace.root,
        "ceremony",
        "sign",
        workspace.staged / "root.json",
        "--key",
        stranger.key,
        "--yes",
    )
    assert "counts for no threshold" in line
