"""tufpip's public facade: one method per command.

Rules:
- Methods raise ``TufpipError`` subclasses and never print; ``cli`` decides
  what the user sees.
- The installer is given only what tufpip built from the user's arguments
  (``arguments``, ``requirements``): canonical options, named requirements
  and canonical copies of requirements files, in a private temporary folder.
  They are built before anything runs: before metadata is refreshed and
  before the index starts.
- An install or download uses one ``Session`` (one refresh, the state lock
  held throughout) and one ``VerifyingIndex`` for the installer's whole run.
- When the installer fails, the reason reported is tufpip's when it has one:
  the first verification failure, else the projects the repository does not
  have, else the installer's exit status.
- Pins (a local file, a lock's files: ``pins``) are checked in the run's
  session, after the refresh, and the installer starts only once all hold.
- A repository's cooldown (``init --cooldown DAYS``) becomes the installer's
  cutoff option (pip's ``--uploaded-prior-to``, uv's ``--exclude-newer``,
  now minus DAYS in UTC) for every resolution, unless the user gave that
  option or installs a lock, whose files were chosen already.
- ``lock`` runs ``pip lock`` through the index like an install; its output
  is read and rewritten (``lockwriter``) in the same session, so the lock's
  files are checked against the metadata pip resolved with.
- Otherwise an install binds the index's socket and starts the installer as
  soon as it holds the state lock, before importing tuf and refreshing: the
  installer's start-up (about 0.3 s for pip) overlaps tufpip's. The index
  answers nothing before the refresh succeeded; when it fails, it answers
  403 until the installer has given up, then the refresh's error is raised.
- Modules that only some commands need (tuf's metadata API and ngclient,
  requests, the index server) are imported by those commands.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuf.api import exceptions as tuf_exc

from tufindex import targetpaths
from tufpip import locks, loopback, pins
from tufpip.arguments import LOCK, canonical_arguments
from tufpip.errors import (
    InstallerFailed,
    NotFound,
    TamperingDetected,
    TufpipError,
    UsageError,
)
from tufpip.installer import Action, Installer
from tufpip.reasons import translate
from tufpip.requirements import RequirementFiles
from tufpip.session import ProgressFactory, Session
from tufpip.state import DEFAULT_NAME, Home, Repository, make_private_folder

if TYPE_CHECKING:
    from tuf.api.metadata import Metadata, Root

    from tufpip.audit import Report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verification:
    """The outcome of ``Client.verify`` for one local file."""

    file: Path
    target: str
    error: TufpipError | None


@dataclass(frozen=True)
class RoleState:
    """A trusted role's version and expiry, as ``Client.status`` reports them."""

    version: int
    expires: str
    expired: bool


@dataclass(frozen=True)
class Status:
    """The trusted state of one recorded repository and the size of its cache."""

    repository: str
    url: str
    roles: dict[str, RoleState]
    cache_files: int
    cache_bytes: int
    cooldown_days: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "repository": self.repository,
            "url": self.url,
            "roles": {role: dataclasses.asdict(state) for role, state in self.roles.items()},
            "cache": {"files": self.cache_files, "bytes": self.cache_bytes},
            "cooldown_days": self.cooldown_days,
        }


