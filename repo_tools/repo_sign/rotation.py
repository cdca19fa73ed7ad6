"""Rotating online keys and revoking compromised keys, as ceremony proposals.

Rules:

- Online roles (timestamp, snapshot, the hash bins) are signed unattended by
  keys kept in ``keys/``. Rotating one makes as many new keys as its
  threshold, stores them encrypted as ``keys/ROLE-KEYID16`` (like ``init``),
  and proposes the delegating role's next version with the old keys replaced:
  root for timestamp and snapshot, targets for the bins (TUF spec 2.1). The
  new keys sign from that ceremony's publish on (see ``ceremony``).
- Revoking a key proposes its removal from every role that trusts it. An
  online role gets a new key in the same proposal; an offline role keeps its
  threshold only with replacements given by the maintainers (``add_keys``) or
  enough remaining keys, which lint checks. Publishing then rotates what must
  be rotated: a client that sees the timestamp or snapshot keys change
  discards its cached copies (TUF spec 5.3.11), so a timestamp or snapshot
  with an inflated version signed by the stolen key stops blocking updates.
- A new online key can also come from ``repo-sign key new`` through a
  ceremony proposal (``--add-key``): its private key file, found beside its
  ``.pub``, is copied to ``keys/ROLE-KEYID16`` when the proposal is staged,
  as ``rotate`` stores the keys it makes, so that publishing records it in
  ``repo-sign.toml`` (``ceremony.sync_policy``) with no hand edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import Key
from tuf.api.metadata import Root, Snapshot, Targets, Timestamp

from repo_sign import keys
from repo_sign.ceremony import Ceremony, KeyChange, Proposal, delegations_of, resolve_keyid
from repo_sign.errors import KeyUnavailable, PolicyError
from repo_sign.fsutil import write_atomic
from repo_sign.policy import BINS_PREFIX, ONLINE_ROLES

# online role -> the role whose metadata delegates to it
DELEGATOR = {Timestamp.type: Root.type, Snapshot.type: Root.type, BINS_PREFIX: Targets.type}


@dataclass
class NewKey:
    """A freshly generated online key, written to ``keys/`` once its proposal lints."""

    role: str
    private: object
    public: Key

    @property
    def name(self) -> str:
        return keys.private_key_name(self.role, self.public)


@dataclass
class KeyProposals:
    """Proposals made by ``rotate`` or ``revoke``, and the keys they introduce."""

    proposals: list[Proposal] = field(default_factory=list)
    new_keys: list[NewKey] = field(default_factory=list)


class KeyRotation:
    """Makes ``rotate`` and ``revoke`` proposals in one workspace."""

    def __init__(self, ceremony: Ceremony, key_type: str = "ed25519") -> None:
        self.ceremony = ceremony
        self.key_type = key_type

    def rotate(self, role: str, expires_days: float | None = None) -> KeyProposals:
        """Replace every key of online ``role`` with new ones (as many as its threshold)."""
        if role not in DELEGATOR:
            raise PolicyError(
                f"rotate works on online roles ({', '.join(DELEGATOR)}); the keys of {role} "
                "change with 'repo-sign ceremony propose'"
            )
        with self.ceremony.workspace.lock():
            repo = self.ceremony.repository()
            delegator = DELEGATOR[role]
            trust = delegations_of(repo.open(delegator).signed).get(role)
            if trust is None:
                raise PolicyError(f"{delegator} delegates to no {role} role (--bins 0?)")
            new = [self._generate(role) for _ in range(trust.threshold)]
            change = KeyChange(role, tuple(k.public for k in new), trust.keyids)
            draft = self.ceremony.draft(repo, delegator, [change], expires_days)
            return self._stage([draft], new)

    def revoke(
        self, key: str, add_keys: tuple[Key, ...] = (), expires_days: float | None = None
    ) -> KeyProposals:
        """Propose removing ``key`` (id, prefix or ``.pub``) from every role that trusts it."""
        with self.ceremony.workspace.lock():
            repo = self.ceremony.repository()
            trusts = {
                delegator: delegations_of(repo.open(delegator).signed)
                for delegator in (Root.type, Targets.type)
            }
            every_keyid = {k for t in trusts.values() for r in t.values() for k in r.keyids}
            keyid = resolve_keyid(key, every_keyid)
            new: list[NewKey] = []
            drafts = []
            used_add_keys = False
            for delegator, roles in trusts.items():
                changes = []
                for role, trust in roles.items():
                    if keyid not in trust.keyids:
                        continue
                    if role in ONLINE_ROLES:
                        replacement = self._generate(role)
                        new.append(replacement)
                        changes.append(KeyChange(role, (replacement.public,), (keyid,)))
                    else:
                        used_add_keys |= bool(add_keys)
                        changes.append(KeyChange(role, add_keys, (keyid,)))
                if changes:
                    drafts.append(self.ceremony.draft(repo, delegator, changes, expires_days))
            if add_keys and not used_add_keys:
                raise PolicyError(
                    f"{keys.short_keyid(keyid)} is an online key: revoke makes its replacement "
                    "itself (--add-key replaces root or targets keys)"
                )
            return self._stage(drafts, new)

    def propose(
        self,
        role: str,
        changes: list[KeyChange],
        expires_days: float | None = None,
        private_files: dict[str, Path] | None = None,
    ) -> KeyProposals:
        """Stage a proposal; keep the online keys it adds that ``private_files`` holds.

        ``private_files`` maps key ids to private key files (``repo-sign key
        new``); those of keys added to an online role are copied into ``keys/``.
        """
        private_files = private_files or {}
        with self.ceremony.workspace.lock():
            draft = self.ceremony.draft(self.ceremony.repository(), role, changes, expires_days)
            adopted = [
                (change.role, key, private_files[key.keyid])
                for change in changes
                if change.role in ONLINE_ROLES
                for key in change.add
                if key.keyid in private_files
            ]
            for online_role, key, source in adopted:
                self._adopt(online_role, key, source)
            self.ceremony.stage(draft)
            return KeyProposals([draft], [])

    def _adopt(self, role: str, key: Key, source: Path) -> None:
        """Copy an encrypted private key file to ``keys/ROLE-KEYID16`` (0600) with its .pub."""
        target = self.ceremony.workspace.keys / keys.private_key_name(role, key)
        if target.exists():
            return
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise KeyUnavailable(f"cannot read private key {source}: {exc.strerror}") from exc
        write_atomic(target, data, mode=0o600)
        keys.write_public_key(Path(f"{target}.pub"), key)

    def _generate(self, role: str) -> NewKey:
        private, public = keys.generate(self.key_type)
        return NewKey(role, private, public)

    def _stage(self, drafts: list[Proposal], new: list[NewKey]) -> KeyProposals:
        """Store the new keys, then the proposals that trust them. Caller holds the lock."""
        workspace = self.ceremony.workspace
        for key in new:
            passphrase = self.ceremony.passphrases(f"keys/{key.name}", key.role, True)
            keys.write_key_pair(workspace.keys / key.name, key.private, key.public, passphrase)
        for draft in drafts:
            self.ceremony.stage(draft)
        return KeyProposals(drafts, new)
