"""Target 1: install overhead of tufpip against what users run without it.

Two file sets: ``requests`` and its dependencies (real wheels from PyPI,
downloaded once with ``pip download`` into ``~/.cache/tufpip-bench``; if that
fails, synthetic wheels with the same dependency shape), and ``dozen``: twelve
synthetic pure-Python wheels with a dependency tree (no network).

Both sides get the same files over loopback HTTP (``http.server``, Nagle off):
- baseline: a PEP 503 folder (``simple/NAME/index.html`` with ``#sha256=``
  and PEP 658 ``data-core-metadata``, plus ``FILE.metadata``), installed as
  users install: ``VENV/bin/python -m pip install --index-url`` with the
  very pip tufpip runs (the venv's pip is that version), and plain
  ``uv pip install --python VENV/bin/python --index-url``;
- tufpip: a repository built by ``repo-sign`` from those files, served
  statically, installed with ``tufpip install --python VENV/bin/python``
  (``--installer uv``).

Each run installs into a fresh virtual environment (copied untimed from a
template made with ``uv venv`` plus tufpip's pip), installer caches off
(tufpip given ``--no-cache-dir``) unless the configuration says "cache on".
tufpip "warm" reuses its state (trusted metadata and verified targets from a
previous run); "cold" starts from a state that only holds the trusted root
(metadata and files fetched and verified in the timed run, index server
start included). Runs alternate baseline / tufpip so drift hits both; ratios
are of medians. The row "pip --python" is pip run from another environment
into the venv (it starts pip twice), shown only for comparison.

``tufpip serve`` (target 14): one service per file set, started before the
runs on a home of its own and warmed by one install through it; plain
``VENV/bin/python -m pip install`` and ``uv pip install --python`` (caches
off) are given its URL as their ``--index-url``, against the same plain
commands given the static index.

"cache on" compares tufpip as it runs by default (pip's cache on, in a
cache folder of the benchmark's own) with plain pip given a cache folder
and ``--trusted-host`` for the loopback index, without which pip caches
nothing fetched over plain HTTP. tufpip keeps uv's cache off; plain uv with
its cache on is shown for what that costs.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.common import (
    RUNS,
    Row,
    Section,
    bench_env,
    fmt_s,
    med,
    repo_sign,
    run,
    static_server,
)

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tufpip-bench"
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
PIP_BASELINE = "`VENV/bin/python -m pip install` (same pip, caches off)"


def requests_wheels() -> tuple[list[Path], str]:
    """Real wheels of requests and its dependencies (cached), else synthetic ones."""
    folder = CACHE / "requests"
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) < 5:
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--only-binary",
                ":all:",
                "--dest",
                str(folder),
                "requests",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=bench_env(),
        )
        wheels = sorted(folder.glob("*.whl"))
        if result.returncode != 0 or len(wheels) < 5:
            return synthetic_requests(), "synthetic (PyPI unreachable)"
    return wheels, f"real wheels from PyPI, cached in {folder}"


def synthetic_requests() -> list[Path]:
    from tests.support.distributions import make_wheel

    folder = Path(tempfile.mkdtemp(prefix="tufpip-bench-req-"))
    return [
        make_wheel(
            folder,
            "requests",
            "2.32.0",
            requires=[
                "charset-normalizer<4,>=2",
                "idna<4,>=2.5",
                "urllib3<3,>=1.21.1",
                "certifi>=2017.4.17",
            ],
        ),
        make_wheel(folder, "charset-normalizer", "3.4.0"),
        make_wheel(folder, "idna", "3.10"),
        make_wheel(folder, "urllib3", "2.2.3"),
        make_wheel(folder, "certifi", "2024.8.30"),
    ]


def dozen_wheels(folder: Path) -> list[Path]:
    """Twelve synthetic packages: app -> web, db, cli; web -> http, template; ..."""
    from tests.support.distributions import make_wheel

    body = "DATA = " + repr("x" * 20_000) + "\n"
    tree = {
        "app": ["web", "db", "cli"],
        "web": ["http-core", "template"],
        "db": ["pool", "dialect"],
        "cli": ["color", "args"],
        "http-core": ["codec"],
        "template": ["codec", "escape"],
        "pool": [],
        "dialect": ["codec"],
        "color": [],
        "args": [],
        "codec": [],
        "escape": [],
    }
    return [
        make_wheel(folder, name, "1.0", requires=deps, body=body) for name, deps in tree.items()
    ]


def plain_index(wheels: list[Path], folder: Path) -> None:
    """A PEP 503 static index with PEP 658 metadata files: what pip users have today."""
    from repo_sign.distributions import inspect
    from repo_sign.fsutil import sha256_file

    by_project: dict[str, list[str]] = {}
    for wheel in wheels:
        dist = inspect(wheel)
        target = folder / "packages" / dist.project
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(wheel, target / wheel.name)
        assert dist.core_metadata is not None
        (target / f"{wheel.name}.metadata").write_bytes(dist.core_metadata)
        import hashlib

        meta_sha = hashlib.sha256(dist.core_metadata).hexdigest()
        sha = sha256_file(wheel)[1]
        url = html.escape(f"../../packages/{dist.project}/{wheel.name}")
        by_project.setdefault(dist.project, []).append(
            f'<a href="{url}#sha256={sha}" data-core-metadata="sha256={meta_sha}" '
            f'data-dist-info-metadata="sha256={meta_sha}">{html.escape(wheel.name)}</a><br>'
        )
    for project, links in by_project.items():
        page = folder / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        (page / "index.html").write_text(
            "<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n"
        )


def venv_template(path: Path) -> Path:
    """A venv holding exactly the pip tufpip runs (copied from tufpip's environment)."""
    import pip

    run([UV, "venv", "--quiet", "--no-config", str(path)])
    (site,) = path.glob("lib/python*/site-packages")
    source = Path(pip.__file__).parent
    shutil.copytree(source, site / "pip")
    (info,) = source.parent.glob(f"pip-{pip.__version__}.dist-info")
    shutil.copytree(info, site / info.name)
    return path


def fresh_venv(path: Path, template: Path) -> str:
    """``path`` as a copy of ``template``: pip finds its files by the venv's own paths."""
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(template, path, symlinks=True)
    return str(path / "bin" / "python")


class Bench:
    """One file set, its plain index and its tufpip repository, both being served."""

    def __init__(self, work: Path, wheels: list[Path], requirement: str, template: Path) -> None:
        self.work = work
        self.requirement = requirement
        plain_index(wheels, work / "plain")
        repo = work / "repo"
        repo_sign("init", "--repo", repo, "--bins", "16")
        repo_sign("add", "--repo", repo, *wheels)
        www = work / "www"
        www.mkdir()
        for name in ("metadata", "targets"):
            (www / name).symlink_to(repo / name)
        self.repo = repo
        self.www = www
        self.venv = work / "venv"
        self.template = template if template.exists() else venv_template(template)

    def tufpip_home(self, url: str, name: str) -> Path:
        home = self.work / name
        shutil.rmtree(home, ignore_errors=True)
        root = self.repo / "metadata" / "1.root.json"
        run(["tufpip", "init", url, "--root", str(root)], env=bench_env(TUFPIP_HOME=str(home)))
        return home

    @contextlib.contextmanager
    def service(self, url: str) -> Iterator[str]:
        """``tufpip serve --port 0`` on a home of its own; yield its index URL."""
        env = bench_env(TUFPIP_HOME=str(self.tufpip_home(url, "home-serve")))
        command = ["tufpip", "serve", "--port", "0"]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        ) as process:
            assert process.stdout is not None
            index = process.stdout.readline().strip()
            try:
                if not index.startswith("http://127.0.0.1:"):
                    raise RuntimeError(f"tufpip serve did not start (exit {process.poll()})")
                yield index
            finally:
                process.send_signal(signal.SIGTERM)
                if process.wait(timeout=30) != 0:
                    raise RuntimeError(f"tufpip serve exited with {process.returncode}")

    def time(
        self,
        command: Callable[[str], list[str]],
        env: dict[str, str] | None = None,
        before: Callable[[], None] | None = None,
    ) -> float:
        python = fresh_venv(self.venv, self.template)
        if before:
            before()
        start = time.perf_counter()
        run(command(python), env=env or bench_env())
        elapsed = time.perf_counter() - start
        probe = "import " + self.requirement.replace("-", "_")
        run([python, "-c", probe])
        return elapsed


