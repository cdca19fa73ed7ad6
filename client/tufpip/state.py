"""tufpip's local state: recorded repositories, their trusted metadata and target cache.

Layout of the home folder (``TUFPIP_HOME``, else the user's data directory):

- ``repositories.json``: the recorded repositories, in recording order; the
  first one is the default. Each has a loopback ``port`` for its verifying
  index (``loopback.stable_port``), so that installers, whose caches are
  keyed by URL, see the same index URL on every run. A ``cooldown`` (whole
  days, ``tufpip init --cooldown``) is recorded only when set.
- ``repositories/NAME/metadata/``: ngclient's trusted metadata, persisted so
  that rollback protection survives across runs.
- ``repositories/NAME/targets/``: verified targets, by target path.
- ``cache/pip/``: pip's cache for tufpip's runs (wheels built from sdists).
- ``repositories/NAME/lock``: held (``flock`` on POSIX, ``msvcrt.locking``
  on Windows) for the length of every run that uses that repository, so
  concurrent runs on one state are serialized.

Rules:
- Every file tufpip writes here is written under a temporary name in its
  final folder and renamed into place (``incoming``): a full disk or a crash
  never leaves a partial file under a final name. Nothing here talks to the
  network.
- No POSIX-only module is imported at module level: tufpip runs on Windows.
- Another local user must not be able to change what tufpip trusts: every
  folder tufpip makes here is 0700 and every file 0600, set explicitly so no
  umask widens them; a home or repository folder that is writable by group or
  others, or not owned by the user, is refused (``StateError``) before
  anything in it is read or written. That check is one ``stat`` per folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shlex
import shutil
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


def lock_exclusively(fd: int) -> None:
    """Block until this process holds the exclusive lock of the open file ``fd``.

    ``flock`` on POSIX (Linux, macOS); on Windows ``msvcrt.locking`` of the
    first byte, retried until free (it gives up after 10 s per call). Closing
    ``fd`` releases either.
    """
    if sys.platform == "win32":
        import msvcrt

        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError as exc:
                if exc.errno != errno.EDEADLK:  # not "still held by another process after 10 s"
                    raise
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX)


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file``; closing the file releases it."""
    make_private_folder(lock_file.parent)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)  # the umask only narrows
    try:
        lock_exclusively(fd)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def incoming(path: Path) -> Iterator[Path]:
    """A private temporary file beside ``path``, renamed to ``path`` when the block succeeds.

    On any failure (a full disk, a refused download) it is removed: nothing
    partial is ever found under ``path``.
    """
    make_private_folder(path.parent)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=".incoming.", suffix=".tmp")  # 0600
    os.close(fd)
    try:
        yield Path(name)
        os.replace(name, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600) atomically, through ``incoming``."""
    with incoming(path) as tmp:
        tmp.write_bytes(data)


def _cooldown(record: dict[str, object], index: Path) -> int | None:
    """The cooldown days of a recorded repository, refused unless a whole number of days."""
    days = record.get("cooldown")
    if days is not None and (type(days) is not int or days < 0):
        raise StateError(f"cannot read {index}: cooldown {days!r} is not a number of days")
    return days


@dataclass(frozen=True)
class Repository:
    """A recorded repository: its name, base URL, the folders of its state, and the
    default cooldown of its installs (days; None: none)."""

    name: str
    url: str
    path: Path
    port: int
    cooldown_days: int | None = None

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

    def damaged(self, file: Path, problem: object) -> StateError:
        """The error for a trusted metadata ``file`` of this repository that cannot be used."""
        return StateError(
            f"trusted metadata {file.resolve()} is missing or damaged ({problem}): run "
            f"'tufpip init --force --name {self.name} {self.url} --root ROOT_JSON' with a root "
            "you trust"
        )


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
            self._repository(
                r["name"],
                r["url"],
                r.get("port") or stable_port(r["name"], r["url"]),
                _cooldown(r, self._index),
            )
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

    def new(self, name: str, url: str, replace: bool = False) -> Repository:
        """A repository to record as ``name`` (refuses a bad URL, and a name already in use
        or a leftover folder unless ``replace``)."""
        if not _NAME.match(name):
            raise StateError(f"{name!r} is not a valid repository name")
        url = urls.check(url)
        recorded = self.repositories()
        if not replace and any(r.name == name for r in recorded):
            raise StateError(
                f"a repository named {name!r} is already recorded: 'tufpip init --force' "
                "replaces it, 'tufpip forget' removes it"
            )
        others = {r.port for r in recorded if r.name != name}
        repository = self._repository(name, url, stable_port(name, url, others))
        self._refuse_unsafe(repository)
        if not replace and repository.metadata_dir.exists():
            raise StateError(
                f"{repository.path} exists but is not recorded: 'tufpip init --force' replaces it"
            )
        return repository

    def forget(self, name: str) -> Repository:
        """Remove repository ``name`` from the record, then its folder (trusted metadata,
        cache). Callers hold its lock and the home's (``Client.forget``)."""
        repository = self.get(name)
        self._write_index([r for r in self.repositories() if r.name != name])
        shutil.rmtree(repository.path, ignore_errors=True)
        return repository

    @staticmethod
    def wipe(repository: Repository) -> None:
        """Remove a repository's trusted metadata and target cache (its lock stays)."""
        for folder in (repository.metadata_dir, repository.target_dir):
            shutil.rmtree(folder, ignore_errors=True)

    def record(self, repository: Repository) -> None:
        """Add ``repository`` to ``repositories.json``, or update it if recorded (atomically)."""
        recorded = self.repositories()
        records = [repository if r.name == repository.name else r for r in recorded]
        if all(r.name != repository.name for r in recorded):
            records.append(repository)
        self._write_index(records)

    def _write_index(self, records: list[Repository]) -> None:
        entries: list[dict[str, object]] = []
        for r in records:
            entries.append({"name": r.name, "url": r.url, "port": r.port})
            if r.cooldown_days is not None:
                entries[-1]["cooldown"] = r.cooldown_days
        write_private(self._index, json.dumps({"repositories": entries}, indent=2).encode() + b"\n")

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

    def _repository(
        self, name: str, url: str, port: int, cooldown_days: int | None = None
    ) -> Repository:
        return Repository(name, url, self.path / "repositories" / name, port, cooldown_days)
