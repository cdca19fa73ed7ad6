"""Target 5: adding a large distribution runs at the speed of sha256.

A 500 MB wheel (a valid wheel: METADATA plus one large stored member) is
generated in a temporary folder and removed afterwards. Measured, each as a
median of runs on the same file, hot in the page cache:

- ``sha256sum FILE`` then ``cp FILE`` into the same file system: what a
  maintainer would run by hand to hash and copy it (the goal's baseline);
- plain ``hashlib.sha256`` over the file in 1 MiB blocks;
- ``fsutil.StagedFile``: read once, hashed while copied into the workspace;
- ``repo-sign add`` of that file into a fresh repository, end to end
  (a new process: validation, copy, signing, publishing, fsync).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from benchmarks.common import RUNS, Row, Section, fmt_s, med, repo_sign

MB = 1024 * 1024
BLOCK = b"\0" * MB


def make_large_wheel(directory: Path, size_mb: int) -> Path:
    """A valid wheel of about ``size_mb`` MB: METADATA, WHEEL, RECORD and one big file."""
    path = directory / "bigdata-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as wheel:
        wheel.writestr("bigdata/__init__.py", "")
        with wheel.open("bigdata/blob.bin", "w", force_zip64=True) as blob:
            for i in range(size_mb):
                blob.write(i.to_bytes(8, "big") + BLOCK[8:])
        wheel.writestr(
            "bigdata-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: bigdata\nVersion: 1.0\n",
        )
        wheel.writestr(
            "bigdata-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: benchmarks\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr("bigdata-1.0.dist-info/RECORD", "")
    return path


def sha256_only(path: Path) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MB):
            digest.update(block)
    digest.hexdigest()


def run(size_mb: int = 500, runs: int = RUNS) -> Section:
    from repo_sign.fsutil import StagedFile

    section = Section("Hashing throughput (target 5)")
    work = Path(tempfile.mkdtemp(prefix="tufpip-bench-hash-"))
    try:
        wheel = make_large_wheel(work, size_mb)
        size = wheel.stat().st_size
        sha_times, staged_times, add_times, manual_times = [], [], [], []
        sha256_only(wheel)  # into the page cache
        staging = work / "staging"
        for i in range(runs):
            start = time.perf_counter()
            subprocess.run(["sha256sum", str(wheel)], check=True, capture_output=True)
            subprocess.run(["cp", str(wheel), str(work / "copy.whl")], check=True)
            manual_times.append(time.perf_counter() - start)
            (work / "copy.whl").unlink()

            start = time.perf_counter()
            sha256_only(wheel)
            sha_times.append(time.perf_counter() - start)

            start = time.perf_counter()
            staged = StagedFile(wheel, staging)
            staged_times.append(time.perf_counter() - start)
            staged.discard()

            repo = work / f"repo{i}"
            repo_sign("init", "--repo", repo, "--bins", "16")
            start = time.perf_counter()
            repo_sign("add", "--repo", repo, wheel)
            add_times.append(time.perf_counter() - start)
            shutil.rmtree(repo)
        sha, staged_s, add = med(sha_times), med(staged_times), med(add_times)
        manual = med(manual_times)
        label = f"{size / MB:.0f} MB wheel"
        section.rows += [
            Row(
                "5 hashing",
                "sha256 of the file (1 MiB blocks)",
                f"{fmt_s(sha)} ({size / MB / sha:.0f} MB/s)",
                size=label,
            ),
            Row(
                "5 hashing",
                "StagedFile copy+hash / sha256",
                f"{staged_s / sha:.2f} ({fmt_s(staged_s)})",
                "informational",
                size=label,
            ),
            Row(
                "5 hashing",
                "`repo-sign add` end to end / sha256",
                f"{add / sha:.2f} ({fmt_s(add)}, {size / MB / add:.0f} MB/s)",
                size=label,
            ),
            Row(
                "5 hashing",
                "`repo-sign add` end to end / (`sha256sum` + `cp`)",
                f"{add / manual:.2f} ({fmt_s(add)} vs {fmt_s(manual)})",
                "<= 1.10",
                add / manual <= 1.10,
                label,
            ),
        ]
        section.text.append(
            f"Hashing: {size / MB:.0f} MB file, medians of {runs} runs. `repo-sign add` reads the "
            "file once in 1 MiB blocks, hashing while it copies into `targets/`, then fsyncs "
            "the copy; the difference to plain sha256 is the write and fsync of the copy "
            "plus process start, key loading and signing (about 0.3 s)."
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return section
