"""tufpip install behaves as pip install: specifiers, markers, constraints,
--upgrade, --target, --user, and installs into any environment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, installed, run_python
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository, served


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """beta in two versions, alpha needing beta>=1, zeta for markers."""
    d = tmp_path_factory.mktemp("versions")
    files = [
        make_wheel(d, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(d, "beta", "1.0"),
        make_wheel(d, "beta", "2.0"),
        make_wheel(d, "zeta", "1.2.3"),
    ]
    workspace = build_repository(d / "repo", files)
    with served(workspace) as url:
        yield Served(workspace, url)


@pytest.fixture
def client(tmp_path: Path, versions: Served) -> Tufpip:
    tufpip = Tufpip(tmp_path / "home")
    assert tufpip("init", versions.url, "--root", versions.root).returncode == 0
    return tufpip


def beta_version(python: Path) -> str:
    return run_python(python, "import beta; print(beta.VERSION)")


def test_newest_version_and_specifiers(client: Tufpip, venv: Path) -> None:
    assert client("install", "--python", venv, "beta<2").returncode == 0
    assert beta_version(venv) == "1.0"
    result = client("install", "--python", venv, "beta")
    assert result.returncode == 0
    assert beta_version(venv) == "1.0"  # already satisfied: pip does not upgrade
    result = client("install", "--python", venv, "--upgrade", "beta")
    assert result.returncode == 0, result.stderr
    assert beta_version(venv) == "2.0"


def test_unsatisfiable_specifier_fails_like_pip(client: Tufpip, venv: Path) -> None:
    result = client("install", "--python", venv, "beta>=3")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "beta" not in installed(venv)


def test_constraints_file(client: Tufpip, venv: Path, tmp_path: Path) -> None:
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("beta==1.0\n")
    result = client("install", "--python", venv, "-c", constraints, "alpha")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta"}
    assert beta_version(venv) == "1.0"


def test_environment_markers(client: Tufpip, venv: Path) -> None:
    result = client("install", "--python", venv, 'zeta; python_version < "3"', "beta")
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"beta"}
    result = client("install", "--python", venv, 'zeta; python_version >= "3"')
    assert result.returncode == 0, result.stderr
    assert "zeta" in installed(venv)


def test_target_directory(client: Tufpip, tmp_path: Path) -> None:
    target = tmp_path / "vendored"
    result = client("install", "--target", target, "alpha")
    assert result.returncode == 0, result.stderr
    assert (target / "alpha" / "__init__.py").exists()
    assert (target / "beta" / "__init__.py").read_text().startswith("VERSION = '2.0'")


def test_user_install(client: Tufpip, tmp_path: Path) -> None:
    """--user into the base interpreter's user site, kept inside the test by PYTHONUSERBASE."""
    base_python = Path(sys.base_prefix) / "bin" / "python3"
    userbase = tmp_path / "userbase"
    result = client(
        "install", "--python", base_python, "--user", "zeta", PYTHONUSERBASE=str(userbase)
    )
    assert result.returncode == 0, result.stderr
    assert list(userbase.glob("lib/python*/site-packages/zeta/__init__.py"))
    check = subprocess.run(
        [base_python, "-c", "import zeta; print(zeta.__file__)"],
        capture_output=True,
        text=True,
        env={"PYTHONUSERBASE": str(userbase), "PATH": "/usr/bin:/bin"},
    )
    assert check.stdout.startswith(str(userbase)), check.stderr
