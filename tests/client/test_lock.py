"""``tufpip lock``: pip's resolution through the verifying index, written as a PEP 751
lock of the repository's own URLs and signed hashes, that plain uv installs and
``tufpip install -r`` verifies again; and what it refuses, writing nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import uv

from tests.client.helpers import Served, Tufpip, installed, last_line
from tests.support.environments import new_venv
from tufindex.installers import without_installer_configuration
from tufpip import lockwriter
from tufpip.errors import NotFound, TamperingDetected
from tufpip.locks import Locked
from tufpip.session import Session
from tufpip.state import Home


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory, repository: Served) -> Tufpip:
    """One tufpip home trusting the shared repository, for the whole module."""
    tufpip = Tufpip(tmp_path_factory.mktemp("lock") / "home")
    result = tufpip("init", repository.url, "--root", repository.root)
    assert result.returncode == 0, result.stderr
    return tufpip


def plain(*command: str | Path) -> subprocess.CompletedProcess[str]:
    """``command`` run without tufpip, with no installer configuration of the machine's."""
    env = without_installer_configuration(os.environ)
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=env, check=False
    )


def test_lock_installs_with_plain_uv_and_again_with_tufpip(
    trusting: Tufpip, repository: Served, tmp_path: Path
) -> None:
    folder = new_venv(tmp_path / "venv")  # --python names a venv folder, as pip's does
    target = folder / "bin" / "python"
    result = trusting("lock", "--python", folder, "-o", "pylock.dev.toml", "alpha", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert last_line(result) == "wrote pylock.dev.toml: 2 packages"
    lock_file = tmp_path / "pylock.dev.toml"
    lock = tomllib.loads(lock_file.read_text())
    assert lock["created-by"] == "tufpip"
    assert [(p["name"], p["version"]) for p in lock["packages"]] == [
        ("alpha", "1.0"),
        ("beta", "1.0"),
    ]
    for package in lock["packages"]:
        [wheel] = package["wheels"]
        target_path = f"packages/{package['name']}/{wheel['name']}"
        stored = repository.stored(target_path)  # what the server holds: HASH.FILE
        assert (
            wheel["url"]
            == f"{repository.url}/targets/{target_path.rpartition('/')[0]}/{stored.name}"
        )
        assert wheel["hashes"]["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
        assert wheel["size"] == stored.stat().st_size

    # pip 26.3 takes the project name from the URL's last segment, HASH.FILE: it refuses.
    pip = plain(sys.executable, "-m", "pip", "--python", target, "install", "--isolated",
                "--no-index", "-r", lock_file)  # fmt: skip
    assert pip.returncode != 0
    assert "wrong project name (not alpha)" in pip.stderr
    assert installed(target) == set()

    # uv installs it with no index at all: only the lock's URLs and hashes.
    uv_run = plain(uv.find_uv_bin(), "pip", "install", "--no-config", "--no-cache", "--no-index",
                   "--python", target, "-r", lock_file)  # fmt: skip
    assert uv_run.returncode == 0, uv_run.stderr
    assert installed(target) == {"alpha", "beta"}

    # tufpip checks every locked file against the repository again, then installs.
    again = new_venv(tmp_path / "again")
    result = trusting("install", "--python", again, "-r", lock_file)
    assert result.returncode == 0, result.stderr
    assert installed(again / "bin" / "python") == {"alpha", "beta"}

    # -o - prints the lock, and nothing else, on stdout.
    result = trusting("lock", "--python", target, "-o", "-", "zeta", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p["name"] for p in tomllib.loads(result.stdout)["packages"]] == ["zeta"]


def test_lock_refusals_write_nothing(trusting: Tufpip, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "proj").mkdir(parents=True)
    existing = work / "pylock.toml"
    existing.write_text("# kept\n")
    refusals = [
        (["-o", "locked.toml", "alpha"], 2, "a lock file is named pylock.toml"),
        (["-o", "missing/pylock.toml", "alpha"], 2, "no such folder"),
        (["-i", "https://example.org/simple", "alpha"], 3, "adds a package source"),
        (["beta @ https://example.org/beta-1.0.tar.gz"], 3, "direct URL requirement"),
        (["./proj"], 3, "a lock holds only files the repository signs"),
        (["-e", "./proj"], 3, "adds a package source"),
        (["--target", "out", "alpha"], 2, "not an option tufpip passes on"),
        (["gamma"], 5, "the repository has no project gamma"),
    ]
    for args, code, words in refusals:
        result = trusting("lock", *args, cwd=work)
        assert result.returncode == code, (args, result.stderr)
        assert words in last_line(result), (args, last_line(result))
    assert existing.read_text() == "# kept\n"
    assert sorted(p.name for p in work.iterdir()) == ["proj", "pylock.toml"]


def test_locked_files_are_checked_against_their_signed_targets(trusting: Tufpip) -> None:
    """What pip resolved is written only if each file is exactly a signed target: a hash
    that differs from the signed one (a page and a target that disagree) is tampering."""
    forged = Locked("beta", "1.0", {"beta-1.0-py3-none-any.whl": "0" * 64})
    unsigned = Locked("gamma", "1.0", {"gamma-1.0-py3-none-any.whl": "1" * 64})
    with Session(Home(trusting.home).get()) as session:
        with pytest.raises(TamperingDetected, match="locked with sha256 0000"):
            lockwriter.render(session, [forged], "pip lock")
        with pytest.raises(NotFound, match=r"does not sign gamma-1\.0-py3-none-any\.whl"):
            lockwriter.render(session, [unsigned], "pip lock")
