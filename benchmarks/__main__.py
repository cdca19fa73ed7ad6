"""``python -m benchmarks``: run every benchmark, print the table, write docs/performance.md.

Default sizes fit ``make bench`` in well under fifteen minutes on two cores
(the client measurement includes the million-file repository); ``--full``
also uses a 1M-file workspace for publishing and builds 100,000 wheels from
scratch (20,000 by default; much longer, several GB of RAM).
Every number says which size it used.
"""

from __future__ import annotations

import argparse
import compileall
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import hashing, install, publish, scale
from benchmarks.common import INSTALL_RUNS, REPO_ROOT, RUNS, Section, fmt_s
from benchmarks.report import render

ALL = ("install", "scale", "publish", "hashing")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--full", action="store_true", help="include the 1M-file repository")
    parser.add_argument(
        "--runs",
        type=int,
        help=f"runs per timing (median; default {INSTALL_RUNS} for installs, {RUNS} otherwise)",
    )
    parser.add_argument("--only", choices=ALL, action="append", help="run only these")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    chosen = args.only or list(ALL)
    _compile_sources()
    client_sizes = [10_000, 100_000, 1_000_000]  # synthetic metadata: fits the default run
    publish_size = 1_000_000 if args.full else 100_000
    build_files = 100_000 if args.full else 20_000
    started = time.perf_counter()
    sections: list[Section] = []
    for name in chosen:
        print(f"== {name}", file=sys.stderr, flush=True)
        if name == "install":
            sections.append(install.run_all(args.runs or INSTALL_RUNS))
        elif name == "scale":
            sections.append(scale.run(client_sizes, args.runs or RUNS))
        elif name == "publish":
            sections.append(publish.run(publish_size, build_files, args.runs or RUNS))
        elif name == "hashing":
            sections.append(hashing.run(500, args.runs or RUNS))
    elapsed = time.perf_counter() - started
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {_cores()} cores; {datetime.now(UTC):%Y-%m-%d}; "
        f"`python -m benchmarks{' --full' if args.full else ''}` took {fmt_s(elapsed)}; "
        f"medians of {args.runs or f'{INSTALL_RUNS} (installs) or {RUNS}'} runs"
    )
    text = render(sections, machine)
    print(text)
    if not args.no_write:
        args.output.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _compile_sources() -> None:
    """Give tufpip and repo-sign the bytecode an install from their wheel has.

    The development install is editable: where ``PYTHONDONTWRITEBYTECODE`` is
    set, as on some CI machines, every run would compile their modules from
    source again (about 30 ms of each tufpip start), a cost users never pay.
    """
    for root in ("client", "contract", "repo_tools"):
        compileall.compile_dir(REPO_ROOT / root, quiet=1)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
