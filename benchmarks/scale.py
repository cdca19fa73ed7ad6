"""Targets 2 and 3: metadata a new client downloads at scale, and the bin-count curve.

For each repository size (distribution files), a synthetic repository is
signed (``synthetic``) with the bin count ``repo_sign.bins.optimal_bins``
chooses, served by ``http.server`` on 127.0.0.1, and a fresh client process
(``probe``) refreshes and looks up one package the way tufpip does: its
project page alone (one bin: tufpip takes the wheel's and ``.metadata``'s
hashes and sizes from the signed page), and, for comparison, the way a stock
ngclient client does: the page, the ``.metadata`` and the wheel (three
bins). Then the same client
runs again against the unchanged repository: it should download only
``timestamp.json`` (plus the 404 probe for a newer root every TUF client makes).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import synthetic
from benchmarks.common import RUNS, Row, Section, bench_env, fmt_bytes, fmt_s, med, static_server
from repo_sign.bins import optimal_bins


def probe(metadata_dir: Path, url: str, bootstrap: Path | None, paths: list[str]) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.probe",
        str(metadata_dir),
        url,
        str(bootstrap) if bootstrap else "-",
        *paths,
    ]
    out = subprocess.run(command, capture_output=True, text=True, env=bench_env(), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def package_paths(entries: list[synthetic.Entry]) -> list[str]:
    """Page, .metadata and wheel of one project in the middle of the repository."""
    middle = len(entries) // 2
    for e in entries[middle:]:
        if e.path.startswith("packages/") and e.path.endswith(".whl"):
            name = e.path.split("/")[1]
            return [f"simple/{name}/vnd.pypi.simple.v1.json", f"{e.path}.metadata", e.path]
    raise AssertionError("no wheel")


def measure_size(files: int, runs: int, work: Path) -> tuple[list[Row], dict]:
    entries = synthetic.entries(files)
    entry_bytes = sum(len(e.line) + 1 for e in entries) / len(entries)
    count = optimal_bins(len(entries), entry_bytes)
    bits = int(math.log2(count))
    www = work / f"www{files}"
    info = synthetic.write_repository(www / "metadata", files, bits)
    bootstrap = www / "metadata" / "1.root.json"
    paths = package_paths(info["entries"])
    label = f"{files:,} files ({info['targets']:,} targets, {count} bins)"
    cold, page_only, warm = [], [], []
    with static_server(www) as url:
        for i in range(runs):
            cold.append(probe(work / f"c{files}-{i}", url, bootstrap, paths))
            page_only.append(probe(work / f"p{files}-{i}", url, bootstrap, paths[:1]))
            warm.append(probe(work / f"c{files}-{i}", url, None, paths))
    assert all(all(r["found"]) for r in cold + warm), "a target was not found"
    cold_bytes = med([r["bytes"] for r in cold])
    one_bin = med([r["bytes"] for r in page_only])
    cpu = med([r["cpu"] for r in cold])
    wall = med([r["wall"] for r in cold])
    rss = med([r["rss_peak_kb"] for r in cold]) / 1024
    rss_base = med([r["rss_before_kb"] for r in cold]) / 1024
    warm_requests = sorted(set(tuple(r["requests"]) for r in warm))
    only_timestamp = all(
        [u for u in r["requests"] if not u.endswith(".root.json")] == ["timestamp.json"]
        for r in warm
    )
    is_million = files >= 1_000_000
    rows = [
        Row(
            "2 metadata",
            "new tufpip client, one package (page lookup: 1 bin)",
            fmt_bytes(one_bin),
            "<= 300 KB at 1M" if is_million else "",
            one_bin <= 300 * 1024 if is_million else None,
            label,
        ),
        Row(
            "2 metadata",
            "new stock ngclient client (page, .metadata, wheel: 3 bins)",
            fmt_bytes(cold_bytes),
            size=label,
        ),
        Row(
            "2 metadata",
            "client CPU, refresh + 3 lookups (wall)",
            f"{fmt_s(cpu)} ({fmt_s(wall)})",
            "< 0.5 s at 1M" if is_million else "",
            cpu < 0.5 if is_million else None,
            label,
        ),
        Row(
            "2 metadata",
            "client peak RSS (after imports)",
            f"{rss:.0f} MB ({rss_base:.0f} MB)",
            size=label,
        ),
        Row(
            "2 metadata",
            "up-to-date client downloads",
            ", ".join(warm_requests[0]) + f" ({fmt_bytes(med([r['bytes'] for r in warm]))})",
            "timestamp.json only",
            only_timestamp,
            label,
        ),
    ]
    shutil.rmtree(www)
    return rows, {"entries": entries, "info": info, "count": count, "entry_bytes": entry_bytes}


def curve_section(files: int, data: dict) -> list[str]:
    """Predicted bytes for a new client per bin count, from the exact entry sizes."""
    info = data["info"]
    points = synthetic.curve(data["entries"], range(4, 17))
    fixed = info["fixed"] + 400  # root, targets, timestamp, snapshot envelope
    lines = [
        f"Bin count curve at {files:,} files ({info['targets']:,} targets, "
        f"{data['entry_bytes']:.0f} B per target entry). Bytes a new client downloads: "
        "root + timestamp + targets + snapshot (one entry per bin) + the bins it looks in.",
        "",
        "| bins | snapshot | one bin | 3 lookups (stock) | 1 lookup |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    best3 = min(points, key=lambda c: points[c][0] + 3 * points[c][1])
    best1 = min(points, key=lambda c: points[c][0] + points[c][1])
    for count, (snapshot, per_bin) in points.items():
        three = fixed + snapshot + 3 * per_bin
        one = fixed + snapshot + per_bin
        mark3 = " **min**" if count == best3 else ""
        mark1 = " **min**" if count == best1 else ""
        lines.append(
            f"| {count} | {fmt_bytes(snapshot)} | {fmt_bytes(per_bin)} | "
            f"{fmt_bytes(three)}{mark3} | {fmt_bytes(one)}{mark1} |"
        )
    lines += [
        "",
        f"`repo-sign` chose {data['count']} bins for this size (`bins.optimal_bins`, "
        "1 lookup, as tufpip does); `repo-sign rebin` with no count applies the same "
        "choice later. Stock ngclient clients that look up 3 targets per package pay "
        'the "3 lookups" column at that count.',
    ]
    return lines


def run(sizes: list[int], runs: int = RUNS) -> Section:
    section = Section("Metadata per install at scale (targets 2 and 3)")
    work = Path(tempfile.mkdtemp(prefix="tufpip-bench-scale-"))
    try:
        data = {}
        for files in sizes:
            rows, data = measure_size(files, runs, work)
            section.rows += rows
        section.text += curve_section(sizes[-1], data)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return section
