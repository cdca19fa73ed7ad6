"""An offline role inside its signing window is flagged until a ceremony renews it."""

from __future__ import annotations

from pathlib import Path

from tuf.api.metadata import Metadata

from repo_sign.workspace import Workspace
from tests.ceremony.helpers import repo_sign, workspace_holders


def test_renewing_root_and_targets_in_a_ceremony_ends_the_warning(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    repo_sign(
        "init", "--repo", root, "--bins", "2", "--expires", "root=30", "--expires", "targets=30"
    )
    ws = Workspace(root)
    result = repo_sign("--repo", root, "refresh", check=False)
    assert result.returncode == 2
    assert "root expires" in result.stderr and "start a signing ceremony" in result.stderr
    for role in ("root", "targets"):
        repo_sign("--repo", root, "ceremony", "propose", role, "--expires", "365")
        for holder in workspace_holders(ws, role):
            holder.sign(ws.staged / f"{role}.json")
    out = repo_sign("--repo", root, "ceremony", "publish").stdout
    assert "published root version 2, targets version 2" in out
    assert "warning" not in repo_sign("--repo", root, "status").stdout
    assert repo_sign("--repo", root, "refresh").returncode == 0
    expires = Metadata.from_file(str(ws.metadata / "root.json")).signed.expires
    assert (
        expires - Metadata.from_file(str(ws.metadata / "1.root.json")).signed.expires
    ).days > 300
