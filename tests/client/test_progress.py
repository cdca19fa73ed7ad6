"""Progress bars: drawn on a terminal for downloads that take more than a moment,
never when stderr is not a terminal."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

from repo_sign.serve import resolve_served
from tests.client.helpers import Tufpip
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository
from tufpip.progress import TerminalProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_quiet_before_the_delay_then_a_bar_and_a_final_line() -> None:
    stream, clock = io.StringIO(), FakeClock()
    progress = TerminalProgress(stream, delay=0.5, clock=clock)
    with progress("packages/big/big-1.0-py3-none-any.whl", 2_000_000) as advance:
        advance(500_000)
        assert stream.getvalue() == ""
        clock.now = 0.6
        advance(500_000)
        assert "big-1.0-py3-none-any.whl" in stream.getvalue()
        assert " 50% 1.0 MB/2.0 MB" in stream.getvalue()
        clock.now = 0.65  # within 0.1 s of the last draw: not redrawn
        advance(500_000)
        assert " 75%" not in stream.getvalue()
        clock.now = 1.0
        advance(500_000)
    assert stream.getvalue().endswith("100% 2.0 MB/2.0 MB\n")


def test_fast_download_draws_nothing() -> None:
    stream = io.StringIO()
    with TerminalProgress(stream, clock=FakeClock())("packages/a/a-1.whl", 10) as advance:
        advance(10)
    assert stream.getvalue() == ""


@contextmanager
def trickling(root: Path, chunk: int = 64 * 1024, pause: float = 0.1) -> Iterator[str]:
    """Serve a workspace like repo-sign serve, but send files in slow chunks."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = resolve_served(root, self.path)
            if path is None:
                self.send_error(404)
                return
            data = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(0, len(data), chunk):
                self.wfile.write(data[i : i + chunk])
                self.wfile.flush()
                if len(data) > chunk:
                    time.sleep(pause)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_on_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` with stderr on a pseudo-terminal; return its status and stderr."""
    master, slave = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not data:
            break
        output += data
    os.close(master)
    return process.wait(timeout=30), output.decode(errors="replace")


def test_slow_download_shows_a_bar_on_a_terminal_only(tmp_path: Path, venv: Path) -> None:
    big = make_wheel(tmp_path / "d", "big", "1.0", body=f"DATA = {os.urandom(700_000).hex()!r}\n")
    workspace = build_repository(tmp_path / "repo", [big])
    tufpip = Tufpip(tmp_path / "home")
    with trickling(workspace.root) as url:
        assert tufpip("init", url, "--root", workspace.metadata / "1.root.json").returncode == 0
        command = [sys.executable, "-m", "tufpip", "download", "big", "-d", str(tmp_path / "a")]
        status, terminal = run_on_terminal(command, tufpip.env())
        assert status == 0, terminal
        assert "big-1.0-py3-none-any.whl" in terminal and "100%" in terminal
        assert "[####" in terminal
        fresh = Tufpip(tmp_path / "home2")  # nothing cached: the file is downloaded again
        assert fresh("init", url, "--root", workspace.metadata / "1.root.json").returncode == 0
        quiet = fresh("download", "big", "-d", tmp_path / "b")
    assert quiet.returncode == 0
    assert "100%" not in quiet.stderr and "[####" not in quiet.stderr
