"""A repository behind real nginx, configured by ``repo-sign hosting nginx``:
headers a CDN can rely on, an install, a new release, and a tampered file refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from repo_sign.workspace import Workspace
from tests.attacks.checks import Client, assert_refused, installed
from tests.support.distributions import make_wheel
from tests.support.hosts import free_port, nginx
from tests.support.repositories import build_repository, repo_sign


@dataclass
class Hosted:
    workspace: Workspace
    url: str
    dists: Path


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosted]:
    base = tmp_path_factory.mktemp("nginx")
    dists = base / "dists"
    files = [
        make_wheel(dists, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(dists, "beta", "1.0"),
    ]
    workspace = build_repository(base / "repo", files)
    port = free_port()
    block = repo_sign("hosting", "nginx", "--listen", f"127.0.0.1:{port}", "--repo", workspace.root)
    with nginx(block.stdout, base / "nginx", port) as url:
        yield Hosted(workspace, url, dists)


def client_for(tmp_path: Path, hosted: Hosted) -> Client:
    client = Client(tmp_path / "home", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    run = client("init", hosted.url, "--root", hosted.workspace.metadata / "1.root.json")
    assert run.returncode == 0, run.describe()
    return client


def new_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    return path


def test_headers_cache_what_never_changes_and_serve_nothing_else(hosted: Hosted) -> None:
    ws = hosted.workspace
    target = next(ws.targets.glob("packages/beta/*.whl")).relative_to(ws.root)
    expected = {
        "metadata/timestamp.json": ("no-cache", "application/json"),
        "metadata/root.json": ("no-cache", "application/json"),
        "metadata/1.root.json": ("immutable", "application/json"),
        "metadata/1.snapshot.json": ("immutable", "application/json"),
        str(target): ("immutable", "application/zip"),
    }
    for path, (cache, kind) in expected.items():
        response = requests.get(f"{hosted.url}/{path}", timeout=10)
        assert response.status_code == 200, path
        assert response.content == (ws.root / path).read_bytes()
        assert cache in response.headers["Cache-Control"], path
        assert "max-age=31536000" in response.headers["Cache-Control"] or cache == "no-cache"
        assert response.headers["Content-Type"].startswith(kind), path
    for path in (
        "",
        "metadata/",
        "targets/packages/beta/",
        "repo-sign.toml",
        "keys/",
        f"keys/{next(ws.keys.iterdir()).name}",
        ".repo-sign.lock",
        "targets/packages/beta/beta-1.0-py3-none-any.whl",
    ):
        assert requests.get(f"{hosted.url}/{path}", timeout=10).status_code == 404, path


@pytest.mark.slow
def test_install_then_a_new_release_then_a_tampered_file_refused(
    tmp_path: Path, hosted: Hosted
) -> None:
    client = client_for(tmp_path, hosted)
    venv = new_venv(tmp_path / "venv")
    run = client.install(venv, "alpha", installer="uv")
    assert run.returncode == 0, run.describe()
    assert {"alpha", "beta"} <= installed(venv)

    repo_sign("add", "--repo", hosted.workspace.root, make_wheel(hosted.dists, "beta", "2.0"))
    run = client.install(venv, "beta==2.0", installer="uv")
    assert run.returncode == 0, run.describe()

    stored = next(hosted.workspace.targets.glob("packages/beta/*.beta-2.0-py3-none-any.whl"))
    good = stored.read_bytes()
    stored.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    try:
        fresh = client_for(tmp_path / "second", hosted)
        venv2 = new_venv(tmp_path / "venv2")
        assert_refused(fresh.install(venv2, "beta==2.0", installer="uv"), "beta")
        assert "beta" not in installed(venv2)
    finally:
        stored.write_bytes(good)
