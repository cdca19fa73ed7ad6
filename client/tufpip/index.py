"""The verifying package index: what pip and uv see, for one run or as a service.

Rules:
- Serves a socket already listening (``loopback.listen``), in a background
  thread, one thread per connection, HTTP/1.1 keep-alive with Nagle's
  algorithm off.
- Its targets come from ``Targets``: a ``Session`` for one installer run, or
  ``service.FreshTargets`` (refreshed sessions) for ``tufpip serve``. Each
  file is opened by ``Targets.open`` once verified, and sent whole: its
  length is that of the open file.
- ``/simple/`` is the project list (PEP 691 JSON); ``/simple/NAME/`` is the
  project page, PEP 691 JSON or PEP 503 HTML by the ``Accept`` header;
  ``/packages/NAME/FILE`` and ``/packages/NAME/FILE.metadata`` are the files
  those pages link to. A project name that is not normalized is redirected
  to its normalized URL, as PyPI does.
- Every byte served is a target the ``Session`` verified in this run; the
  URL is mapped to a target path and nothing else is read.
- A URL that is no target of the repository answers 404; a project asked for
  and not found is remembered in ``missing``.
- A target that fails verification, or whose dependencies name a direct URL
  (``Session.target`` refuses it), answers 403, and the error is kept in
  ``failures``: the installer only reports the status, tufpip reports why.
  As a service (``service=True``) it answers 502 with the reason as body,
  and 503 with the reason while the metadata cannot be refreshed
  (``RefreshFailed``); nothing is kept, and each request is logged as one
  line (method, path, status, reason) at INFO.
- An index without a session (the refresh failed after the installer had
  started) answers every request 403 with that error, so the installer gives
  up at once, having received nothing.
- The index is also the installer's only proxy (``installer``): a request
  in absolute form for its own origin is served like any other; one for
  any other origin, and every ``CONNECT`` tunnel, answers 403 and is kept
  in ``failures`` as a refused source.
- Connections the installer resets are not errors worth a traceback.
- Caching: every response is ``no-store``. Pages must be fetched and
  verified in every run; files gain nothing measurable from pip's HTTP cache
  on loopback, and a cached file that went stale or was altered would fail
  pip's hash check in every later run, with nothing to evict it. pip's cache
  of wheels built from sdists still works: it is keyed by the sdist's URL and
  sha256, and the URL is stable per repository.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlsplit

from tufindex import targetpaths
from tufpip import loopback
from tufpip.errors import NotFound, RefreshFailed, RefusedSource, TufpipError

logger = logging.getLogger(__name__)

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"

# Media types a project page can be served as: (page format, Content-Type),
# in order of preference when a client accepts several equally.
_MEDIA_TYPES: dict[str, tuple[targetpaths.PageFormat, str]] = {
    JSON: ("json", JSON),
    "application/vnd.pypi.simple.latest+json": ("json", JSON),
    HTML: ("html", HTML),
    "application/vnd.pypi.simple.latest+html": ("html", HTML),
    "text/html": ("html", "text/html"),
    "*/*": ("html", "text/html"),
}
SHUTDOWN_POLL_SECONDS = 0.01
NO_STORE = "no-store"
_PROJECT = re.compile(r"/simple/([^/]+)/?")


def negotiate(accept: str | None) -> tuple[targetpaths.PageFormat, str] | None:
    """The page format and Content-Type for an ``Accept`` header, or None if none fits.

    No header means HTML, as for any PEP 503 client.
    """
    if not accept:
        return _MEDIA_TYPES["text/html"]
    preference = list(_MEDIA_TYPES)
    best: tuple[float, int, str] | None = None
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() not in _MEDIA_TYPES:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        rank = (quality, -preference.index(media.lower()), media.lower())
        if quality > 0 and (best is None or rank > best):
            best = rank
    return None if best is None else _MEDIA_TYPES[best[2]]


class Targets(Protocol):
    """Where an index gets verified targets (``Session``, ``service.FreshTargets``)."""

    def open(self, path: str) -> BinaryIO:
        """Target ``path`` opened for reading once verified; raises ``TufpipError``."""
        ...


class VerifyingIndex:
    """A package index that serves only targets verified by TUF."""

    def __init__(
        self,
        listener: socket.socket,
        session: Targets | None,
        refusal: TufpipError | None = None,
        *,
        service: bool = False,
    ) -> None:
        """Serve ``listener`` with the targets of ``session``, or refuse all with ``refusal``.

        ``service``: answer as ``tufpip serve`` does (see Rules).
        """
        if (session is None) == (refusal is None):
            raise ValueError("an index serves a session or refuses with an error")
        self.session = session
        self.refusal = refusal
        self.service = service
        self.failures: list[TufpipError] = []
        self.missing: list[str] = []
        self._server = _Server(self, listener)
        self.origin = urlsplit(self.url).netloc
        # shutdown() waits for serve_forever to poll: the default 0.5 s interval
        # added about 0.25-0.5 s to every install.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="tufpip-index",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """The index URL to give an installer (``http://127.0.0.1:PORT/simple/``)."""
        return loopback.index_url(self._server.socket)

    def __enter__(self) -> VerifyingIndex:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop serving; the listening socket stays open for its owner to close."""
        self._server.shutdown()
        self._thread.join()

    def refused(self, error: TufpipError) -> None:
        """Keep ``error`` for the run's report (a service reports each in its reply only)."""
        if not self.service:
            self.failures.append(error)

    def route(self, path: str, accept: str | None) -> tuple[int, str, str]:
        """Map a request path to (status, target path or redirect location, Content-Type).

        Status 200 names a target path, 301 a location, 404 and 406 nothing.
        """
        path = urlsplit(path).path
        if path == "/simple/":
            return 200, targetpaths.PROJECT_LIST, JSON
        if match := _PROJECT.fullmatch(path):
            name = targetpaths.normalize(unquote(match[1]))
            if path != f"/simple/{name}/":
                return 301, f"/simple/{name}/", ""
            media = negotiate(accept)
            if media is None:
                return 406, "", ""
            page_format, content_type = media
            return 200, targetpaths.project_page(name, page_format), content_type
        if path.startswith("/packages/"):
            return 200, unquote(path.removeprefix("/")), "application/octet-stream"
        return 404, "", ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, index: VerifyingIndex, listener: socket.socket) -> None:
        super().__init__(listener.getsockname(), _Handler, bind_and_activate=False)
        self.socket.close()
        self.socket = listener
        self.index = index

    def handle_error(self, request: object, client_address: object) -> None:
        """Log (instead of printing a traceback) what broke one connection.

        An installer that gives up after a 403 may reset its other
        connections; the handler's own failures are logged the same way.
        """
        logger.debug("index: connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server
    _reason = ""

    def do_CONNECT(self) -> None:
        """An HTTPS tunnel: the installer tried to leave the index (it is its proxy)."""
        self._refuse_elsewhere(f"https://{self.path}")

    def do_HEAD(self) -> None:
        self.do_GET(body=False)

    def do_GET(self, body: bool = True) -> None:
        index = self.server.index
        requested = urlsplit(self.path)
        if requested.netloc and (requested.scheme, requested.netloc) != ("http", index.origin):
            self._refuse_elsewhere(f"{requested.scheme}://{requested.netloc}{requested.path}")
            return
        status, where, content_type = index.route(self.path, self.headers.get("Accept"))
        if status == 301:
            self._reply(301, b"", {"Location": where})
            return
        if status != 200:
            self._reply(status, b"")
            return
        if index.session is None:
            self._reply(403, str(index.refusal).encode())
            return
        try:
            data = index.session.open(where)
        except NotFound:
            if where.startswith("simple/") and not index.service:
                index.missing.append(where.split("/")[1])
            self._reply(404, b"")
            return
        except RefreshFailed as exc:
            self._reason = str(exc)
            self._reply(503, str(exc).encode())
            return
        except TufpipError as exc:
            if not index.service:
                logger.info("refused %s: %s", where, exc)
            index.refused(exc)
            self._reason = str(exc)
            self._reply(502 if index.service else 403, str(exc).encode())
            return
        with data:
            headers = {"Content-Type": content_type}
            self._start(200, os.fstat(data.fileno()).st_size, headers)
            if body:
                shutil.copyfileobj(data, self.wfile)

    def _refuse_elsewhere(self, url: str) -> None:
        """403 for a request to anywhere but the index, recorded as tufpip's reason."""
        error = RefusedSource(
            f"the installer tried to reach {url}, outside the verified index: refused"
        )
        if not self.server.index.service:
            logger.info("refused %s", url)
        self.server.index.refused(error)
        self._reason = str(error)
        self.close_connection = True
        self._reply(403, str(error).encode())

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._start(status, len(body), headers)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _start(self, status: int, length: int, headers: dict[str, str] | None = None) -> None:
        """Send the status line and headers of a ``length``-byte response."""
        headers = {"Cache-Control": NO_STORE, **(headers or {})}
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """One line per request: at INFO for the service, with tufpip's reason if any."""
        if not self.server.index.service:
            super().log_request(code, size)
            return
        reason, self._reason = self._reason, ""
        logger.info("%s %s %s%s", self.command, self.path, code, f" {reason}" if reason else "")

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("index: " + format, *args)
