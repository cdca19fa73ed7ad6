"""Installer caches: a stable index URL per repository, and what a cached file is worth.

pip's cache is on: its HTTP cache keeps distribution and ``.metadata`` files
(sent ``immutable``) and pip checks them against the sha256 of the page it
just fetched, verified, from the index (pages are ``no-store``). uv's cache
stays off, because uv reuses what it unpacked without checking it.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, installed, run_python
from tufpip import loopback
from tufpip.client import Client
from tufpip.index import IMMUTABLE, NO_STORE, VerifyingIndex
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


def test_pages_are_never_stored_and_files_are_immutable(repository: Served, tmp_path: Path) -> None:
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
            f"/{WHEEL}": IMMUTABLE,
            f"/{WHEEL}.metadata": IMMUTABLE,
        }
        for path, cache_control in expected.items():
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.getheader("Cache-Control") == cache_control, path
        connection.close()


def _cached_bodies(cache: Path, data: bytes) -> list[Path]:
    """Files of pip's HTTP cache whose bytes are ``data``."""
    return [p for p in (cache / "pip" / "http-v2").rglob("*.body") if p.read_bytes() == data]


@pytest.mark.parametrize("poisoned_target", [WHEEL, WHEEL + ".metadata"])
def test_pip_cache_hits_and_a_poisoned_entry_is_refused(
    trusting: Tufpip, repository: Served, tmp_path: Path, poisoned_target: str
) -> None:
    """With the same index URL the second install reads the wheel and its
    ``.metadata`` from pip's cache; either one altered on disk fails pip's
    check against the hashes of the page."""
    xdg = tmp_path / "xdg"
    original = repository.stored(poisoned_target).read_bytes()

    def install() -> tuple[subprocess.CompletedProcess[str], Path]:
        target = tmp_path / "venv"
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", target], check=True)
        python = target / "bin" / "python"
        result = trusting("-v", "install", "--python", python, "beta", XDG_CACHE_HOME=str(xdg))
        return result, python

    first, _ = install()
    assert first.returncode == 0, first.stderr
    assert f"verified {WHEEL} " in first.stderr
    [cached] = _cached_bodies(xdg, original)

    second, python = install()
    assert second.returncode == 0, second.stderr
    assert f"verified {WHEEL} " not in second.stderr  # served by pip's cache
    assert "verified simple/beta/vnd.pypi.simple.v1.json" in second.stderr  # page: fresh
    assert run_python(python, "import beta; print(beta.VERSION)") == "1.0"

    poisoned = bytearray(original)
    poisoned[20:30] = bytes(b ^ 0x01 for b in poisoned[20:30])
    cached.write_bytes(bytes(poisoned))
    third, python = install()
    assert third.returncode != 0
    assert "DO NOT MATCH THE HASHES" in third.stdout + third.stderr
    assert installed(python) == set()


def test_no_cache_dir_is_passed_through(trusting: Tufpip, venv: Path, tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    result = trusting(
        "install", "--python", venv, "--no-cache-dir", "beta", XDG_CACHE_HOME=str(xdg)
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"beta"}
    assert not (xdg / "pip" / "http-v2").exists()


def test_uv_reuses_a_poisoned_cache_so_its_cache_stays_off(
    repository: Served, tmp_path: Path
) -> None:
    """uv, given a cache, installs an altered unpacked wheel from it without a
    complaint: tufpip runs uv with ``--no-cache``."""
    assert "--no-cache" in Installer("uv").command("install", "http://127.0.0.1:1/simple/", [])
    client = Client(Home(tmp_path / "home"))
    client.init(repository.url, repository.root.read_bytes())
    cache = tmp_path / "uv-cache"

    def install() -> Path:
        target = tmp_path / "venv"
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", target], check=True)
        uv = Installer("uv", str(target / "bin" / "python"))
        with (
            loopback.listen(client.repository.port) as listener,
            Session(client.repository) as session,
            VerifyingIndex(listener, session) as index,
        ):
            command = uv.command("install", index.url, ["beta"])
            command[command.index("--no-cache")] = f"--cache-dir={cache}"
            result = subprocess.run(command, capture_output=True, text=True, env=uv.environment)
            assert result.returncode == 0, result.stderr
        return target / "bin" / "python"

    install()
    [module] = cache.rglob("beta/__init__.py")
    module.write_text(module.read_text() + "POISONED = True\n")
    python = install()
    assert run_python(python, "import beta; print(beta.POISONED)") == "True"
