from __future__ import annotations

from pathlib import Path

import pytest

from repo_sign.workspace import Workspace
from tests.ceremony.helpers import repo_sign
from tests.support.distributions import make_wheel


@pytest.fixture
def wheels(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "wheels"
    return [make_wheel(folder, "ceremony-demo", "1.0"), make_wheel(folder, "ceremony-demo", "2.0")]


@pytest.fixture
def workspace(tmp_path: Path, wheels: list[Path]) -> Workspace:
    """A 2-of-3 root repository with two bins and one published wheel."""
    root = tmp_path / "repo"
    repo_sign("init", "--repo", root, "--root-keys", "3", "--root-threshold", "2", "--bins", "2")
    repo_sign("add", "--repo", root, wheels[0])
    return Workspace(root)