def measure(bench: Bench, runs: int) -> dict[str, float]:
    """Medians in seconds of every configuration, runs interleaved."""
    results: dict[str, list[float]] = {}
    req = bench.requirement
    with (
        static_server(bench.work / "plain") as plain,
        static_server(bench.www) as repo_url,
        bench.service(repo_url) as served,
    ):
        index = f"{plain}/simple/"
        warm_home = bench.tufpip_home(repo_url, "home-warm")
        template = bench.tufpip_home(repo_url, "home-template")
        cold_home = bench.work / "home-cold"
        pip_cache = bench.work / "pip-cache"
        uv_cache = bench.work / "uv-cache"
        tufpip_xdg = bench.work / "tufpip-xdg-cache"
        plain_host = index.split("/")[2]

        def reset_cold() -> None:
            shutil.rmtree(cold_home, ignore_errors=True)
            shutil.copytree(template, cold_home)

        general = ["--isolated", "--disable-pip-version-check", "--quiet"]

        def pip(py: str, *options: str, url: str = index) -> list[str]:
            """``VENV/bin/python -m pip install``: what users run."""
            return [py, "-m", "pip", *general, "install", "--index-url", url, *options, req]

        def uv(py: str, *options: str, url: str = index) -> list[str]:
            """``uv pip install --python VENV/bin/python``: what users run."""
            command = [UV, "pip", "install", "--quiet", "--no-config", *options, "--python", py]
            return [*command, "--index-url", url, req]

        def uv_tufpip(py: str) -> list[str]:
            return ["tufpip", "install", "--installer", "uv", "--python", py, "--quiet", req]

        configs: dict[str, tuple[Callable[[str], list[str]], dict | None, Callable | None]] = {
            "pip plain": (lambda py: pip(py, "--no-cache-dir"), None, None),
            "pip tufpip warm": (
                lambda py: ["tufpip", "install", "--python", py, "--quiet", "--no-cache-dir", req],
                bench_env(TUFPIP_HOME=str(warm_home)),
                None,
            ),
            "pip tufpip cold": (
                lambda py: ["tufpip", "install", "--python", py, "--quiet", "--no-cache-dir", req],
                bench_env(TUFPIP_HOME=str(cold_home)),
                reset_cold,
            ),
            "uv plain": (lambda py: uv(py, "--no-cache"), None, None),
            "uv tufpip warm": (
                uv_tufpip,
                bench_env(TUFPIP_HOME=str(warm_home)),
                None,
            ),
            "uv tufpip cold": (
                uv_tufpip,
                bench_env(TUFPIP_HOME=str(cold_home)),
                reset_cold,
            ),
            "pip plain, pip cache on": (
                lambda py: pip(py, "--cache-dir", str(pip_cache), "--trusted-host", plain_host),
                None,
                None,
            ),
            "pip tufpip warm, pip cache on": (
                lambda py: ["tufpip", "install", "--python", py, "--quiet", req],
                bench_env(TUFPIP_HOME=str(warm_home), XDG_CACHE_HOME=str(tufpip_xdg)),
                None,
            ),
            "pip --python": (
                lambda py: [
                    *(sys.executable, "-m", "pip", *general, "--no-cache-dir", "--python", py),
                    *("install", "--index-url", index, req),
                ],
                None,
                None,
            ),
            "uv plain, uv cache on": (lambda py: uv(py, "--cache-dir", str(uv_cache)), None, None),
            "pip serve": (lambda py: pip(py, "--no-cache-dir", url=served), None, None),
            "uv serve": (lambda py: uv(py, "--no-cache", url=served), None, None),
        }
        for command, env, before in configs.values():  # prime caches, warm state and service
            if before is None:
                bench.time(command, env, before)
        for _ in range(runs):
            for name, (command, env, before) in configs.items():
                results.setdefault(name, []).append(bench.time(command, env, before))
    return {name: med(times) for name, times in results.items()}


