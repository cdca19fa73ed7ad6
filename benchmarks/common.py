"""Shared helpers: medians of repeated runs, result tables, a loopback static server.

Every timing is the median of several runs and every comparison is a ratio
of medians measured in the same process, one after the other, so a noisy
(shared) machine shifts both sides alike instead of misleading.
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RUNS = 5
# Installs last about a second and vary most with what else the machine does:
# more runs make their medians, and the ratios of medians, steadier.
INSTALL_RUNS = 9
REPO_ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "benchmark-only-passphrase"


@dataclass
class Row:
    """One line of the results table."""

    target: str  # issue target number and name
    measure: str
    value: str
    goal: str = ""
    met: bool | None = None  # None: informational
    size: str = ""  # which repository size or file set the number used


@dataclass
class Section:
    """What one benchmark module reports: table rows and free-form markdown."""

    title: str
    rows: list[Row] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def median_time(
    run: Callable[[], object], runs: int = RUNS, setup: Callable[[], object] | None = None
) -> float:
    """Median wall-clock seconds of ``run()`` over ``runs`` runs (``setup`` untimed)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def med(values: list[float]) -> float:
    return statistics.median(values)


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def fmt_bytes(n: float) -> str:
    if n >= 10 * 1024 * 1024:
        return f"{n / 1024 / 1024:.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n:.0f} B"


def bench_env(**extra: str) -> dict[str, str]:
    """The environment for subprocesses: no pip/uv configuration, the venv's bin first."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "UV_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["REPO_SIGN_PASSPHRASE"] = PASSPHRASE
    env["PIP_CONFIG_FILE"] = os.devnull
    env.update(extra)
    return env


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """Run a command quietly; raise with its output if it fails."""
    kwargs.setdefault("env", bench_env())
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[:4]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def repo_sign(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess:
    """The ``repo-sign`` command line, as a maintainer runs it."""
    return run([sys.executable, "-m", "repo_sign", *map(str, args)], **kwargs)


class _QuietHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive without ~40 ms per request

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def static_server(directory: Path, port: int = 0) -> Iterator[str]:
    """Serve ``directory`` with ``http.server`` on 127.0.0.1; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
