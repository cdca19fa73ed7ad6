"""A TUF client run measured from inside its own process (``python -m benchmarks.probe``).

Runs tufpip's ngclient Updater (its fetcher and limits): ``refresh()`` then
``get_targetinfo`` for each target path given, and prints one JSON line:
bytes and requests downloaded, CPU and wall seconds of refresh plus lookups,
and peak RSS (VmHWM) before and after. A separate process per run,
so peak memory is this run's own.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tuf.ngclient import FetcherInterface

from tufpip.fetcher import RequestsFetcher
from tufpip.updater import build_updater


class CountingFetcher(FetcherInterface):
    """Counts bytes and requests, then hands chunks to ngclient unchanged."""

    def __init__(self) -> None:
        self._inner = RequestsFetcher()
        self.bytes = 0
        self.requests: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.requests.append(url.rsplit("/", 1)[-1])
        for chunk in self._inner.fetch(url):
            self.bytes += len(chunk)
            yield chunk


def peak_rss_kb() -> int:
    """This process's peak resident memory (VmHWM), reset at exec unlike ``ru_maxrss``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main(metadata_dir: str, url: str, bootstrap: str, *paths: str) -> None:
    fetcher = CountingFetcher()
    rss_before = peak_rss_kb()
    cpu, wall = time.process_time(), time.perf_counter()
    root = Path(bootstrap).read_bytes() if bootstrap != "-" else None
    updater = build_updater(Path(metadata_dir), f"{url}/metadata/", None, None, root, fetcher)
    updater.refresh()
    found = [updater.get_targetinfo(p) is not None for p in paths]
    result = {
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        "bytes": fetcher.bytes,
        "requests": fetcher.requests,
        "found": found,
        "rss_before_kb": rss_before,
        "rss_peak_kb": peak_rss_kb(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
