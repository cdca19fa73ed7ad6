"""The signed repository: every change to metadata goes through here.

Built on python-tuf's ``tuf.repository.Repository``: ``edit_*()`` loads a
role, bumps its version, sets its expiry and signs it; ``do_snapshot()`` and
``do_timestamp()`` chain the new versions. Nothing reaches ``metadata/``
until ``publish()``, which writes bottom-up so that a reader at any moment
sees a complete, valid repository (TUF spec 6.1, consistent snapshots):

1. target files (content-addressed, unreferenced until step 5);
2. delegated targets (``N.bins-X.json``) and ``N.targets.json``;
3. ``N.root.json``, then its copy ``root.json``;
4. ``N.snapshot.json``;
5. ``timestamp.json``, the single file whose rename makes the new state current.

Threshold signing of one version by several key holders does not fit this
model (see ``ceremony``); here every role is signed with the keys the policy
lists and must meet its threshold as a client would check it.

What is read from disk is checked as a client would check it before it is
used or re-signed (type, the version its parent lists, the snapshot's hash,
a threshold of signatures by the keys its *published* delegator trusts): a
damaged or tampered file ends the operation with ``DamagedMetadata`` naming
the file and the repair, and is never signed over.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from packaging.version import InvalidVersion, Version
from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import (
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Signed,
    Snapshot,
    SuccinctRoles,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError
from tuf.repository import Repository

from repo_sign import index, keys
from repo_sign.distributions import Distribution
from repo_sign.errors import ConflictingFile, NotInitialized, PolicyError, ThresholdNotMet
from repo_sign.fsutil import StagedFile, is_complete, write_atomic
from repo_sign.policy import BINS_PREFIX, Policy
from repo_sign.workspace import Workspace
from tufindex import targetpaths

_S = TypeVar("_S", bound=Signed)
TOP_LEVEL = (Root.type, Targets.type, Snapshot.type, Timestamp.type)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # how TUF writes "expires": UTC, whole seconds
_EXPIRES = re.compile(rb'"signed":\{"_type":"[a-z]+","expires":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"')


def _typed(signed: Signed, kind: type[_S]) -> _S:
    if not isinstance(signed, kind):
        raise NotInitialized(f"{signed.type} metadata found where {kind.type} was expected")
    return signed


def _no_passphrases(name: str, role: str | None, new: bool) -> bytes:
    raise AssertionError(f"{name}: a new repository signs with keys already in memory")


def _publish_rank(role: str) -> int:
    """Bottom-up: delegated targets, targets, root, snapshot, timestamp last."""
    return {Targets.type: 1, Root.type: 2, Snapshot.type: 3, Timestamp.type: 4}.get(role, 0)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def expiry(days: float) -> datetime:
    return now() + timedelta(days=days)


def format_time(when: datetime) -> str:
    """A time as metadata writes it, for messages and reports."""
    return when.strftime(TIME_FORMAT)


@dataclass
class Changes:
    """What one operation did, for the CLI to report."""

    published: list[str] = field(default_factory=list)  # metadata files written
    versions: dict[str, int] = field(default_factory=dict)  # of snapshot and timestamp
    targets_added: list[str] = field(default_factory=list)
    targets_removed: list[str] = field(default_factory=list)


class SignedRepository(Repository):
    """A workspace's TUF metadata, edited in memory and published atomically.

    Callers hold ``workspace.lock()`` around an instance's whole life.
    """

    def __init__(
        self, workspace: Workspace, policy: Policy, passphrases: keys.PassphraseProvider
    ) -> None:
        self.workspace = workspace
        self.policy = policy
        self._passphrases = passphrases
        self._signers: dict[str, Signer] = {}
        self._current: dict[str, bytes] = {}  # role -> bytes of its current version
        self._unchecked: dict[str, int | None] = {}  # role -> version read but not yet checked
        self._trusted: dict[str, Signed] = {}  # role -> its current version, checked
        self._staged: dict[str, bytes] = {}  # role -> bytes waiting for publish()
        self._parsed: dict[str, Signed] = {}  # role -> parsed bytes, for reading only
        self._staged_files: dict[Path, bytes | StagedFile] = {}  # target files, likewise
        self._snapshot_versions: dict[str, int] = {}

    # ---- loading -------------------------------------------------------
    @classmethod
    def load(cls, workspace: Workspace, passphrases: keys.PassphraseProvider) -> SignedRepository:
        """Open the current state: newest root, and timestamp -> snapshot -> targets."""
        workspace.require_initialized()
        repo = cls(workspace, Policy.load(workspace.policy_file), passphrases)
        root_version = workspace.newest_root_version()
        repo._load_current(Root.type, root_version)
        if workspace.read_metadata(Root.type, None) != repo._current_bytes(Root.type):
            raise workspace.damaged(Root.type, None, f"not a copy of {root_version}.root.json")
        repo._load_current(Timestamp.type, None)
        snapshot_version = repo.timestamp().snapshot_meta.version
        repo._load_current(Snapshot.type, snapshot_version)
        for name, meta in repo.snapshot().meta.items():
            repo._snapshot_versions[name.removesuffix(".json")] = meta.version
        return repo

    def _load_current(self, role: str, version: int | None) -> None:
        self._current[role] = self.workspace.read_metadata(role, version)
        self._unchecked[role] = version

    def _current_bytes(self, role: str, checked: bool = True) -> bytes:
        """The published version of ``role``, read once, checked unless ``checked`` is False."""
        if role not in self._current:
            version = self._snapshot_versions.get(role)
            if version is None:
                raise NotInitialized(f"role {role} is not in the current snapshot")
            self._load_current(role, version)
        if checked and role in self._unchecked:
            self._check(role, self._unchecked.pop(role))
        return self._current[role]

    def _bytes(self, role: str) -> bytes:
        if role in self._staged:
            return self._staged[role]
        return self._current_bytes(role)

    def _check(self, role: str, version: int | None) -> None:
        """Check the published ``role`` read from disk as a client would (see module doc)."""
        data = self._current[role]
        try:
            md = Metadata.from_bytes(data)
        except DeserializationError as exc:
            raise self.workspace.damaged(role, version, f"not valid TUF metadata ({exc})") from None
        kind = role if role in TOP_LEVEL else Targets.type
        if md.signed.type != kind:
            raise self.workspace.damaged(role, version, f"holds {md.signed.type}, not {kind}")
        if version is not None and md.signed.version != version:
            reason = f"holds version {md.signed.version}, not {version}"
            raise self.workspace.damaged(role, version, reason)
        try:
            if role == Snapshot.type:
                self.timestamp().snapshot_meta.verify_length_and_hashes(data)
            if isinstance(md.signed, Root):
                root = md.signed
                if not root.get_root_verification_result(None, md.signed_bytes, md.signatures):
                    raise UnsignedMetadataError("root threshold not met")
            else:
                delegator = self._trusted_signed(Root.type if role in TOP_LEVEL else Targets.type)
                assert isinstance(delegator, Root | Targets)
                delegator.verify_delegate(role, md.signed_bytes, md.signatures)
        except LengthOrHashMismatchError:
            reason = "its length or hash differs from what timestamp.json records"
            raise self.workspace.damaged(role, version, reason) from None
        except UnsignedMetadataError:
            reason = "not signed by a threshold of its keys"
            raise self.workspace.damaged(role, version, reason) from None
        self._trusted[role] = md.signed
        if role not in self._staged:
            self._parsed[role] = md.signed

    def _trusted_signed(self, role: str) -> Signed:
        """The published (not staged) version of ``role``, checked: the delegator to trust."""
        self._current_bytes(role)
        return self._trusted[role]

    def adopt(self, role: str, data: bytes, signed: Signed) -> None:
        """Take ``data`` (parsed: ``signed``), verified by the caller, as the published ``role``."""
        self._current[role] = data
        self._trusted[role] = signed
        if isinstance(signed, Snapshot):
            self._snapshot_versions = {
                name.removesuffix(".json"): meta.version for name, meta in signed.meta.items()
            }

    def expires(self, role: str) -> datetime:
        """When the current version of ``role`` expires, without parsing all of it.

        Deciding whether thousands of bins are due for re-signing must not
        cost a full parse of each; metadata written by python-tuf has sorted
        keys, so ``signed.expires`` comes before the targets. Anything else
        is parsed in full.
        """
        data = self._staged.get(role) or self._current_bytes(role, checked=False)
        match = _EXPIRES.search(data, 0, 4096)
        if match is None:
            return self._read(role).expires
        return datetime.strptime(match[1].decode(), TIME_FORMAT).replace(tzinfo=UTC)

    def set_staged(self, role: str, data: bytes) -> None:
        """Keep signed ``data`` as the next version of ``role`` for ``publish()``."""
        self._staged[role] = data
        self._parsed.pop(role, None)

    def _read(self, role: str) -> Signed:
        """The current (or staged) ``role``, parsed once per version: never mutate it.

        Looking up thousands of targets must not parse their bin each time;
        ``open()`` still returns a fresh copy for editing.
        """
        if role not in self._parsed:
            data = self._bytes(role)
            if role not in self._parsed:  # checking it may have parsed it
                self._parsed[role] = Metadata.from_bytes(data).signed
        return self._parsed[role]

    def root(self) -> Root:
        return _typed(self._read(Root.type), Root)

    def timestamp(self) -> Timestamp:
        return _typed(self._read(Timestamp.type), Timestamp)

    def snapshot(self) -> Snapshot:
        return _typed(self._read(Snapshot.type), Snapshot)

    def targets(self, rolename: str = Targets.type) -> Targets:
        return _typed(self._read(rolename), Targets)

    # ---- tuf.repository.Repository -------------------------------------
    def open(self, role: str) -> Metadata:
        return Metadata.from_bytes(self._bytes(role))

    def close(self, role: str, md: Metadata) -> None:
        md.signed.version += 1
        self._finish(role, md)

    @property
    def targets_infos(self) -> dict[str, MetaFile]:
        versions = dict(self._snapshot_versions)
        for role, data in self._staged.items():
            if role not in TOP_LEVEL or role == Targets.type:
                versions[role] = Metadata.from_bytes(data).signed.version
        return {f"{role}.json": MetaFile(version) for role, version in versions.items()}

    @property
    def snapshot_info(self) -> MetaFile:
        data = self._bytes(Snapshot.type)
        return MetaFile.from_data(Metadata.from_bytes(data).signed.version, data, ["sha256"])

    # ---- signing -------------------------------------------------------
    def _finish(self, role: str, md: Metadata) -> None:
        """Set expiry from policy, sign with the policy's keys, stage for publishing."""
        md.signed.expires = expiry(self.policy.role(role).expires_days)
        self.sign(role, md)
        self.set_staged(role, md.to_bytes())

    @classmethod
    def create(
        cls,
        workspace: Workspace,
        policy: Policy,
        metadata: dict[str, Metadata],
        signers: dict[str, Signer],
        passphrases: keys.PassphraseProvider = _no_passphrases,
    ) -> list[str]:
        """Publish version 1 of every role in ``metadata`` (see ``initial_metadata``).

        A role that already carries signatures (its key holders signed it in a
        ceremony) is published as it is once it meets its threshold; the others
        are signed here with ``signers`` or the policy's key files.
        """
        repo = cls(workspace, policy, passphrases)
        repo._signers.update(signers)
        # Root first: the other roles' keys are looked up in it while signing;
        # the timestamp last, once the snapshot it describes exists.
        timestamp = metadata.pop(Timestamp.type)
        bins = [r for r in metadata if r not in TOP_LEVEL]
        for role in (Root.type, Targets.type, *bins, Snapshot.type):
            if metadata[role].signatures:
                repo.stage(role, metadata[role])
                continue
            repo.sign(role, metadata[role])
            repo.set_staged(role, metadata[role].to_bytes())
        assert isinstance(timestamp.signed, Timestamp)
        timestamp.signed.snapshot_meta = repo.snapshot_info
        repo.sign(Timestamp.type, timestamp)
        repo.set_staged(Timestamp.type, timestamp.to_bytes())
        return repo.publish()

    def delegator(self, role: str) -> Root | Targets:
        """The metadata that delegates to ``role``: root for the top-level roles, else targets."""
        return self.root() if role in TOP_LEVEL else self.targets()

    def role_keys(self, role: str) -> tuple[dict[str, Key], int]:
        """The keys a client accepts for ``role`` and its threshold (from the delegator)."""
        delegator = self.delegator(role)
        try:
            delegated = delegator.get_delegated_role(role)
        except ValueError:
            raise PolicyError(f"{delegator.type} does not delegate to {role}") from None
        return {k: delegator.get_key(k) for k in delegated.keyids}, delegated.threshold

    def signer(self, keyid: str, public_key: Key) -> Signer:
        if keyid not in self._signers:
            reference = self.policy.signers().get(keyid)
            if reference is None:
                raise ThresholdNotMet(
                    f"repo-sign.toml names no signer for key {keys.short_keyid(keyid)}"
                )
            self._signers[keyid] = keys.load_signer(
                reference,
                public_key,
                self.workspace.root,
                self._passphrases,
                self.policy.signer_role(keyid),
            )
        return self._signers[keyid]

    def sign(self, role: str, md: Metadata) -> None:
        """Sign ``md`` with every key of ``role`` the policy has a signer for.

        Refuses (ThresholdNotMet) unless the result verifies as a client
        would verify it: by the delegating role, and for root also by the
        previous root (TUF spec 5.3.4).
        """
        role_keys, threshold = (
            self._new_root_keys(md) if role == Root.type else self.role_keys(role)
        )
        md.signatures.clear()
        available = [k for k in role_keys if k in self.policy.signers()]
        if len(available) < threshold:
            raise ThresholdNotMet(
                f"{role} needs {threshold} signature(s) but repo-sign.toml names signers for "
                f"{len(available)} of its keys: sign it in a ceremony"
            )
        for keyid in available:
            md.sign(self.signer(keyid, role_keys[keyid]), append=True)
        self.check_threshold(role, md)

    @staticmethod
    def _new_root_keys(md: Metadata) -> tuple[dict[str, Key], int]:
        root = md.signed
        assert isinstance(root, Root)
        r = root.roles[Root.type]
        return {k: root.keys[k] for k in r.keyids}, r.threshold

    def check_threshold(self, role: str, md: Metadata) -> None:
        try:
            if role == Root.type:
                new_root = md.signed
                assert isinstance(new_root, Root)
                previous = self.root() if Root.type in self._current else None
                result = new_root.get_root_verification_result(
                    previous, md.signed_bytes, md.signatures
                )
                if not result.verified:
                    raise UnsignedMetadataError("root threshold not met")
            elif role in TOP_LEVEL:
                self.root().verify_delegate(role, md.signed_bytes, md.signatures)
            else:
                self.targets().verify_delegate(role, md.signed_bytes, md.signatures)
        except UnsignedMetadataError as exc:
            raise ThresholdNotMet(f"{role} is not signed by a threshold of its keys") from exc

    def stage(self, role: str, md: Metadata) -> None:
        """Stage ``md``, signed elsewhere (a ceremony), for ``publish()`` as it is.

        It must already meet its threshold as a client checks it, against the
        current (or already staged) delegator; nothing here re-signs it.
        """
        self.check_threshold(role, md)
        self.set_staged(role, md.to_bytes())

    # ---- publishing ----------------------------------------------------
    def publish(self) -> list[str]:
        """Write staged files and metadata bottom-up (see module docstring); return names.

        Target files and every role below the snapshot are renamed into place
        without a flush each, then one ``os.sync()`` makes them durable before
        the snapshot and the timestamp, which are flushed one by one, refer to
        them: a power cut never leaves a published reference to lost data.
        """
        targets_dir = self.workspace.targets
        for destination, content in self._staged_files.items():
            if isinstance(content, StagedFile):
                content.commit(destination, durable=False)
            elif not is_complete(destination, len(content)):
                write_atomic(destination, content, staging=targets_dir, durable=False)
        self._staged_files.clear()
        written = []
        synced = False
        for role in sorted(self._staged, key=_publish_rank):
            data = self._staged[role]
            durable = role in (Snapshot.type, Timestamp.type)
            if durable and not synced:
                os.sync()
                synced = True
            signed = Metadata.from_bytes(data).signed
            version = None if role == Timestamp.type else signed.version
            self.workspace.write_metadata(role, version, data, durable)
            written.append(self.workspace.metadata_path(role, version).name)
            if role == Root.type:
                self.workspace.write_metadata(Root.type, None, data, durable)
            self._current[role] = data
            self._trusted[role] = signed
            self._unchecked.pop(role, None)
        if not synced:
            os.sync()
        self._staged.clear()
        return written

    # ---- targets -------------------------------------------------------
    def role_for_target(self, path: str) -> str:
        delegations = self.targets().delegations
        if delegations and delegations.succinct_roles:
            return delegations.succinct_roles.get_role_for_target(path)
        return Targets.type

    def target(self, path: str) -> TargetFile | None:
        return self.targets(self.role_for_target(path)).targets.get(path)

    def read_target(self, path: str) -> bytes | None:
        """A published target's bytes, checked against its signed hash."""
        info = self.target(path)
        if info is None:
            return None
        data = self.workspace.target_file(path, info.hashes["sha256"]).read_bytes()
        info.verify_length_and_hashes(data)
        return data

    def stage_target(self, path: str, data: bytes | StagedFile) -> TargetFile:
        """Describe a target file and keep it for publish(), which writes it first."""
        if isinstance(data, StagedFile):
            info = TargetFile(data.length, {"sha256": data.sha256}, path)
        else:
            info = TargetFile.from_data(path, data, ["sha256"])
        self._staged_files[self.workspace.target_file(path, info.hashes["sha256"])] = data
        return info

    def discard(self) -> None:
        """Drop everything staged: nothing of this operation reaches the workspace."""
        for content in self._staged_files.values():
            if isinstance(content, StagedFile):
                content.discard()
        self._staged_files.clear()
        self._staged.clear()
        self._parsed.clear()

    def set_targets(self, changes: dict[str, TargetFile | None]) -> None:
        """Add, replace (TargetFile) or remove (None) targets, one edit per affected role."""
        by_role: dict[str, dict[str, TargetFile | None]] = {}
        for path, info in changes.items():
            by_role.setdefault(self.role_for_target(path), {})[path] = info
        for role, role_changes in sorted(by_role.items()):
            with self.edit_targets(role) as targets:
                for path, info in role_changes.items():
                    if info is None:
                        targets.targets.pop(path, None)
                    else:
                        targets.targets[path] = info

    def project_page(self, project: str) -> index.ProjectPage | None:
        data = self.read_target(targetpaths.project_page(project, "json"))
        return index.ProjectPage.from_json(data) if data is not None else None

    def projects(self) -> set[str]:
        data = self.read_target(targetpaths.PROJECT_LIST)
        return index.parse_project_list(data) if data is not None else set()

    def snapshot_and_timestamp(self) -> list[str]:
        self.do_snapshot()
        self.do_timestamp()
        return self.publish()


