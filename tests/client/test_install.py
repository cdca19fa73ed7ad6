"""End to end: repo-sign repository on loopback -> tufpip install -> the package imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.helpers import Tufpip, installed, run_python


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_dependency_chain_and_extra(trusting: Tufpip, venv: Path, installer: str) -> None:
    result = trusting(
        "install", "--installer", installer, "--python", venv, "alpha", "epsilon[fast]"
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta", "epsilon", "zeta"}
    assert run_python(venv, "import alpha, beta, zeta; print(beta.VERSION)") == "1.0"


def test_sdist_builds_with_backend_from_the_index(trusting: Tufpip, venv: Path) -> None:
    result = trusting("install", "--python", venv, "lambda-pkg")
    assert result.returncode == 0, result.stderr
    assert run_python(venv, "import lambda_pkg; print(lambda_pkg.FROM_SDIST)") == "True"
    assert "beta" in installed(venv)


def test_requirements_file_nested_with_variables(
    trusting: Tufpip, venv: Path, tmp_path: Path
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "inner.txt").write_text("${EXTRA_PROJECT}  # from the environment\n")
    (tmp_path / "reqs.txt").write_text("-r sub/inner.txt\nalpha \\\n  ==1.0\n")
    result = trusting(
        "install", "--python", venv, "-r", tmp_path / "reqs.txt", EXTRA_PROJECT="zeta"
    )
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta", "zeta"}


def test_verbose_names_each_verified_target(trusting: Tufpip, venv: Path) -> None:
    result = trusting("-v", "install", "--installer", "uv", "--python", venv, "beta")
    assert result.returncode == 0, result.stderr
    assert "verified packages/beta/beta-1.0-py3-none-any.whl" in result.stderr


def test_installer_sees_no_other_source(trusting: Tufpip, venv: Path, tmp_path: Path) -> None:
    """PIP_* variables (here a find-links folder holding gamma) reach no installer."""
    from tests.support.distributions import make_wheel

    make_wheel(tmp_path / "links", "gamma", "1.0")
    result = trusting("install", "--python", venv, "gamma", PIP_FIND_LINKS=str(tmp_path / "links"))
    assert result.returncode == 5, result.stderr
    assert "gamma" not in installed(venv)
