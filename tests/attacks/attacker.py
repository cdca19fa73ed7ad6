"""A repository mirror on 127.0.0.1 that plays attacker, path by path.

It serves a workspace's ``metadata/`` and ``targets/`` like any static web
server, until a test tells it to lie about some paths: replace a file, add
files that do not exist on the real repository (forged or older metadata),
truncate, inflate, stream without end, trickle, stall, or answer with an
error status. It counts requests and bytes sent per path, so tests can show
that a client stopped reading, or never asked for something (leak detection).

Real sockets, real HTTP/1.1: the client under test cannot tell it from a
mirror or a man in the middle.
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

Honest = bytes | None
"""What the real repository would answer for a path (None: no such file)."""

Behaviour = Callable[["_Handler", Honest], None]
"""Writes a whole HTTP response for one request."""

CHUNK = 64 * 1024


class AttackerServer(ThreadingHTTPServer):
    """Serves ``root/metadata`` and ``root/targets`` honestly, except where told to lie."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.sent: Counter[str] = Counter()
        self._rules: list[tuple[str, Behaviour]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AttackerServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join()

    # ---- what to lie about ---------------------------------------------
    def attack(self, pattern: str, behaviour: Behaviour) -> None:
        """Answer requests whose path matches ``pattern`` (fnmatch) with ``behaviour``.

        Later rules win over earlier ones.
        """
        with self._lock:
            self._rules.insert(0, (pattern, behaviour))

    def serve_files(self, files: dict[str, bytes]) -> None:
        """Serve these bytes at these URL paths (forged, older or newer copies)."""
        for path, data in files.items():
            self.attack(path, replace(data))

    def honest(self) -> None:
        """Stop attacking: from now on serve the real repository."""
        with self._lock:
            self._rules.clear()

    def requested(self, pattern: str) -> list[str]:
        """The request paths so far that match ``pattern``."""
        return [p for p in self.requests if fnmatch.fnmatchcase(p, pattern)]

    def behaviour_for(self, path: str) -> Behaviour | None:
        with self._lock:
            for pattern, behaviour in self._rules:
                if fnmatch.fnmatchcase(path, pattern):
                    return behaviour
        return None

    def honest_bytes(self, path: str) -> Honest:
        """The real file for a URL path, only inside metadata/ and targets/."""
        parts = [p for p in unquote(path).split("/") if p]
        if len(parts) < 2 or parts[0] not in ("metadata", "targets"):
            return None
        if any(p in (".", "..") or p.startswith(".") for p in parts):
            return None
        file = self.root.joinpath(*parts)
        return file.read_bytes() if file.is_file() else None

    @contextmanager
    def running(self) -> Iterator[AttackerServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: AttackerServer

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append(path)
        honest = self.server.honest_bytes(path)
        behaviour = self.server.behaviour_for(path)
        if behaviour is not None:
            behaviour(self, honest)
        elif honest is None:
            status(404)(self, honest)
        else:
            replace(honest)(self, honest)

    def do_HEAD(self) -> None:
        """Recorded like a GET (a leak all the same), answered 405."""
        self.server.requests.append(urlsplit(self.path).path)
        self.headers_for(405, 0)

    def headers_for(self, code: int, length: int | None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream")
        if length is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def write(self, data: bytes) -> bool:
        """Send ``data``; False once the client has gone away."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
            return False
        self.server.sent[urlsplit(self.path).path] += len(data)
        return True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read ``requests`` and ``sent`` instead."""


# ---- behaviours --------------------------------------------------------
def replace(data: bytes) -> Behaviour:
    """Serve ``data`` with its true length."""

    def respond(handler: _Handler, honest: Honest) -> None:
        handler.headers_for(200, len(data))
        handler.write(data)

    return respond


def transform(change: Callable[[bytes], bytes]) -> Behaviour:
    """Serve ``change(honest bytes)``."""

    def respond(handler: _Handler, honest: Honest) -> None:
        assert honest is not None, f"nothing to transform at {handler.path}"
        replace(change(honest))(handler, honest)

    return respond


def status(code: int) -> Behaviour:
    def respond(handler: _Handler, honest: Honest) -> None:
        handler.headers_for(code, 0)

    return respond


def cut_short(keep: int) -> Behaviour:
    """Announce the honest length, send ``keep`` bytes, close the connection."""

    def respond(handler: _Handler, honest: Honest) -> None:
        assert honest is not None
        handler.headers_for(200, len(honest))
        handler.write(honest[:keep])
        handler.close_connection = True

    return respond


def endless(prefix: bytes = b"", filler: bytes = b"A" * CHUNK) -> Behaviour:
    """Stream ``prefix`` then ``filler`` forever, without a Content-Length."""

    def respond(handler: _Handler, honest: Honest) -> None:
        handler.headers_for(200, None)
        if prefix and not handler.write(prefix):
            return
        while not handler.server.stopping.is_set():
            if not handler.write(filler):
                return

    return respond


def trickle(interval: float, data: bytes | None = None) -> Behaviour:
    """Send the body (honest or ``data``) one byte every ``interval`` seconds, then
    padding forever: each read succeeds, the download never finishes."""

    def respond(handler: _Handler, honest: Honest) -> None:
        body = data if data is not None else honest or b""
        handler.headers_for(200, None)
        position = 0
        while not handler.server.stopping.wait(interval):
            byte = body[position : position + 1] or b" "
            if not handler.write(byte):
                return
            position += 1

    return respond


def stall(keep: int = 0) -> Behaviour:
    """Send the status line and headers and the first ``keep`` bytes of the honest
    body, then nothing, until the server stops."""

    def respond(handler: _Handler, honest: Honest) -> None:
        handler.headers_for(200, len(honest or b"x"))
        if keep and not handler.write((honest or b"")[:keep]):
            return
        handler.server.stopping.wait()
        handler.close_connection = True

    return respond


def slow_then(delay: float, then: Behaviour) -> Behaviour:
    """Wait ``delay`` seconds before answering with ``then``."""

    def respond(handler: _Handler, honest: Honest) -> None:
        time.sleep(delay)
        then(handler, honest)

    return respond
