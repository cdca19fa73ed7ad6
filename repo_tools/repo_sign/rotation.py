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
  ``repo-sign.toml`` (``ceremony.publishing.sync_policy``) with no hand edit.
- ``rotate --signer URI`` puts an online role on a key a signer holds (an HSM,
  a cloud KMS): the signer is opened once (PIN, key on the token) before
  anything is staged, and named in ``repo-sign.toml`` for the new key id,
  which signs only once a published root or targets trusts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import Key
from tuf.api.metadata import Root, Snapshot, Targets, Timestamp

from repo_sign import keys
from repo_sign.ceremony.proposal import KeyChange, Proposal, resolve_keyid
from repo_sign.ceremony.review import Review, review
from repo_sign.ceremony.staging import Ceremony
from repo_sign.ceremony.trust import delegations_of
from repo_sign.errors import KeyUnavailable, PolicyError
from repo_sign.fsutil import write_atomic
from repo_sign.keys import short_keyid
from repo_sign.policy import BINS_PREFIX, ONLINE_ROLES
from repo_sign.repository import SignedRepository

# online role -> the role whose metadata delegates to it
DELEGATOR = {Timestamp.type: Root.type, Snapshot.type: Root.type, BINS_PREFIX: Targets.type}
NEXT_SIGN = (
    "next: each key holder runs 'repo-sign ceremony sign PROPOSAL_FILE --key KEY' "
    "and compares the digest out of band"
)
NEXT_SIGN_AND_PUBLISH = (
    "next: key holders sign with 'repo-sign ceremony sign', then 'ceremony publish'"
)


@dataclass
class NewKey:
    """An online key a proposal introduces, in ``keys/`` once its proposal lints.

    ``private`` is a key made here, written when staged; None for a key file
    adopted from ``repo-sign key new`` or a key a ``signer`` URI holds.
    """

    role: str
    public: Key
    private: object | None = None
    signer: str | None = None

    @property
    def name(self) -> str:
        return keys.private_key_name(self.role, self.public)

    @property
    def where(self) -> str:
        return self.signer or f"keys/{self.name}"


@dataclass
class KeyProposals:
    """Proposals staged by ``propose``, ``rotate`` or ``revoke``, and the keys they introduce."""

    next_step: str
    proposals: list[Proposal] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    new_keys: list[NewKey] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report: new keys, what each proposal changes and where it is, what to do next."""
        out = [f"new {k.role} key {short_keyid(k.public.keyid)}: {k.where}" for k in self.new_keys]
        for proposal, proposal_review in zip(self.proposals, self.reviews, strict=True):
            out += [*proposal_review.lines(), f"proposal: {proposal.path}"]
        out.append(self.next_step)
        return out


class KeyRotation:
    """Makes ``rotate`` and ``revoke`` proposals in one workspace."""

    def __init__(self, ceremony: Ceremony, key_type: str = "ed25519") -> None:
        self.ceremony = ceremony
        self.key_type = key_type

    def rotate(
        self,
        role: str,
        expires_days: float | None = None,
        signer: tuple[str, Key] | None = None,
    ) -> KeyProposals:
        """Replace every key of online ``role`` with new ones (as many as its threshold),
        or with the one key ``signer`` (URI, public key) holds."""
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
            if signer is None:
                new = [self._generate(role) for _ in range(trust.threshold)]
            elif trust.threshold != 1:
                raise PolicyError(
                    f"{role} has threshold {trust.threshold}: --signer gives one key; change "
                    f"its keys with 'repo-sign ceremony propose {delegator} --role {role}'"
                )
            else:
                uri, public = signer
                keys.load_signer(uri, public, Path.cwd(), self.ceremony.passphrases, role)
                new = [NewKey(role, public, signer=uri)]
            change = KeyChange(role, tuple(k.public for k in new), trust.keyids)
            draft = self.ceremony.draft(repo, delegator, [change], expires_days)
            return self._stage(repo, [draft], new, NEXT_SIGN_AND_PUBLISH)

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
            return self._stage(repo, drafts, new, NEXT_SIGN_AND_PUBLISH)

    def propose(
        self,
        role: str,
        key_role: str | None = None,
        add_keys: Sequence[str] = (),
        remove_keys: Sequence[str] = (),
        threshold: int | None = None,
        expires_days: float | None = None,
    ) -> KeyProposals:
        """Stage the next version of ``role`` with the keys or threshold of ``key_role`` changed.

        ``key_role`` defaults to root for root and the hash bins for targets;
        ``add_keys`` are public key files, ``remove_keys`` key ids, unique
        prefixes or ``.pub`` files. A key added to an online role whose private
        key file lies beside its ``.pub`` (``repo-sign key new``) is copied to
        ``keys/`` (module docstring).
        """
        key_role = key_role or (Root.type if role == Root.type else BINS_PREFIX)
        added = tuple(keys.read_public_key(Path(ref)) for ref in add_keys)
        beside = {
            key.keyid: Path(ref).with_suffix("")
            for ref, key in zip(add_keys, added, strict=True)
            if ref.endswith(".pub") and Path(ref).with_suffix("").is_file()
        }
        with self.ceremony.workspace.lock():
            repo = self.ceremony.repository()
            changes = []
            if add_keys or remove_keys or threshold is not None:
                trust = delegations_of(repo.open(role).signed).get(key_role)
                candidates = trust.keyids if trust is not None else ()
                removed = tuple(resolve_keyid(k, candidates) for k in remove_keys)
                changes.append(KeyChange(key_role, added, removed, threshold))
            draft = self.ceremony.draft(repo, role, changes, expires_days)
            adopted = [
                NewKey(key_role, key)
                for key in added
                if key_role in ONLINE_ROLES and key.keyid in beside
            ]
            for key in adopted:
                self._adopt(key, beside[key.public.keyid])
            return self._stage(repo, [draft], adopted, NEXT_SIGN)

    def _adopt(self, key: NewKey, source: Path) -> None:
        """Copy an encrypted private key file to ``keys/ROLE-KEYID16`` (0600) with its .pub."""
        target = self.ceremony.workspace.keys / key.name
        if target.exists():
            return
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise KeyUnavailable(f"cannot read private key {source}: {exc.strerror}") from exc
        write_atomic(target, data, mode=0o600)
        keys.write_public_key(Path(f"{target}.pub"), key.public)

    def _generate(self, role: str) -> NewKey:
        private, public = keys.generate(self.key_type)
        return NewKey(role, public, private)

    def _stage(
        self, repo: SignedRepository, drafts: list[Proposal], new: list[NewKey], next_step: str
    ) -> KeyProposals:
        """Store the keys made here, then the proposals that trust them. Caller holds the lock."""
        workspace = self.ceremony.workspace
        for key in new:
            if key.private is None:
                continue
            passphrase = self.ceremony.passphrases(f"keys/{key.name}", key.role, True)
            keys.write_key_pair(workspace.keys / key.name, key.private, key.public, passphrase)
        for draft in drafts:
            self.ceremony.stage(draft)
        held = [k for k in new if k.signer is not None]
        for key in held:
            repo.policy.role(key.role).signers[key.public.keyid] = key.signer  # type: ignore[assignment]
        if held:
            repo.policy.save(workspace.policy_file)
        reviews = [review(d.metadata, repo.open(d.role)) for d in drafts]
        return KeyProposals(next_step, drafts, reviews, new)
