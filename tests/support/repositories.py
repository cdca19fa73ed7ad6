"""Repositories built by the real ``repo-sign`` command, for every test suite."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from securesystemslib.signer import Signer

from repo_sign.keys import load_signer, read_public_key
from repo_sign.serve import RepositoryServer
from repo_sign.workspace import Workspace

PASSPHRASE = "correct horse battery staple"


def command_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env["REPO_SIGN_PASSPHRASE"] = PASSPHRASE
    env.update(extra)
    return env


def repo_sign(
    *args: str | Path, check: bool = True, umask: int = -1, **env: str
) -> subprocess.CompletedProcess:
    """Run the ``repo-sign`` command line as a user would (``umask``: the user's, if >= 0)."""
    command = [sys.executable, "-m", "repo_sign", *map(str, args)]
    result = subprocess.run(
        command, capture_output=True, text=True, env=command_env(**env), umask=umask
    )
    if check and result.returncode != 0:
        raise AssertionError(f"repo-sign {args} failed ({result.returncode}):\n{result.stderr}")
    return result


def build_repository(root: Path, files: list[Path], *init_args: str) -> Workspace:
    """``repo-sign init`` in ``root`` then ``repo-sign add`` every file."""
    repo_sign("init", "--repo", root, *init_args)
    if files:
        repo_sign("add", "--repo", root, *files)
    return Workspace(root)


@contextmanager
def served(workspace: Workspace, credentials: str | None = None) -> Iterator[str]:
    """Serve a workspace on 127.0.0.1; yield its base URL.

    With ``credentials`` (``"user:password"``) every request without them
    gets 401, as a repository behind HTTP basic authentication answers.
    """
    server = RepositoryServer(workspace)
    if credentials is not None:
        server.RequestHandlerClass = _requiring(server.RequestHandlerClass, credentials)
    server.start_background()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


def _requiring(
    handler: type[BaseHTTPRequestHandler], credentials: str
) -> type[BaseHTTPRequestHandler]:
    """``handler`` answering 401 unless a request carries basic auth ``credentials``."""
    expected = "Basic " + base64.b64encode(credentials.encode()).decode()

    class BasicAuth(handler):  # type: ignore[misc,valid-type]
        def send_head(self):  # type: ignore[no-untyped-def]
            if self.headers.get("Authorization") == expected:
                return super().send_head()
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="repository"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None

    return BasicAuth


def role_signers(root: Path, role: str) -> list[Signer]:
    """A workspace's own signers for ``role`` (``bins`` for every hash bin),
    unlocked as repo-sign unlocks them, for tests that forge metadata."""
    keyrole = "bins" if role.startswith("bins-") else role
    signers = [
        load_signer(
            private.name,
            read_public_key(private.with_name(private.name + ".pub")),
            root / "keys",
            lambda _name, _role, _new: PASSPHRASE.encode(),
            keyrole,
        )
        for private in sorted((root / "keys").glob(f"{keyrole}-*"))
        if private.suffix != ".pub"
    ]
    assert signers, f"no key for {role} in {root}/keys"
    return signers


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes, to prove that nothing changed."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".repo-sign.lock"
    }


def mode_tree(root: Path) -> dict[str, int]:
    """The permission bits of ``root`` (as ".") and of everything under it (symlinks followed)."""
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in [root, *sorted(root.rglob("*"))]
    }
