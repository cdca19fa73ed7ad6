"""Metadata an attacker (or a stale repository) would serve, made with the Metadata API.

Several attacks need signed metadata the real repository never published:
expired copies (freeze), versions pointing backwards (rollback with a stolen
online key), an inflated timestamp (fast-forward), metadata signed by the
wrong key or by a revoked one. ``Forger`` reads a workspace's current state
(timestamp -> snapshot -> targets and bins), applies edits to chosen roles,
re-signs them, and chains new snapshot and timestamp versions above them,
exactly as repo-sign publishes bottom-up. The result is a mapping from URL
path to bytes, for ``AttackerServer.serve_files``; the workspace itself is
never written unless a test says so (``write_into``).

Signers are the repository's own keys (a stolen key: decrypted with the test
passphrase), a fresh key nobody trusts, or none at all.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from tests.support.repositories import role_signers

Edit = Callable[[Metadata], None]
STOLEN = "stolen"  # sign with the repository's real key for the role
NOBODY: list[Signer] = []  # no signature at all


def fresh_signer() -> CryptoSigner:
    """A key the repository never delegated to."""
    return CryptoSigner.generate_ed25519()


def past(hours: float = 1) -> datetime.datetime:
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    return now - datetime.timedelta(hours=hours)


def sign(md: Metadata, signers: list[Signer]) -> bytes:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)
    return md.to_bytes()


class Forger:
    """The current signed state of a workspace, and forged successors of it."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.metadata = workspace / "metadata"
        self._after: dict[str, Edit] = {}

    # ---- reading the current state ----------------------------------------
    def timestamp(self) -> Metadata[Timestamp]:
        return Metadata[Timestamp].from_file(str(self.metadata / "timestamp.json"))

    def snapshot(self) -> Metadata[Snapshot]:
        version = self.timestamp().signed.snapshot_meta.version
        return Metadata[Snapshot].from_file(str(self.metadata / f"{version}.snapshot.json"))

    def targets(self, role: str = Targets.type) -> Metadata[Targets]:
        version = self.snapshot().signed.meta[f"{role}.json"].version
        return Metadata[Targets].from_file(str(self.metadata / f"{version}.{role}.json"))

    def root(self) -> Metadata[Root]:
        version = 1
        while (self.metadata / f"{version + 1}.root.json").exists():
            version += 1
        return Metadata[Root].from_file(str(self.metadata / f"{version}.root.json"))

    def role_of(self, target_path: str) -> str:
        """The role (``targets`` or a bin) that signs ``target_path``."""
        delegations = self.targets().signed.delegations
        if delegations is None or delegations.succinct_roles is None:
            return Targets.type
        return delegations.succinct_roles.get_role_for_target(target_path)

    def target(self, target_path: str) -> TargetFile:
        return self.targets(self.role_of(target_path)).signed.targets[target_path]

    def target_url(self, target_path: str) -> str:
        """The URL path a client fetches ``target_path`` from (consistent snapshot)."""
        directory, _, name = target_path.rpartition("/")
        return f"/targets/{directory}/{self.target(target_path).hashes['sha256']}.{name}"

    def url(self, role: str, version: int | None = None) -> str:
        if role == Timestamp.type:
            return "/metadata/timestamp.json"
        if version is None:
            version = (
                self.snapshot().signed.version
                if role == Snapshot.type
                else self.snapshot().signed.meta[f"{role}.json"].version
            )
        return f"/metadata/{version}.{role}.json"

    # ---- forging -----------------------------------------------------------
    def chain(
        self,
        edits: Mapping[str, Edit],
        signers: Mapping[str, list[Signer]] | None = None,
        after_signing: Mapping[str, Edit] | None = None,
        bump_timestamp: bool = True,
    ) -> dict[str, bytes]:
        """New versions of the edited roles, with snapshot and timestamp above them.

        Every edited targets role (``targets`` or ``bins-X``) gets version + 1,
        then ``edits[role]`` runs (it may override anything, the version too);
        the snapshot lists the new versions, the timestamp pins the new
        snapshot. Roles without an explicit signer list are signed with the
        repository's own (stolen) keys; ``after_signing[role]`` then changes
        the signed content under its signatures. ``bump_timestamp=False`` keeps
        the timestamp's version (for a client that has not trusted it yet).
        Returns URL path -> bytes.
        """
        signers = dict(signers or {})
        self._after = dict(after_signing or {})
        files: dict[str, bytes] = {}
        delegated = [r for r in edits if r not in (Snapshot.type, Timestamp.type)]
        snapshot = self.snapshot()
        for role in delegated:
            md = self.targets(role)
            md.signed.version += 1
            edits[role](md)
            data = self._signed(md, role, signers)
            files[f"/metadata/{md.signed.version}.{role}.json"] = data
            snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
        timestamp = self.timestamp()
        timestamp.signed.version += 1 if bump_timestamp else 0
        if delegated or Snapshot.type in edits:
            snapshot.signed.version += 1
            edits.get(Snapshot.type, lambda md: None)(snapshot)
            data = self._signed(snapshot, Snapshot.type, signers)
            files[f"/metadata/{snapshot.signed.version}.snapshot.json"] = data
            timestamp.signed.snapshot_meta = MetaFile.from_data(
                snapshot.signed.version, data, ["sha256"]
            )
        edits.get(Timestamp.type, lambda md: None)(timestamp)
        files["/metadata/timestamp.json"] = self._signed(timestamp, Timestamp.type, signers)
        return files

    def replace_role(
        self,
        role: str,
        edit: Edit,
        signers: list[Signer] | None = None,
        after_signing: Edit | None = None,
    ) -> dict[str, bytes]:
        """``role`` (targets or a bin) changed in place: same version, same URL, so
        no key is needed above it (the snapshot pins versions, not hashes, of
        targets metadata). Signed by ``signers`` (default: the real keys)."""
        md = self.targets(role)
        edit(md)
        data = sign(md, role_signers(self.workspace, role) if signers is None else signers)
        if after_signing is not None:
            after_signing(md)
            data = md.to_bytes()
        return {self.url(role): data}

    def new_root(
        self, edit: Edit, signers: list[Signer] | None = None
    ) -> tuple[str, bytes, Metadata[Root]]:
        """Root version N+1 after ``edit``, signed by the repository's root keys
        (or ``signers``): URL path, bytes and the metadata."""
        root = self.root()
        root.signed.version += 1
        edit(root)
        data = sign(root, role_signers(self.workspace, Root.type) if signers is None else signers)
        return f"/metadata/{root.signed.version}.root.json", data, root

    def _signed(self, md: Metadata, role: str, signers: Mapping[str, list[Signer]]) -> bytes:
        chosen = signers.get(role)
        data = sign(md, role_signers(self.workspace, role) if chosen is None else chosen)
        if role in self._after:
            self._after[role](md)
            data = md.to_bytes()
        return data

    def write_into(self, files: Mapping[str, bytes]) -> None:
        """Publish ``files`` in the workspace as the repository itself would."""
        for url, data in sorted(files.items(), key=lambda item: "timestamp" in item[0]):
            (self.workspace / url.lstrip("/")).write_bytes(data)
