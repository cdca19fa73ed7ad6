"""Modes of what repo-sign writes, whatever the umask: keys private, nothing writable by others."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.support.distributions import make_sdist, make_wheel
from tests.support.repositories import mode_tree, repo_sign


def expected_mode(path: Path) -> int:
    """Keys and their folders private; everything else readable, writable by its owner only."""
    private = "keys" in path.parts
    if path.is_dir():
        return 0o700 if private else 0o755
    return 0o600 if private and path.suffix != ".pub" else 0o644


def test_init_and_add_under_umask_000(tmp_path: Path) -> None:
    files = [make_wheel(tmp_path / "d", "alpha", "1.0"), make_sdist(tmp_path / "d", "beta", "2.0")]
    root = tmp_path / "new" / "repo"  # both folders made by repo-sign
    repo_sign("init", "--repo", root, "--bins", "4", umask=0)
    repo_sign("add", "--repo", root, *files, umask=0)
    modes = mode_tree(tmp_path / "new")
    assert modes["repo/keys"] == 0o700
    assert sum(name.startswith("repo/targets/packages/") for name in modes) >= 4
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != expected_mode(tmp_path / "new" / name)
    }
    assert wrong == {}


def test_key_new_under_umask_000_makes_a_private_folder(tmp_path: Path) -> None:
    out = tmp_path / "holder" / "alice.key"
    repo_sign("key", "new", "--out", out, umask=0)
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.with_name("alice.key.pub").stat().st_mode) == 0o644
