"""tufpip's state folder: private whatever the umask, refused when others could change it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, installed, last_line
from tests.support.repositories import mode_tree, snapshot_tree


def test_state_is_private_under_umask_000(tmp_path: Path, repository: Served, venv: Path) -> None:
    data = tmp_path / "data"  # made by tufpip too, as the user's data folder may be
    tufpip = Tufpip(data / "tufpip")
    result = tufpip("init", repository.url, "--root", repository.root, umask=0)
    assert result.returncode == 0, result.stderr
    result = tufpip("install", "--python", venv, "alpha", umask=0)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta"}
    modes = mode_tree(data)
    assert any(name.endswith("/alpha-1.0-py3-none-any.whl") for name in modes)
    assert "tufpip/repositories/default/metadata/root_history" in modes
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data / name).is_dir() else 0o600)
    }
    assert wrong == {}


def refused_without_change(tufpip: Tufpip, venv: Path, *args: str | Path) -> str:
    """Run a refused tufpip command; check it changed neither the state nor the venv."""
    before = snapshot_tree(tufpip.home), mode_tree(tufpip.home)
    result = tufpip(*args)
    assert result.returncode == 7, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (snapshot_tree(tufpip.home), mode_tree(tufpip.home)) == before
    assert installed(venv) == set()
    return last_line(result)


@pytest.mark.parametrize("others", [0o020, 0o002], ids=["group", "world"])
@pytest.mark.parametrize("folder", ["", "repositories/default/metadata"], ids=["home", "metadata"])
def test_refuses_a_state_folder_others_can_write(
    trusting: Tufpip, venv: Path, repository: Served, folder: str, others: int
) -> None:
    unsafe = trusting.home / folder
    unsafe.chmod(unsafe.stat().st_mode | others)
    line = refused_without_change(trusting, venv, "install", "--python", venv, "alpha")
    assert line == (
        f"tufpip: error: {unsafe} is writable by group or others, who could change what "
        f"tufpip trusts: run 'chmod -R go-w {unsafe}'"
    )
    if not folder:  # recording another repository in that home is refused too
        init = ("init", repository.url, "--root", repository.root, "--name", "second")
        assert refused_without_change(trusting, venv, *init) == line
    unsafe.chmod(unsafe.stat().st_mode & ~others)
    result = trusting("install", "--python", venv, "alpha")
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder away needs root")
def test_refuses_a_home_owned_by_another_user(trusting: Tufpip, venv: Path) -> None:
    os.chown(trusting.home, 65534, 65534)
    line = refused_without_change(trusting, venv, "install", "--python", venv, "alpha")
    assert line == (
        f"tufpip: error: {trusting.home} is owned by uid 65534, not by you (uid 0): "
        "set TUFPIP_HOME to a folder of your own"
    )
