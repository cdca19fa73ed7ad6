"""Attacks 2 and 3, endless data and slow retrieval.

Endless data: a mirror streams a file without end (no Content-Length). The
client must stop at the length signed for a target, or at its configured
maximum for metadata (ngclient: root 512 kB, timestamp 16 kB, snapshot
2 MB, targets 5 MB, unless a signed length is known), with memory bounded.

Slow retrieval: a mirror that stops sending is cut off by the fetcher's
read timeout (``tufpip.fetcher.DEFAULT_READ_TIMEOUT``, 30 s between two reads by
default, ``TUFPIP_TIMEOUT`` to change it; 10 s to connect). A mirror that
trickles (one byte at a time, never a read timeout apart) is cut off by
the minimum average speed the fetcher demands once a download has run for
the read timeout (``DEFAULT_MIN_SPEED``): every download ends within twice
the read timeout unless it is fast enough.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_exc

from tests.attacks.attacker import endless, stall, trickle
from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tufpip.fetcher import DEFAULT_CONNECT_TIMEOUT, TIMEOUT_VARIABLE, RequestsFetcher

WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"
MAX_RSS_KB = 250 * 1024  # the client process, pip included, well below an endless stream
MAX_SENT = 64 * 1024 * 1024  # what the attacker managed to push before the client hung up


def test_endless_distribution_stops_at_signed_length(
    mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    url = mirror.forger.target_url(WHEEL)
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    mirror.server.attack(url, endless(prefix=honest))
    before = tree(venv)

    run = client.install(venv, "beta", timeout=60)

    assert_refused(run, WHEEL, "longer than its signed length")
    assert run.max_rss_kb < MAX_RSS_KB
    assert 0 < mirror.server.sent[url] < MAX_SENT
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)


ENDLESS_METADATA = {
    "timestamp": "/metadata/timestamp.json",
    "snapshot": "/metadata/*.snapshot.json",
    "targets": "/metadata/*.targets.json",
    "bin": "/metadata/*.bins-*.json",
    "next-root": "/metadata/2.root.json",
}


@pytest.mark.parametrize("role", list(ENDLESS_METADATA))
def test_endless_metadata_stops_at_maximum(
    role: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    pattern = ENDLESS_METADATA[role]
    mirror.server.attack(pattern, endless(prefix=b'{"signed": {"_type": "' + b"A" * 1000))
    before = tree(venv)

    run = client.install(venv, "beta", timeout=60)

    assert_refused(run, "metadata failed verification", ("length", "exceed", "bytes"))
    assert run.max_rss_kb < MAX_RSS_KB
    sent = sum(n for path, n in mirror.server.sent.items() if mirror.server.requested(pattern))
    assert 0 < sent < MAX_SENT
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)


def test_stalled_mirror_times_out(mirror: Mirror, client: Client, venv: Path, venv2: Path) -> None:
    """Headers, then silence: the read timeout (``TUFPIP_TIMEOUT``, here 2 s instead of
    the default 30 s) ends the run, with its reason."""
    mirror.server.attack("/metadata/timestamp.json", stall())
    before = tree(venv)
    read_timeout = 2
    bound = DEFAULT_CONNECT_TIMEOUT + read_timeout + 10

    run = client.install(venv, "beta", timeout=bound + 30, env={TIMEOUT_VARIABLE: "2"})

    assert_refused(run, "timestamp.json", ("stalled", "no answer"), "2 s", code=6)
    assert read_timeout <= run.seconds < bound
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)


def test_timeout_setting_must_be_a_positive_number(client: Client, venv: Path) -> None:
    for value in ("0", "soon"):
        run = client.install(venv, "beta", env={TIMEOUT_VARIABLE: value})
        assert_refused(run, TIMEOUT_VARIABLE, "positive number", code=2)


def test_trickling_mirror_is_cut_off(mirror: Mirror) -> None:
    """One byte every 0.2 s never trips a 0.5 s read timeout; the speed bound ends it."""
    read_timeout, bound = 0.5, 4.0
    mirror.server.attack("/metadata/timestamp.json", trickle(0.2))
    outcome: list[BaseException | bytes] = []

    def download() -> None:
        with RequestsFetcher(connect_timeout=1, read_timeout=read_timeout) as fetcher:
            try:
                outcome.append(
                    fetcher.download_bytes(mirror.url + "/metadata/timestamp.json", 16384)
                )
            except Exception as exc:
                outcome.append(exc)

    worker = threading.Thread(target=download, daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(bound)
    elapsed = time.monotonic() - start
    mirror.server.stopping.set()  # let the trickle end, whatever the outcome
    worker.join(5)
    assert elapsed < bound, f"download still running after {bound} s"
    assert isinstance(outcome[0], tuf_exc.SlowRetrievalError)
