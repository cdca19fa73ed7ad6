"""``tufpip serve``: the verifying index as a long-running service for any installer.

Rules:
- The same index as an install's (``index.VerifyingIndex``, ``service=True``):
  every page and file is a target verified by ngclient before its first byte
  leaves; a failed verification answers 502 with tufpip's reason, anything
  that is not a target 404.
- Freshness (``FreshTargets``): a page request is answered from a refresh
  that started at most ``max_age`` seconds before the request arrived
  (``0``: after it arrived), and never past the earliest expiry of the
  top-level metadata. Requests that arrive while a refresh runs wait for it
  and share it, failure included. While the metadata cannot be refreshed,
  page requests answer 503 with the reason; file requests are still served
  from the last refresh until its metadata expires (the pages that list
  them were verified by it).
- Each refresh is a new ``Session`` (one ngclient Updater, refreshed once)
  that holds the state lock only while it refreshes and while it verifies
  a file (``hold_lock=False``): a ``tufpip install`` on the same home waits
  at most for one of those, never for the service's lifetime.
- A replaced session is closed once no request uses it any more.
- SIGINT and SIGTERM stop the service: it stops accepting requests, aborts
  the downloads in progress (a stalled repository does not hold it up for
  the read timeout; ``Session.abort``), waits for their verifications to
  fail (so their temporary files are removed and the target cache holds only
  whole, verified files), closes its sessions and returns; the lock is held
  by no one. A refresh in progress is waited for (bounded by the fetcher's
  timeouts).
- It binds 127.0.0.1 unless given another IP address (a host name is
  refused: it could resolve to anything). A non-loopback address is logged
  as a warning: anyone who can reach it can read every target.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from tufpip import loopback
from tufpip.errors import RefreshFailed, TufpipError, UsageError
from tufpip.index import VerifyingIndex
from tufpip.session import Session
from tufpip.state import Repository

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 60.0


@dataclass
class _Refresh:
    """One refreshed session, when its refresh started, and how many requests use it."""

    session: Session
    started: float
    users: int = 0
    retired: bool = False

    def usable(self, asked: float, max_age: float) -> bool:
        """Whether a request that arrived at ``asked`` may be answered from this refresh."""
        expires = self.session.expires
        fresh = self.started >= asked - max_age
        return fresh and (expires is None or datetime.now(UTC) < expires)


class FreshTargets:
    """Verified targets from the newest refresh of ``repository`` (an ``index.Targets``)."""

    def __init__(self, repository: Repository, max_age: float = DEFAULT_MAX_AGE) -> None:
        self.repository = repository
        self.max_age = max_age
        self._refreshing = threading.Lock()  # one refresh at a time
        self._counts = threading.Lock()  # guards _current, _live and the use counts
        self._current: _Refresh | None = None
        self._live: list[_Refresh] = []
        self._failure: tuple[float, TufpipError] | None = None
        self._closed = False

    def __enter__(self) -> FreshTargets:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self, path: str) -> BinaryIO:
        """Target ``path``, verified by a refresh fresh enough for it (see Rules).

        Raises:
            RefreshFailed: A page was asked for and the metadata cannot be refreshed.
            TufpipError: As ``Session.open``.
        """
        page = path.startswith("simple/")
        with self._lease(self.max_age if page else math.inf) as session:
            return session.open(path)

    def refresh(self) -> None:
        """Refresh now unless a refresh just started (the service's first one, at start)."""
        with self._lease(0.0):
            pass

    def close(self) -> None:
        """Stop refreshing, abort the downloads in progress, then close every session."""
        with self._refreshing, self._counts:
            self._closed = True
            live, self._live, self._current = self._live, [], None
        for refresh in live:
            refresh.session.abort()
        for refresh in live:
            refresh.session.__exit__(None, None, None)

    @contextlib.contextmanager
    def _lease(self, max_age: float) -> Iterator[Session]:
        refresh = self._fresh(time.monotonic(), max_age)
        try:
            yield refresh.session
        finally:
            self._release(refresh)

    def _fresh(self, asked: float, max_age: float) -> _Refresh:
        """A refresh usable for a request that arrived at ``asked``, counted as used."""
        if (refresh := self._use_current(asked, max_age)) is not None:
            return refresh
        with self._refreshing:
            if (refresh := self._use_current(asked, max_age)) is not None:
                return refresh
            if self._failure is not None and self._failure[0] >= asked:
                raise RefreshFailed(self._failure[1])
            if self._closed:
                raise RefreshFailed(TufpipError("the service is stopping"))
            started = time.monotonic()
            try:
                session = Session(self.repository, hold_lock=False).__enter__()
            except TufpipError as exc:
                logger.warning("refresh failed: %s", exc)
                self._failure = (started, exc)
                raise RefreshFailed(exc) from exc
            self._failure = None
            refresh = _Refresh(session, started, users=1)
            with self._counts:
                previous, self._current = self._current, refresh
                self._live.append(refresh)
                if previous is not None:
                    previous.retired = True
                    previous.users += 1  # released below, closing it if now unused
            if previous is not None:
                self._release(previous)
            return refresh

    def _use_current(self, asked: float, max_age: float) -> _Refresh | None:
        with self._counts:
            current = self._current
            if current is None or not current.usable(asked, max_age):
                return None
            current.users += 1
            return current

    def _release(self, refresh: _Refresh) -> None:
        with self._counts:
            refresh.users -= 1
            unused = refresh.retired and refresh.users == 0 and refresh in self._live
            if unused:
                self._live.remove(refresh)
        if unused:
            refresh.session.__exit__(None, None, None)


def check_bind(address: str) -> str:
    """``address`` if it is an IP address to serve on; warns when it is not loopback.

    Raises:
        UsageError: ``address`` is a host name or not an address.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise UsageError(
            f"--bind {address!r}: give an IP address (127.0.0.1, ::1, or an interface's)"
        ) from None
    if not ip.is_loopback:
        logger.warning(
            "serving on %s: anyone who can reach this address can read every package of the"
            " repository through this service, over plain HTTP",
            address,
        )
    return str(ip)


def serve(
    repository: Repository,
    on_ready: Callable[[str], None],
    address: str = loopback.HOST,
    port: int | None = None,
    max_age: float = DEFAULT_MAX_AGE,
) -> None:
    """Serve ``repository`` as a verifying index until SIGINT or SIGTERM.

    ``on_ready`` is called with the index URL once the first refresh was
    tried; ``port`` None is the repository's recorded port, 0 any free one.

    Raises:
        UsageError: The address is not an IP address, or the port is taken.
    """
    host = check_bind(address)
    port = repository.port if port is None else port
    stop = threading.Event()
    with contextlib.ExitStack() as stack:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, lambda *_: stop.set())
            stack.callback(signal.signal, signum, previous)
        try:
            listener = stack.enter_context(loopback.listen(port, host, fall_back=False))
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host} port {port}: {exc.strerror}"
                " (--port PORT chooses another, --port 0 any free one)"
            ) from exc
        targets = stack.enter_context(FreshTargets(repository, max_age))
        with contextlib.suppress(RefreshFailed):  # logged; pages answer 503 until it works
            targets.refresh()
        with VerifyingIndex(listener, targets, service=True) as index:
            on_ready(index.url)
            stop.wait()