def _page_targets(repo: SignedRepository, page: index.ProjectPage) -> dict[str, TargetFile | None]:
    if not page.files:
        return {targetpaths.project_page(page.name, fmt): None for fmt in ("json", "html")}
    return {
        targetpaths.project_page(page.name, "json"): repo.stage_target(
            targetpaths.project_page(page.name, "json"), page.to_json()
        ),
        targetpaths.project_page(page.name, "html"): repo.stage_target(
            targetpaths.project_page(page.name, "html"), page.to_html()
        ),
    }


def add_distributions(
    repo: SignedRepository,
    dists: list[Distribution],
    upload_times: Mapping[str, str] | None = None,
) -> Changes:
    """Add validated distributions; see ``_add``. Nothing changes on error."""
    try:
        return _add(repo, dists, upload_times or {})
    finally:
        repo.discard()


def _add(
    repo: SignedRepository, dists: list[Distribution], upload_times: Mapping[str, str]
) -> Changes:
    """Add validated distributions; one new snapshot and timestamp for all of them.

    Each file is read once, copied while hashed. A file already published
    with the same content is skipped; the same file name with other content
    is refused. Each new file's ``upload-time`` is its upstream's (from
    ``upload_times``, by file name), else now. Nothing is written unless
    everything is signed: callers ``discard()`` on error.
    """
    changes = Changes()
    added_at = now().strftime(index.TIME_FORMAT)
    pages: dict[str, index.ProjectPage] = {}
    new: dict[str, TargetFile | None] = {}
    for dist in dists:
        if dist.project not in pages:
            page = repo.project_page(dist.project)
            pages[dist.project] = page or index.ProjectPage(dist.project)
        page = pages[dist.project]
        copy = StagedFile(dist.path, repo.workspace.targets)
        existing = page.files.get(dist.filename)
        if existing is not None:
            copy.discard()
            if existing.sha256 != copy.sha256:
                raise ConflictingFile(
                    f"{dist.filename} is already published with other content "
                    f"(sha256 {existing.sha256[:16]}...): remove that version first"
                )
            continue
        path = targetpaths.distribution(dist.project, dist.filename)
        new[path] = repo.stage_target(path, copy)
        metadata_sha = None
        if dist.core_metadata is not None:
            meta_path = targetpaths.core_metadata(dist.project, dist.filename)
            metadata_info = repo.stage_target(meta_path, dist.core_metadata)
            new[meta_path] = metadata_info
            metadata_sha = metadata_info.hashes["sha256"]
        page.files[dist.filename] = index.FileEntry(
            dist.filename,
            copy.sha256,
            copy.length,
            dist.requires_python,
            metadata_sha,
            len(dist.core_metadata) if dist.core_metadata is not None else None,
            upload_times.get(dist.filename, added_at),
        )
        changes.targets_added.append(path)
    if not changes.targets_added:
        return changes
    for page in pages.values():
        new.update(_page_targets(repo, page))
    new[targetpaths.PROJECT_LIST] = repo.stage_target(
        targetpaths.PROJECT_LIST, index.project_list(repo.projects() | set(pages))
    )
    repo.set_targets(new)
    changes.published = repo.snapshot_and_timestamp()
    changes.versions = {"snapshot": repo.snapshot().version, "timestamp": repo.timestamp().version}
    return changes


