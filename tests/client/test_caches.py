"""Installer caches: a stable index URL per repository, and what may be cached.

pip's cache is on, but every response of the index is ``no-store``: pip's
HTTP cache keeps nothing that could go stale or be altered, while its cache of
wheels built from sdists (keyed by the sdist's stable URL and sha256) saves
the rebuild. uv's cache stays off, because uv reuses what it unpacked without
checking it.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
from pathlib import Path

from tests.client.helpers import Served, Tufpip, installed, run_python
from tests.support.environments import new_venv
from tufpip import loopback
from tufpip.client import Client
from tufpip.index import NO_STORE, VerifyingIndex
from tufpip.installer import Installer
from tufpip.session import Session
from tufpip.state import PORTS, Home, stable_port

WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"


def _recorded_port(tufpip: Tufpip) -> int:
    records = json.loads((tufpip.home / "repositories.json").read_text())["repositories"]
    return records[0]["port"]


def test_port_is_recorded_and_stable(trusting: Tufpip, repository: Served) -> None:
    port = _recorded_port(trusting)
    assert port == stable_port("default", repository.url)
    assert port in PORTS
    assert Home(trusting.home).get().port == port


def test_taken_port_falls_back_and_is_recorded(trusting: Tufpip, venv: Path) -> None:
    port = _recorded_port(trusting)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = trusting("install", "--python", venv, "beta")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"beta"}
    assert _recorded_port(trusting) not in (port, 0)


def test_nothing_served_may_be_stored(repository: Served, tmp_path: Path) -> None:
    client = Client(Home(tmp_path / "home"))
    client.init(repository.url, repository.root.read_bytes())
    with (
        loopback.listen(client.repository.port) as listener,
        Session(client.repository) as session,
        VerifyingIndex(listener, session),
    ):
        assert loopback.port_of(listener) == client.repository.port
        connection = http.client.HTTPConnection("127.0.0.1", loopback.port_of(listener))
        expected = {
            "/simple/": NO_STORE,
            "/simple/beta/": NO_STORE,
            "/simple/nope/": NO_STORE,
            f"/{WHEEL}": NO_STORE,
            f"/{WHEEL}.metadata": NO_STORE,
        }
        for path, cache_control in expected.items():
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.getheader("Cache-Control") == cache_control, path
        connection.close()


def test_built_sdist_is_reused_and_no_download_is_cached(trusting: Tufpip, tmp_path: Path) -> None:
    """The second install of an sdist takes the wheel pip built the first time,
    from tufpip's own pip cache; pip's HTTP cache holds no page or file of the
    index, and the user's pip cache is not used at all."""
    xdg = tmp_path / "xdg"

    def install() -> subprocess.CompletedProcess[str]:
        target = tmp_path / "venv"
        shutil.rmtree(target, ignore_errors=True)
        new_venv(target)
        python = target / "bin" / "python"
        result = trusting("install", "--python", python, "lambda-pkg", XDG_CACHE_HOME=str(xdg))
        assert result.returncode == 0, result.stderr
        assert run_python(python, "import lambda_pkg; print(lambda_pkg.FROM_SDIST)") == "True"
        return result

    assert "Building wheel for lambda-pkg" in install().stdout
    assert "Using cached lambda_pkg-1.0-py3-none-any.whl" in install().stdout
    private = trusting.home / "cache" / "pip"
    assert list((private / "wheels").rglob("lambda_pkg-1.0-py3-none-any.whl"))
    assert not list((private / "http-v2").rglob("*.body"))
    assert private.stat().st_mode & 0o777 == 0o700
    assert not xdg.exists()


def test_no_cache_dir_is_passed_through(trusting: Tufpip, venv: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    result = trusting(
        "install", "--python", venv, "--no-cache-dir", "beta", XDG_CACHE_HOME=str(xdg)
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"beta"}
    assert not (trusting.home / "cache" / "pip" / "http-v2").exists()
    assert not xdg.exists()


def test_uv_cache_stays_off_and_would_not_keep_served_files(
    repository: Served, tmp_path: Path
) -> None:
    """tufpip runs uv with ``--no-cache``: uv reuses what it unpacked without
    checking it against the index's hash. Even given a cache, uv keeps nothing
    of the index's ``no-store`` responses: an altered unpacked copy is not used."""
    assert "--no-cache" in Installer("uv").command("install", "http://127.0.0.1:1/simple/", [])
    client = Client(Home(tmp_path / "home"))
    client.init(repository.url, repository.root.read_bytes())
    cache = tmp_path / "uv-cache"

    def install() -> Path:
        target = tmp_path / "venv"
        shutil.rmtree(target, ignore_errors=True)
        new_venv(target)
        uv = Installer("uv", str(target / "bin" / "python"))
        with (
            loopback.listen(client.repository.port) as listener,
            Session(client.repository) as session,
            VerifyingIndex(listener, session) as index,
        ):
            command = uv.command("install", index.url, ["beta"])
            command[command.index("--no-cache")] = f"--cache-dir={cache}"
            environment = uv.environment(index.url)
            result = subprocess.run(command, capture_output=True, text=True, env=environment)
            assert result.returncode == 0, result.stderr
        return target / "bin" / "python"

    install()
    [module] = cache.rglob("beta/__init__.py")
    module.write_text(module.read_text() + "POISONED = True\n")
    python = install()
    assert run_python(python, "import beta; print(hasattr(beta, 'POISONED'))") == "False"
