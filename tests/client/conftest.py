"""Fixtures for the tufpip tests: repositories made by repo-sign and served on
loopback, a tufpip home per test, fresh virtual environments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, distributions
from tests.support.environments import new_venv
from tests.support.repositories import build_repository, served


def _serve_new(directory: Path, files: list[Path]) -> Iterator[Served]:
    workspace = build_repository(directory / "repo", files)
    with served(workspace) as url:
        yield Served(workspace, url)


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return distributions(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="session")
def repository(tmp_path_factory: pytest.TempPathFactory, dists: list[Path]) -> Iterator[Served]:
    """One repository for every test that does not change it."""
    yield from _serve_new(tmp_path_factory.mktemp("shared"), dists)


@pytest.fixture
def own_repository(tmp_path: Path, dists: list[Path]) -> Iterator[Served]:
    """A repository of this test's own, for tests that attack or change it."""
    yield from _serve_new(tmp_path, dists)


@pytest.fixture
def tufpip(tmp_path: Path) -> Tufpip:
    return Tufpip(tmp_path / "home")


@pytest.fixture
def trusting(tufpip: Tufpip, repository: Served) -> Tufpip:
    """A tufpip home that trusts the shared repository."""
    result = tufpip("init", repository.url, "--root", repository.root)
    assert result.returncode == 0, result.stderr
    return tufpip


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh virtual environment without pip; returns its python."""
    new_venv(tmp_path / "venv")
    return tmp_path / "venv" / "bin" / "python"
