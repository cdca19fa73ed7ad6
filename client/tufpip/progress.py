"""Progress bars on stderr for verified downloads that take more than a moment.

A bar appears only when stderr is a terminal and a download is still running
after ``DELAY`` seconds: small files and non-interactive runs stay quiet.
It is redrawn at most ten times a second and ends with the completed line.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tufpip.session import ProgressFactory

DELAY = 0.5
WIDTH = 24


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


class TerminalProgress:
    """A ``ProgressFactory`` drawing one bar per download on a terminal stream."""

    def __init__(
        self,
        stream: TextIO,
        delay: float = DELAY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.delay = delay
        self.clock = clock

    @contextmanager
    def __call__(self, target: str, total: int) -> Iterator[Callable[[int], None]]:
        start = self.clock()
        done = 0
        drawn_at: float | None = None

        def advance(n: int) -> None:
            nonlocal done, drawn_at
            done += n
            now = self.clock()
            if now - start < self.delay or (drawn_at is not None and now - drawn_at < 0.1):
                return
            self._draw(target, done, total)
            drawn_at = now

        yield advance
        if drawn_at is not None:
            self._draw(target, done, total)
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, target: str, done: int, total: int) -> None:
        fraction = min(done / total, 1.0) if total else 1.0
        filled = int(fraction * WIDTH)
        name = target.rsplit("/", 1)[-1]
        if len(name) > 40:
            name = name[:37] + "..."
        bar = "#" * filled + "-" * (WIDTH - filled)
        line = f"\r{name:<40} [{bar}] {fraction:4.0%} {_size(done)}/{_size(total)}"
        self.stream.write(line)
        self.stream.flush()


def for_stderr() -> ProgressFactory | None:
    """Progress bars when stderr is a terminal, otherwise none."""
    return TerminalProgress(sys.stderr) if sys.stderr.isatty() else None
