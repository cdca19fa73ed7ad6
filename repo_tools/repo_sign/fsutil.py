"""Crash-safe file writes and the workspace lock.

Every file repo-sign publishes is written to a temporary name in its final
folder, flushed to disk, then renamed over the destination: a reader (a web
server, a client) sees the old file or the new one, never a partial one.

Rules:
- Modes are set explicitly (``fchmod``, ``chmod`` after ``mkdir``), so no
  umask can widen them: published files are 0644, private keys 0600.
- A folder made for a file is as open as that file, with search where read
  is allowed (0755 for 0644 files, 0700 for 0600 ones); missing parents above
  it are made 0755. Nothing repo-sign makes is writable by group or others.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

from repo_sign.errors import Busy

HASH_BLOCK = 1 << 20


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PUBLIC_FOLDER = 0o755
PRIVATE_FOLDER = 0o700


def make_folder(directory: Path, mode: int = PUBLIC_FOLDER) -> None:
    """Create ``directory`` with ``mode`` (missing parents 0755); leave an existing one be."""
    if directory.is_dir():  # one stat in the common case, not a failing mkdir
        return
    make_folder(directory.parent)
    try:
        directory.mkdir(mode=mode)  # the umask can only narrow this...
    except FileExistsError:  # made meanwhile by another writer
        return
    os.chmod(directory, mode)  # ...and this sets exactly ``mode``


def folder_mode(file_mode: int) -> int:
    """The mode of a folder made for files of ``file_mode``: search where read is allowed."""
    return file_mode | (file_mode & 0o444) >> 2


_TEMPORARY_NAMES = itertools.count()
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _create_temporary(directory: Path) -> tuple[int, str]:
    """A new empty file ``.incoming.PID.N.tmp`` in ``directory``, open for writing.

    The pid and a counter make names unique; ``O_EXCL`` passes over one that
    an earlier process with the same pid left behind. (``tempfile.mkstemp``
    does the same with random names, at twice the cost per file, which showed
    when thousands of files are added at once.)
    """
    while True:
        name = os.path.join(directory, f".incoming.{os.getpid()}.{next(_TEMPORARY_NAMES)}.tmp")
        try:
            return os.open(name, _CREATE, 0o600), name
        except FileExistsError:
            continue


class _Incoming:
    """A temporary file beside its destination, renamed into place on commit."""

    def __init__(self, directory: Path, mode: int) -> None:
        self.folder_mode = folder_mode(mode)
        self.directory = directory
        make_folder(directory, self.folder_mode)
        self.fd, self.tmp = _create_temporary(directory)
        os.fchmod(self.fd, mode)

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def commit(self, path: Path, durable: bool = True) -> None:
        """Rename into place; ``durable`` flushes data and folder to disk first.

        Without ``durable`` the caller must ``os.sync()`` before anything
        refers to ``path``: many files then cost one flush, not two each.
        """
        if durable:
            if self.fd < 0:
                self.fd = os.open(self.tmp, os.O_RDONLY)
            os.fsync(self.fd)
        self.close()
        if path.parent != self.directory:  # made in __init__ otherwise
            make_folder(path.parent, self.folder_mode)
        os.replace(self.tmp, path)
        if durable:
            _fsync_dir(path.parent)

    def close(self) -> None:
        """Stop writing; ``commit`` and ``discard`` still work (the file is kept by name)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def discard(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


def write_atomic(
    path: Path,
    data: bytes,
    mode: int = 0o644,
    staging: Path | None = None,
    durable: bool = True,
) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    The temporary file lives in ``staging`` (default: beside ``path``), which
    must be on the same file system. See ``_Incoming.commit`` for ``durable``.
    """
    incoming = _Incoming(staging or path.parent, mode)
    try:
        incoming.write(data)
        incoming.commit(path, durable)
    finally:
        incoming.discard()


def remove_leftovers(directory: Path) -> None:
    """Delete temporary files an interrupted writer left in ``directory``."""
    for leftover in directory.glob(".incoming.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def sha256_file(path: Path) -> tuple[int, str]:
    """Length and sha256 of a file, read once in large blocks."""
    digest = hashlib.sha256()
    length = 0
    with path.open("rb") as f:
        while block := f.read(HASH_BLOCK):
            digest.update(block)
            length += len(block)
    return length, digest.hexdigest()


def is_complete(path: Path, length: int) -> bool:
    """Whether a content-addressed file is already in place, whole.

    Its name fixes its content; only a write cut short by a crash (before
    the data reached the disk) can leave it shorter, and then it is rewritten.
    """
    try:
        return path.stat().st_size == length
    except FileNotFoundError:
        return False


class StagedFile:
    """A copy of a source file, hashed while copied, waiting to be renamed into place.

    Reading the source once (large blocks) gives both its sha256 and the
    copy; the caller decides from the hash where it goes, or discards it.
    No descriptor stays open while it waits: any number of files can be staged.
    """

    def __init__(self, source: Path, staging: Path) -> None:
        digest = hashlib.sha256()
        self.length = 0
        self._incoming = _Incoming(staging, 0o644)
        try:
            with source.open("rb") as src:
                while block := src.read(HASH_BLOCK):
                    digest.update(block)
                    self._incoming.write(block)
                    self.length += len(block)
        except BaseException:
            self._incoming.discard()
            raise
        self._incoming.close()
        self.sha256 = digest.hexdigest()

    def commit(self, path: Path, durable: bool = True) -> None:
        if is_complete(path, self.length):  # content-addressed: already there
            self._incoming.discard()
        else:
            self._incoming.commit(path, durable)

    def discard(self) -> None:
        self._incoming.discard()


@contextlib.contextmanager
def locked(lock_file: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``lock_file`` (serializes writers)."""
    make_folder(lock_file.parent)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise Busy(f"another repo-sign is working on {lock_file.parent}: try again") from exc
        yield
    finally:
        os.close(fd)