def remove_distributions(repo: SignedRepository, project: str, version: str | None) -> Changes:
    """Remove a project, or one version of it, and republish its index pages."""
    try:
        return _remove(repo, project, version)
    finally:
        repo.discard()


def _remove(repo: SignedRepository, project: str, version: str | None) -> Changes:
    name = targetpaths.normalize(project)
    page = repo.project_page(name)
    if page is None:
        raise ConflictingFile(f"no project {name} in this repository")
    doomed = [
        f
        for f in page.files
        if version is None or str(targetpaths.parse_filename(f)[1]) == str(_version(version))
    ]
    if not doomed:
        raise ConflictingFile(f"{name} has no version {version} in this repository")
    changes = Changes()
    new: dict[str, TargetFile | None] = {}
    for filename in doomed:
        del page.files[filename]
        new[targetpaths.distribution(name, filename)] = None
        new[targetpaths.core_metadata(name, filename)] = None
        changes.targets_removed.append(targetpaths.distribution(name, filename))
    new.update(_page_targets(repo, page))
    if not page.files:
        projects = repo.projects() - {name}
        new[targetpaths.PROJECT_LIST] = repo.stage_target(
            targetpaths.PROJECT_LIST, index.project_list(projects)
        )
    repo.set_targets(new)
    changes.published = repo.snapshot_and_timestamp()
    return changes


