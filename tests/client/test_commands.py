"""init, list, info, status, refresh, verify, download, and concurrent runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.client.helpers import Served, Tufpip, installed, last_line
from tests.support.environments import new_venv


def test_init_requires_a_root(tufpip: Tufpip, repository: Served) -> None:
    result = tufpip("init", repository.url)
    assert result.returncode == 2
    assert "without --root" in last_line(result)
    assert tufpip("status").returncode == 7


def test_init_trust_on_first_use_shows_keys(tufpip: Tufpip, repository: Served) -> None:
    result = tufpip("init", repository.url, "--trust-on-first-use", "--yes", "--name", "tofu")
    assert result.returncode == 0, result.stderr
    assert "threshold: 1 of 1 root keys" in result.stderr
    assert tufpip("--repository", "tofu", "refresh").returncode == 0


def test_init_refuses_invalid_root_and_duplicates(
    tufpip: Tufpip, repository: Served, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"signed": {}}')
    assert tufpip("init", repository.url, "--root", bad).returncode == 2
    assert tufpip("init", repository.url, "--root", repository.root).returncode == 0
    again = tufpip("init", repository.url, "--root", repository.root)
    assert again.returncode == 7
    assert "already recorded" in last_line(again)


def test_list_info_status(trusting: Tufpip, repository: Served) -> None:
    listing = trusting("list")
    assert listing.stdout.split() == [
        "alpha",
        "beta",
        "epsilon",
        "lambda-pkg",
        "tinybackend",
        "zeta",
    ]
    info = trusting("info", "Alpha")
    assert info.stdout.startswith("alpha: 1.0\n  alpha-1.0-py3-none-any.whl")
    assert trusting("info", "nope").returncode == 5
    status = json.loads(trusting("status", "--json").stdout)
    assert status["url"] == repository.url
    assert status["roles"]["timestamp"]["version"] >= 2
    assert status["cache"]["files"] >= 2


def test_verify(trusting: Tufpip, dists: list[Path], tmp_path: Path) -> None:
    wheel = next(d for d in dists if d.name.startswith("beta"))
    ok = trusting("verify", wheel)
    assert ok.returncode == 0
    assert ok.stdout.strip() == f"OK {wheel}: packages/beta/beta-1.0-py3-none-any.whl"
    changed = tmp_path / wheel.name
    changed.write_bytes(wheel.read_bytes() + b"x")
    failed = trusting("verify", changed)
    assert failed.returncode == 4
    assert (
        last_line(failed)
        == f"tufpip: error: {changed} differs from signed packages/beta/{wheel.name}"
    )


def test_download(trusting: Tufpip, tmp_path: Path) -> None:
    result = trusting("download", "-d", tmp_path / "out", "alpha")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["alpha-1.0-py3-none-any.whl", "beta-1.0-py3-none-any.whl"]
    assert trusting("verify", *(tmp_path / "out").iterdir()).returncode == 0


def test_eight_concurrent_installs(trusting: Tufpip, tmp_path: Path) -> None:
    pythons = []
    for number in range(8):
        venv = tmp_path / f"venv{number}"
        new_venv(venv)
        pythons.append(venv / "bin" / "python")
    shutil.rmtree(trusting.home / "repositories" / "default" / "targets", ignore_errors=True)

    def install(python: Path) -> subprocess.CompletedProcess[str]:
        return trusting("install", "--installer", "uv", "--python", python, "alpha", "zeta")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(install, pythons))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    assert all(installed(python) == {"alpha", "beta", "zeta"} for python in pythons)


def test_several_repositories_first_is_default(
    tufpip: Tufpip, repository: Served, tmp_path: Path
) -> None:
    """Two recorded repositories: the first answers by default, --repository picks."""
    from tests.support.distributions import make_wheel
    from tests.support.repositories import build_repository, served

    other = build_repository(tmp_path / "other", [make_wheel(tmp_path / "d", "omega", "1.0")])
    with served(other) as url:
        assert tufpip("init", repository.url, "--root", repository.root).returncode == 0
        root = other.metadata / "1.root.json"
        assert tufpip("init", url, "--root", root, "--name", "second").returncode == 0
        assert "omega" not in tufpip("list").stdout.split()
        assert tufpip("--repository", "second", "list").stdout.split() == ["omega"]
        unknown = tufpip("--repository", "third", "list")
        assert unknown.returncode == 7
        assert "third" in last_line(unknown)