def rows_for(label: str, t: dict[str, float]) -> list[Row]:
    def ratio(a: str, b: str, goal: float, target: str, what: str) -> Row:
        r = t[a] / t[b]
        return Row(
            target,
            what,
            f"{r:.2f} ({fmt_s(t[a])} vs {fmt_s(t[b])})",
            f"<= {goal:.2f}",
            r <= goal,
            label,
        )

    return [
        ratio("pip tufpip warm", "pip plain", 1.10, "1 install", f"tufpip / {PIP_BASELINE}, warm"),
        ratio("pip tufpip cold", "pip plain", 1.25, "1 install", f"tufpip / {PIP_BASELINE}, cold"),
        Row(
            "1 install",
            "tufpip --installer uv / `uv pip install --python VENV`, warm",
            f"{t['uv tufpip warm'] / t['uv plain']:.2f} "
            f"({fmt_s(t['uv tufpip warm'])} vs {fmt_s(t['uv plain'])})",
            "report (goal: through `tufpip serve`, below)",
            size=label,
        ),
        ratio(
            "uv serve",
            "uv plain",
            1.25,
            "14 serve",
            "`uv pip install --python VENV` through `tufpip serve` / from the static index"
            " (warm service, uv cache off)",
        ),
        ratio(
            "pip serve",
            "pip plain",
            1.05,
            "14 serve",
            f"{PIP_BASELINE} through `tufpip serve` / from the static index (warm service)",
        ),
        Row(
            "1 install",
            "tufpip --installer uv / `uv pip install --python VENV`, cold",
            f"{t['uv tufpip cold'] / t['uv plain']:.2f} ({fmt_s(t['uv tufpip cold'])})",
            size=label,
        ),
        Row(
            "1 install",
            f"plain `pip --python VENV install` (pip started twice) / {PIP_BASELINE}",
            f"{t['pip --python'] / t['pip plain']:.2f} ({fmt_s(t['pip --python'])})",
            size=label,
        ),
        Row(
            "1 install",
            "tufpip / pip, both with pip's cache on (warm)",
            f"{t['pip tufpip warm, pip cache on'] / t['pip plain, pip cache on']:.2f} "
            f"({fmt_s(t['pip tufpip warm, pip cache on'])} vs "
            f"{fmt_s(t['pip plain, pip cache on'])})",
            size=label,
        ),
        Row(
            "1 install",
            "tufpip, pip cache on / off (warm)",
            f"{t['pip tufpip warm, pip cache on'] / t['pip tufpip warm']:.2f}",
            size=label,
        ),
        Row(
            "1 install",
            "tufpip --installer uv (uv cache off) / uv with its cache on",
            f"{t['uv tufpip warm'] / t['uv plain, uv cache on']:.2f}",
            size=label,
        ),
        Row(
            "1 install",
            "plain pip, pip cache on (warm) / off",
            f"{t['pip plain, pip cache on'] / t['pip plain']:.2f} "
            f"({fmt_s(t['pip plain, pip cache on'])})",
            size=label,
        ),
        Row(
            "1 install",
            "plain uv, uv cache on (warm) / off",
            f"{t['uv plain, uv cache on'] / t['uv plain']:.2f} "
            f"({fmt_s(t['uv plain, uv cache on'])})",
            size=label,
        ),
    ]


def run_all(runs: int = RUNS) -> Section:
    section = Section("Install overhead (target 1)")
    work = Path(tempfile.mkdtemp(prefix="tufpip-bench-install-"))
    try:
        wheels, origin = requests_wheels()
        sets = [("requests", wheels, "requests", f"requests + deps, {len(wheels)} {origin}")]
        import pip

        section.text.append(
            f"Baselines: {PIP_BASELINE} into a fresh venv whose pip is the one tufpip runs"
            f" (pip {pip.__version__}), and `uv pip install --python VENV/bin/python`"
            " (uv's cache off); both read a plain static PEP 503 index of the same files."
        )
        dozen = dozen_wheels(work / "dozen-wheels")
        sets.append(("dozen", dozen, "app", "12 synthetic wheels, dependency tree of depth 3"))
        for name, files, requirement, label in sets:
            bench = Bench(work / name, files, requirement, work / "venv-template")
            times = measure(bench, runs)
            section.rows += rows_for(f"{name}: {label}", times)
            section.text.append(
                f"- `{name}` medians of {runs}: "
                + ", ".join(f"{k} {fmt_s(v)}" for k, v in times.items())
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return section
