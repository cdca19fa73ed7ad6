"""Real commands, real keys and real HTTP for the ceremony tests.

``repo-sign`` runs through its real ``main()``: in this process by default
(fast), or in a separate process (``separate=True``) where it matters that
key holders work on their own machines; key holders' folders never see the
workspace. ``tufpip`` always runs as a separate process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from click.testing import CliRunner
from tuf.api.metadata import Metadata, Snapshot, Timestamp
from tuf.ngclient import Updater

from repo_sign.cli import main
from repo_sign.serve import RepositoryServer
from repo_sign.workspace import Workspace
from tests.support.repositories import command_env as support_env

PASSPHRASE = "ceremony test passphrase"


def command_env(**extra: str) -> dict[str, str]:
    return support_env(REPO_SIGN_PASSPHRASE=PASSPHRASE, **extra)


def repo_sign(
    *args: str | Path, cwd: Path | None = None, check: bool = True, separate: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``repo-sign`` as a user would (its ``main()``, exit status and output)."""
    argv = [str(a) for a in args]
    if separate:
        command = [sys.executable, "-m", "repo_sign", *argv]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=command_env(),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
        )
    else:
        result = _in_process(argv, cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"repo-sign {args} failed ({result.returncode}):\n{result.stderr}")
    return result


def _in_process(argv: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    runner = CliRunner()
    previous = Path.cwd()
    with runner.isolation(env={"REPO_SIGN_PASSPHRASE": PASSPHRASE}) as (out, err, _):
        try:
            os.chdir(cwd or previous)
            code = main(argv)
        finally:
            os.chdir(previous)
        return subprocess.CompletedProcess(
            argv, code, out.getvalue().decode(), err.getvalue().decode()
        )


def refused(*args: str | Path, cwd: Path | None = None) -> str:
    """Run a ``repo-sign`` command that must fail with one line on stderr; return it."""
    result = repo_sign(*args, cwd=cwd, check=False)
    assert result.returncode != 0, f"repo-sign {args} succeeded:\n{result.stdout}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("repo-sign: error: "), lines[0]
    return lines[0]


class Holder:
    """A key holder: a folder of their own (their machine) with one key."""

    def __init__(self, machine: Path, name: str = "key") -> None:
        self.machine = machine
        self.machine.mkdir(parents=True, exist_ok=True)
        self.key = machine / name
        if not self.key.exists():
            repo_sign("key", "new", "--out", name, cwd=machine)
        self.pub = Path(f"{self.key}.pub")
        self.keyid: str = json.loads(self.pub.read_text())["keyid"]

    def sign(self, proposal: Path, separate: bool = False) -> subprocess.CompletedProcess[str]:
        """Carry the proposal to this machine, sign it there, carry it back."""
        local = self.machine / proposal.name
        shutil.copyfile(proposal, local)
        result = repo_sign(
            "ceremony",
            "sign",
            local.name,
            "--key",
            self.key.name,
            "--yes",
            cwd=self.machine,
            separate=separate,
        )
        shutil.copyfile(local, proposal)
        return result


def workspace_holders(ws: Workspace, role: str = "root") -> list[Holder]:
    """The keys ``init`` made for ``role``, each moved to a machine of its own."""
    holders = []
    for pub in sorted(ws.keys.glob(f"{role}-*.pub")):
        private = pub.with_suffix("")
        machine = ws.root.parent / f"holder-{private.name}"
        machine.mkdir(exist_ok=True)
        shutil.copyfile(pub, machine / "key.pub")
        shutil.copyfile(private, machine / "key")
        holders.append(Holder(machine))
    return holders


def ceremony(ws: Workspace, signers: list[Holder], *change: str | Path) -> str:
    """Propose a root change, have ``signers`` sign in turn, publish."""
    repo_sign("--repo", ws.root, "ceremony", "propose", "root", *change)
    for holder in signers:
        holder.sign(ws.staged / "root.json")
    return repo_sign("--repo", ws.root, "ceremony", "publish").stdout


def sign_and_publish(ws: Workspace, role: str = "root") -> str:
    """The staged ``role`` proposal signed by two of the keys ``init`` made for it, published."""
    for holder in workspace_holders(ws, role)[:2]:
        holder.sign(ws.staged / f"{role}.json")
    return repo_sign("--repo", ws.root, "ceremony", "publish").stdout


def role_keyids(ws: Workspace, role: str) -> list[str]:
    status = json.loads(repo_sign("--repo", ws.root, "status", "--json").stdout)
    return status["roles"][role]["keys"]


def rebin(ws: Workspace, *counts: str) -> None:
    """Rebin to each of ``counts`` in turn; retired bins stay listed in the snapshot."""
    for count in counts:
        repo_sign("--repo", ws.root, "rebin", count)
    if counts:
        status = json.loads(repo_sign("--repo", ws.root, "status", "--json").stdout)
        assert sum(role.startswith("bins-") for role in status["roles"]) == int(counts[-1])
        timestamp = Metadata[Timestamp].from_file(str(ws.metadata / "timestamp.json")).signed
        version = timestamp.snapshot_meta.version
        listed = Metadata[Snapshot].from_file(str(ws.metadata / f"{version}.snapshot.json"))
        assert sum(name.startswith("bins-") for name in listed.signed.meta) > int(counts[-1])


@contextmanager
def served(ws: Workspace) -> Iterator[RepositoryServer]:
    """Serve a workspace on 127.0.0.1 (``serve_from`` switches what is served)."""
    server = RepositoryServer(ws)
    server.start_background()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def serve_from(server: RepositoryServer, root: Path) -> None:
    """Serve another folder's metadata/ and targets/ at the same URL (a compromised server)."""
    server.RequestHandlerClass.root = root  # type: ignore[attr-defined]


def tufpip(home: Path, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tufpip", *map(str, args)]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=command_env(TUFPIP_HOME=str(home)),
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"tufpip {args} failed ({result.returncode}):\n{result.stderr}")
    return result


def trusted_version(home: Path, role: str) -> int:
    status = json.loads(tufpip(home, "status", "--json").stdout)
    return status["roles"][role]["version"]


def ngclient(url: str, cache: Path, bootstrap: bytes | None) -> Updater:
    """A bare python-tuf client; ``bootstrap=None`` trusts its cached root."""
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "targets").mkdir(exist_ok=True)
    return Updater(
        str(cache),
        f"{url}/metadata/",
        str(cache / "targets"),
        f"{url}/targets/",
        bootstrap=bootstrap,
    )


def ngclient_fetch(url: str, cache: Path, bootstrap: bytes | None, target: str) -> bytes:
    """Refresh, then download and verify one target."""
    updater = ngclient(url, cache, bootstrap)
    updater.refresh()
    info = updater.get_targetinfo(target)
    assert info is not None, target
    path = updater.download_target(info, str(cache / "targets" / Path(target).name))
    return Path(path).read_bytes()


def root_version(cache: Path) -> int:
    return Metadata.from_file(str(cache / "root.json")).signed.version
