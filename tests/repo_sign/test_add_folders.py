"""``repo-sign add FOLDER``: every wheel and sdist inside, any number, one summary line."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from repo_sign.workspace import Workspace
from tests.support.distributions import make_sdist, make_wheel
from tests.support.repositories import build_repository, command_env, repo_sign, snapshot_tree

MANY = 120
OPEN_FILES = 64  # far fewer descriptors than files to add


def test_add_a_folder_takes_every_distribution_inside(tmp_path: Path) -> None:
    workspace = build_repository(tmp_path / "repo", [make_wheel(tmp_path / "first", "first", "1")])
    dist = tmp_path / "dist"
    make_wheel(dist, "alpha", "1.0")
    make_sdist(dist / "sub" / "deeper", "beta", "2.0")
    make_wheel(dist / ".hidden", "gamma", "1.0")  # not part of the folder's content
    (dist / "README.txt").write_text("not a distribution\n")
    lone = make_wheel(tmp_path / "elsewhere", "delta", "1.0")

    result = repo_sign("add", "--json", "--repo", workspace.root, dist, lone)
    report = json.loads(result.stdout)
    assert sorted(report["added"]) == [
        "packages/alpha/alpha-1.0-py3-none-any.whl",
        "packages/beta/beta-2.0.tar.gz",
        "packages/delta/delta-1.0-py3-none-any.whl",
    ]
    assert report["files"] == 3 and report["already_published"] == 0
    assert report["versions"] == {"snapshot": 3, "timestamp": 3}
    assert {"3.snapshot.json", "timestamp.json"} <= set(report["published"])
    repo_sign("verify", "--repo", workspace.root)

    again = repo_sign("add", "--repo", workspace.root, dist)
    assert again.stdout == "Nothing to add: every file is already published.\n"


def test_add_many_files_summarises_and_holds_none_open(tmp_path: Path) -> None:
    """More files than the open-file limit allows: each is read, copied and closed in turn."""
    workspace = build_repository(tmp_path / "repo", [make_wheel(tmp_path / "first", "first", "1")])
    dist = tmp_path / "dist"
    for i in range(MANY):
        make_wheel(dist / f"group{i % 3}", f"many{i}", "1.0")

    def limit_open_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))

    result = subprocess.run(
        [sys.executable, "-m", "repo_sign", "add", "--repo", str(workspace.root), str(dist)],
        capture_output=True,
        text=True,
        env=command_env(),
        preexec_fn=limit_open_files,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"added {MANY} of {MANY} files ({MANY} projects; 0 already published)")
    assert "snapshot version 3, timestamp version 3" in line

    verbose = repo_sign("add", "-v", "--repo", workspace.root, make_wheel(dist, "last", "1.0"))
    assert verbose.stdout.splitlines()[0] == "added packages/last/last-1.0-py3-none-any.whl"
    listed = json.loads(repo_sign("status", "--json", "--repo", workspace.root).stdout)
    assert listed  # the repository still reads
    repo_sign("verify", "--repo", workspace.root)


def test_add_a_folder_without_distributions_changes_nothing(tmp_path: Path) -> None:
    workspace: Workspace = build_repository(
        tmp_path / "repo", [make_wheel(tmp_path / "first", "first", "1")]
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here\n")
    before = snapshot_tree(workspace.root)
    result = repo_sign("add", "--repo", workspace.root, empty, check=False)
    assert result.returncode == 6
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("repo-sign: error: ") and "no wheels or sdists in" in line
    assert snapshot_tree(workspace.root) == before
