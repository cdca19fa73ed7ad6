"""Choosing the bin count from the repository's size, and ``repo-sign rebin``:
one publish, every target still found by bare ngclient, and a client that
trusted the old bins accepts the new snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from repo_sign.bins import download_bytes, optimal_bins
from repo_sign.policy import Policy
from repo_sign.workspace import Workspace
from tests.support.repositories import build_repository, repo_sign, served
from tufindex import targetpaths


def test_optimal_bins_grows_like_the_square_root_of_the_targets() -> None:
    counts = [optimal_bins(n) for n in (10, 1_000, 100_000, 2_600_000)]
    assert counts == sorted(counts)
    assert counts[0] <= 16
    assert counts[-1] >= 4096
    best = optimal_bins(2_600_000)
    assert download_bytes(2_600_000, best) <= download_bytes(2_600_000, best * 2)
    assert download_bytes(2_600_000, best) <= download_bytes(2_600_000, best // 2)
    assert optimal_bins(2_600_000, lookups=3) > best  # stock clients: three bins


def updater(tmp_path: Path, workspace: Workspace, url: str) -> Updater:
    return Updater(
        str(tmp_path / "metadata"),
        f"{url}/metadata/",
        str(tmp_path / "targets"),
        f"{url}/targets/",
        bootstrap=(workspace.metadata / "1.root.json").read_bytes(),
    )


def test_rebin_is_one_publish_and_clients_follow(tmp_path: Path, dozen: list[Path]) -> None:
    workspace = build_repository(tmp_path / "repo", dozen, "--bins", "4")
    paths = [targetpaths.distribution(targetpaths.parse_filename(d.name)[0], d.name) for d in dozen]
    with served(workspace) as url:
        before = updater(tmp_path / "client", workspace, url)
        before.refresh()
        assert all(before.get_targetinfo(p) for p in paths)

        result = repo_sign("rebin", "32", "--repo", workspace.root)
        assert "32 bins" in result.stdout
        assert Policy.load(workspace.policy_file).bins == 32
        timestamp = json.loads((workspace.metadata / "timestamp.json").read_bytes())
        assert timestamp["signed"]["version"] == 3  # init, add, rebin: one publish
        snapshot_version = timestamp["signed"]["meta"]["snapshot.json"]["version"]
        snapshot = json.loads(
            (workspace.metadata / f"{snapshot_version}.snapshot.json").read_bytes()
        )
        names = set(snapshot["signed"]["meta"])
        assert {f"bins-{i:02x}.json" for i in range(32)} <= names
        assert {f"bins-{i}.json" for i in range(4)} <= names  # retired, still listed

        after = updater(tmp_path / "client", workspace, url)  # same trusted metadata
        after.refresh()
        for path in paths:
            info = after.get_targetinfo(path)
            assert info is not None, path
            after.download_target(info, str(tmp_path / Path(path).name))
        fresh = updater(tmp_path / "fresh", workspace, url)
        fresh.refresh()
        assert all(fresh.get_targetinfo(p) for p in paths)

    assert "OK" in repo_sign("verify", "--repo", workspace.root).stdout
    status = json.loads(repo_sign("status", "--json", "--repo", workspace.root).stdout)
    assert sum(r.startswith("bins-") for r in status["roles"]) == 32
    repo_sign("refresh", "--repo", workspace.root)


def test_rebin_without_count_picks_the_optimum(tmp_path: Path, dozen: list[Path]) -> None:
    workspace = build_repository(tmp_path / "repo", dozen, "--bins", "64")
    result = repo_sign("rebin", "--repo", workspace.root)
    chosen = Policy.load(workspace.policy_file).bins
    assert chosen < 64
    assert f"{chosen} bins" in result.stdout
    again = repo_sign("rebin", "--repo", workspace.root)
    assert "nothing to do" in again.stdout


@pytest.mark.parametrize("count", ["3", "0"])
def test_rebin_refuses_bad_counts(tmp_path: Path, count: str) -> None:
    workspace = build_repository(tmp_path / "repo", [])
    before = sorted(p.name for p in workspace.metadata.iterdir())
    result = repo_sign("rebin", count, "--repo", workspace.root, check=False)
    assert result.returncode != 0
    assert "power of two" in result.stderr
    assert sorted(p.name for p in workspace.metadata.iterdir()) == before


def test_rebin_refuses_a_repository_without_bins(tmp_path: Path) -> None:
    workspace = build_repository(tmp_path / "repo", [], "--bins", "0")
    result = repo_sign("rebin", "4", "--repo", workspace.root, check=False)
    assert result.returncode != 0
    assert "targets.json" in result.stderr