class Client:
    """Commands on the recorded repository named ``repository`` (default: the first)."""

    def __init__(
        self,
        home: Home | None = None,
        repository: str | None = None,
        progress: ProgressFactory | None = None,
    ) -> None:
        self.home = home or Home()
        self.repository_name = repository
        self.progress = progress

    @property
    def repository(self) -> Repository:
        return self.home.get(self.repository_name)

    @staticmethod
    def fetch_first_root(url: str) -> Metadata[Root]:
        """``URL/metadata/1.root.json``, checked to be signed by its own keys.

        For trust on first use only: whoever controls the server or the
        network now decides what is trusted from then on.
        """
        from tuf.api.metadata import Metadata, Root

        from tufpip.fetcher import RequestsFetcher

        root_url = f"{url.rstrip('/')}/metadata/1.root.json"
        try:
            with RequestsFetcher() as fetcher:
                data = fetcher.download_bytes(root_url, 512_000)
            root = Metadata[Root].from_bytes(data)
            root.signed.verify_delegate(Root.type, root.signed_bytes, root.signatures)
        except (tuf_exc.RepositoryError, tuf_exc.DownloadError) as exc:
            raise translate(exc, repository=url) from exc
        return root

    def init(
        self,
        url: str,
        root: bytes,
        name: str = DEFAULT_NAME,
        force: bool = False,
        cooldown_days: int | None = None,
    ) -> Repository:
        """Record a repository at base ``url`` that trusts the root metadata ``root``.

        ``force`` replaces a repository recorded as ``name``: its trusted
        metadata and cache are wiped, once ``root`` was found valid.
        ``cooldown_days`` is the default cooldown of its installs.
        """
        from tufpip.updater import build_updater

        repository = self.home.new(name, url, replace=force)
        make_private_folder(self.home.path)
        # The repository's lock first, as runs take it (and the home's lock within it).
        with repository.locked(), self.home.locked():
            repository = dataclasses.replace(
                self.home.new(name, url, replace=force), cooldown_days=cooldown_days
            )
            with tempfile.TemporaryDirectory(dir=self.home.path, prefix=".init-") as scratch:
                trusted = Path(scratch) / "metadata"
                try:
                    build_updater(trusted, repository.metadata_url, None, None, root)
                except (tuf_exc.RepositoryError, ValueError, OSError) as exc:
                    raise UsageError(f"not a valid TUF root metadata file: {exc}") from exc
                self.home.wipe(repository)
                trusted.rename(repository.metadata_dir)
            self.home.record(repository)
        return repository

    def forget(self, name: str) -> Repository:
        """Remove the repository recorded as ``name``, its trusted metadata and its cache."""
        repository = self.home.get(name)
        with repository.locked(), self.home.locked():
            return self.home.forget(name)

    def install(self, args: Sequence[str], installer: Installer) -> None:
        """Run ``installer`` with pip's install ``args`` against the verifying index."""
        self._run(installer, "install", args)

    def download(self, args: Sequence[str], dest: Path, installer: Installer) -> None:
        """Download the resolved, verified distributions for ``args`` into ``dest``."""
        self._run(installer, "download", ["--dest", str(dest), *args])

    def lock(self, args: Sequence[str], installer: Installer) -> str:
        """The PEP 751 lock (``lockwriter``) of what pip resolves for ``args``."""
        from tufpip import lockwriter  # only this command writes locks

        with tempfile.TemporaryDirectory(prefix="tufpip-lock-") as folder:
            resolved = Path(folder) / "pylock.toml"

            def rewrite(session: Session) -> str:
                environment = locks.target_environment(installer.interpreter)
                packages = locks.read(resolved.read_text(encoding="utf-8"), environment, "pip lock")
                return lockwriter.render(session, packages, "pip lock")

            return self._run(installer, "lock", args, [f"--output={resolved}"], rewrite)

    def serve(
        self, on_ready: Callable[[str], None], address: str, port: int | None, max_age: float
    ) -> None:
        """Serve the repository as a verifying index until SIGINT or SIGTERM (``service``)."""
        from tufpip.service import serve

        serve(self.repository, on_ready, address, port, max_age)

    def verify(self, files: Sequence[Path]) -> list[Verification]:
        """Whether each local file is exactly a target of the repository."""
        results = []
        with Session(self.repository, self.progress) as session:
            for file in files:
                target = _target_of(file.name)
                error: TufpipError | None
                try:
                    info = session.targetinfo(target)
                    with open(file, "rb") as data:
                        info.verify_length_and_hashes(data)
                    error = None
                except tuf_exc.LengthOrHashMismatchError:
                    error = TamperingDetected(f"{file} differs from signed {target}")
                except OSError as exc:
                    error = UsageError(f"cannot read {file}: {exc.strerror}")
                except TufpipError as exc:
                    error = exc
                results.append(Verification(file, target, error))
        return results

    def audit(self, python: str) -> Report:
        """Check the environment of ``python`` against the signed wheels (``audit``).

        The environment is read before the refresh, outside the state lock.
        """
        from tufpip import audit

        environment = audit.environment(python)
        with Session(self.repository, self.progress) as session:
            return audit.check(environment, session)

    def projects(self) -> list[str]:
        """Names of the projects the repository signs."""
        with Session(self.repository, self.progress) as session:
            listing = json.loads(session.read(targetpaths.PROJECT_LIST))
        return [project["name"] for project in listing["projects"]]

    def project(self, name: str) -> dict[str, Any]:
        """The signed PEP 691 page of project ``name``."""
        with Session(self.repository, self.progress) as session:
            try:
                return json.loads(session.read(targetpaths.project_page(name)))
            except NotFound:
                raise NotFound(f"unknown package: the repository has no project {name!r}") from None

    def refresh(self) -> Status:
        """Update the trusted metadata; return the new ``status()``."""
        with Session(self.repository, self.progress):
            pass
        return self.status()

    def status(self) -> Status:
        """Trusted versions and expiry of every role, from the persisted metadata."""
        from tuf.api.metadata import Metadata

        repository = self.repository
        roles = {}
        for file in sorted(repository.metadata_dir.glob("*.json")):
            try:
                signed = Metadata.from_file(str(file)).signed
            except (OSError, tuf_exc.RepositoryError) as exc:
                raise repository.damaged(file, exc) from exc
            roles[file.stem] = RoleState(
                signed.version, signed.expires.isoformat(), signed.is_expired()
            )
        cached = [f for f in repository.target_dir.rglob("*") if f.is_file()]
        size = sum(f.stat().st_size for f in cached)
        return Status(
            repository.name, repository.url, roles, len(cached), size, repository.cooldown_days
        )

    def _run(
        self,
        installer: Installer,
        action: Action,
        args: Sequence[str],
        own: Sequence[str] = (),
        finish: Callable[[Session], str] | None = None,
    ) -> str:
        """Run ``installer``'s ``action`` with the user's ``args`` and tufpip's ``own``
        options against the verifying index; once it succeeded, ``finish`` runs in the
        same session and its result is returned (else "")."""
        with contextlib.ExitStack() as stack:
            private = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tufpip-")))
            folders = private / "requirements", private / "cwd"
            for folder in folders:
                folder.mkdir()
            files = RequirementFiles(folders[0], installer.environ, lambda: installer.interpreter)
            table = LOCK if action == "lock" else installer.options
            canonical = canonical_arguments(args, table, files, local=action != "lock")
            repository = self.repository
            canonical = [*_cooldown(repository, installer, canonical, files), *canonical, *own]
            cache = self.home.installer_cache()
            started: list[tuple[socket.socket, subprocess.Popen[bytes]]] = []

            def start_installer() -> None:
                listener = stack.enter_context(loopback.listen(repository.port))
                if (port := loopback.port_of(listener)) != repository.port:
                    self._record_port(repository, port)
                url = loopback.index_url(listener)
                process = installer.start(action, url, canonical, cwd=folders[1], cache=cache)
                started.append((listener, stack.enter_context(process)))

            try:
                session = stack.enter_context(
                    Session(
                        repository, self.progress, on_locked=None if files.pins else start_installer
                    )
                )
            except TufpipError as refusal:
                from tufpip.index import VerifyingIndex

                if started:
                    listener, process = started[0]
                    with VerifyingIndex(listener, None, refusal):
                        process.wait()
                raise
            from tufpip.index import VerifyingIndex

            if files.pins:
                pins.check(session, files.pins)
                start_installer()
            listener, process = started[0]
            with VerifyingIndex(listener, session) as index:
                status = process.wait()
            if status == 0:
                return "" if finish is None else finish(session)
        if index.failures:
            raise index.failures[0]
        if index.missing:
            names = ", ".join(sorted(set(index.missing)))
            raise NotFound(f"unknown package: the repository has no project {names}")
        raise InstallerFailed(f"{installer.name} {action} failed with exit status {status}")

    def _record_port(self, repository: Repository, port: int) -> None:
        """Record ``port``, used because the recorded one was taken, for the next runs.

        Installer caches are keyed by the index URL: staying on the new port
        lets them hit again from the next run on.
        """
        with self.home.locked():
            current = self.home.get(repository.name)
            self.home.record(dataclasses.replace(current, port=port))
        logger.info(
            "port %d is taken: the index of %s now uses %d", repository.port, repository.name, port
        )


def _cooldown(
    repository: Repository, installer: Installer, canonical: Sequence[str], files: RequirementFiles
) -> list[str]:
    """The cutoff option for ``repository``'s cooldown, unless the user gave one or a lock."""
    option = installer.cutoff_option
    given = any(argument.startswith(f"{option}=") for argument in canonical)
    if repository.cooldown_days is None or given or files.locked:
        return []
    cutoff = datetime.now(UTC) - timedelta(days=repository.cooldown_days)
    return [f"{option}={cutoff:%Y-%m-%dT%H:%M:%SZ}"]


def _target_of(filename: str) -> str:
    """The target path a local distribution (or ``.metadata``) file would have."""
    distribution = filename.removesuffix(targetpaths.METADATA_SUFFIX)
    try:
        name, _version, _wheel = targetpaths.parse_filename(distribution)
    except targetpaths.InvalidDistributionName:
        return filename
    if distribution != filename:
        return targetpaths.core_metadata(name, distribution)
    return targetpaths.distribution(name, distribution)
