"""A development HTTP server for a workspace's ``metadata/`` and ``targets/``.

It serves exactly what a static web server in production would: files
under ``metadata/`` and ``targets/``, nothing else. Keys, the policy file,
staged proposals, hidden files, directory listings, ``..`` and encoded
traversals all answer 404, whatever the path looks like once decoded.
"""

from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from repo_sign.workspace import Workspace

SERVED = ("metadata", "targets")


def resolve_served(root: Path, url_path: str) -> Path | None:
    """The file a URL path names inside a served folder, or None."""
    path = unquote(urlsplit(url_path).path)
    segments = path.split("/")[1:]
    if len(segments) < 2 or segments[0] not in SERVED:
        return None
    for segment in segments:
        if not segment or segment.startswith(".") or "\\" in segment or "\0" in segment:
            return None
    base = (root / segments[0]).resolve()
    candidate = (root / Path(*segments)).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate


class _Handler(SimpleHTTPRequestHandler):
    root: Path
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def send_head(self):  # type: ignore[no-untyped-def]
        path = resolve_served(self.root, self.path)
        if path is None:
            self.send_error(404, "Not Found")
            return None
        try:
            f = path.open("rb")
        except OSError:
            self.send_error(404, "Not Found")
            return None
        self.send_response(200)
        content_type = "application/json" if path.suffix == ".json" else "application/octet-stream"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        return f

    def log_message(self, format: str, *args: object) -> None:
        if self.server.log:  # type: ignore[attr-defined]
            super().log_message(format, *args)


class RepositoryServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` bound to one workspace; port 0 picks a free port."""

    daemon_threads = True

    def __init__(
        self, workspace: Workspace, host: str = "127.0.0.1", port: int = 0, log: bool = False
    ) -> None:
        handler = type("Handler", (_Handler,), {"root": workspace.root})
        super().__init__((host, port), handler)
        self.log = log

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True)
        thread.start()
        return thread
