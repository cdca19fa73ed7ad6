"""tufpip installs (and so updates) itself from a team's own signed repository."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.client.helpers import Tufpip, installed
from tests.support.environments import new_venv
from tests.support.repositories import build_repository, served

PROJECT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tufpip_installs_itself_from_the_repository(tufpip: Tufpip, tmp_path: Path) -> None:
    """tufpip's wheel, built from this checkout, is signed into a repository and
    ``tufpip install --upgrade --no-deps tufpip`` puts it in a fresh environment, whose
    ``tufpip`` command runs.

    ``--no-deps``: the wheels of tufpip's dependencies cannot be had here without network,
    so they are not in the repository; the fresh environment reaches this test
    environment's installed dependencies through a ``.pth`` line, added after the install
    (a plain path line: the editable install of this checkout is not picked up, which the
    test checks).
    """
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", wheels, PROJECT], check=True, capture_output=True)
    [own] = wheels.glob("tufpip-*.whl")
    workspace = build_repository(tmp_path / "repo", [own])
    new_venv(tmp_path / "venv")
    venv = tmp_path / "venv" / "bin"
    with served(workspace) as url:
        assert tufpip("init", url, "--root", workspace.metadata_path("root", 1)).returncode == 0
        args = ("install", "--python", venv / "python", "--upgrade", "--no-deps", "tufpip")
        result = tufpip(*args)
        assert result.returncode == 0, result.stderr
    assert installed(venv / "python") == {"tufpip"}
    # Only now: pip would take the dependencies' folder for an installed tufpip.
    site = next((tmp_path / "venv").glob("lib/python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    help_text = subprocess.run(
        [venv / "tufpip", "--help"], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "Install Python packages only after TUF verification." in help_text
    location = subprocess.run(
        [venv / "python", "-c", "import tufpip; print(tufpip.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert location.startswith(str(site))  # the signed wheel, not this checkout
