"""Attack 12: a poisoned local cache.

tufpip keeps verified targets and trusted metadata in its state folder. A
file changed on disk after its verification (by malware, a faulty disk or a
careless user) must be detected, and tufpip's own cache fetches it again.
pip's HTTP cache keeps nothing the verifying index served (every response is
``no-store``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.attacks.checks import Client, Mirror, assert_recovers, installed
from tests.attacks.forge import Forger
from tests.support.environments import new_venv

WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"


def _state(client: Client) -> Path:
    return client.home / "repositories" / "default"


def test_poisoned_target_cache_is_fetched_again(
    mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    assert_recovers(client, mirror, venv)
    cached = _state(client) / "targets" / WHEEL
    signed = Forger(mirror.workspace).target(WHEEL).hashes["sha256"]
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == signed
    cached.write_bytes(cached.read_bytes()[:-10] + b"POISONED!!")
    url = mirror.forger.target_url(WHEEL)
    fetched_before = len(mirror.server.requested(url))

    run = client.install(venv2, "beta", "--no-cache-dir")

    assert run.returncode == 0, run.describe()
    assert installed(venv2) == {"beta"}
    assert len(mirror.server.requested(url)) == fetched_before + 1
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == signed


@pytest.mark.parametrize("file", ["timestamp.json", "snapshot.json", "targets.json"])
def test_poisoned_trusted_metadata_is_replaced(
    file: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    """Invalid local metadata is not trusted: the verified copy is fetched again."""
    assert_recovers(client, mirror, venv)
    trusted = _state(client) / "metadata" / file
    trusted.write_bytes(trusted.read_bytes().replace(b'"version":', b'"version":1', 1))
    assert_recovers(client, mirror, venv2)
    assert trusted.read_bytes() in {
        p.read_bytes() for p in (mirror.workspace / "metadata").glob(f"*{file}")
    }


def _pip_cache_entries(client: Client, data: bytes) -> list[Path]:
    cache = Path(client.env["XDG_CACHE_HOME"]) / "pip" / "http-v2"
    return [p for p in cache.rglob("*.body") if p.read_bytes() == data]


def test_pip_http_cache_holds_nothing_to_poison(
    mirror: Mirror, client: Client, venv: Path, tmp_path: Path
) -> None:
    """The index sends every response ``no-store``: pip's HTTP cache keeps no
    page or file of it, so no cached copy can go stale or be altered; the next
    install fetches (and tufpip verifies) everything again."""
    url = mirror.forger.target_url(WHEEL)
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    assert client.install(venv, "beta").returncode == 0
    cache = Path(client.env["XDG_CACHE_HOME"]) / "pip" / "http-v2"
    assert not [p for p in cache.rglob("*.body") if p.read_bytes() == honest]

    again = new_venv(tmp_path / "again")
    run = client.install(again, "beta")
    assert run.returncode == 0, run.describe()
    assert installed(again) == {"beta"}
