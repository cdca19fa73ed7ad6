"""tufpip's local state: recorded repositories, their trusted metadata and target cache.

Layout of the home folder (``TUFPIP_HOME``, else the user's data directory):

- ``repositories.json``: the recorded repositories, in recording order; the
  first one is the default. Each has a loopback ``port`` for its verifying
  index (``loopback.stable_port``), so that installers, whose caches are
  keyed by URL, see the same index URL on every run.
- ``repositories/NAME/metadata/``: ngclient's trusted metadata, persisted so
  that rollback protection survives across runs.
- ``repositories/NAME/targets/``: verified targets, by target path.
- ``cache/pip/``: pip's cache for tufpip's runs (wheels built from sdists).
- ``repositories/NAME/lock``: held (``flock``) for the length of every run
  that uses that repository, so concurrent runs on one state are serialized.

Rules: files are replaced atomically; nothing here talks to the network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tufpip.errors import StateError

HOME_VARIABLE = "TUFPIP_HOME"
DEFAULT_NAME = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Ports for verifying indexes: above Linux's ephemeral range (32768-60999),
# so an outgoing connection seldom holds one.
PORTS = range(61000, 65536)


def stable_port(name: str, url: str, taken: set[int] | frozenset[int] = frozenset()) -> int:
    """The loopback port derived from a repository's name and URL, avoiding ``taken``."""
    digest = int.from_bytes(hashlib.sha256(f"{name}\n{url}".encode()).digest()[:4], "big")
    for step in range(len(PORTS)):
        port = PORTS[(digest + step) % len(PORTS)]
        if port not in taken:
            return port
    raise StateError("every loopback port for verifying indexes is recorded")


def default_home() -> Path:
    """``TUFPIP_HOME`` if set, else the platform's per-user data directory."""
    if home := os.environ.get(HOME_VARIABLE):
        return Path(home)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "tufpip"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "tufpip"
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "tufpip"


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file``; closing the file releases it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class Repository:
    """A recorded repository: its name, base URL and the folders of its state."""

    name: str
    url: str
    path: Path
    port: int

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/metadata/"

    @property
    def targets_url(self) -> str:
        return f"{self.url}/targets/"

    @property
    def metadata_dir(self) -> Path:
        return self.path / "metadata"

    @property
    def target_dir(self) -> Path:
        return self.path / "targets"

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold this repository's state lock (blocking until it is free)."""
        return _exclusive(self.path / "lock")


class Home:
    """The home folder: which repositories are recorded and where their state lives."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_home()
        self._index = self.path / "repositories.json"

    def repositories(self) -> list[Repository]:
        """Every recorded repository, the default first."""
        try:
            records = json.loads(self._index.read_text())["repositories"]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StateError(f"cannot read {self._index}: {exc}") from exc
        # Repositories recorded before ports were get their derived port.
        return [
            self._repository(r["name"], r["url"], r.get("port") or stable_port(r["name"], r["url"]))
            for r in records
        ]

    def get(self, name: str | None = None) -> Repository:
        """The repository recorded as ``name``, or the default one."""
        repositories = self.repositories()
        if not repositories:
            raise StateError("no repository recorded: run 'tufpip init URL --root ROOT_JSON'")
        if name is None:
            return repositories[0]
        for repository in repositories:
            if repository.name == name:
                return repository
        known = ", ".join(r.name for r in repositories)
        raise StateError(f"no repository named {name!r} (recorded: {known})")

    def new(self, name: str, url: str) -> Repository:
        """A repository not yet recorded (refuses a name already in use or a bad URL)."""
        if not _NAME.match(name):
            raise StateError(f"{name!r} is not a valid repository name")
        if not url.startswith(("http://", "https://", "file://")):
            raise StateError(f"{url!r} is not an http://, https:// or file:// URL")
        recorded = self.repositories()
        if any(r.name == name for r in recorded):
            raise StateError(f"a repository named {name!r} is already recorded")
        url = url.rstrip("/")
        repository = self._repository(name, url, stable_port(name, url, {r.port for r in recorded}))
        if repository.path.exists():
            raise StateError(f"{repository.path} exists but is not recorded: remove it first")
        return repository

    def record(self, repository: Repository) -> None:
        """Add ``repository`` to ``repositories.json``, or update it if recorded (atomically)."""
        recorded = self.repositories()
        records = [repository if r.name == repository.name else r for r in recorded]
        if all(r.name != repository.name for r in recorded):
            records.append(repository)
        entries = [{"name": r.name, "url": r.url, "port": r.port} for r in records]
        data = json.dumps({"repositories": entries}, indent=2).encode() + b"\n"
        self.path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.path, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, self._index)

    def installer_cache(self) -> Path:
        """pip's cache folder for tufpip's runs (``cache/pip``), private to the user."""
        cache = self.path / "cache" / "pip"
        cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        cache.chmod(0o700)
        return cache

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the lock that serializes changes to ``repositories.json``."""
        return _exclusive(self.path / "lock")

    def _repository(self, name: str, url: str, port: int) -> Repository:
        return Repository(name, url, self.path / "repositories" / name, port)
