"""Tests of RequestsFetcher and build_updater against real servers and folders.

A ``http.server`` on 127.0.0.1 (ephemeral port, own thread) stands in for a
repository; ``file://`` tests read a temporary folder. Nothing is mocked: the
tests check what ngclient and its callers will see.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api import exceptions
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from tufpip.fetcher import RequestsFetcher
from tufpip.updater import build_updater


@dataclass
class Reply:
    """What the test server answers for one path."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait after the headers, before the body
    cut: bool = False  # close the connection after half of the body


@dataclass
class Seen:
    """One request the test server received."""

    path: str
    headers: dict[str, str]
    client_port: int


class _Httpd(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that resets a connection (a download cut short on purpose) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionResetError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Server:
    """A loopback HTTP/1.1 server with canned replies and a request log."""

    def __init__(self, root: Path | None = None) -> None:
        self.replies: dict[str, Reply] = {}
        self.seen: list[Seen] = []
        self.root = root
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                server.seen.append(Seen(self.path, dict(self.headers), self.client_address[1]))
                reply = server.replies.get(self.path)
                if reply is None and server.root is not None:
                    file = server.root / self.path.lstrip("/")
                    if file.is_file():
                        reply = Reply(body=file.read_bytes())
                if reply is None:
                    reply = Reply(status=404, body=b"not found")
                self.send_response(reply.status)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.flush()
                if reply.stall:
                    time.sleep(reply.stall)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if reply.cut:
                        self.wfile.write(reply.body[: len(reply.body) // 2])
                        self.close_connection = True
                    else:
                        self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = _Httpd(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture
def fetcher() -> Iterator[RequestsFetcher]:
    with RequestsFetcher(connect_timeout=2, read_timeout=2) as f:
        yield f


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# HTTP


def test_http_download_in_chunks(server: Server) -> None:
    body = bytes(range(256)) * 1000
    server.replies["/metadata/targets.json"] = Reply(body=body)
    with RequestsFetcher(chunk_size=4096) as fetcher:
        chunks = list(fetcher.fetch(f"{server.url}/metadata/targets.json"))
    assert b"".join(chunks) == body
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 4096


def test_http_404_is_download_http_error(server: Server, fetcher: RequestsFetcher) -> None:
    url = f"{server.url}/metadata/2.root.json"
    with pytest.raises(exceptions.DownloadHTTPError) as info:
        fetcher.download_bytes(url, 1000)
    assert info.value.status_code == 404
    assert url in str(info.value)


def test_http_500_is_download_http_error(server: Server, fetcher: RequestsFetcher) -> None:
    server.replies["/metadata/timestamp.json"] = Reply(status=500, body=b"oops")
    with pytest.raises(exceptions.DownloadHTTPError) as info:
        fetcher.download_bytes(f"{server.url}/metadata/timestamp.json", 1000)
    assert info.value.status_code == 500
    assert "HTTP 500" in str(info.value)


def test_headers_and_connection_reuse(server: Server, fetcher: RequestsFetcher) -> None:
    server.replies["/a"] = Reply(body=b"a", headers={"Set-Cookie": "track=1; Path=/"})
    server.replies["/b"] = Reply(body=b"b")
    assert fetcher.download_bytes(f"{server.url}/a", 10) == b"a"
    assert fetcher.download_bytes(f"{server.url}/b", 10) == b"b"

    first, second = server.seen
    assert first.headers["User-Agent"].startswith("tufpip/")
    assert "python-tuf/" in first.headers["User-Agent"]
    assert first.headers["Accept-Encoding"] == "identity"
    # One pooled connection serves both requests, and the cookie is not sent back.
    assert first.client_port == second.client_port
    assert "Cookie" not in second.headers


def test_custom_user_agent(server: Server) -> None:
    server.replies["/a"] = Reply(body=b"a")
    with RequestsFetcher(user_agent="mirror-sync/2") as fetcher:
        fetcher.download_bytes(f"{server.url}/a", 10)
    assert server.seen[0].headers["User-Agent"] == "mirror-sync/2"


def test_content_encoding_is_not_decoded(server: Server, fetcher: RequestsFetcher) -> None:
    # A server that labels a .tar.gz as gzip-encoded must not change its bytes:
    # the metadata's hashes describe the file as stored.
    archive = gzip.compress(b"tar contents")
    server.replies["/targets/x.tar.gz"] = Reply(body=archive, headers={"Content-Encoding": "gzip"})
    assert fetcher.download_bytes(f"{server.url}/targets/x.tar.gz", 1000) == archive


def test_max_length_cuts_download(server: Server, fetcher: RequestsFetcher) -> None:
    server.replies["/metadata/timestamp.json"] = Reply(body=b"x" * 100_000)
    url = f"{server.url}/metadata/timestamp.json"
    with pytest.raises(exceptions.DownloadLengthMismatchError):
        fetcher.download_bytes(url, 16_384)
    assert fetcher.download_bytes(url, 100_000) == b"x" * 100_000


def test_connection_refused_names_url_and_cause(fetcher: RequestsFetcher) -> None:
    url = f"http://127.0.0.1:{closed_port()}/metadata/timestamp.json"
    with pytest.raises(exceptions.DownloadError) as info:
        fetcher.download_bytes(url, 1000)
    assert not isinstance(info.value, exceptions.DownloadHTTPError)
    assert str(info.value) == f"cannot reach {url}: connection refused"


def test_stalled_server_is_slow_retrieval(server: Server) -> None:
    server.replies["/metadata/snapshot.json"] = Reply(body=b"late", stall=2)
    url = f"{server.url}/metadata/snapshot.json"
    with RequestsFetcher(read_timeout=0.3) as fetcher:
        started = time.monotonic()
        with pytest.raises(exceptions.SlowRetrievalError) as info:
            fetcher.download_bytes(url, 1000)
    assert time.monotonic() - started < 1.5
    assert url in str(info.value)


def test_abort_ends_a_stalled_download_at_once_and_refuses_later_ones(server: Server) -> None:
    """``abort`` (the service stopping) wakes a read blocked on a stalled server."""
    server.replies["/targets/x.whl"] = Reply(body=b"y" * 10_000, stall=3)
    url = f"{server.url}/targets/x.whl"
    outcome: list[BaseException] = []

    def download() -> None:
        try:
            fetcher.download_bytes(url, 10_000)
        except exceptions.DownloadError as exc:
            outcome.append(exc)

    with RequestsFetcher(read_timeout=30) as fetcher:
        worker = threading.Thread(target=download)
        worker.start()
        while not server.seen:
            time.sleep(0.01)
        time.sleep(0.1)  # the headers arrived: the worker is reading the body
        started = time.monotonic()
        fetcher.abort()
        worker.join(2)
        assert time.monotonic() - started < 1
        with pytest.raises(exceptions.DownloadError, match="stopped: tufpip is stopping"):
            fetcher.download_bytes(url, 10_000)
    assert [str(e) for e in outcome] == [f"download of {url} stopped: tufpip is stopping"]


def test_connection_lost_mid_body(server: Server, fetcher: RequestsFetcher) -> None:
    # A short body must fail, not pass as a complete (shorter) file.
    server.replies["/targets/x.whl"] = Reply(body=b"y" * 10_000, cut=True)
    url = f"{server.url}/targets/x.whl"
    with pytest.raises(
        exceptions.DownloadError,
        match=r"broke off: the server closed the connection after 5000 bytes, 5000 more",
    ):
        fetcher.download_bytes(url, 10_000)


def test_unsupported_scheme(fetcher: RequestsFetcher) -> None:
    with pytest.raises(exceptions.DownloadError, match="unsupported URL scheme 'ftp'"):
        fetcher.download_bytes("ftp://127.0.0.1/metadata/root.json", 1000)


def test_invalid_timeouts_are_rejected() -> None:
    with pytest.raises(ValueError):
        RequestsFetcher(read_timeout=0)


# file://


def test_file_url_reads_in_chunks(tmp_path: Path) -> None:
    body = b"0123456789" * 1000
    (tmp_path / "targets.json").write_bytes(body)
    with RequestsFetcher(chunk_size=1000) as fetcher:
        chunks = list(fetcher.fetch((tmp_path / "targets.json").as_uri()))
    assert b"".join(chunks) == body
    assert len(chunks) == 10


def test_file_url_missing_is_404(tmp_path: Path, fetcher: RequestsFetcher) -> None:
    with pytest.raises(exceptions.DownloadHTTPError) as info:
        fetcher.download_bytes((tmp_path / "2.root.json").as_uri(), 1000)
    assert info.value.status_code == 404
    with pytest.raises(exceptions.DownloadHTTPError) as info:
        fetcher.download_bytes((tmp_path / "no-dir" / "x.json").as_uri(), 1000)
    assert info.value.status_code == 404


def test_file_url_quoted_names(tmp_path: Path, fetcher: RequestsFetcher) -> None:
    (tmp_path / "a role.json").write_bytes(b"{}")
    assert fetcher.download_bytes(f"{tmp_path.as_uri()}/a%20role.json", 10) == b"{}"


def test_file_url_encoded_separator_is_refused(tmp_path: Path, fetcher: RequestsFetcher) -> None:
    # ngclient quotes role "../x" as "..%2Fx": it must not escape the folder.
    (tmp_path / "x.json").write_bytes(b"{}")
    meta = tmp_path / "metadata"
    meta.mkdir()
    with pytest.raises(exceptions.DownloadError, match="encodes a separator"):
        fetcher.download_bytes(f"{meta.as_uri()}/..%2Fx.json", 10)


def test_file_url_directory_and_remote_host(tmp_path: Path, fetcher: RequestsFetcher) -> None:
    with pytest.raises(exceptions.DownloadError, match="not a regular file"):
        fetcher.download_bytes(tmp_path.as_uri(), 10)
    with pytest.raises(exceptions.DownloadError, match="local path"):
        fetcher.download_bytes("file://example.org/metadata/root.json", 10)


def test_file_url_max_length(tmp_path: Path, fetcher: RequestsFetcher) -> None:
    (tmp_path / "timestamp.json").write_bytes(b"x" * 20_000)
    with pytest.raises(exceptions.DownloadLengthMismatchError):
        fetcher.download_bytes((tmp_path / "timestamp.json").as_uri(), 16_384)


# build_updater end to end


TARGET = b"wheel bytes\n"


def make_repository(folder: Path) -> bytes:
    """Write a one-key TUF repository with one target; return its root's bytes."""
    signer = CryptoSigner.generate_ed25519()
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    root = Metadata(Root(expires=expires, consistent_snapshot=False))
    for role in ("root", "timestamp", "snapshot", "targets"):
        root.signed.add_key(signer.public_key, role)
    targets = Metadata(Targets(expires=expires))
    targets.signed.targets["pkgs/x.whl"] = TargetFile.from_data("pkgs/x.whl", TARGET)
    snapshot = Metadata(Snapshot(expires=expires))
    snapshot.signed.meta["targets.json"] = MetaFile(1)
    timestamp = Metadata(Timestamp(expires=expires))
    timestamp.signed.snapshot_meta = MetaFile(1)

    (folder / "metadata").mkdir(parents=True)
    (folder / "targets" / "pkgs").mkdir(parents=True)
    for name, md in (
        ("1.root.json", root),
        ("targets.json", targets),
        ("snapshot.json", snapshot),
        ("timestamp.json", timestamp),
    ):
        md.sign(signer)
        (folder / "metadata" / name).write_bytes(md.to_bytes())
    (folder / "targets" / "pkgs" / "x.whl").write_bytes(TARGET)
    return root.to_bytes()


@pytest.mark.parametrize("transport", ["file", "http"])
def test_build_updater_downloads_verified_target(tmp_path: Path, transport: str) -> None:
    repo = tmp_path / "repo"
    trusted_root = make_repository(repo)
    srv = Server(root=repo)
    try:
        base = repo.as_uri() if transport == "file" else srv.url
        client = tmp_path / "client"
        updater = build_updater(
            client / "metadata",
            f"{base}/metadata/",
            client / "targets",
            f"{base}/targets/",
            trusted_root,
        )
        info = updater.get_targetinfo("pkgs/x.whl")
        assert info is not None
        dest = client / "targets" / "x.whl"
        updater.download_target(info, str(dest))
        assert dest.read_bytes() == TARGET
        # The root walk stopped at the missing 2.root.json (404) and the cache is complete.
        assert {p.name for p in (client / "metadata").glob("*.json")} == {
            "root.json",
            "timestamp.json",
            "snapshot.json",
            "targets.json",
        }
        if transport == "http":
            assert [s.path for s in srv.seen] == [
                "/metadata/2.root.json",
                "/metadata/timestamp.json",
                "/metadata/snapshot.json",
                "/metadata/targets.json",
                "/targets/pkgs/x.whl",
            ]
    finally:
        srv.stop()


def test_build_updater_rejects_tampered_target(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    trusted_root = make_repository(repo)
    (repo / "targets" / "pkgs" / "x.whl").write_bytes(b"wheel bytez\n")
    updater = build_updater(
        tmp_path / "metadata",
        f"{repo.as_uri()}/metadata/",
        tmp_path / "targets",
        f"{repo.as_uri()}/targets/",
        trusted_root,
    )
    info = updater.get_targetinfo("pkgs/x.whl")
    assert info is not None
    with pytest.raises(exceptions.LengthOrHashMismatchError):
        updater.download_target(info, str(tmp_path / "x.whl"))


def test_build_updater_trusts_cached_root(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    trusted_root = make_repository(repo)
    args = (tmp_path / "metadata", f"{repo.as_uri()}/metadata/", None, None)
    build_updater(*args, trusted_root).refresh()
    # A later run starts from the cached root.json, as tufpip does after setup.
    updater = build_updater(*args, None)
    updater.refresh()
    assert updater.get_targetinfo("pkgs/x.whl") is not None
