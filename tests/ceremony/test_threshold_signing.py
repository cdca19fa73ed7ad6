"""Several key holders, each on their own machine, sign one proposal in turn.

A proposal travels as a file; each holder signs in a separate process, in a
folder holding only their own key, and days may pass between two of them.
A root signed only by the new keys, or by fewer than the current threshold,
is refused by ``publish`` and, placed on the server by hand, by clients.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tuf.api.exceptions import UnsignedMetadataError

from repo_sign.workspace import Workspace
from tests.ceremony.helpers import (
    Holder,
    ngclient,
    refused,
    repo_sign,
    served,
    tufpip,
    workspace_holders,
)


def propose_new_root_keys(ws: Workspace, new: list[Holder], old: list[Holder]) -> Path:
    args = ["--repo", ws.root, "ceremony", "propose", "root", "--threshold", "2"]
    for holder in new:
        args += ["--add-key", holder.pub]
    for holder in old:
        args += ["--remove-key", holder.keyid]
    repo_sign(*args)
    usb = ws.root.parent / "usb"
    usb.mkdir(exist_ok=True)
    return Path(shutil.copy(ws.staged / "root.json", usb / "root.json"))


def signatures(path: Path) -> set[str]:
    return {s["keyid"] for s in json.loads(path.read_text())["signatures"]}


def test_a_half_signed_proposal_is_resumed_by_other_holders(
    workspace: Workspace, tmp_path: Path
) -> None:
    old = workspace_holders(workspace)
    new = [Holder(tmp_path / name) for name in ("alice", "bob", "carol")]
    usb = propose_new_root_keys(workspace, new, old)
    new[0].sign(usb, separate=True)
    # Interrupted: the half-signed file is all that is kept. Later, elsewhere:
    out = repo_sign("--repo", workspace.root, "ceremony", "status", usb).stdout
    assert "keys of current root version 1: 0 of 2 required" in out
    assert "keys of new root version 2: 1 of 2 required" in out
    assert "NOT ready to publish" in out
    new[2].sign(usb, separate=True)
    old[1].sign(usb, separate=True)
    assert signatures(usb) == {new[0].keyid, new[2].keyid, old[1].keyid}  # nobody's was lost
    out = repo_sign("--repo", workspace.root, "ceremony", "status", usb).stdout
    assert "keys of current root version 1: 1 of 2 required" in out
    assert "keys of new root version 2: 2 of 2 required (of 3 keys): met" in out
    old[2].sign(usb)
    out = repo_sign("--repo", workspace.root, "ceremony", "status", usb).stdout
    assert out.splitlines()[-1].strip() == "ready to publish"
    # Signing again with the same key changes nothing.
    before = usb.read_bytes()
    assert "had already signed" in old[2].sign(usb).stdout
    assert usb.read_bytes() == before
    out = repo_sign("--repo", workspace.root, "ceremony", "publish", usb).stdout
    assert "published root version 2" in out
    assert (workspace.metadata / "2.root.json").read_bytes() == usb.read_bytes()
    assert not (workspace.staged / "root.json").exists()
    repo_sign("--repo", workspace.root, "verify")


@pytest.mark.parametrize("signers", ["new keys only", "fewer than the old threshold"])
def test_publish_and_clients_refuse_a_root_short_of_a_threshold(
    workspace: Workspace, tmp_path: Path, signers: str
) -> None:
    old = workspace_holders(workspace)
    new = [Holder(tmp_path / name) for name in ("alice", "bob", "carol")]
    usb = propose_new_root_keys(workspace, new, old)
    for holder in new:
        holder.sign(usb)
    if signers == "fewer than the old threshold":
        old[0].sign(usb)
    before = sorted(p.name for p in workspace.metadata.iterdir())
    line = refused("--repo", workspace.root, "ceremony", "publish", usb)
    assert "root version 2 is not signed by a threshold" in line
    assert "keys of current root version 1" in line
    assert sorted(p.name for p in workspace.metadata.iterdir()) == before
    # The same file placed on the server by hand is refused by clients.
    home = tmp_path / "tufpip-home"
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        shutil.copyfile(usb, workspace.metadata / "2.root.json")
        result = tufpip(home, "refresh", check=False)
        assert result.returncode != 0
        assert result.stderr.strip().startswith("tufpip: error:")
        bootstrap = (workspace.metadata / "1.root.json").read_bytes()
        updater = ngclient(server.url, tmp_path / "ngclient", bootstrap)
        with pytest.raises(UnsignedMetadataError):
            updater.refresh()
