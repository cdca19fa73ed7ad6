"""One run against one recorded repository: verified targets, from one refresh.

Rules:
- A ``Session`` holds its repository's state lock from ``__enter__`` to
  ``__exit__``, so concurrent runs on one state take turns.
- It uses one ngclient ``Updater`` and refreshes it once, on entry: the whole
  run sees one consistent snapshot of the repository.
- The Updater is not thread-safe: every call into it is made under one lock.
  Targets already verified in this run are handed out without that lock, so
  an installer fetching in parallel waits only for files not yet verified.
- Only paths of the target-path contract (``repo_sign.targetpaths``) are
  looked up; anything else is "not found" before TUF is asked.
- Every file handed out was verified by ngclient in this run: downloaded and
  checked, or found in the target cache and re-checked by ``find_cached_target``
  against this run's metadata.
- Failures are raised as ``TufpipError`` in the user's words (``errors.translate``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, TargetFile, Timestamp
from tuf.ngclient import FetcherInterface, Updater

from repo_sign import targetpaths
from tufpip.errors import NotFound, translate
from tufpip.fetcher import RequestsFetcher
from tufpip.state import Repository
from tufpip.updater import build_updater

logger = logging.getLogger(__name__)

_FAILURES = (OSError, tuf_exc.RepositoryError, tuf_exc.DownloadError)


ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""Given a target path and its signed length, a context whose value is called
with the size of each chunk as it arrives (the CLI draws a progress bar)."""


class _ObservingFetcher(FetcherInterface):
    """Delegates to another fetcher, keeping the last timestamp.json and reporting progress.

    A freeze is reported with the expiry of the newest verified timestamp;
    ngclient does not persist an expired timestamp, so the bytes it verified
    are kept here. While ``progress`` is set (one target download at a time:
    the Updater is only used under the session lock) each chunk is reported.
    Chunks are passed through as they come, so ngclient's length limit
    still applies.
    """

    def __init__(self, fetcher: FetcherInterface) -> None:
        self._fetcher = fetcher
        self.timestamp: bytes | None = None
        self.progress: Callable[[int], None] | None = None

    def _fetch(self, url: str) -> Iterator[bytes]:
        chunks = self._fetcher.fetch(url)
        if url.endswith("/timestamp.json"):
            return self._recording(chunks)
        if self.progress is not None:
            return self._reporting(chunks, self.progress)
        return chunks

    def _recording(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        data = bytearray()
        for chunk in chunks:
            data += chunk
            yield chunk
        self.timestamp = bytes(data)

    @staticmethod
    def _reporting(chunks: Iterator[bytes], advance: Callable[[int], None]) -> Iterator[bytes]:
        for chunk in chunks:
            advance(len(chunk))
            yield chunk


class Session:
    """Verified access to one repository's targets for the length of one run."""

    def __init__(self, repository: Repository, progress: ProgressFactory | None = None) -> None:
        self.repository = repository
        self._progress = progress
        self._lock = threading.Lock()
        self._verified: dict[str, Path] = {}
        self._fetcher = RequestsFetcher()
        self._recorder = _ObservingFetcher(self._fetcher)
        self._updater: Updater | None = None
        self._resources = contextlib.ExitStack()

    def __enter__(self) -> Session:
        with contextlib.ExitStack() as stack:
            stack.callback(self._fetcher.close)
            stack.enter_context(self.repository.locked())
            try:
                self._updater = build_updater(
                    self.repository.metadata_dir,
                    self.repository.metadata_url,
                    self.repository.target_dir,
                    self.repository.targets_url,
                    None,
                    self._recorder,
                )
                self._updater.refresh()
            except _FAILURES as exc:
                raise self._translate(exc) from exc
            self._resources = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._updater = None
        self._resources.close()

    def targetinfo(self, path: str) -> TargetFile:
        """The signed length and hashes of target ``path``.

        Raises:
            NotFound: ``path`` is not a contract path or not signed.
            TufpipError: Metadata failed to load or verify (translated).
        """
        with self._lock:
            return self._targetinfo(path)

    def target(self, path: str) -> Path:
        """The local file holding target ``path``, verified in this run.

        Raises:
            NotFound: ``path`` is not a contract path or not signed.
            TufpipError: Verification or download failed (translated).
        """
        if (verified := self._verified.get(path)) is not None:
            return verified
        with self._lock:
            if (verified := self._verified.get(path)) is not None:
                return verified
            info = self._targetinfo(path)
            local = self.repository.target_dir / path
            try:
                if self._active_updater().find_cached_target(info, str(local)) is None:
                    self._download(path, info, local)
            except _FAILURES as exc:
                raise self._translate(exc, path) from exc
            logger.info("verified %s (%d bytes)", path, info.length)
            self._verified[path] = local
            return local

    def _download(self, path: str, info: TargetFile, local: Path) -> None:
        if self._progress is None:
            self._active_updater().download_target(info, str(local))
            return
        with self._progress(path, info.length) as advance:
            self._recorder.progress = advance
            try:
                self._active_updater().download_target(info, str(local))
            finally:
                self._recorder.progress = None

    def _targetinfo(self, path: str) -> TargetFile:
        if not targetpaths.is_target_path(path):
            raise NotFound(f"{path} is not a target path of this repository")
        try:
            info = self._active_updater().get_targetinfo(path)
        except _FAILURES as exc:
            raise self._translate(exc, path) from exc
        if info is None:
            raise NotFound(f"{path} is not signed by repository {self.repository.url}")
        return info

    def _active_updater(self) -> Updater:
        if self._updater is None:
            raise RuntimeError("Session used outside its 'with' block")
        return self._updater

    def read(self, path: str) -> bytes:
        """The bytes of target ``path``, verified in this run."""
        return self.target(path).read_bytes()

    def _translate(self, error: Exception, target: str | None = None) -> Exception:
        return translate(
            error,
            repository=self.repository.url,
            target=target,
            timestamp_expiry=self._newest_timestamp_expiry(),
        )

    def _newest_timestamp_expiry(self) -> datetime | None:
        """Expiry of the newest verified timestamp: the persisted one or this run's.

        Called after a failure only. The persisted timestamp was verified when
        it was stored; the one fetched in this run counts only when its
        version is higher, because only then did ngclient accept it.
        """
        candidates = []
        persisted = self.repository.metadata_dir / "timestamp.json"
        stored = persisted.read_bytes() if persisted.exists() else b""
        for data in (stored, self._recorder.timestamp or b""):
            with contextlib.suppress(ValueError, tuf_exc.RepositoryError):
                candidates.append(Metadata[Timestamp].from_bytes(data).signed)
        if not candidates:
            return None
        return max(candidates, key=lambda timestamp: timestamp.version).expires
