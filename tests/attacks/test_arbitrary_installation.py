"""Attack 1, arbitrary installation: a mirror swaps a distribution's bytes.

pip would install whatever the index serves; tufpip's index serves only
bytes whose length and sha256 match the signed target. Same length and
shorter replacements fail the hash check, longer ones are cut at the signed
length; a complete, installable wheel built by the attacker under the same
name fares no better.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.attacker import replace
from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tests.support.distributions import make_wheel

WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 16]) + data[middle + 16 :]


REPLACEMENTS = {
    "same-length": (_flip, "does not match signed metadata"),
    "shorter": (lambda data: data[:-100], "does not match signed metadata"),
    "longer": (lambda data: data + b"\0" * 100, "longer than its signed length"),
}


@pytest.mark.parametrize("kind", list(REPLACEMENTS))
def test_replaced_wheel(kind: str, mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    change, words = REPLACEMENTS[kind]
    url = mirror.forger.target_url(WHEEL)
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    mirror.server.attack(url, replace(change(honest)))
    before = tree(venv)

    run = client.install(venv, "alpha")

    assert_refused(run, WHEEL, words)
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2, "alpha")


def test_attackers_own_wheel_under_the_signed_name(
    mirror: Mirror, client: Client, venv: Path, venv2: Path, tmp_path: Path
) -> None:
    """A valid wheel with the same name and version, carrying the attacker's code."""
    evil = make_wheel(tmp_path / "evil", "beta", "1.0", body="import os\nOWNED = True\n")
    mirror.server.attack(mirror.forger.target_url(WHEEL), replace(evil.read_bytes()))
    before = tree(venv)

    run = client.install(venv, "beta")

    assert_refused(run, WHEEL, ("does not match signed metadata", "longer than its signed"))
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)


def test_replaced_core_metadata_file(
    mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """The PEP 658 .metadata file pip resolves from is a target like any other."""
    url = mirror.forger.target_url(WHEEL + ".metadata")
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    mirror.server.attack(url, replace(honest.replace(b"1.0", b"9.9")))
    before = tree(venv)

    run = client.install(venv, "beta")

    assert_refused(run, WHEEL + ".metadata", "does not match signed metadata")
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)


def test_replaced_sdist_and_build_backend(
    mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """The backend an sdist builds with comes through the verified index too."""
    backend = "packages/tinybackend/tinybackend-1.0-py3-none-any.whl"
    url = mirror.forger.target_url(backend)
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    mirror.server.attack(url, replace(_flip(honest)))
    before = tree(venv)

    run = client.install(venv, "lambda-pkg")

    assert_refused(run, backend, "does not match signed metadata")
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2, "lambda-pkg")
