"""Fixtures of the attack and fault suite.

One repository is built by ``repo-sign`` per session (a dependency chain, an
sdist built with a backend from the index, an unrelated project); each test
gets its own copy of that workspace, keys included, served by an
``AttackerServer`` on 127.0.0.1, a ``tufpip`` state folder that trusts the
repository's first root, and an empty virtual environment. Copies are cheap
(a few dozen small files), so a test may republish, forge or break its copy
without disturbing any other test.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.attacks.attacker import AttackerServer, replace
from tests.attacks.checks import Client, Mirror
from tests.support.distributions import make_backend_wheel, make_sdist, make_wheel
from tests.support.environments import new_venv
from tests.support.repositories import build_repository


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything here is part of the attack suite (``-m attack`` selects it)."""
    for item in items:
        if "tests/attacks/" in str(item.fspath):
            item.add_marker(pytest.mark.attack)


@pytest.fixture(scope="session")
def attack_dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    directory = tmp_path_factory.mktemp("attack-dists")
    return [
        make_wheel(directory, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(directory, "beta", "1.0"),
        make_wheel(directory, "zeta", "1.0"),
        make_sdist(directory, "lambda-pkg", "1.0", requires=["beta"]),
        make_backend_wheel(directory),
    ]


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory, attack_dists: list[Path]) -> Path:
    """The session's repository workspace; tests only ever copy it."""
    return build_repository(tmp_path_factory.mktemp("pristine") / "repo", attack_dists).root


@pytest.fixture
def mirror(tmp_path: Path, pristine: Path) -> Iterator[Mirror]:
    """This test's copy of the repository, served by an attacker on 127.0.0.1."""
    workspace = Path(shutil.copytree(pristine, tmp_path / "repo", symlinks=True))
    with AttackerServer(workspace).running() as server:
        yield Mirror(workspace, server)


@pytest.fixture
def client(tmp_path: Path, mirror: Mirror) -> Client:
    """A tufpip state folder that trusts the mirror's repository (its 1.root.json)."""
    client = Client(tmp_path / "home", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    run = client("init", mirror.url, "--root", mirror.root)
    assert run.returncode == 0, run.describe()
    return client


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """An empty virtual environment (no pip: tufpip brings its own)."""
    return new_venv(tmp_path / "venv")


@pytest.fixture
def venv2(tmp_path: Path) -> Path:
    """A second one, for the honest run after an attack."""
    return new_venv(tmp_path / "venv2")


EVIL_FILE = "beta-9.9-py3-none-any.whl"


def evil_server(folder: Path) -> AttackerServer:
    """The attacker's index, find-links page and file server offering ``beta 9.9``
    (a leak detector: it records every request); not yet started."""
    wheel = make_wheel(folder / "evil-dists", "beta", "9.9", body="OWNED = True\n")
    server = AttackerServer(folder / "evil-root")
    link = f'<a href="/evil/{EVIL_FILE}">{EVIL_FILE}</a>'
    page = f"<!DOCTYPE html><html><body>{link}</body></html>".encode()
    server.attack("/simple/*", replace(page))
    server.attack("/links*", replace(page))
    server.attack("/evil/*", replace(wheel.read_bytes()))
    return server


@pytest.fixture
def evil(tmp_path: Path) -> Iterator[AttackerServer]:
    """The attacker of one test (``evil_server``), running."""
    with evil_server(tmp_path).running() as server:
        yield server