def yank(repo: SignedRepository, project: str, version: str, reason: bool | str) -> Changes:
    """Mark every file of ``project`` ``version`` yanked (PEP 592; ``False``: not yanked).

    Only the project's pages change, in one signed publish; nothing is
    published when every file already has that mark.
    """
    wanted = _version(version)

    def mark(page: index.ProjectPage) -> None:
        files = [
            f for f in page.files.values() if targetpaths.parse_filename(f.filename)[1] == wanted
        ]
        if not files:
            raise ConflictingFile(f"{page.name} has no version {version} in this repository")
        for entry in files:
            page.files[entry.filename] = dataclasses.replace(entry, yanked=reason)

    return _edit_page(repo, project, mark)


def set_project_status(
    repo: SignedRepository, project: str, status: str, reason: str | None
) -> Changes:
    """Set a project's PEP 792 status (and reason) on its pages, in one signed publish."""
    if status not in index.STATUSES:
        raise PolicyError(f"{status!r} is not a project status: {', '.join(index.STATUSES)}")

    def mark(page: index.ProjectPage) -> None:
        page.status, page.status_reason = status, reason

    return _edit_page(repo, project, mark)


def _edit_page(
    repo: SignedRepository, project: str, edit: Callable[[index.ProjectPage], None]
) -> Changes:
    """Apply ``edit`` to a project's page and publish both formats if they changed."""
    try:
        name = targetpaths.normalize(project)
        page = repo.project_page(name)
        if page is None:
            raise ConflictingFile(f"no project {name} in this repository")
        before = page.to_json()
        edit(page)
        changes = Changes()
        if page.to_json() != before:
            repo.set_targets(_page_targets(repo, page))
            changes.published = repo.snapshot_and_timestamp()
        return changes
    finally:
        repo.discard()


