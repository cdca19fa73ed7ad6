"""Recovering the client's state: a damaged trusted root names its file and the fix,
``init --force`` and ``forget``, a full disk during a download, and the state lock
and imports on platforms without ``fcntl``."""

from __future__ import annotations

import base64
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from tests.client.helpers import Served, Tufpip, installed
from tests.support.distributions import make_wheel
from tests.support.repositories import repo_sign, snapshot_tree

STATE = 7


def one_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("tufpip: error: ")
    return line


def test_damaged_trusted_root_is_named_and_init_force_replaces_it(
    trusting: Tufpip, repository: Served
) -> None:
    assert trusting("list").returncode == 0
    state = trusting.home / "repositories" / "default"
    root = (state / "metadata" / "root.json").resolve()
    assert any((state / "targets").rglob("*.json"))
    root.write_bytes(root.read_bytes()[:100])
    line = one_error(trusting("list"), STATE)
    assert str(root) in line
    assert f"tufpip init --force --name default {repository.url}" in line
    again = one_error(trusting("init", repository.url, "--root", repository.root), STATE)
    assert "already recorded" in again and "--force" in again
    forced = trusting("init", "--force", repository.url, "--root", repository.root)
    assert forced.returncode == 0, forced.stderr
    assert not (state / "targets").exists()  # the cache went with the old trust
    listed = trusting("list")
    assert listed.returncode == 0, listed.stderr
    assert "alpha" in listed.stdout.split()


def test_init_force_with_an_invalid_root_changes_nothing(
    trusting: Tufpip, repository: Served, tmp_path: Path
) -> None:
    assert trusting("list").returncode == 0
    before = snapshot_tree(trusting.home)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = trusting("init", "--force", repository.url, "--root", bad)
    assert "not a valid TUF root" in one_error(result, 2)
    assert {k: v for k, v in snapshot_tree(trusting.home).items() if not k.endswith("lock")} == {
        k: v for k, v in before.items() if not k.endswith("lock")
    }
    assert trusting("list").returncode == 0


def test_forget_removes_one_repository(trusting: Tufpip, repository: Served) -> None:
    other = trusting("init", "--name", "other", repository.url, "--root", repository.root)
    assert other.returncode == 0, other.stderr
    assert trusting("--repository", "other", "list").returncode == 0
    result = trusting("forget", "other")
    assert result.returncode == 0, result.stderr
    assert not (trusting.home / "repositories" / "other").exists()
    names = [
        r["name"]
        for r in json.loads((trusting.home / "repositories.json").read_text())["repositories"]
    ]
    assert names == ["default"]
    assert "no repository named 'other'" in one_error(trusting("forget", "other"), STATE)
    assert trusting("list").returncode == 0


def test_full_disk_during_a_download_leaves_nothing_under_a_final_name(
    tufpip: Tufpip, own_repository: Served, tmp_path: Path, venv: Path
) -> None:
    """RLIMIT_FSIZE makes every write beyond 100 kB fail with EFBIG, as a full disk does."""
    body = "# " + base64.b64encode(os.urandom(300_000)).decode() + "\n"
    big = make_wheel(tmp_path / "d", "big", "1.0", body=body)
    repo_sign("add", "--repo", own_repository.workspace.root, big)
    assert tufpip("init", own_repository.url, "--root", own_repository.root).returncode == 0
    limit = 100_000
    command = [sys.executable, "-m", "tufpip", "install", "--python", str(venv), "big"]
    full = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=tufpip.env(),
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
    )
    assert full.returncode != 0
    assert "Traceback" not in full.stderr
    assert "big" not in installed(venv)
    cache = tufpip.home / "repositories" / "default" / "targets"
    assert not list(cache.rglob("big-*.whl")), "a partial wheel under its final name"
    assert not list(cache.rglob(".incoming.*")), "a temporary file left behind"
    assert all(f.stat().st_size < limit for f in tufpip.home.rglob("*") if f.is_file())
    result = tufpip("install", "--python", venv, "big")
    assert result.returncode == 0, result.stderr
    assert "big" in installed(venv)
    assert (cache / "packages" / "big" / big.name).read_bytes() == big.read_bytes()


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from tufpip.state import Repository
repository = Repository("default", "http://127.0.0.1:1", Path(sys.argv[1]), 61000)
with repository.locked():
    print(time.monotonic(), flush=True)
    time.sleep(float(sys.argv[2]))
    print(time.monotonic(), flush=True)
"""


def test_the_state_lock_serializes_two_processes(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path), "1.0"], stdout=subprocess.PIPE, text=True
    )
    assert first.stdout is not None
    float(first.stdout.readline())  # it holds the lock now
    time.sleep(0.1)
    second = subprocess.run(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path), "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    released = float(first.stdout.readline())
    first.wait()
    acquired = float(second.stdout.split()[0])
    assert acquired >= released


IMPORT_WITHOUT_POSIX = """
import importlib, pkgutil, sys
for name in ("fcntl", "pwd", "grp", "resource", "termios"):
    sys.modules[name] = None  # importing it raises ImportError, as on Windows
import tufpip
for module in pkgutil.iter_modules(tufpip.__path__):
    if module.name != "__main__":  # runs the command line
        importlib.import_module(f"tufpip.{module.name}")
from tufpip.cli import cli
print(len(cli.commands))
"""


def test_every_module_imports_without_posix_only_modules() -> None:
    """What a Windows user runs imports: ``fcntl`` is imported only to take a lock on POSIX."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT_POSIX], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 5
