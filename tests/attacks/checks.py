"""What every attack must show: refused, in one line, with nothing changed.

The issue's contract for each attack: a non-zero exit status; one line on
stderr naming the failure class; no traceback; the target environment
unchanged; and the client's trusted metadata not advanced to the attacker's
state, which ``assert_recovers`` proves by an honest run that works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.attacks.attacker import AttackerServer
from tests.attacks.forge import Forger
from tests.support.repositories import repo_sign

ERROR_PREFIX = "tufpip: error: "
TUFPIP_SCRIPT = Path(sys.executable).parent / "tufpip"


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes (symlinks by target)."""
    result = {}
    for path in sorted(directory.rglob("*")):
        relative = str(path.relative_to(directory))
        if path.is_symlink():
            result[relative] = os.readlink(path).encode()
        elif path.is_file():
            result[relative] = path.read_bytes()
    return result


def installed(venv: Path) -> set[str]:
    """Distribution names installed in a virtual environment."""
    site = next(venv.glob("lib/python*/site-packages"))
    return {p.name.split("-")[0].lower().replace("_", "-") for p in site.glob("*.dist-info")}


@dataclass
class Run:
    """One finished ``tufpip`` process."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_kb: int = 0

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith(ERROR_PREFIX)]

    def describe(self) -> str:
        return f"tufpip {' '.join(self.args)} -> {self.returncode}\n{self.stderr[-3000:]}"


@dataclass
class Client:
    """The ``tufpip`` command line with its own state folder (TUFPIP_HOME)."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
        env.update(self.env, TUFPIP_HOME=str(self.home))
        env.update(extra or {})
        return env

    def __call__(
        self,
        *args: str | Path,
        timeout: float = 120,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Run:
        """Run tufpip to completion; measure its time and peak memory (``wait4``).

        With ``cwd``, tufpip runs there as users start it, by its console
        script (``python -m`` would put that folder on tufpip's own path).
        """
        argv = tuple(map(str, args))
        command = [sys.executable, "-m", "tufpip"] if cwd is None else [str(TUFPIP_SCRIPT)]
        start = time.monotonic()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                [*command, *argv],
                stdout=out,
                stderr=err,
                env=self.environment(env),
                cwd=cwd,
            )
            timer = threading.Timer(timeout, process.kill)
            timer.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            finally:
                timer.cancel()
            process.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = (
                out.read().decode(errors="replace"),
                err.read().decode(errors="replace"),
            )
        seconds = time.monotonic() - start
        if seconds >= timeout:
            raise AssertionError(f"tufpip {' '.join(argv)} killed after {timeout} s:\n{stderr}")
        return Run(argv, process.returncode, stdout, stderr, seconds, usage.ru_maxrss)

    def install(self, venv: Path, *requirements: str, installer: str = "pip", **kw: object) -> Run:
        return self(
            "install",
            "--installer",
            installer,
            "--python",
            venv / "bin" / "python",
            *requirements,
            **kw,  # type: ignore[arg-type]
        )


def assert_refused(run: Run, *words: str | tuple[str, ...], code: int = 4) -> str:
    """Non-zero ``code``, one error line containing every word (a tuple: any of
    them), no traceback. Returns the error line."""
    assert run.returncode == code, run.describe()
    assert "Traceback" not in run.stderr + run.stdout, run.describe()
    lines = run.error_lines
    assert len(lines) == 1, run.describe()
    line = lines[0]
    assert run.stderr.strip().splitlines()[-1] == line, run.describe()
    for word in words:
        options = word if isinstance(word, tuple) else (word,)
        assert any(option.lower() in line.lower() for option in options), (
            f"none of {options} in {line!r}"
        )
    return line


@dataclass
class Mirror:
    """A copy of the test repository, its workspace and the attacker serving it."""

    workspace: Path
    server: AttackerServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def root(self) -> Path:
        return self.workspace / "metadata" / "1.root.json"

    @property
    def forger(self) -> Forger:
        return Forger(self.workspace)


def assert_recovers(
    client: Client, mirror: Mirror, venv: Path, project: str = "beta", publishes: int = 0
) -> Run:
    """The attacker leaves: an honest install into ``venv`` works (with uv: fast,
    and a second installer seeing the same verified index).

    ``publishes``: where the attacker held the timestamp key, its timestamp
    version N is trusted, as TUF allows; the client recovers once the
    repository publishes past N (``repo-sign refresh --force`` that many times).
    """
    mirror.server.honest()
    for _ in range(publishes):
        repo_sign("refresh", "--force", "--repo", mirror.workspace)
    run = client.install(venv, project, installer="uv")
    assert run.returncode == 0, run.describe()
    assert project in installed(venv)
    return run