def _version_of(filename: str) -> Version:
    return targetpaths.parse_filename(filename)[1]


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        raise ConflictingFile(f"{text!r} is not a valid version") from None


def bins_bit_length(count: int) -> int:
    if count < 2 or count & (count - 1):
        raise PolicyError(f"--bins must be 0 or a power of two of at least 2, not {count}")
    return int(math.log2(count))


def initial_metadata(policy: Policy, role_keys: dict[str, list[Key]]) -> dict[str, Metadata]:
    """Version 1 of every role, unsigned, from the policy and the new public keys."""
    root = Root(expires=expiry(policy.role(Root.type).expires_days), consistent_snapshot=True)
    for role in TOP_LEVEL:
        for key in role_keys[role]:
            root.add_key(key, role)
        root.roles[role].threshold = policy.role(role).threshold
    targets = Targets(expires=expiry(policy.role(Targets.type).expires_days))
    result: dict[str, Metadata] = {Root.type: Metadata(root), Targets.type: Metadata(targets)}
    if policy.bins:
        bin_keys = role_keys[BINS_PREFIX]
        succinct = SuccinctRoles(
            [k.keyid for k in bin_keys],
            policy.role(BINS_PREFIX).threshold,
            bins_bit_length(policy.bins),
            BINS_PREFIX,
        )
        targets.delegations = Delegations(
            keys={k.keyid: k for k in bin_keys}, succinct_roles=succinct
        )
        for name in succinct.get_roles():
            result[name] = Metadata(Targets(expires=expiry(policy.role(name).expires_days)))
    snapshot = Snapshot(expires=expiry(policy.role(Snapshot.type).expires_days))
    snapshot.meta = {f"{r}.json": MetaFile(1) for r in result if r != Root.type}
    result[Snapshot.type] = Metadata(snapshot)
    result[Timestamp.type] = Metadata(
        Timestamp(expires=expiry(policy.role(Timestamp.type).expires_days))
    )
    return result
