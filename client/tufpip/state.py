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

Rules:
- Files are replaced atomically; nothing here talks to the network.
- Another local user must not be able to change what tufpip trusts: every
  folder tufpip makes here is 0700 and every file 0600, set explicitly so no
  umask widens them; a home or repository folder that is writable by group or
  others, or not owned by the user, is refused (``StateError``) before
  anything in it is read or written. That check is one ``stat`` per folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tufpip import urls
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


PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def make_private_folder(directory: Path) -> None:
    """Create ``directory`` and its missing parents with mode 0700, whatever the umask."""
    if directory.is_dir():  # one stat in the common case, not a failing mkdir
        return
    make_private_folder(directory.parent)
    try:
        directory.mkdir(mode=PRIVATE_FOLDER)  # the umask can only narrow this...
    except FileExistsError:  # made meanwhile by a concurrent run
        return
    os.chmod(directory, PRIVATE_FOLDER)  # ...and this sets exactly 0700


def refuse_unsafe(directory: Path) -> None:
    """Refuse ``directory`` if another local user could change it; a missing one is fine."""
    if not hasattr(os, "geteuid"):  # Windows: access is governed by ACLs, not modes
        return
    try:
        info = directory.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateError(f"cannot use tufpip's state folder {directory}: {exc.strerror}") from exc
    if info.st_uid != os.geteuid():
        raise StateError(
            f"{directory} is owned by uid {info.st_uid}, not by you (uid {os.geteuid()}): "
            f"set {HOME_VARIABLE} to a folder of your own"
        )
    if info.st_mode & 0o022:
        raise StateError(
            f"{directory} is writable by group or others, who could change what tufpip "
            f"trusts: run 'chmod -R go-w {shlex.quote(str(directory))}'"
        )


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file``; closing the file releases it."""
    make_private_folder(lock_file.parent)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)  # the umask only narrows
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
        refuse_unsafe(self.path)
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
        for repository in repositories:
            if name is None or repository.name == name:
                self._refuse_unsafe(repository)
                return repository
        known = ", ".join(r.name for r in repositories)
        raise StateError(f"no repository named {name!r} (recorded: {known})")

    def new(self, name: str, url: str) -> Repository:
        """A repository not yet recorded (refuses a name already in use, or a bad URL: exit 2)."""
        if not _NAME.match(name):
            raise StateError(f"{name!r} is not a valid repository name")
        url = urls.check(url)
        recorded = self.repositories()
        if any(r.name == name for r in recorded):
            raise StateError(f"a repository named {name!r} is already recorded")
        repository = self._repository(name, url, stable_port(name, url, {r.port for r in recorded}))
        self._refuse_unsafe(repository)
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
        make_private_folder(self.path)
        with tempfile.NamedTemporaryFile(dir=self.path, delete=False) as tmp:  # mode 0600
            tmp.write(data)
        os.replace(tmp.name, self._index)

    def installer_cache(self) -> Path:
        """pip's cache folder for tufpip's runs (``cache/pip``), private to the user."""
        cache = self.path / "cache" / "pip"
        for directory in (cache.parent, cache):
            refuse_unsafe(directory)
        make_private_folder(cache)
        return cache

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the lock that serializes changes to ``repositories.json``."""
        refuse_unsafe(self.path)
        return _exclusive(self.path / "lock")

    def _refuse_unsafe(self, repository: Repository) -> None:
        """Refuse a repository whose trusted metadata or cache others could change."""
        for directory in (
            repository.path.parent,
            repository.path,
            repository.metadata_dir,
            repository.target_dir,
        ):
            refuse_unsafe(directory)

    def _repository(self, name: str, url: str, port: int) -> Repository:
        return Repository(name, url, self.path / "repositories" / name, port)
