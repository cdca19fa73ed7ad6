"""The on-disk layout of a repository workspace.

::

    WORKSPACE/
      repo-sign.toml         policy (thresholds, expiry, signers, bins)
      keys/ROLE-KEYID16      encrypted private keys (0600), and ROLE-KEYID16.pub
      metadata/N.ROLE.json   signed metadata, consistent snapshots
      metadata/timestamp.json, metadata/root.json (copy of the newest root)
      targets/DIR/SHA256.FILE target files under consistent-snapshot names
      staged/                ceremony proposals waiting for signatures

Only ``metadata/`` and ``targets/`` are ever served. What is *current* is
decided by following ``timestamp.json`` to its snapshot and the snapshot to
its targets versions, never by the newest file on disk: files an interrupted
run left behind are simply not referenced, and the next run overwrites them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from repo_sign.errors import DamagedMetadata, NotInitialized
from repo_sign.fsutil import locked, remove_leftovers, write_atomic

POLICY_FILE = "repo-sign.toml"
LOCK_FILE = ".repo-sign.lock"
REPAIR = "run 'repo-sign refresh --repair'"
RESTORE = "restore it from a backup"
_OFFLINE_REPAIR = {
    "root": f"{RESTORE} (root is signed offline)",
    "targets": f"{RESTORE}, or run 'repo-sign refresh --repair' if repo-sign.toml "
    "names the targets signers",
}


class Workspace:
    """Paths of one workspace and the lock that serializes its writers."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.keys = self.root / "keys"
        self.metadata = self.root / "metadata"
        self.targets = self.root / "targets"
        self.staged = self.root / "staged"
        self.policy_file = self.root / POLICY_FILE

    def is_initialized(self) -> bool:
        """``init`` writes the policy last: any metadata missing beside it is damage."""
        return self.policy_file.exists()

    def awaits_first_root(self) -> bool:
        """Whether ``init`` staged root version 1 for key holders and it is not published.

        ``init`` writes the policy last; ``publish`` writes the timestamp last and
        only then removes the staged root, so an interrupted publish can be rerun.
        """
        return (
            self.policy_file.exists()
            and (self.staged / "root.json").exists()
            and not (self.metadata / "timestamp.json").exists()
        )

    def require_initialized(self) -> None:
        if self.awaits_first_root():
            raise NotInitialized("root v1 awaits signatures: see repo-sign ceremony status")
        if not self.is_initialized():
            raise NotInitialized(
                f"{self.root} is not a repo-sign repository: run 'repo-sign init' "
                "there, or pass --repo DIR"
            )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Serialize writers; the holder also clears what an interrupted writer left."""
        with locked(self.root / LOCK_FILE):
            for directory in (self.metadata, self.targets, self.keys):
                remove_leftovers(directory)
            yield

    # metadata files
    def metadata_path(self, role: str, version: int | None) -> Path:
        """``N.ROLE.json`` for a version, ``ROLE.json`` for the unversioned name."""
        name = f"{role}.json" if version is None else f"{version}.{role}.json"
        return self.metadata / name

    def read_metadata(self, role: str, version: int | None) -> bytes:
        try:
            return self.metadata_path(role, version).read_bytes()
        except FileNotFoundError:
            raise self.damaged(role, version, "missing") from None

    def damaged(
        self, role: str, version: int | None, reason: str, hint: str | None = None
    ) -> DamagedMetadata:
        """The error for a damaged metadata file: its path, what is wrong, and the repair."""
        path = self.metadata_path(role, version).relative_to(self.root)
        if hint is None:
            copy = version is None and role == "root"
            hint = REPAIR if copy else _OFFLINE_REPAIR.get(role, REPAIR)
        return DamagedMetadata(f"{path}: {reason}: {hint}")

    def write_metadata(
        self, role: str, version: int | None, data: bytes, durable: bool = True
    ) -> None:
        write_atomic(self.metadata_path(role, version), data, durable=durable)

    def newest_root_version(self) -> int:
        """The highest N such that 1.root.json ... N.root.json all exist."""
        version = 0
        while self.metadata_path("root", version + 1).exists():
            version += 1
        if version == 0:
            raise self.damaged("root", 1, "missing")
        return version

    # target files
    def target_file(self, target_path: str, sha256: str) -> Path:
        """Where a target is stored: ``targets/DIR/SHA256.NAME`` (consistent snapshots)."""
        directory, _, name = target_path.rpartition("/")
        return self.targets / directory / f"{sha256}.{name}"
