"""Attacks and faults: each fails with its one-line reason and leaves the environment alone."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from tests.client.helpers import (
    Served,
    Tufpip,
    installed,
    last_line,
    publish_expired_timestamp,
)
from tests.support.distributions import make_wheel
from tests.support.repositories import repo_sign


def _trust(tufpip: Tufpip, repository: Served) -> None:
    result = tufpip("init", repository.url, "--root", repository.root)
    assert result.returncode == 0, result.stderr


def test_tampered_wheel_same_length(own_repository: Served, tufpip: Tufpip, venv: Path) -> None:
    stored = own_repository.stored("packages/beta/beta-1.0-py3-none-any.whl")
    data = bytearray(stored.read_bytes())
    data[100:110] = bytes(b ^ 0xFF for b in data[100:110])
    stored.write_bytes(bytes(data))
    _trust(tufpip, own_repository)

    result = tufpip("install", "--python", venv, "alpha")

    assert result.returncode == 4
    assert last_line(result) == (
        "tufpip: error: hash of packages/beta/beta-1.0-py3-none-any.whl"
        " does not match signed metadata"
    )
    assert "Traceback" not in result.stderr
    assert installed(venv) == set()


def test_rolled_back_timestamp(
    own_repository: Served, tufpip: Tufpip, venv: Path, tmp_path: Path
) -> None:
    metadata = own_repository.workspace.root / "metadata"
    old = (metadata / "timestamp.json").read_bytes()
    _trust(tufpip, own_repository)
    assert tufpip("refresh").returncode == 0
    repo_sign("add", "--repo", own_repository.workspace.root, make_wheel(tmp_path, "new", "1.0"))
    assert tufpip("refresh").returncode == 0
    (metadata / "timestamp.json").write_bytes(old)

    result = tufpip("install", "--python", venv, "beta")

    assert result.returncode == 4
    assert last_line(result) == (
        "tufpip: error: rollback refused: timestamp version 2 is older than trusted version 3"
    )
    assert installed(venv) == set()


def test_expired_timestamp(own_repository: Served, tufpip: Tufpip, venv: Path) -> None:
    _trust(tufpip, own_repository)
    expires = publish_expired_timestamp(own_repository.workspace)

    result = tufpip("install", "--python", venv, "beta")

    assert result.returncode == 4
    when = expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert last_line(result).startswith(f"tufpip: error: timestamp.json expired at {when}")
    assert installed(venv) == set()


def test_unknown_package(trusting: Tufpip, venv: Path) -> None:
    result = trusting("install", "--python", venv, "no-such-project")
    assert result.returncode == 5
    assert last_line(result) == (
        "tufpip: error: unknown package: the repository has no project no-such-project"
    )


def test_network_unreachable(
    own_repository: Served, tufpip: Tufpip, venv: Path, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    assert tufpip("init", url, "--root", own_repository.root).returncode == 0

    result = tufpip("install", "--python", venv, "beta")

    assert result.returncode == 6
    assert last_line(result).startswith(f"tufpip: error: cannot reach repository {url}: ")
    assert "connection refused" in last_line(result)


def test_file_url_repository(own_repository: Served, tufpip: Tufpip, venv: Path) -> None:
    """An air-gapped copy of the repository works through file:// URLs."""
    copy = shutil.copytree(
        own_repository.workspace.root, own_repository.workspace.root.parent / "usb"
    )
    assert tufpip("init", copy.as_uri(), "--root", own_repository.root).returncode == 0
    result = tufpip("install", "--installer", "uv", "--python", venv, "alpha")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta"}
