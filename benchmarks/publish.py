"""Target 4: publishing at scale with ``repo-sign`` itself.

A real workspace (``repo-sign init``, real encrypted keys, the bin count
``bins.optimal_bins`` picks) whose bins are then filled with the synthetic
targets of N distribution files, signed with the workspace's own bins key
(``synthetic``); the project list is a real target file, because ``add``
reads it. Then, as a maintainer would, in new processes:

- ``repo-sign add`` of one new wheel: seconds, and which files it writes
  (only the affected bins, snapshot and timestamp should change);
- ``repo-sign refresh`` when only the timestamp is due;
- building a repository from scratch: ``repo-sign add DIR`` of a folder of
  M real (tiny) wheels into a fresh 1,024-bin workspace (``init`` untimed),
  timed once (it is long); the seconds per file give the rate at other sizes.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks import synthetic
from benchmarks.common import PASSPHRASE, RUNS, Row, Section, fmt_s, med, repo_sign


def big_workspace(root: Path, files: int) -> tuple[int, int]:
    """A repo-sign workspace holding ``files`` synthetic distributions; (targets, bins)."""
    from repo_sign import index
    from repo_sign.bins import optimal_bins
    from repo_sign.repository import SignedRepository
    from repo_sign.workspace import Workspace
    from tufindex import targetpaths

    entries = synthetic.entries(files)
    names = {e.path.split("/")[1] for e in entries if e.path.startswith("packages/")}
    listing = index.project_list(names)
    sha = hashlib.sha256(listing).hexdigest()
    entries[-1] = synthetic.Entry(
        targetpaths.PROJECT_LIST,
        f'"{targetpaths.PROJECT_LIST}":{{"hashes":{{"sha256":"{sha}"}},"length":{len(listing)}}}',
    )
    entry_bytes = sum(len(e.line) + 1 for e in entries) / len(entries)
    count = optimal_bins(len(entries), entry_bytes)
    repo_sign("init", "--repo", root, "--bins", str(count))
    ws = Workspace(root)
    listing_file = ws.target_file(targetpaths.PROJECT_LIST, sha)
    listing_file.parent.mkdir(parents=True, exist_ok=True)
    listing_file.write_bytes(listing)
    repo = SignedRepository.load(ws, lambda _name, _role, _new: PASSPHRASE.encode())
    succinct = repo.targets().delegations.succinct_roles  # type: ignore[union-attr]
    keys, _threshold = repo.role_keys(next(iter(succinct.get_roles())))
    keyid, key = next(iter(keys.items()))
    signer = repo.signer(keyid, key)
    bits = int(math.log2(count))
    bins: list[list[synthetic.Entry]] = [[] for _ in range(count)]
    for e in entries:
        bins[synthetic.bin_index(e.path, bits)].append(e)
    for name, contents in zip(succinct.get_roles(), bins, strict=True):
        (ws.metadata / f"1.{name}.json").write_bytes(synthetic.bin_file(contents, 1, signer))
    return len(entries), count


def written_since(root: Path, since: float) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in (root / "metadata").iterdir()
        if p.stat().st_mtime >= since
    )


def run(files: int, build_files: int, runs: int = RUNS) -> Section:
    from tests.support.distributions import make_wheel

    section = Section("Publishing at scale (target 4)")
    work = Path(tempfile.mkdtemp(prefix="tufpip-bench-publish-"))
    try:
        root = work / "big"
        start = time.perf_counter()
        targets, count = big_workspace(root, files)
        setup = time.perf_counter() - start
        label = f"{files:,} files ({targets:,} targets, {count} bins)"
        add_times, refresh_times, written = [], [], []
        for i in range(runs):
            wheel = make_wheel(work / "new", f"newproject{i}", "1.0")
            since = time.time() - 0.001
            start = time.perf_counter()
            repo_sign("add", "--repo", root, wheel)
            add_times.append(time.perf_counter() - start)
            written.append(written_since(root, since))
            start = time.perf_counter()
            repo_sign("refresh", "--repo", root)
            refresh_times.append(time.perf_counter() - start)
        files_written = len(written[-1])
        only_affected = all(
            w.endswith(("snapshot.json", "timestamp.json")) or ".bins-" in w for w in written[-1]
        )  # at most five bins: page .json and .html, wheel, .metadata, project list
        section.rows += [
            Row(
                "4 publishing",
                "`repo-sign add` one wheel",
                fmt_s(med(add_times)),
                "< 1 s",
                med(add_times) < 1,
                label,
            ),
            Row(
                "4 publishing",
                "metadata files written by that add",
                f"{files_written}: {', '.join(written[-1])}",
                "affected bins + snapshot + timestamp",
                only_affected and files_written <= 7,
                label,
            ),
            Row(
                "4 publishing",
                "`repo-sign refresh`, only timestamp due",
                fmt_s(med(refresh_times)),
                "< 1 s",
                med(refresh_times) < 1,
                label,
            ),
        ]
        section.text.append(
            f"Publishing: the {files:,}-file workspace took {fmt_s(setup)} to synthesize "
            "(not timed as a publish). An add writes the wheel, its `.metadata`, two "
            "project pages and the project list as target files, plus the metadata listed."
        )
        shutil.rmtree(root)

        for i in range(build_files):
            make_wheel(work / "many" / f"{i % 100:02d}", f"bulk{i:06d}", "1.0")
        repo = work / "build"
        repo_sign("init", "--repo", repo, "--bins", "1024")
        start = time.perf_counter()
        repo_sign("add", "--repo", repo, work / "many")
        build = time.perf_counter() - start
        shutil.rmtree(repo)
        per_file = build / build_files
        million = per_file * 1_000_000
        size = f"{build_files:,} tiny wheels, 1,024 bins, one run"
        section.rows += [
            Row(
                "4 publishing",
                "`repo-sign add DIR` into a fresh workspace, per file",
                f"{per_file * 1000:.2f} ms ({fmt_s(build)} in all)",
                "<= 0.3 ms",
                per_file <= 0.0003,
                size,
            ),
            Row(
                "4 publishing",
                "the same, extrapolated to 1M files",
                f"{million / 60:.0f} min (linear)",
                "<= 5 min",
                million <= 300,
                f"from {build_files:,} files",
            ),
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return section
