"""Checking a published repository the way a client would.

Uses python-tuf's own verification throughout: the root chain from
``1.root.json`` with ``Root.get_root_verification_result`` (each new root
signed by a threshold of the previous root's keys and of its own, TUF spec
5.3.4), then timestamp, snapshot, targets and every delegated role with
``verify_delegate``, versions and hashes as the snapshot and timestamp
record them, and finally every target file on disk (length and sha256).
It reports every problem it finds, not only the first; a problem in a role
stops only the checks that depend on that role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tuf.api.exceptions import LengthOrHashMismatchError, RepositoryError
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from repo_sign.bins import delegated_bins
from repo_sign.repository import format_time, now
from repo_sign.workspace import Workspace
from tufindex import targetpaths


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    roles: int = 0
    targets: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


class _Failed(Exception):
    """A role failed a check; the problem is already recorded."""


class Verifier:
    """One pass over one workspace's published ``metadata/`` and ``targets/``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.report = VerifyReport()

    def run(self) -> VerifyReport:
        try:
            root = self._root_chain()
            timestamp = self._top(root, Timestamp.type, None, None)
            assert isinstance(timestamp, Timestamp)
            snapshot = self._top(root, Snapshot.type, timestamp.snapshot_meta, None)
            assert isinstance(snapshot, Snapshot)
            targets = self._top(root, Targets.type, snapshot.meta.get("targets.json"), snapshot)
            assert isinstance(targets, Targets)
        except _Failed:
            return self.report
        for role, info in self._delegated(targets, snapshot):
            self._check_target(role, info)
        return self.report

    def _problem(self, text: str) -> _Failed:
        self.report.problems.append(text)
        return _Failed(text)

    def _load(self, role: str, version: int | None) -> tuple[bytes, Metadata]:
        path = self.workspace.metadata_path(role, version)
        try:
            data = path.read_bytes()
            return data, Metadata.from_bytes(data)
        except FileNotFoundError:
            raise self._problem(f"{path.name}: missing") from None
        except DeserializationError as exc:
            raise self._problem(f"{path.name}: not valid TUF metadata ({exc})") from None

    def _fresh(self, name: str, md: Metadata) -> None:
        if md.signed.is_expired(now()):
            self._problem(f"{name}: expired at {format_time(md.signed.expires)}")

    def _root_chain(self) -> Root:
        _, md = self._load(Root.type, 1)
        previous: Root | None = None
        version = 1
        while True:
            name = f"{version}.root.json"
            root = md.signed
            if not isinstance(root, Root) or root.version != version:
                raise self._problem(f"{name}: not root version {version}")
            result = root.get_root_verification_result(previous, md.signed_bytes, md.signatures)
            if not result.verified:
                raise self._problem(
                    f"{name}: not signed by a threshold of the previous and the new root keys"
                )
            self.report.roles += 1
            if not self.workspace.metadata_path(Root.type, version + 1).exists():
                break
            previous = root
            version += 1
            _, md = self._load(Root.type, version)
        self._fresh(name, md)
        copy = self.workspace.metadata_path(Root.type, None)
        newest = self.workspace.metadata_path(Root.type, version)
        if not copy.exists() or copy.read_bytes() != newest.read_bytes():
            self._problem(f"root.json: not a copy of the newest root ({name})")
        return root

    def _top(
        self, root: Root, role: str, meta: MetaFile | None, snapshot: Snapshot | None
    ) -> Root | Timestamp | Snapshot | Targets:
        version = None if role == Timestamp.type else (meta.version if meta else None)
        if role != Timestamp.type and meta is None:
            raise self._problem(f"{role}: not listed in its parent metadata")
        data, md = self._load(role, version)
        self._verify(root, role, data, md, meta)
        return md.signed

    def _verify(
        self,
        delegator: Root | Targets,
        role: str,
        data: bytes,
        md: Metadata,
        meta: MetaFile | None,
    ) -> None:
        name = self.workspace.metadata_path(role, meta.version if meta else None).name
        try:
            if meta is not None:
                meta.verify_length_and_hashes(data)
                if md.signed.version != meta.version:
                    raise RepositoryError(f"version {md.signed.version}, expected {meta.version}")
            delegator.verify_delegate(role, md.signed_bytes, md.signatures)
        except (RepositoryError, LengthOrHashMismatchError) as exc:
            raise self._problem(f"{name}: {exc}") from None
        self._fresh(name, md)
        self.report.roles += 1

    def _delegated(self, targets: Targets, snapshot: Snapshot) -> Iterator[tuple[str, TargetFile]]:
        """Every (role, target) pair of the repository, delegated roles verified first."""
        for info in targets.targets.values():
            yield Targets.type, info
        succinct = targets.delegations.succinct_roles if targets.delegations else None
        for role in delegated_bins(targets):
            meta = snapshot.meta.get(f"{role}.json")
            if meta is None:
                self._problem(f"{role}: delegated but not listed in the snapshot")
                continue
            try:
                data, md = self._load(role, meta.version)
                self._verify(targets, role, data, md, meta)
            except _Failed:
                continue
            assert isinstance(md.signed, Targets)
            for info in md.signed.targets.values():
                if succinct is not None:
                    expected = succinct.get_role_for_target(info.path)
                    if expected != role:
                        self._problem(f"{info.path}: listed in {role}, clients look in {expected}")
                yield role, info

    def _check_target(self, role: str, info: TargetFile) -> None:
        self.report.targets += 1
        if not targetpaths.is_target_path(info.path):
            self._problem(f"{info.path} ({role}): not a target path of the repository contract")
        sha = info.hashes.get("sha256")
        if sha is None:
            self._problem(f"{info.path} ({role}): no sha256 hash")
            return
        path = self.workspace.target_file(info.path, sha)
        try:
            with path.open("rb") as f:
                info.verify_length_and_hashes(f)
        except FileNotFoundError:
            self._problem(f"{info.path}: file {path.relative_to(self.workspace.root)} is missing")
        except LengthOrHashMismatchError as exc:
            self._problem(f"{info.path}: {path.relative_to(self.workspace.root)} {exc}")


def verify_repository(workspace: Workspace) -> VerifyReport:
    return Verifier(workspace).run()
