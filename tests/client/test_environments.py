"""Which environment ``tufpip install`` writes into: pip's choice (``--python``,
else the active virtual environment), never tufpip's own unless named."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.client.helpers import Tufpip, installed, last_line
from tests.support.environments import new_venv

OWN = Path(sys.executable)  # the interpreter the tests run tufpip with


def activated(venv_python: Path) -> dict[str, str]:
    """The variables ``source venv/bin/activate`` sets."""
    bin_dir = venv_python.parent
    return {
        "VIRTUAL_ENV": str(bin_dir.parent),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    }


def test_installs_into_the_active_virtual_environment(trusting: Tufpip, venv: Path) -> None:
    before = installed(OWN)
    result = trusting("install", "beta", **activated(venv))
    assert result.returncode == 0, result.stderr
    assert "beta" in installed(venv)
    assert installed(OWN) == before


def test_refuses_tufpips_own_environment_unless_named(
    trusting: Tufpip, venv: Path, tmp_path: Path
) -> None:
    before = installed(OWN)
    no_venv = trusting("install", "beta")
    stale = trusting("install", "beta", VIRTUAL_ENV=str(tmp_path / "removed-venv"))
    for result in (no_venv, stale):
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        line = last_line(result)
        assert "activate one, or pass --python PATH" in line
        assert f"--python {OWN}" in line
    assert installed(OWN) == before
    assert installed(venv) == set()


def test_a_refused_source_is_reported_first(trusting: Tufpip) -> None:
    """Without an environment too, the arguments are checked as an install checks them."""
    result = trusting("install", "--extra-index-url", "http://127.0.0.1:9/simple/", "beta")
    assert result.returncode == 3, result.stderr
    assert "verified index" in last_line(result)


def test_python_option_wins_over_the_active_environment(
    trusting: Tufpip, venv: Path, tmp_path: Path
) -> None:
    new_venv(tmp_path / "other")
    other = tmp_path / "other" / "bin" / "python"
    result = trusting("install", "--python", venv, "zeta", **activated(other))
    assert result.returncode == 0, result.stderr
    assert "zeta" in installed(venv)
    assert installed(other) == set()
