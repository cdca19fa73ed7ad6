"""Real hosts started by the tests: nginx and moto's S3 server, on 127.0.0.1.

Their Debian packages are installed by ``make system-deps`` (run by ``make
test``); a missing one fails the test with the command to run, never skips.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DEBIAN_PACKAGES = {"nginx": "nginx", "softhsm2-util": "softhsm2", "pkcs11-tool": "opensc"}


def require_program(name: str) -> str:
    """The path of ``name``, or a test failure naming the package to install."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        pytest.fail(
            f"{name} is not installed: run 'make system-deps' or, as root, "
            f"'apt-get install -y {DEBIAN_PACKAGES.get(name, name)}'"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    """Return once ``port`` accepts connections; fail with the log if the host died."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{process.args[0]} exited {process.returncode}:\n{log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"{process.args[0]} did not listen on {port}:\n{log.read_text()}")


@contextmanager
def running(command: list[str], port: int, log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextmanager
def nginx(server_block: str, prefix: Path, port: int) -> Iterator[str]:
    """nginx with ``server_block``, unprivileged (every path under ``prefix``); its URL."""
    binary = require_program("nginx")
    prefix.mkdir(parents=True, exist_ok=True)
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as "nobody", who cannot read pytest's 0700 folders.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'};\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temp}\n{server_block}}}\n"
    )
    command = [binary, "-e", str(prefix / "error.log"), "-p", str(prefix), "-c", str(conf)]
    with running(command, port, prefix / "nginx.out"):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def moto_s3(directory: Path) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    server = Path(sys.executable).parent / "moto_server"
    with running([str(server), "-H", "127.0.0.1", "-p", str(port)], port, directory / "moto.log"):
        yield f"http://127.0.0.1:{port}"
