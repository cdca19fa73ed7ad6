"""repo-sign sync: a policy mirrored from an upstream PEP 691 index served on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from repo_sign.workspace import Workspace
from tests.client.helpers import Tufpip, run_python
from tests.repo_sign.test_curation import pages
from tests.support.distributions import make_backend_wheel, make_sdist, make_wheel
from tests.support.environments import new_venv
from tests.support.repositories import (
    build_repository,
    command_env,
    repo_sign,
    served,
    snapshot_tree,
)
from tests.support.upstream import FRESH, OLD, Upstream, serving


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    d = tmp_path_factory.mktemp("upstream")
    with serving() as index:
        index.add(make_wheel(d, "alpha", "1.0"), OLD)
        index.add(make_wheel(d, "alpha", "2.0"), FRESH)  # inside the cooldown
        index.add(make_wheel(d, "beta", "1.0"), OLD)
        index.add(make_wheel(d, "beta", "1.1"), OLD, yanked="broken")
        generic = make_wheel(d / "g", "gamma", "1.0")
        for tag in ("win_amd64", "manylinux_2_17_x86_64"):
            index.add(shutil.copy(generic, d / f"gamma-1.0-py3-none-{tag}.whl"), OLD)
        # A project with no wheel at all, built with a backend the upstream serves.
        index.add(make_sdist(d, "sdist-only", "1.0", requires=["beta"]), OLD)
        index.add(make_backend_wheel(d), OLD)
        yield index


TARGETS = 'python-versions = ["3.11"]\nplatforms = ["win_amd64"]\n'


def policy(tmp_path: Path, upstream: Upstream, *requirements: str, rest: str = TARGETS) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(
        f'[sync]\nindex = "{upstream.url}"\nrequirements = {json.dumps(list(requirements))}\n'
        f"cooldown-days = 7\n{rest}"
    )
    return path


def sync(ws: Workspace, policy_file: Path, *args: str, check: bool = True) -> object:
    return repo_sign("sync", "--repo", ws.root, "--policy", policy_file, *args, check=check)


def test_sync_takes_what_the_policy_allows_once(tmp_path: Path, upstream: Upstream) -> None:
    ws = build_repository(tmp_path / "repo", [])
    reqs = policy(tmp_path, upstream, "alpha", "beta==1.1", "gamma")
    before = snapshot_tree(ws.root)

    dry = json.loads(sync(ws, reqs, "--dry-run", "--json").stdout)
    assert snapshot_tree(ws.root) == before, "a dry run writes nothing"
    assert dry["published"] == [] and dry["dry-run"] is True
    assert sorted(item["file"] for item in dry["add"]) == [
        "alpha-1.0-py3-none-any.whl",  # 2.0 is inside the cooldown
        "gamma-1.0-py3-none-win_amd64.whl",  # only the policy's platform
    ]
    assert dry["skipped"] == [
        {"file": "beta-1.1-py3-none-any.whl", "reason": "yanked upstream: broken"}
    ]

    result = sync(ws, reqs)
    assert "added alpha: alpha-1.0-py3-none-any.whl" in result.stdout
    assert "published" in result.stdout
    alpha, _html = pages(ws, "alpha")
    assert [(f["filename"], f["upload-time"]) for f in alpha["files"]] == [
        ("alpha-1.0-py3-none-any.whl", OLD)
    ]
    assert [f["filename"] for f in pages(ws, "gamma")[0]["files"]] == [
        "gamma-1.0-py3-none-win_amd64.whl"
    ]
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout

    published = snapshot_tree(ws.root)
    again = sync(ws, reqs)
    assert "Nothing new: published nothing." in again.stdout
    assert snapshot_tree(ws.root) == published, "no new snapshot or timestamp"


def test_an_upstream_hash_mismatch_publishes_nothing(tmp_path: Path, upstream: Upstream) -> None:
    ws = build_repository(tmp_path / "repo", [])
    upstream.add(make_wheel(tmp_path / "d", "delta", "1.0"), OLD, sha="0" * 64)
    before = snapshot_tree(ws.root)
    result = sync(ws, policy(tmp_path, upstream, "delta"), check=False)
    assert result.returncode == 10, result.stderr
    assert result.stderr.startswith("repo-sign: error: ") and len(result.stderr.splitlines()) == 1
    assert snapshot_tree(ws.root) == before


def test_a_killed_sync_loses_nothing_and_sdists_build_from_the_mirror(
    tmp_path: Path, upstream: Upstream
) -> None:
    """A project with no wheel needs a build backend: a run killed while downloading
    publishes nothing; the next run mirrors the sdist, its dependency and its backend;
    tufpip then builds the sdist from the repository alone."""
    ws = build_repository(tmp_path / "repo", [])
    reqs = policy(tmp_path, upstream, "sdist-only", rest="sdists = true\n")
    before = snapshot_tree(ws.root)
    command = [sys.executable, "-m", "repo_sign", "sync", "--repo", ws.root, "--policy", reqs]
    with upstream.holding("sdist_only-1.0.tar.gz") as arrived:
        # Its own process group, as cron and systemd run it: pip dies with it.
        killed = subprocess.Popen(
            command, env=command_env(), start_new_session=True, stderr=subprocess.DEVNULL
        )
        try:
            assert arrived.wait(timeout=60), "the sync never downloaded the sdist"
        finally:
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert snapshot_tree(ws.root) == before, "a killed sync published nothing"

    result = json.loads(sync(ws, reqs, "--json").stdout)
    assert sorted(item["file"] for item in result["add"]) == [
        "beta-1.0-py3-none-any.whl",
        "sdist_only-1.0.tar.gz",
        "tinybackend-1.0-py3-none-any.whl",  # build-system.requires of the sdist
    ]
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout

    tufpip, python = Tufpip(tmp_path / "home"), new_venv(tmp_path / "venv") / "bin" / "python"
    with served(ws) as url:
        assert tufpip("init", url, "--root", ws.root / "metadata" / "1.root.json").returncode == 0
        installed = tufpip("install", "--python", python, "sdist-only")
    assert installed.returncode == 0, installed.stderr
    assert run_python(python, "import sdist_only; print(sdist_only.FROM_SDIST)") == "True"


def test_import_takes_the_same_targets_and_add_checks_upstream(
    tmp_path: Path, upstream: Upstream
) -> None:
    ws = build_repository(tmp_path / "repo", [])
    (tmp_path / "requirements.txt").write_text("gamma\nbeta==1.1\n")
    targets = ("--python-version", "3.11", "--platform", "win_amd64")
    imported = ("import", "--repo", ws.root, "-r", tmp_path / "requirements.txt")
    result = repo_sign(*imported, "--index-url", upstream.url, *targets)
    assert "added packages/gamma/gamma-1.0-py3-none-win_amd64.whl" in result.stdout
    assert "manylinux" not in result.stdout
    assert "skipped beta-1.1-py3-none-any.whl: yanked upstream: broken" in result.stdout

    genuine = tmp_path / "alpha-1.0-py3-none-any.whl"
    genuine.write_bytes(upstream.files["alpha"][genuine.name][0])
    rebuilt = make_wheel(tmp_path / "rebuilt", "alpha", "2.0", body="# not upstream's\n")
    before = snapshot_tree(ws.root)
    check = ("add", "--repo", ws.root, "--check-upstream", upstream.url)
    refused = repo_sign(*check, genuine, rebuilt, check=False)
    assert refused.returncode == 10, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith(f"repo-sign: error: {rebuilt.name}: sha256 ")
    assert snapshot_tree(ws.root) == before, "nothing published"
    repo_sign(*check, genuine)
    assert [f["upload-time"] for f in pages(ws, "alpha")[0]["files"]] == [OLD]


@pytest.mark.network
def test_sync_a_small_policy_from_the_public_index(tmp_path: Path) -> None:
    ws = build_repository(tmp_path / "repo", [])
    path = tmp_path / "sync.toml"
    path.write_text('[sync]\nrequirements = ["idna"]\ncooldown-days = 7\n')
    assert "added idna: idna-" in sync(ws, path).stdout
    (entry,) = pages(ws, "idna")[0]["files"]
    uploaded = datetime.fromisoformat(entry["upload-time"])
    assert uploaded < datetime.now(UTC) - timedelta(days=7)
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout
