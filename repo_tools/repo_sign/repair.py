"""``refresh --repair``: publish a verifying state again after metadata was damaged or lost.

A truncated, edited or deleted file under ``metadata/`` stops every command
(``DamagedMetadata``); this rebuilds the current state from what still
verifies, the way ``verify`` and a client check it, and publishes it with
``SignedRepository.publish`` (atomic, bottom-up), under the workspace lock.

Rules:
- Root is signed offline: the chain from ``1.root.json`` must verify; a
  damaged newest root is restored from its copy ``root.json`` when that copy
  verifies, and ``root.json`` is rewritten as a copy of the newest root.
  Anything else in the chain that does not verify is refused.
- The state kept is the one the timestamp names when it verifies, else the
  newest snapshot on disk that verifies. Targets and each delegated bin keep
  the version that snapshot lists when it verifies; otherwise the newest
  version on disk that verifies is re-signed (online keys; targets only when
  repo-sign.toml names its signers) as a new version above every version of
  that role on disk.
- Snapshot and timestamp are always re-signed, above every version on disk,
  so clients that trusted the damaged state accept the repaired one (versions
  only grow). A timestamp whose version cannot be read is numbered by the
  current Unix time: a timestamp gains one version per publish, and no
  repository publishes more than once a second on average since 1970.
"""

from __future__ import annotations

import re
import time

from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, MetaFile, Root, Signed, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from repo_sign import keys
from repo_sign.bins import delegated_bins
from repo_sign.errors import ThresholdNotMet
from repo_sign.policy import Policy
from repo_sign.repository import TOP_LEVEL, SignedRepository, expiry
from repo_sign.workspace import RESTORE, Workspace

_VERSIONED = re.compile(r"^(\d+)\.(.+)\.json$")


def _versions_on_disk(workspace: Workspace) -> dict[str, list[int]]:
    """Every role with ``N.ROLE.json`` files under ``metadata/``, newest version first."""
    found: dict[str, list[int]] = {}
    for path in workspace.metadata.glob("*.json"):
        if match := _VERSIONED.match(path.name):
            found.setdefault(match[2], []).append(int(match[1]))
    return {role: sorted(versions, reverse=True) for role, versions in found.items()}


def _parse(data: bytes, role: str) -> Metadata | None:
    """``data`` as metadata of ``role``'s type, or None."""
    try:
        md = Metadata.from_bytes(data)
    except DeserializationError:
        return None
    return md if md.signed.type == (role if role in TOP_LEVEL else Targets.type) else None


def _verified(
    workspace: Workspace, delegator: Root | Targets, role: str, version: int | None
) -> tuple[bytes, Metadata] | None:
    """The file of ``role`` at ``version`` when it is that version and ``delegator`` verifies it."""
    try:
        data = workspace.metadata_path(role, version).read_bytes()
    except FileNotFoundError:
        return None
    md = _parse(data, role)
    if md is None or (version is not None and md.signed.version != version):
        return None
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        return None
    return data, md


