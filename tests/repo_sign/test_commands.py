"""repo-sign's commands as users run them: layout, errors, remove, refresh, status, serve."""

from __future__ import annotations

import json
import os
import stat
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from repo_sign.workspace import Workspace
from tests.support.distributions import make_sdist, make_wheel
from tests.support.repositories import (
    PASSPHRASE,
    build_repository,
    repo_sign,
    served,
    snapshot_tree,
)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    files = [make_wheel(tmp_path / "d", "alpha", "1.0"), make_wheel(tmp_path / "d", "alpha", "2.0")]
    return build_repository(tmp_path / "repo", files)


def one_error_line(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("repo-sign: error: ")
    return lines[0]


def test_init_layout_keys_and_policy(tmp_path: Path) -> None:
    ws = build_repository(tmp_path, [], "--root-keys", "3", "--root-threshold", "2", "--bins", "4")
    names = sorted(p.name for p in ws.metadata.iterdir())
    assert "1.root.json" in names and "root.json" in names and "timestamp.json" in names
    assert {f"1.bins-{i}.json" for i in range(4)} <= set(names)
    private = [p for p in ws.keys.iterdir() if not p.name.endswith(".pub")]
    assert len(private) == 3 + 1 + 1 + 1 + 1  # root x3, targets, snapshot, timestamp, bins
    for key in private:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        pub = json.loads(Path(f"{key}.pub").read_text())
        assert key.name.split("-", 1)[1] == pub["keyid"][:16]
    root = json.loads((ws.metadata / "1.root.json").read_text())["signed"]
    assert root["roles"]["root"]["threshold"] == 2
    assert len(root["roles"]["root"]["keyids"]) == 3
    assert root["consistent_snapshot"] is True
    policy = ws.policy_file.read_text()
    assert "threshold = 2" in policy and "bins = 4" in policy
    status = json.loads(repo_sign("status", "--json", "--repo", ws.root).stdout)
    assert status["roles"]["root"]["threshold"] == 2
    assert status["roles"]["bins-3"]["version"] == 1
    assert status["warnings"] == []


def test_init_refuses_to_overwrite(workspace: Workspace) -> None:
    before = snapshot_tree(workspace.root)
    line = one_error_line(repo_sign("init", "--repo", workspace.root, check=False))
    assert "already holds a repository" in line
    assert snapshot_tree(workspace.root) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--root-keys", "2", "--root-threshold", "3"], "root threshold of 3"),
        (["--bins", "12"], "power of two"),
        (["--expires", "nosuch=3"], "unknown role"),
    ],
)
def test_init_refuses_bad_policy(tmp_path: Path, args: list[str], message: str) -> None:
    line = one_error_line(repo_sign("init", "--repo", tmp_path, *args, check=False))
    assert message in line
    assert not (tmp_path / "repo-sign.toml").exists()


def test_bins_zero_keeps_targets_in_targets(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "d", "solo", "1.0")
    ws = build_repository(tmp_path / "repo", [wheel], "--bins", "0")
    targets = json.loads((ws.metadata / "2.targets.json").read_text())["signed"]
    assert "packages/solo/solo-1.0-py3-none-any.whl" in targets["targets"]
    assert "delegations" not in targets
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout


def test_add_is_one_publish_and_idempotent(workspace: Workspace, tmp_path: Path) -> None:
    files = [make_wheel(tmp_path / "e", n, "1.0") for n in ("b1", "b2", "b3")]
    before = json.loads((workspace.metadata / "timestamp.json").read_text())["signed"]["version"]
    repo_sign("add", "--repo", workspace.root, *files)
    after = json.loads((workspace.metadata / "timestamp.json").read_text())["signed"]["version"]
    assert after == before + 1
    again = repo_sign("add", "--repo", workspace.root, *files)
    assert "already published" in again.stdout
    assert (
        json.loads((workspace.metadata / "timestamp.json").read_text())["signed"]["version"]
        == after
    )


def corrupt_wheel(directory: Path) -> Path:
    path = directory / "broken-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip")
    return path


def mismatched_wheel(directory: Path) -> Path:
    good = make_wheel(directory / "src", "other", "1.0")
    bad = directory / "liar-1.0-py3-none-any.whl"
    bad.write_bytes(good.read_bytes())
    return bad


def conflicting_wheel(directory: Path) -> Path:
    return make_wheel(directory, "alpha", "1.0", body="CHANGED = True\n")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.joinpath("notes.txt").write_text("x") and d / "notes.txt", "not a wheel"),
        (corrupt_wheel, "not a readable wheel"),
        (mismatched_wheel, "its metadata says other 1.0, its file name says liar 1.0"),
        (conflicting_wheel, "already published with other content"),
        (lambda d: d / "missing-1.0.tar.gz", "is not a file"),
    ],
)
def test_add_refuses_bad_files_and_changes_nothing(
    workspace: Workspace, tmp_path: Path, make, message: str
) -> None:
    directory = tmp_path / "bad"
    directory.mkdir()
    good = make_wheel(tmp_path / "good", "fine", "1.0")
    bad = make(directory)
    before = snapshot_tree(workspace.root)
    line = one_error_line(repo_sign("add", "--repo", workspace.root, good, bad, check=False))
    assert message in line
    assert snapshot_tree(workspace.root) == before


