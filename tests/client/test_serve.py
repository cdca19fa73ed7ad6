"""``tufpip serve``: a real service process that real pip and uv install through.

Each test starts ``tufpip serve`` as users do (a subprocess on a free port,
against a repository served on 127.0.0.1) and reads the URL from its first
line on stdout.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attacks.attacker import CHUNK, AttackerServer, stall
from tests.client.helpers import Served, Tufpip, installed, publish_expired_timestamp
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository, repo_sign, served
from tufpip.index import JSON

UV = Path(sys.executable).parent / "uv"
LARGE = "packages/large/large-1.0-py3-none-any.whl"


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    log: Path

    def get(self, path: str, accept: str = JSON) -> tuple[int, bytes]:
        """Status and body of ``GET path`` (relative to the server's root)."""
        request = urllib.request.Request(self.url.removesuffix("/simple/") + path)
        request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def versions(self, project: str) -> list[str]:
        status, body = self.get(f"/simple/{project}/")
        assert status == 200, body
        return json.loads(body)["versions"]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@contextmanager
def serving(tufpip: Tufpip, *args: str) -> Iterator[Service]:
    """``tufpip -v serve --port 0 ARGS`` running until the block ends."""
    log = tufpip.home.parent / f"serve-{os.urandom(4).hex()}.log"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tufpip", "-v", "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=tufpip.env(),
        )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/simple/"), log.read_text()
        yield Service(process, url, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def pip_install(venv: Path, url: str, *requirements: str) -> subprocess.CompletedProcess[str]:
    """Plain pip, with the service as its only index and no retries."""
    command = [sys.executable, "-m", "pip", "--python", str(venv), "install", "--isolated"]
    options = ["--no-cache-dir", "--disable-pip-version-check", "--retries", "0"]
    return _run([*command, *options, "--index-url", url, *requirements])


def uv_pip_install(venv: Path, url: str, *requirements: str) -> subprocess.CompletedProcess[str]:
    command = [str(UV), "pip", "install", "--no-config", "--no-cache", "--python", str(venv)]
    return _run([*command, "--index-url", url, *requirements])


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.pop("VIRTUAL_ENV", None)
    env["PIP_CONFIG_FILE"] = os.devnull
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def trust(tufpip: Tufpip, repository: Served) -> Tufpip:
    result = tufpip("init", repository.url, "--root", repository.root)
    assert result.returncode == 0, result.stderr
    return tufpip


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("serve-dists")
    return [
        make_wheel(directory, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(directory, "beta", "1.0"),
        make_wheel(directory, "zeta", "1.2.3"),
        # Several chunks even once compressed: a download that can stall half-way.
        make_wheel(directory, "large", "1.0", body=f"DATA = {os.urandom(200_000).hex()!r}\n"),
    ]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, dists: list[Path]) -> Iterator[Served]:
    """A repository the tests here do not change."""
    workspace = build_repository(tmp_path_factory.mktemp("serve-shared") / "repo", dists)
    with served(workspace) as url:
        yield Served(workspace, url)


@pytest.fixture
def changing(tmp_path: Path, dists: list[Path]) -> Iterator[Served]:
    """A repository of this test's own, to publish to or attack."""
    workspace = build_repository(tmp_path / "repo", dists)
    with served(workspace) as url:
        yield Served(workspace, url)


@pytest.mark.slow
def test_pip_and_uv_install_through_the_service(
    tufpip: Tufpip, shared: Served, tmp_path: Path
) -> None:
    trust(tufpip, shared)
    pythons = []
    for name in ("pip-venv", "uv-venv", "tufpip-venv"):
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / name], check=True)
        pythons.append(tmp_path / name / "bin" / "python")
    with serving(tufpip) as service:
        # An install on the same home, while the service serves pip and uv, is not blocked.
        command = [sys.executable, "-m", "tufpip", "install", "--python", str(pythons[2]), "zeta"]
        with subprocess.Popen(command, env=tufpip.env(), stderr=subprocess.PIPE, text=True) as own:
            # pip and uv at the same time: both ask for the same pages and files.
            with ThreadPoolExecutor(2) as pool:
                pip = pool.submit(pip_install, pythons[0], service.url, "alpha")
                uv = pool.submit(uv_pip_install, pythons[1], service.url, "alpha")
                for result in (pip.result(), uv.result()):
                    assert result.returncode == 0, result.stderr
            assert own.wait(timeout=60) == 0, own.stderr.read() if own.stderr else ""
        assert service.get("/simple/not-a-project/")[0] == 404
        assert service.get("/elsewhere")[0] == 404
        status, body = service.get("/simple/beta/", accept="text/html")
        assert status == 200 and b"<a href=" in body
        assert service.stop() == 0
    assert installed(pythons[0]) == installed(pythons[1]) == {"alpha", "beta"}
    assert installed(pythons[2]) == {"zeta"}
    lines = service.log.read_text().splitlines()
    assert "tufpip: GET /simple/alpha/ 200" in lines
    assert "tufpip: GET /simple/not-a-project/ 404" in lines
    assert not any("verified" in line for line in lines)  # one line per request at -v