class Repair:
    """One repair of one workspace."""

    def __init__(self, workspace: Workspace, passphrases: keys.PassphraseProvider) -> None:
        self.workspace = workspace
        self.repo = SignedRepository(workspace, Policy.load(workspace.policy_file), passphrases)
        self.on_disk = _versions_on_disk(workspace)
        self.written: list[str] = []
        self._roots: dict[int | None, bytes] = {}  # root files to restore, once all is signed
        self.notes: list[str] = []  # what the repair could not keep, for the user
        self.named = False  # whether the listed versions are those the timestamp names

    def run(self) -> None:
        """Repair and publish: ``written`` names the files written, ``notes`` what was lost."""
        try:
            root = self._root()
            listed, self.named = self._listed(root)
            targets = self._role(root, Targets.type, listed.get(Targets.type))
            assert isinstance(targets, Targets)  # verified as the targets role
            versions = {Targets.type: targets.version}
            delegated = set(delegated_bins(targets))
            for role in sorted((set(listed) | delegated) - {Targets.type}):
                if role in delegated:
                    versions[role] = self._role(targets, role, listed.get(role)).version
                else:  # retired by a rebin: clients still require it listed
                    versions[role] = listed[role]
            self._snapshot_and_timestamp(versions)
            for version, data in self._roots.items():  # before what refers to them
                self.workspace.write_metadata(Root.type, version, data)
                self.written.append(self.workspace.metadata_path(Root.type, version).name)
            self.written += self.repo.publish()
        finally:
            self.repo.discard()

    def _highest(self, role: str, *known: int | None) -> int:
        """The highest version of ``role`` on disk or in ``known`` (versions clients may trust)."""
        return max([*self.on_disk.get(role, []), *(v for v in known if v is not None), 0])

    def _read(self, role: str, version: int | None) -> Metadata | None:
        path = self.workspace.metadata_path(role, version)
        return _parse(path.read_bytes(), role) if path.exists() else None

    def _root(self) -> Root:
        """The newest root of a chain from 1.root.json that verifies, restored if need be."""
        ws = self.workspace
        copy = self._read(Root.type, None)
        previous: Root | None = None
        data = b""
        newest = self._highest(Root.type, copy.signed.version if copy is not None else None)
        for version in range(1, newest + 1):
            path = ws.metadata_path(Root.type, version)
            candidates = [path.read_bytes()] if path.exists() else []
            if copy is not None and copy.signed.version == version:
                candidates.append(copy.to_bytes())
            for candidate in candidates:
                md = _parse(candidate, Root.type)
                if md is None or md.signed.version != version:
                    continue
                assert isinstance(md.signed, Root)
                result = md.signed.get_root_verification_result(
                    previous, md.signed_bytes, md.signatures
                )
                if result.verified:
                    previous, data = md.signed, candidate
                    break
            else:
                reason = "missing" if not candidates else "does not verify in the root chain"
                raise ws.damaged(Root.type, version, reason, f"{RESTORE} (root is signed offline)")
            if not path.exists() or path.read_bytes() != data:
                self._roots[version] = data
        assert previous is not None
        copy_path = ws.metadata_path(Root.type, None)
        if not copy_path.exists() or copy_path.read_bytes() != data:
            self._roots[None] = data
        self.repo.adopt(Root.type, data, previous)
        return previous

    def _listed(self, root: Root) -> tuple[dict[str, int], bool]:
        """Role versions listed by the snapshot the verifying timestamp names (True), else by
        the newest snapshot that verifies (False; none: nothing listed)."""
        first = []
        if named := _verified(self.workspace, root, Timestamp.type, None):
            assert isinstance(named[1].signed, Timestamp)
            meta = named[1].signed.snapshot_meta
            found = _verified(self.workspace, root, Snapshot.type, meta.version)
            try:
                if found is not None:
                    meta.verify_length_and_hashes(found[0])
                    first = [meta.version]
            except LengthOrHashMismatchError:
                pass
        for version in first + self.on_disk.get(Snapshot.type, []):
            if found := _verified(self.workspace, root, Snapshot.type, version):
                assert isinstance(found[1].signed, Snapshot)
                listing = found[1].signed.meta
                listed = {name.removesuffix(".json"): m.version for name, m in listing.items()}
                return listed, version in first
        return {}, False

    def _role(self, delegator: Root | Targets, role: str, listed: int | None) -> Signed:
        """The version of ``role`` to publish: the listed one if the timestamp names its
        snapshot and it verifies, else the newest on disk that verifies; re-signed above
        every version on disk if that is older than the listed one (clients may trust that).
        """
        first = [listed] if self.named and listed is not None else []
        for version in first + self.on_disk.get(role, []):
            if found := _verified(self.workspace, delegator, role, version):
                md = found[1]
                if version >= (listed or 0):
                    self.repo.adopt(role, found[0], md.signed)
                    return md.signed
                md.signed.version = self._highest(role, listed)
                try:
                    self.repo.close(role, md)
                except ThresholdNotMet:
                    reason = "damaged, and repo-sign.toml names no signers to re-sign it"
                    raise self.workspace.damaged(role, listed, reason, RESTORE) from None
                self.notes.append(
                    f"{role}: version {listed} did not verify; re-signed the content of "
                    f"version {version}: add again what was published since"
                )
                return md.signed
        raise self.workspace.damaged(role, listed, "no version of it on disk verifies", RESTORE)

    def _snapshot_and_timestamp(self, versions: dict[str, int]) -> None:
        snapshot = Metadata(Snapshot(expires=expiry(0)))
        snapshot.signed.meta = {f"{role}.json": MetaFile(v) for role, v in versions.items()}
        md = self._read(Timestamp.type, None)
        old = md.signed if md is not None else None
        assert old is None or isinstance(old, Timestamp)
        named = old.snapshot_meta.version if old is not None else None
        snapshot.signed.version = self._highest(Snapshot.type, named)
        self.repo.close(Snapshot.type, snapshot)
        timestamp = Metadata(Timestamp(expires=expiry(0), snapshot_meta=self.repo.snapshot_info))
        # The highest timestamp version clients can have seen (module doc).
        timestamp.signed.version = old.version if old is not None else int(time.time())
        self.repo.close(Timestamp.type, timestamp)


def repair(workspace: Workspace, passphrases: keys.PassphraseProvider) -> Repair:
    """Publish the state that verifies again (module doc); callers hold the workspace lock."""
    repair = Repair(workspace, passphrases)
    repair.run()
    return repair
