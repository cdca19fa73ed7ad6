"""An upstream package index made by the tests: PEP 691 JSON on 127.0.0.1.

What ``repo-sign import``, ``sync`` and ``add --check-upstream`` read from
PyPI: a project page per project listing each file's sha256, size,
``upload-time`` and ``yanked``, and the files themselves. A test can list a
wrong sha256 for a file, and hold a file's download until it lets it go.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tufindex import targetpaths

OLD = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")
FRESH = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")


class Upstream:
    """The index: ``add`` files, read ``url`` (the simple index) and ``file_url``."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, tuple[bytes, dict]]] = {}
        self.held: dict[str, tuple[threading.Event, threading.Event]] = {}
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[0] == "simple" and len(parts) == 2 and parts[1] in upstream.files:
                    body = json.dumps(upstream.page(parts[1])).encode()
                    kind = "application/vnd.pypi.simple.v1+json"
                elif parts[0] == "files" and len(parts) == 3 and parts[1] in upstream.files:
                    body, kind = upstream.files[parts[1]][parts[2]][0], "application/octet-stream"
                    if parts[2] in upstream.held:
                        arrived, released = upstream.held[parts[2]]
                        arrived.set()
                        released.wait(timeout=60)
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/simple/"

    def add(
        self, path: Path, uploaded: str = OLD, yanked: bool | str = False, sha: str = ""
    ) -> Path:
        """List ``path`` (uploaded at ``uploaded``; ``sha``: a wrong sha256 to list)."""
        data = path.read_bytes()
        project = targetpaths.parse_filename(path.name)[0]
        entry = {
            "filename": path.name,
            "url": f"../../files/{project}/{path.name}",
            "hashes": {"sha256": sha or hashlib.sha256(data).hexdigest()},
            "size": len(data),
            "upload-time": uploaded,
            "yanked": yanked,
        }
        self.files.setdefault(project, {})[path.name] = (data, entry)
        return path

    def file_url(self, filename: str) -> str:
        return f"{self.base}/files/{targetpaths.parse_filename(filename)[0]}/{filename}"

    def page(self, name: str) -> dict:
        files = [entry for _data, entry in self.files[name].values()]
        return {"meta": {"api-version": "1.1"}, "name": name, "files": files}

    @contextmanager
    def holding(self, filename: str) -> Iterator[threading.Event]:
        """Hold every download of ``filename`` until the block ends; yields the
        event set when a download arrives."""
        arrived, released = threading.Event(), threading.Event()
        self.held[filename] = (arrived, released)
        try:
            yield arrived
        finally:
            del self.held[filename]
            released.set()


@contextmanager
def serving() -> Iterator[Upstream]:
    """A running upstream index, stopped at the end."""
    index = Upstream()
    thread = threading.Thread(target=index.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        index.server.shutdown()
        index.server.server_close()