def test_wrong_or_missing_passphrase_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "d", "newcomer", "1.0")
    before = snapshot_tree(workspace.root)
    wrong = repo_sign(
        "add", "--repo", workspace.root, wheel, check=False, REPO_SIGN_PASSPHRASE="no"
    )
    assert "wrong passphrase" in one_error_line(wrong)
    env_missing = repo_sign(
        "add", "--repo", workspace.root, wheel, check=False, REPO_SIGN_PASSPHRASE=""
    )
    assert "set REPO_SIGN_PASSPHRASE" in one_error_line(env_missing)
    assert snapshot_tree(workspace.root) == before


def test_missing_key_changes_nothing(workspace: Workspace, tmp_path: Path) -> None:
    key = next(p for p in workspace.keys.glob("bins-*") if p.suffix != ".pub")
    key.rename(tmp_path / "moved")
    before = snapshot_tree(workspace.root)
    wheel = make_wheel(tmp_path / "d", "newcomer", "1.0")
    line = one_error_line(repo_sign("add", "--repo", workspace.root, wheel, check=False))
    assert "is not here" in line
    assert snapshot_tree(workspace.root) == before


def test_not_initialized(tmp_path: Path) -> None:
    line = one_error_line(repo_sign("status", "--repo", tmp_path, check=False))
    assert "not a repo-sign repository" in line


def test_passphrase_never_printed(workspace: Workspace, tmp_path: Path) -> None:
    result = repo_sign("add", "--repo", workspace.root, make_wheel(tmp_path / "d", "p", "1.0"))
    status = repo_sign("status", "--repo", workspace.root)
    for output in (result.stdout, result.stderr, status.stdout, status.stderr):
        assert PASSPHRASE not in output
        assert "PRIVATE KEY" not in output


def test_remove_version_then_project(workspace: Workspace, tmp_path: Path) -> None:
    repo_sign("add", "--repo", workspace.root, make_sdist(tmp_path / "d", "beta", "1.0"))
    out = repo_sign("remove", "--repo", workspace.root, "alpha==1.0").stdout
    assert "removed packages/alpha/alpha-1.0-py3-none-any.whl" in out
    repo_sign("remove", "--repo", workspace.root, "Alpha")
    line = one_error_line(repo_sign("remove", "--repo", workspace.root, "alpha", check=False))
    assert "no project alpha" in line
    line = one_error_line(repo_sign("remove", "--repo", workspace.root, "beta==9", check=False))
    assert "no version 9" in line
    assert "OK:" in repo_sign("verify", "--repo", workspace.root).stdout
    with served(workspace) as url:
        page = urllib.request.urlopen(f"{url}/metadata/timestamp.json").read()
    assert json.loads(page)["signed"]["_type"] == "timestamp"


def test_refresh_resigns_timestamp_and_warns_about_offline_roles(tmp_path: Path) -> None:
    ws = build_repository(tmp_path, [], "--expires", "targets=30", "--expires", "timestamp=1")
    result = repo_sign("refresh", "--repo", ws.root, check=False)
    assert result.returncode == 2  # targets is inside its 60-day signing window
    assert "signed timestamp.json" in result.stdout
    assert "targets expires at" in result.stderr and "signing ceremony" in result.stderr
    forced = repo_sign("refresh", "--force", "--repo", ws.root, check=False)
    assert "signed 2.bins-0.json" in forced.stdout and "signed 2.snapshot.json" in forced.stdout
    status = json.loads(repo_sign("status", "--json", "--repo", ws.root).stdout)
    assert status["roles"]["timestamp"]["version"] == 3
    assert any("targets" in w for w in status["warnings"])
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout


def test_refresh_leaves_fresh_online_roles_alone(workspace: Workspace) -> None:
    result = repo_sign("refresh", "--repo", workspace.root)
    assert result.stdout.splitlines() == ["signed timestamp.json"]


@pytest.mark.parametrize(
    "path",
    [
        "/keys/",
        "/repo-sign.toml",
        "/metadata/../repo-sign.toml",
        "/metadata/%2e%2e/repo-sign.toml",
        "/targets/..%2fkeys",
        "/metadata/",
        "/metadata/.incoming.x.tmp",
        "/%6beys/README.md",
        "/staged/root.json",
    ],
)
def test_serve_answers_404_outside_metadata_and_targets(workspace: Workspace, path: str) -> None:
    with served(workspace) as url:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + path)
        assert err.value.code == 404
        assert urllib.request.urlopen(f"{url}/metadata/root.json").status == 200


def test_secret_key_files_are_encrypted(workspace: Workspace) -> None:
    for key in workspace.keys.iterdir():
        if not key.name.endswith(".pub"):
            assert b"ENCRYPTED" in key.read_bytes()
            assert oct(key.stat().st_mode & 0o777) == oct(0o600)
    assert os.environ.get("REPO_SIGN_PASSPHRASE") == PASSPHRASE


def test_wheel_metadata_is_the_pep658_file(workspace: Workspace) -> None:
    stored = next(workspace.targets.glob("packages/alpha/*.alpha-1.0-py3-none-any.whl"))
    with zipfile.ZipFile(stored) as z:
        inner = z.read("alpha-1.0.dist-info/METADATA")
    metadata = next(workspace.targets.glob("packages/alpha/*.alpha-1.0-py3-none-any.whl.metadata"))
    assert metadata.read_bytes() == inner
