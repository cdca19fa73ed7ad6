"""One run against one recorded repository: verified targets, from one refresh.

Rules:
- A ``Session`` holds its repository's state lock from ``__enter__`` to
  ``__exit__``, so concurrent runs on one state take turns. A long-lived
  session (``hold_lock=False``, the service) takes it for its refresh and
  again for each later call into its Updater, so installs on the same home
  are never blocked for longer than one download. Another run may replace a
  cached file between those calls (always by a whole file it verified), so
  such a session re-checks a file against its own metadata, and opens it,
  with the lock held (``open``). Delegated metadata it loads later is
  checked against its own snapshot, as ngclient checks any local copy.
- It uses one ngclient ``Updater`` and refreshes it once, on entry: the whole
  run sees one consistent snapshot of the repository.
- The Updater is not thread-safe: every call into it is made under one lock.
  Targets already verified in this run are handed out without that lock, so
  an installer fetching in parallel waits only for files not yet verified.
- Only paths of the target-path contract (``tufindex.targetpaths``) are
  looked up; anything else is "not found" before TUF is asked.
- A distribution or ``.metadata`` file is verified against its project's JSON
  page, itself a target verified in this run (fetched first if needed): the
  page lists each file's sha256 and size, and each ``.metadata``'s sha256
  (PEP 714) and size (``_core-metadata-size``), signed by the bins key in
  this run's snapshot. ngclient then downloads (consistent-snapshot name) and
  checks the file as for any target, and the file's own bin is never
  fetched: an install reads one bin per project, not three. A file the page
  does not list is "not found"; an entry without a usable sha256 and size
  falls back to the file's own TUF target. ``targetinfo`` (``tufpip verify``)
  always asks TUF.
- Every file handed out was verified by ngclient in this run: downloaded and
  checked, or found in the target cache and re-checked by ``find_cached_target``
  against this run's metadata.
- A distribution or ``.metadata`` file whose dependencies name a direct URL
  (``tufindex.dependencies``: signed before repo-sign refused such files) is
  refused after its verification and before anything is handed out; a file
  that passed is not checked again in this run.
- A project page is handed out only once its JSON page's PEP 792 status
  was read: a quarantined project is refused (``ProjectQuarantined``, with
  the status and reason) every time; an archived or deprecated one is logged
  as a warning, once per run.
- Failures are raised as ``TufpipError`` in the user's words (``reasons.translate``).
- tuf, securesystemslib, cryptography, requests and the dependency rule are
  imported on entry, after ``on_locked`` ran: an install starts its installer
  there, so their import (most of tufpip's start-up) overlaps the installer's
  own start-up.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from tuf.api import exceptions as tuf_exc

from tufindex import targetpaths
from tufpip.errors import NotFound, ProjectQuarantined, UnsignedDependency
from tufpip.reasons import Seen, translate
from tufpip.state import Repository, incoming
from tufpip.urls import redact

if TYPE_CHECKING:
    from tuf.api.metadata import TargetFile
    from tuf.ngclient import Updater

    from tufpip.fetcher import ObservingFetcher, RequestsFetcher

logger = logging.getLogger(__name__)

_FAILURES = (OSError, tuf_exc.RepositoryError, tuf_exc.DownloadError)
_SHA256 = re.compile(r"[0-9a-f]{64}")

PageFiles = dict[str, dict[str, object]]
"""The file entries of a verified PEP 691 page, by file name."""


ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]
"""Given a target path and its signed length, a context whose value is called
with the size of each chunk as it arrives (the CLI draws a progress bar)."""


class Session:
    """Verified access to one repository's targets for the length of one run."""

    def __init__(
        self,
        repository: Repository,
        progress: ProgressFactory | None = None,
        on_locked: Callable[[], object] | None = None,
        hold_lock: bool = True,
    ) -> None:
        """``on_locked`` is called with the state lock held, before the refresh;
        ``hold_lock=False`` releases the lock after the refresh (see Rules)."""
        self.repository = repository
        self.expires: datetime | None = None
        self._hold_lock = hold_lock
        self._progress = progress
        self._on_locked = on_locked
        self._lock = threading.Lock()
        self._verified: dict[str, Path] = {}
        self._pages: dict[str, PageFiles | None] = {}
        self._warned: set[str] = set()
        self._recorder: ObservingFetcher | None = None
        self._fetcher: RequestsFetcher | None = None
        self._prefixed: bool | None = None  # target URLs with hash prefixes (download_url)
        self._seen = Seen(trusted_dir=repository.metadata_dir)
        self._updater: Updater | None = None
        self._resources = contextlib.ExitStack()

    def __enter__(self) -> Session:
        with contextlib.ExitStack() as stack:
            held = stack.enter_context(contextlib.ExitStack())
            held.enter_context(self.repository.locked())
            if self._on_locked is not None:
                self._on_locked()
            from tufpip.fetcher import ObservingFetcher, RequestsFetcher
            from tufpip.updater import build_updater

            importlib.import_module("tufindex.dependencies")

            fetcher = self._fetcher = RequestsFetcher()
            stack.callback(fetcher.close)
            self._recorder = ObservingFetcher(fetcher, self.repository.metadata_url, self._seen)
            try:
                self._updater = build_updater(
                    self.repository.metadata_dir,
                    self.repository.metadata_url,
                    self.repository.target_dir,
                    self.repository.targets_url,
                    None,
                    self._recorder,
                )
            except (OSError, tuf_exc.RepositoryError) as exc:  # the trusted root.json
                root = self.repository.metadata_dir / "root.json"
                raise self.repository.damaged(root, exc) from exc
            try:
                self._updater.refresh()
            except _FAILURES as exc:
                raise self._translate(exc) from exc
            if not self._hold_lock:
                self.expires = _earliest_expiry(self.repository.metadata_dir)
                held.close()
            self._resources = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close, once a verification in progress in another thread has ended."""
        with self._lock:
            self._updater = None
            self._resources.close()

    def abort(self) -> None:
        """Make a download in progress in another thread fail now (the service stopping).

        Its temporary file is removed (``state.incoming``) and the cache keeps
        only whole, verified files; ``__exit__`` waits only for it to fail.
        """
        if self._fetcher is not None:
            self._fetcher.abort()

    def _state_lock(self) -> AbstractContextManager[None]:
        """The state lock for one call into the Updater, unless held for the whole session."""
        return contextlib.nullcontext() if self._hold_lock else self.repository.locked()

    def targetinfo(self, path: str) -> TargetFile:
        """The signed length and hashes of target ``path``.

        Raises:
            NotFound: ``path`` is not a contract path or not signed.
            TufpipError: Metadata failed to load or verify (translated).
        """
        with self._lock, self._state_lock():
            return self._targetinfo(path)

    def target(self, path: str) -> Path:
        """The local file holding target ``path``, verified in this run.

        Raises:
            NotFound: ``path`` is not a contract path or not signed.
            TufpipError: Verification or download failed (translated).
        """
        if self._hold_lock and (verified := self._verified.get(path)) is not None:
            return verified
        with self._lock, self._state_lock():
            return self._target(path, recheck=not self._hold_lock)

    def open(self, path: str) -> BinaryIO:
        """Target ``path`` opened for reading, verified in this run (see ``target``).

        A session that does not hold the state lock throughout re-checks the
        cached file against this run's metadata and opens it under the lock:
        the bytes read are the ones verified, whatever another run does next.
        """
        if self._hold_lock:
            return self.target(path).open("rb")
        with self._lock, self.repository.locked():
            return self._target(path, recheck=True).open("rb")

    def _target(self, path: str, recheck: bool = False) -> Path:
        """``target`` with the session lock held; ``recheck`` verifies a cached file again."""
        verified = self._verified.get(path)
        if verified is not None and not recheck:
            return verified
        info = self._listed_info(path) or self._targetinfo(path)
        local = self.repository.target_dir / path
        try:
            if self._active_updater().find_cached_target(info, str(local)) is None:
                self._download(path, info, local)
        except _FAILURES as exc:
            raise self._translate(exc, path) from exc
        if verified is not None:  # the same bytes as before: checked and logged then
            return local
        if path.startswith("packages/"):
            _check_dependencies(path, local)
        elif path != targetpaths.PROJECT_LIST:
            name = path.split("/")[1]
            json_page = targetpaths.project_page(name, "json")
            self._check_status(name, local if path == json_page else self._target(json_page))
        logger.info("verified %s (%d bytes)", path, info.length)
        self._verified[path] = local
        return local

    def _listed_info(self, path: str) -> TargetFile | None:
        """The length and sha256 of a file target as its verified project page lists them.

        None for targets that are not files, and for entries without a
        usable sha256 and size (the caller then asks TUF).

        Raises:
            NotFound: The project has no page, or its page does not list the file.
        """
        from tuf.api.metadata import TargetFile

        if not targetpaths.is_target_path(path) or not path.startswith("packages/"):
            return None
        _, name, leaf = path.split("/")
        filename = leaf.removesuffix(targetpaths.METADATA_SUFFIX)
        files = self._page_files(name)
        if files is None:
            return None
        entry = files.get(filename)
        if entry is None:
            raise NotFound(f"{path} is not listed on the signed page of project {name}")
        if leaf == filename:
            hashes, size = entry.get("hashes"), entry.get("size")
        else:
            hashes, size = entry.get("core-metadata"), entry.get("_core-metadata-size")
            if not hashes:
                raise NotFound(f"{path}: the signed page of {name} has no metadata for {filename}")
        sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
        if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            return None
        if not (type(size) is int and size >= 0):
            return None
        return TargetFile(length=size, hashes={"sha256": sha256}, path=path)

    def _page_files(self, name: str) -> PageFiles | None:
        """The file entries of project ``name``'s JSON page, verified in this run.

        None when the page is not the JSON this client knows how to read.
        """
        if name not in self._pages:
            page = self._target(targetpaths.project_page(name, "json"))
            try:
                entries = json.loads(page.read_bytes())["files"]
                files = {entry["filename"]: entry for entry in entries if isinstance(entry, dict)}
            except (ValueError, KeyError, TypeError):
                files = None
            self._pages[name] = files
        return self._pages[name]

    def _check_status(self, name: str, json_page: Path) -> None:
        """Refuse a quarantined project; warn once about an archived or deprecated one."""
        try:
            status = json.loads(json_page.read_bytes()).get("project-status") or {}
            state, reason = status.get("status", "active"), status.get("reason")
        except (ValueError, AttributeError):
            return  # not a page this client reads: its files are checked as targets
        said = f"project {name} is {state}" + (f": {reason}" if reason else "")
        if state == "quarantined":
            raise ProjectQuarantined(f"refused: {said}")
        if state in ("archived", "deprecated") and name not in self._warned:
            self._warned.add(name)
            logger.warning("warning: %s", said)

    def _download(self, path: str, info: TargetFile, local: Path) -> None:
        """Download and verify into ``local``: a private file (0600) in private folders.

        ngclient writes ``filepath`` in place once the download verified, so a
        full disk would leave part of it: it writes a temporary file beside
        ``local`` instead, renamed into place once whole (``state.incoming``).
        """
        with incoming(local) as tmp:
            if self._progress is None:
                self._active_updater().download_target(info, str(tmp))
                return
            assert self._recorder is not None
            with self._progress(path, info.length) as advance:
                self._recorder.progress = advance
                try:
                    self._active_updater().download_target(info, str(tmp))
                finally:
                    self._recorder.progress = None

    def _targetinfo(self, path: str) -> TargetFile:
        if not targetpaths.is_target_path(path):
            raise NotFound(f"{path} is not a target path of this repository")
        try:
            info = self._active_updater().get_targetinfo(path)
        except _FAILURES as exc:
            # Looking a target up loads delegated metadata (the bins): what
            # failed is that metadata, not the target, whose bytes were not read.
            raise self._translate(exc) from exc
        if info is None:
            raise NotFound(f"{path} is not signed by repository {redact(self.repository.url)}")
        return info

    def download_url(self, info: TargetFile) -> str:
        """The URL ngclient fetches target ``info`` from, as a plain TUF client would.

        ``DIR/HASH.FILE`` (the first hash listed) when the trusted root sets
        ``consistent_snapshot``, else ``DIR/FILE``, under the repository's
        targets URL: ngclient's own rule, with tufpip's ``prefix_targets_with_hash``.
        """
        path = info.path
        if self._prefixes_targets():
            directory, slash, name = path.rpartition("/")
            path = f"{directory}{slash}{next(iter(info.hashes.values()))}.{name}"
        return f"{self.repository.targets_url}{path}"

    def _prefixes_targets(self) -> bool:
        """Whether target URLs carry the hash prefix: read once, as the trusted root
        does not change after the session's refresh."""
        if self._prefixed is None:
            from tuf.api.metadata import Metadata, Root

            with self._lock, self._state_lock():
                prefixed = self._active_updater().config.prefix_targets_with_hash
                root_file = self.repository.metadata_dir / "root.json"
                try:
                    root = Metadata[Root].from_file(str(root_file)).signed
                except (OSError, tuf_exc.RepositoryError) as exc:
                    raise self.repository.damaged(root_file, exc) from exc
            self._prefixed = bool(root.consistent_snapshot and prefixed)
        return self._prefixed

    def _active_updater(self) -> Updater:
        if self._updater is None:
            raise RuntimeError("Session used outside its 'with' block")
        return self._updater

    def read(self, path: str) -> bytes:
        """The bytes of target ``path``, verified in this run."""
        return self.target(path).read_bytes()

    def _translate(self, error: Exception, target: str | None = None) -> Exception:
        return translate(error, repository=self.repository.url, target=target, seen=self._seen)


def _earliest_expiry(metadata_dir: Path) -> datetime:
    """When the first of the top-level roles just refreshed into ``metadata_dir`` expires.

    ngclient checks expiry once, at the refresh: a long-lived session must
    not be used past this time.
    """
    expiries = []
    for role in ("root", "timestamp", "snapshot", "targets"):
        signed = json.loads((metadata_dir / f"{role}.json").read_bytes())["signed"]
        expiries.append(datetime.fromisoformat(signed["expires"].replace("Z", "+00:00")))
    return min(expiries)


def _check_dependencies(path: str, local: Path) -> None:
    """Refuse a verified distribution or ``.metadata`` target whose dependencies name a URL."""
    from tufindex import dependencies  # loaded by Session.__enter__

    try:
        dependencies.check_file(local, path)
    except dependencies.ForbiddenDependency as exc:
        raise UnsignedDependency(f"refused {path}: {exc}") from exc
