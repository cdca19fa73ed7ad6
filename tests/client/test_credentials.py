"""A repository behind HTTP basic authentication: credentials in the URL or in
a netrc file are used, never shown, and refused ones say so (exit 8)."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, installed, last_line
from tests.support.repositories import served
from tufpip.urls import redact

USER, PASSWORD = "reader", "s3cret-pw"


@pytest.fixture(scope="module")
def guarded(repository: Served) -> Iterator[Served]:
    """The shared repository, served again behind basic authentication."""
    with served(repository.workspace, f"{USER}:{PASSWORD}") as url:
        yield Served(repository.workspace, url)


def with_credentials(url: str, password: str) -> str:
    return url.replace("http://", f"http://{USER}:{password}@")


def shown(*results: subprocess.CompletedProcess[str]) -> str:
    return "".join(result.stdout + result.stderr for result in results)


def test_refused_credentials(tufpip: Tufpip, guarded: Served) -> None:
    url = with_credentials(guarded.url, "wrong-pw")
    redacted = with_credentials(guarded.url, "***")
    init = tufpip("init", url, "--root", guarded.root)
    assert init.returncode == 0, init.stderr
    assert init.stdout == f"recorded repository 'default' at {redacted}\n"

    refresh = tufpip("--debug", "-v", "refresh")
    assert refresh.returncode == 8, refresh.stderr
    assert last_line(refresh) == (
        f"tufpip: error: authentication failed for {redacted} (HTTP 401):"
        " check credentials or ~/.netrc"
    )
    assert "Traceback" in refresh.stderr  # --debug: the whole chain, redacted too
    status = tufpip("status")
    assert f"default: {redacted}" in status.stdout
    assert json.loads(tufpip("status", "--json").stdout)["url"] == redacted

    first_use = tufpip("init", url, "--trust-on-first-use", "--yes", "--name", "tofu")
    assert first_use.returncode == 8, first_use.stderr
    assert redacted in last_line(first_use)
    anonymous = tufpip("init", guarded.url, "--trust-on-first-use", "--yes", "--name", "anon")
    assert anonymous.returncode == 8, anonymous.stderr
    assert f"authentication failed for {guarded.url} (HTTP 401)" in last_line(anonymous)
    assert "wrong-pw" not in shown(init, refresh, status, first_use, anonymous)


def test_credentials_in_the_url(tufpip: Tufpip, guarded: Served, venv: Path) -> None:
    url = with_credentials(guarded.url, PASSWORD)
    init = tufpip("init", url, "--root", guarded.root)
    install = tufpip("--debug", "-v", "install", "--python", venv, "beta")
    assert install.returncode == 0, install.stderr
    assert "beta" in installed(venv)
    status = tufpip("status", "--json")
    assert json.loads(status.stdout)["url"] == with_credentials(guarded.url, "***")
    assert PASSWORD not in shown(init, install, status)
    # Recorded as given, in a file only the user can read.
    recorded = tufpip.home / "repositories.json"
    assert json.loads(recorded.read_text())["repositories"][0]["url"] == url
    assert stat.S_IMODE(recorded.stat().st_mode) == 0o600


def test_credentials_in_netrc(tufpip: Tufpip, guarded: Served, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin {USER}\npassword {PASSWORD}\n")
    netrc.chmod(0o600)
    assert tufpip("init", guarded.url, "--root", guarded.root).returncode == 0
    without = tufpip("list", HOME=str(tmp_path))  # no ~/.netrc there
    assert without.returncode == 8, without.stderr
    listing = tufpip("list", "--json", NETRC=str(netrc))
    assert listing.returncode == 0, listing.stderr
    assert "beta" in json.loads(listing.stdout)["projects"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("https://user:pw@host/x", "https://user:***@host/x"),
        ("https://token@host:8443/", "https://***@host:8443/"),
        ("https://user:p@ss:w@rd@host/", "https://user:***@host/"),
        ("a http://u:1@h/ and file:///tmp/x@y", "a http://u:***@h/ and file:///tmp/x@y"),
        ("https://host/path@v1 (ok)", "https://host/path@v1 (ok)"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
