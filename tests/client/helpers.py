"""Helpers for the tufpip tests: the ``tufpip`` command run as a subprocess (as
users run it), the distributions of the test repositories, and checks on
environments and published metadata."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tuf.api.metadata import Metadata, Timestamp

from repo_sign.workspace import Workspace
from tests.support.distributions import make_backend_wheel, make_sdist, make_wheel
from tests.support.repositories import role_signers


@dataclass
class Tufpip:
    """The ``tufpip`` command with its own TUFPIP_HOME, run without a terminal
    and outside any virtual environment the tests themselves run in."""

    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ, TUFPIP_HOME=str(self.home))
        env.pop("VIRTUAL_ENV", None)
        env.update(extra)
        return env

    def __call__(
        self, *args: str | Path, umask: int = -1, cwd: Path | None = None, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``tufpip ARGS`` (with the user's ``umask`` if it is >= 0, in folder ``cwd``)."""
        command = [sys.executable, "-m", "tufpip", *map(str, args)]
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env(**extra),
            umask=umask,
            cwd=cwd,
        )


@dataclass
class Served:
    """A repository built by repo-sign and served on 127.0.0.1."""

    workspace: Workspace
    url: str

    @property
    def root(self) -> Path:
        return self.workspace.root / "metadata" / "1.root.json"

    def stored(self, target_path: str) -> Path:
        """The file on the server holding ``target_path`` (consistent-snapshot name)."""
        directory, _, name = target_path.rpartition("/")
        return next((self.workspace.root / "targets" / directory).glob(f"*.{name}"))


def distributions(directory: Path) -> list[Path]:
    """A dependency chain, an extra, scripts, an sdist needing the index's build backend.

    epsilon has a console script (installers write its wrapper) and a script
    in ``.data/scripts`` whose ``#!python`` line installers rewrite.
    """
    return [
        make_wheel(directory, "alpha", "1.0", requires=["beta>=1"]),
        make_wheel(directory, "beta", "1.0"),
        make_wheel(
            directory,
            "epsilon",
            "3.0",
            extras={"fast": ["zeta"]},
            body="def main() -> None:\n    print(VERSION)\n",
            files={
                "epsilon-3.0.dist-info/entry_points.txt": "[console_scripts]\n"
                "epsilon-cli = epsilon:main\n",
                "epsilon-3.0.data/scripts/epsilon-tool": "#!python\nimport epsilon\n"
                "epsilon.main()\n",
            },
        ),
        make_wheel(directory, "zeta", "1.2.3"),
        make_sdist(directory, "lambda-pkg", "1.0", requires=["beta"]),
        make_backend_wheel(directory),
    ]


def installed(python: Path) -> set[str]:
    """Distribution names installed in the environment of ``python``."""
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    return {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}


def run_python(python: Path, code: str) -> str:
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


def publish_expired_timestamp(workspace: Workspace) -> datetime.datetime:
    """Sign and publish a newer timestamp that expired an hour ago; return its expiry."""
    [signer] = role_signers(workspace.root, "timestamp")
    path = workspace.root / "metadata" / "timestamp.json"
    timestamp = Metadata[Timestamp].from_file(str(path))
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    timestamp.signed.version += 1
    timestamp.signed.expires = now - datetime.timedelta(hours=1)
    timestamp.sign(signer)
    path.write_bytes(timestamp.to_bytes())
    return timestamp.signed.expires