def test_a_uv_project_locks_and_syncs_through_the_service(
    tufpip: Tufpip, shared: Served, tmp_path: Path
) -> None:
    trust(tufpip, shared)
    project = tmp_path / "project"
    project.mkdir()
    with serving(tufpip) as service:
        (project / "pyproject.toml").write_text(
            '[project]\nname = "app"\nversion = "0"\nrequires-python = ">=3.11"\n'
            'dependencies = ["alpha"]\n[tool.uv]\npackage = false\n'
            f'[[tool.uv.index]]\nname = "verified"\nurl = "{service.url}"\ndefault = true\n'
        )
        for command in ("lock", "sync"):
            result = _run([str(UV), command, "--no-cache", "--python", sys.executable], project)
            assert result.returncode == 0, result.stderr
    assert installed(project / ".venv" / "bin" / "python") == {"alpha", "beta"}


def test_a_release_is_served_after_max_age(
    tufpip: Tufpip, changing: Served, tmp_path: Path
) -> None:
    trust(tufpip, changing)
    cached = trust(Tufpip(tmp_path / "other-home"), changing)
    with serving(tufpip, "--max-age", "0") as fresh, serving(cached, "--max-age", "3600") as kept:
        assert fresh.versions("beta") == kept.versions("beta") == ["1.0"]
        timestamp = changing.workspace.root / "metadata" / "timestamp.json"
        old = timestamp.read_bytes()
        repo_sign("add", "--repo", changing.workspace.root, make_wheel(tmp_path, "beta", "2.0"))
        assert fresh.versions("beta") == ["1.0", "2.0"]
        assert kept.versions("beta") == ["1.0"]  # its refresh is younger than --max-age
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        result = uv_pip_install(venv / "bin" / "python", fresh.url, "beta")
        assert result.returncode == 0, result.stderr
        timestamp.write_bytes(old)  # a rollback: the next page request fails, with the reason
        status, body = fresh.get("/simple/beta/")
        assert status == 503 and b"older than trusted version" in body, body
    assert "beta-2.0.dist-info" in {p.name for p in venv.glob("lib/python*/site-packages/*")}


def test_a_tampered_file_is_a_502_and_nothing_is_installed(
    tufpip: Tufpip, changing: Served, venv: Path
) -> None:
    trust(tufpip, changing)
    stored = changing.stored("packages/beta/beta-1.0-py3-none-any.whl")
    data = bytearray(stored.read_bytes())
    data[100] ^= 1
    stored.write_bytes(bytes(data))
    with serving(tufpip) as service:
        status, body = service.get("/packages/beta/beta-1.0-py3-none-any.whl")
        assert status == 502
        assert b"beta-1.0-py3-none-any.whl" in body and b"\n" not in body
        result = pip_install(venv, service.url, "alpha")
        assert result.returncode != 0
    assert installed(venv) == set()
    assert "GET /packages/beta/beta-1.0-py3-none-any.whl 502 " in service.log.read_text()


def test_an_expired_repository_is_a_503_with_the_reason(tufpip: Tufpip, changing: Served) -> None:
    trust(tufpip, changing)
    with serving(tufpip, "--max-age", "0") as service:
        assert service.versions("alpha") == ["1.0"]
        publish_expired_timestamp(changing.workspace)
        status, body = service.get("/simple/alpha/")
        assert status == 503
        assert b"expired" in body
        assert service.get("/simple/")[0] == 503


def test_sigterm_mid_download_leaves_only_verified_files(
    tufpip: Tufpip, shared: Served, venv: Path
) -> None:
    """The repository stalls half-way through a file: SIGTERM ends the service at once
    (not after the read timeout), with no partial file, temporary file or lock left."""
    stored = shared.stored(LARGE)
    url_path = "/" + stored.relative_to(shared.workspace.root).as_posix()
    mirror = AttackerServer(shared.workspace.root)
    mirror.attack(url_path, stall(keep=CHUNK))
    state = tufpip.home / "repositories" / "default"
    with mirror.running():
        trust(tufpip, Served(shared.workspace, mirror.url))
        with serving(tufpip) as service, ThreadPoolExecutor(1) as pool:
            assert service.versions("large") == ["1.0"]
            download = pool.submit(service.get, "/" + LARGE)
            deadline = time.monotonic() + 30
            while mirror.sent[url_path] < CHUNK and time.monotonic() < deadline:
                time.sleep(0.02)
            assert mirror.sent[url_path] == CHUNK < stored.stat().st_size
            stopping = time.monotonic()
            assert service.stop() == 0
            assert time.monotonic() - stopping < 5  # the read timeout is 30 s
            assert download.exception() is not None or download.result()[0] == 502
        assert not [p for p in state.rglob("*") if p.name.startswith((".incoming", "tmp"))]
        with open(state / "lock", "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds it
        cached = [p for p in (state / "targets").rglob("*") if p.is_file()]
        assert cached and not (state / "targets" / LARGE).exists()
        for file in cached:  # each one the repository's signed file, whole
            target = file.relative_to(state / "targets").as_posix()
            assert file.read_bytes() == shared.stored(target).read_bytes(), target
        mirror.honest()
        with serving(tufpip) as service:
            result = uv_pip_install(venv, service.url, "large")
            assert result.returncode == 0, result.stderr
            assert service.stop() == 0
    assert installed(venv) == {"large"}
    assert (state / "targets" / LARGE).read_bytes() == stored.read_bytes()


def test_a_host_name_or_a_taken_port_is_refused(tufpip: Tufpip, shared: Served) -> None:
    trust(tufpip, shared)
    result = tufpip("serve", "--bind", "localhost")
    assert result.returncode == 2
    assert result.stderr.startswith("tufpip: error: --bind 'localhost': give an IP address")
    with serving(tufpip) as service:
        port = service.url.split(":")[2].split("/")[0]
        result = tufpip("serve", "--port", port)
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1 port {port}" in result.stderr
