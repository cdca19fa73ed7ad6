"""Key ceremonies: several key holders sign one version of an offline role.

An offline role (root, targets) changes through a *proposal*: its next
version, unsigned, written to ``staged/ROLE.json`` in the workspace. The
proposal file is plain TUF metadata (``Metadata.to_bytes()``), so signatures
travel inside it from one key holder's machine to the next (USB stick,
email) with no network and no shared server; what it follows is derivable
(its version minus one).

Rules:

- Lint before anything is written or signed: every role's threshold lies
  between 1 and its number of keys, no key is listed twice or added to a role
  that already trusts it, every key id is the sha256 of its key's canonical
  JSON (TUF spec 4.2, "keyid"), and the expiry lies in the future.
- A proposal follows exactly one trusted version: its version is the current
  one plus one (TUF spec 5.3.4 for root, 5.6 for targets). One proposal per
  role at a time; a proposal whose base has moved on is stale and refused.
- Signing appends (``Metadata.sign(append=True)``): it never removes another
  holder's signature, and every signature is verified as it is added.
- A new root is trusted by clients only when it is signed by a threshold of
  the *current* root's root keys AND a threshold of its *own* root keys (TUF
  spec 5.3.4). ``SignatureStatus`` shows both counts; ``publish`` checks both
  with python-tuf's ``Root.get_root_verification_result``, as a client does.
- Publishing writes the proposal and re-signs with the new keys whatever the
  change left unverifiable: snapshot and timestamp when their keys rotated,
  every hash bin when the bins keys rotated, all in one publish ordered
  bottom-up with root before the snapshot and timestamp that its new keys
  sign (TUF spec 5.3.11: a client that sees the timestamp or snapshot keys
  rotate discards its cached copies, which undoes a fast-forward attack).
- ``repo-sign.toml`` follows what was published: thresholds, and the signers
  of online keys (``keys/ROLE-KEYID16``, as ``init`` and ``rotate`` store them).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from repo_sign import keys
from repo_sign.bins import delegated_bins
from repo_sign.errors import ConflictingFile, KeyUnavailable, PolicyError, ThresholdNotMet
from repo_sign.fsutil import PRIVATE_FOLDER, make_folder, write_atomic
from repo_sign.keys import short_keyid
from repo_sign.policy import BINS_PREFIX, Policy
from repo_sign.repository import SignedRepository, expiry, initial_metadata, now
from repo_sign.workspace import Workspace

PROPOSAL_ROLES = (Root.type, Targets.type)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def digest(md: Metadata) -> str:
    """Short digest of the signed bytes, for key holders to compare out of band.

    The first 16 hex digits of the sha256 of the canonical signed bytes (what
    every signature covers), grouped by four for reading aloud.
    """
    hexdigest = hashlib.sha256(md.signed_bytes).hexdigest()[:16]
    return " ".join(hexdigest[i : i + 4] for i in range(0, 16, 4))


# ---- who trusts whom ---------------------------------------------------------


@dataclass(frozen=True)
class Trust:
    """The keys a delegating role lists for one role, and its threshold."""

    keyids: tuple[str, ...]
    threshold: int


def delegations_of(signed: Signed) -> dict[str, Trust]:
    """Every role ``signed`` delegates to: root's four roles, or the hash bins.

    Hash bins (TAP 15 succinct roles) count as one role named by their prefix.
    """
    if isinstance(signed, Root):
        return {name: Trust(tuple(r.keyids), r.threshold) for name, r in signed.roles.items()}
    if isinstance(signed, Targets) and signed.delegations is not None:
        d = signed.delegations
        result = {}
        if d.succinct_roles is not None:
            s = d.succinct_roles
            result[s.name_prefix] = Trust(tuple(s.keyids), s.threshold)
        for name, role in (d.roles or {}).items():
            result[name] = Trust(tuple(role.keyids), role.threshold)
        return result
    return {}


def key_store(signed: Signed) -> dict[str, Key]:
    """The keys dict that ``delegations_of`` key ids refer to."""
    if isinstance(signed, Root):
        return signed.keys
    if isinstance(signed, Targets) and signed.delegations is not None:
        return signed.delegations.keys or {}
    return {}


# ---- lint ----------------------------------------------------------------------


def lint(md: Metadata) -> None:
    """Refuse (PolicyError, one line) metadata no key holder should sign.

    Checks the rules of the module docstring that the metadata alone can
    show: thresholds, duplicate keys, key ids, and expiry.
    """
    signed = md.signed
    if signed.type not in PROPOSAL_ROLES:
        raise PolicyError(f"a ceremony signs root or targets, not {signed.type}")
    if signed.expires <= now():
        raise PolicyError(
            f"{signed.type} version {signed.version} expires at "
            f"{signed.expires.strftime(TIME_FORMAT)}, in the past: propose it again"
        )
    store = key_store(signed)
    for keyid, key in store.items():
        actual = keys.keyid_of(key.to_dict())
        if actual != keyid:
            raise PolicyError(
                f"key id {short_keyid(keyid)} does not match its key ({short_keyid(actual)}): "
                "the key or its id was edited"
            )
    seen_keyvals: dict[str, str] = {}
    for keyid, key in store.items():
        public = str(key.keyval.get("public"))
        if public in seen_keyvals:
            raise PolicyError(
                f"keys {short_keyid(seen_keyvals[public])} and {short_keyid(keyid)} "
                "are the same key"
            )
        seen_keyvals[public] = keyid
    for role, trust in delegations_of(signed).items():
        if len(set(trust.keyids)) != len(trust.keyids):
            raise PolicyError(f"{role} lists a key twice")
        for keyid in trust.keyids:
            if keyid not in store:
                raise PolicyError(
                    f"{role} names key {short_keyid(keyid)}, which is not in the metadata"
                )
        if not 1 <= trust.threshold <= len(trust.keyids):
            raise PolicyError(
                f"{role}: a threshold of {trust.threshold} needs between 1 and "
                f"{len(trust.keyids)} (its number of keys)"
            )


# ---- proposals -------------------------------------------------------------------


@dataclass(frozen=True)
class KeyChange:
    """A change to the keys or threshold of one role the proposed metadata delegates to."""

    role: str
    add: tuple[Key, ...] = ()
    remove: tuple[str, ...] = ()  # key ids
    threshold: int | None = None


def apply_change(signed: Signed, change: KeyChange) -> None:
    """Apply ``change`` to root or targets; refuse keys added twice or removed but absent."""
    trust = delegations_of(signed).get(change.role)
    if trust is None:
        roles = ", ".join(delegations_of(signed)) or "no role"
        raise PolicyError(f"{signed.type} delegates to {roles}, not to {change.role}")
    added = [k.keyid for k in change.add]
    for keyid in added:
        if added.count(keyid) > 1:
            raise PolicyError(f"key {short_keyid(keyid)} is given twice")
        if keyid in trust.keyids:
            raise PolicyError(f"key {short_keyid(keyid)} is already a {change.role} key")
    for keyid in change.remove:
        if keyid not in trust.keyids:
            raise PolicyError(f"key {short_keyid(keyid)} is not a {change.role} key")
    if isinstance(signed, Root):
        for keyid in change.remove:
            signed.revoke_key(keyid, change.role)
        for key in change.add:
            signed.add_key(key, change.role)
    else:
        assert isinstance(signed, Targets)
        role = None if change.role == BINS_PREFIX else change.role  # bins: one shared key set
        for keyid in change.remove:
            signed.revoke_key(keyid, role)
        for key in change.add:
            signed.add_key(key, role)
    if change.threshold is not None:
        _set_threshold(signed, change.role, change.threshold)


def _set_threshold(signed: Signed, role: str, threshold: int) -> None:
    if isinstance(signed, Root):
        signed.roles[role].threshold = threshold
        return
    assert isinstance(signed, Targets) and signed.delegations is not None
    d = signed.delegations
    if d.succinct_roles is not None and role == d.succinct_roles.name_prefix:
        d.succinct_roles.threshold = threshold
    elif d.roles is not None:
        d.roles[role].threshold = threshold


def resolve_keyid(text: str, candidates: Iterable[str]) -> str:
    """A full key id from a key id, a unique prefix of 8+ hex digits, or a ``.pub`` file."""
    path = Path(text)
    if path.is_file():
        return keys.read_public_key(path).keyid
    text = text.lower()
    matches = sorted({k for k in candidates if k.startswith(text)}) if len(text) >= 8 else []
    if len(matches) != 1:
        what = "no" if not matches else "more than one"
        raise PolicyError(f"{text} matches {what} trusted key id (give 8 or more hex digits)")
    return matches[0]


class Proposal:
    """A proposed version of root or targets in a file, and the signatures it holds."""

    def __init__(self, path: Path, metadata: Metadata) -> None:
        self.path = path
        self.metadata = metadata

    @classmethod
    def read(cls, path: Path) -> Proposal:
        try:
            md = Metadata.from_bytes(path.read_bytes())
        except OSError as exc:
            raise KeyUnavailable(f"cannot read proposal {path}: {exc.strerror}") from exc
        except DeserializationError as exc:
            raise PolicyError(f"{path} is not TUF metadata: {exc}") from exc
        if md.signed.type not in PROPOSAL_ROLES:
            raise PolicyError(f"{path} holds {md.signed.type}; ceremonies sign root or targets")
        return cls(path, md)

    @property
    def role(self) -> str:
        return self.metadata.signed.type

    @property
    def version(self) -> int:
        return self.metadata.signed.version

    @property
    def digest(self) -> str:
        return digest(self.metadata)

    def write(self) -> None:
        write_atomic(self.path, self.metadata.to_bytes())

    def sign(self, signer: Signer) -> bool:
        """Append ``signer``'s verified signature; False if it had signed already."""
        md = self.metadata
        keyid = signer.public_key.keyid
        existing = md.signatures.get(keyid)
        if existing is not None and _valid(signer.public_key, existing, md.signed_bytes):
            return False
        try:
            signature = md.sign(signer, append=True)
        except UnsignedMetadataError as exc:
            raise KeyUnavailable(f"key {short_keyid(keyid)} could not sign: {exc}") from exc
        if not _valid(signer.public_key, signature, md.signed_bytes):
            md.signatures.pop(keyid, None)
            raise KeyUnavailable(
                f"the signature by {short_keyid(keyid)} does not verify with its key"
            )
        return True


def _valid(key: Key, signature: object, payload: bytes) -> bool:
    try:
        key.verify_signature(signature, payload)  # type: ignore[arg-type]
    except Exception:  # securesystemslib raises several types for a bad signature
        return False
    return True


# ---- review --------------------------------------------------------------------


@dataclass
class RoleDiff:
    """How one delegated role's keys and threshold change."""

    role: str
    added: list[Key]
    removed: list[Key]
    kept: list[Key]
    threshold_old: int | None  # None when the trusted version is unknown
    threshold_new: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed) or self.threshold_old != self.threshold_new


@dataclass
class Review:
    """What a proposal changes, for key holders to read before they sign."""

    role: str
    version: int
    base_version: int | None
    expires: str
    digest: str
    roles: list[RoleDiff]
    notes: list[str] = field(default_factory=list)
    base_expires: str | None = None

    def lines(self) -> list[str]:
        if self.version == 1:
            head = f"{self.role} version 1 (the first version)"
        elif self.base_version is None:
            head = f"{self.role} version {self.version} (the trusted version is not available here)"
        else:
            head = f"{self.role} version {self.base_version} -> {self.version}"
        expires = self.expires
        if self.base_expires is not None and self.base_expires != self.expires:
            expires = f"{self.base_expires} -> {self.expires}"
        out = [f"{head}, expires {expires}"]
        for d in self.roles:
            total = len(d.added) + len(d.kept)
            if self.base_version is not None and not d.changed:
                out.append(f"  {d.role}: unchanged ({d.threshold_new} of {total})")
                continue
            same = d.threshold_old in (None, d.threshold_new)
            old = "" if same else f"{d.threshold_old} -> "
            out.append(f"  {d.role}: threshold {old}{d.threshold_new} of {total} keys")
            marks = [("+", d.added), ("-", d.removed)]
            if self.base_version is None:
                marks = [(" ", d.kept)]
            for mark, keylist in marks:
                for key in keylist:
                    out.append(f"    {mark} {keys.fingerprint(key)}  ({key.keytype})")
        out.extend(f"  {note}" for note in self.notes)
        out.append(f"digest: {self.digest}")
        return out


def review(proposal: Metadata, base: Metadata | None) -> Review:
    """Compare a proposal with the trusted version it follows (when known)."""
    new, old = proposal.signed, base.signed if base is not None else None
    new_roles, new_keys = delegations_of(new), key_store(new)
    old_roles = delegations_of(old) if old is not None else {}
    old_keys = key_store(old) if old is not None else {}
    diffs = []
    for role in sorted(set(new_roles) | set(old_roles), key=_role_order):
        n = new_roles.get(role, Trust((), 0))
        o = old_roles.get(role, Trust((), 0)) if old is not None else None
        old_ids = set(o.keyids) if o is not None else set()
        diffs.append(
            RoleDiff(
                role=role,
                added=[new_keys[k] for k in n.keyids if o is not None and k not in old_ids],
                removed=[old_keys[k] for k in (o.keyids if o else ()) if k not in n.keyids],
                kept=[new_keys[k] for k in n.keyids if o is None or k in old_ids],
                threshold_old=o.threshold if o is not None else None,
                threshold_new=n.threshold,
            )
        )
    notes = []
    if isinstance(new, Targets):
        old_targets = set(old.targets) if isinstance(old, Targets) else None
        if old_targets is None:
            notes.append(f"{len(new.targets)} target files signed directly")
        else:
            added = len(set(new.targets) - old_targets)
            removed = len(old_targets - set(new.targets))
            if added or removed:
                notes.append(f"target files: {added} added, {removed} removed")
    return Review(
        role=new.type,
        version=new.version,
        base_version=old.version if old is not None else None,
        expires=new.expires.strftime(TIME_FORMAT),
        digest=digest(proposal),
        roles=diffs,
        notes=notes,
        base_expires=old.expires.strftime(TIME_FORMAT) if old is not None else None,
    )


def _role_order(role: str) -> tuple[int, str]:
    order = (Root.type, Targets.type, Snapshot.type, Timestamp.type)
    return (order.index(role), role) if role in order else (len(order), role)


# ---- signature status --------------------------------------------------------------


@dataclass
class ThresholdCount:
    """Valid signatures by one set of keys, against that set's threshold."""

    label: str
    keyids: tuple[str, ...]
    signed: list[str]
    threshold: int

    @property
    def met(self) -> bool:
        return len(self.signed) >= self.threshold

    @property
    def needed(self) -> int:
        return max(0, self.threshold - len(self.signed))

    def missing(self, label: bool = True) -> str:
        """How many more signatures are needed, and from which keys."""
        unsigned = ", ".join(short_keyid(k) for k in self.keyids if k not in self.signed)
        source = f" from {self.label}" if label else ""
        return f"{self.needed} more needed{source} (any of: {unsigned})"

    def line(self) -> str:
        state = "met" if self.met else self.missing(label=False)
        return (
            f"{self.label}: {len(self.signed)} of {self.threshold} required "
            f"(of {len(self.keyids)} keys): {state}"
        )


@dataclass
class SignatureStatus:
    """Who has signed a proposal and which thresholds are met."""

    role: str
    version: int
    digest: str
    counts: list[ThresholdCount]
    complete: bool  # False when the delegating role is unknown here
    other_signatures: list[str]  # key ids that count nowhere (or do not verify)

    @property
    def ready(self) -> bool:
        return self.complete and all(c.met for c in self.counts)

    def lines(self) -> list[str]:
        out = [f"{self.role} version {self.version}, digest {self.digest}"]
        out += [f"  {c.line()}" for c in self.counts]
        for c in self.counts:
            if c.signed:
                out.append(
                    f"  signed by ({c.label}): {', '.join(short_keyid(k) for k in c.signed)}"
                )
        if self.other_signatures:
            others = ", ".join(short_keyid(k) for k in self.other_signatures)
            if self.complete:
                out.append(f"  signatures that count for no threshold: {others}")
            else:
                out.append(f"  signatures not counted here: {others}")
        out.append(f"  {self.verdict()}")
        return out

    def verdict(self) -> str:
        """'ready to publish' only when every threshold a client checks is met."""
        if self.ready:
            return "ready to publish"
        missing = [c.missing() for c in self.counts if not c.met]
        if missing:
            return f"NOT ready to publish: {'; '.join(missing)}"
        what = "the current root" if self.role == Root.type else "root"
        return (
            f"not known here whether this is ready to publish: {what} is not available here "
            "(run 'repo-sign ceremony status' with the workspace, or pass --trusted)"
        )

    def gained(self, before: SignatureStatus, keyid: str) -> list[str]:
        """What the signature by ``keyid`` added to ``before``: thresholds it counts for."""
        out = []
        for old, new in zip(before.counts, self.counts, strict=True):
            if keyid in new.signed and keyid not in old.signed:
                now_met = " (now met)" if new.met and not old.met else ""
                out.append(f"counts for {new.label}: {len(new.signed)} of {new.threshold}{now_met}")
        return out or [f"key {short_keyid(keyid)} counts for no threshold known here"]

    def relevant_keyids(self) -> set[str]:
        return {k for c in self.counts for k in c.keyids}


def _count(label: str, result: object) -> ThresholdCount:
    signed = result.signed  # type: ignore[attr-defined]
    unsigned = result.unsigned  # type: ignore[attr-defined]
    return ThresholdCount(
        label=label,
        keyids=tuple(sorted(set(signed) | set(unsigned))),
        signed=sorted(signed),
        threshold=result.threshold,  # type: ignore[attr-defined]
    )


def signature_status(proposal: Metadata, delegator: Root | None) -> SignatureStatus:
    """Count valid signatures as a client would (python-tuf's verification results).

    For root, ``delegator`` is the current trusted root: both the current
    root's threshold and the new root's own threshold are counted (TUF spec
    5.3.4). For targets, it is the root that will be trusted when targets is
    published. With no delegator, only what the proposal itself shows counts.
    """
    new = proposal.signed
    payload, sigs = proposal.signed_bytes, proposal.signatures
    counts: list[ThresholdCount] = []
    if isinstance(new, Root):
        own = new.get_verification_result(Root.type, payload, sigs)
        if delegator is not None:
            if new.version != delegator.version + 1:
                raise ConflictingFile(_stale(Root.type, new.version, delegator.version))
            result = new.get_root_verification_result(delegator, payload, sigs)
            counts.append(_count(f"keys of current root version {delegator.version}", result.first))
            own = result.second
        counts.append(_count(f"keys of new root version {new.version}", own))
    elif delegator is not None:
        result = delegator.get_verification_result(Targets.type, payload, sigs)
        counts.append(_count(f"targets keys of root version {delegator.version}", result))
    counted = {k for c in counts for k in c.signed}
    return SignatureStatus(
        role=new.type,
        version=new.version,
        digest=digest(proposal),
        counts=counts,
        complete=delegator is not None or (isinstance(new, Root) and new.version == 1),
        other_signatures=sorted(k for k in sigs if k not in counted),
    )


def check_follows(proposal: Metadata, current: Metadata | None) -> None:
    """Refuse a proposal that is not the next version of ``current`` (None: none yet)."""
    version = current.signed.version if current is not None else 0
    if proposal.signed.version != version + 1:
        raise ConflictingFile(_stale(proposal.signed.type, proposal.signed.version, version))


def _require_ready(proposal: Proposal, delegator: Root | None) -> None:
    status = signature_status(proposal.metadata, delegator)
    if not status.ready:
        counts = "; ".join(c.line() for c in status.counts)
        raise ThresholdNotMet(
            f"{proposal.role} version {proposal.version} is not signed by a threshold: "
            f"{counts}: collect signatures with 'repo-sign ceremony sign'"
        )


def _role_keys(root: Metadata, targets: Metadata) -> dict[str, list[Key]]:
    """The public keys of every role, as ``initial_metadata`` takes them."""
    result = {}
    for signed in (root.signed, targets.signed):
        store = key_store(signed)
        for role, trust in delegations_of(signed).items():
            result[role] = [store[k] for k in trust.keyids]
    return result


def _stale(role: str, version: int, current: int) -> str:
    return (
        f"the proposal is {role} version {version} but the repository's {role} is at "
        f"version {current}: it is stale; discard it ('repo-sign ceremony discard {role}') "
        "and propose again"
    )


# ---- the workspace side ---------------------------------------------------------------


@dataclass
class Published:
    """What one ``publish`` did, for the CLI to report."""

    files: list[str]
    proposals: list[str]
    resigned: list[str]
    retired_keys: list[str]


class Ceremony:
    """Proposals staged in one workspace, and publishing them.

    Methods that write hold the workspace lock for their whole run.
    """

    def __init__(self, workspace: Workspace, passphrases: keys.PassphraseProvider) -> None:
        self.workspace = workspace
        self.passphrases = passphrases

    # -- reading
    def repository(self) -> SignedRepository:
        return SignedRepository.load(self.workspace, self.passphrases)

    def staged_path(self, role: str) -> Path:
        return self.workspace.staged / f"{role}.json"

    def staged(self) -> list[Proposal]:
        """Every staged proposal, root first."""
        return [
            Proposal.read(self.staged_path(role))
            for role in PROPOSAL_ROLES
            if self.staged_path(role).exists()
        ]

    def current(self, role: str) -> Metadata | None:
        """The published version of ``role``; None while root v1 awaits its key holders."""
        if self.workspace.awaits_first_root():
            return None
        return self.repository().open(role)

    def delegator(self, proposal: Proposal) -> Root | None:
        """The root a proposal is checked against (see ``signature_status``).

        For targets: a staged root proposal for the next root version if there
        is one (both are published together), else the current root. None for
        root version 1, which only its own keys sign.
        """
        current = self.current(Root.type)
        root = current.signed if current is not None else None
        assert root is None or isinstance(root, Root)
        if proposal.role == Targets.type and self.staged_path(Root.type).exists():
            staged_root = Proposal.read(self.staged_path(Root.type)).metadata.signed
            assert isinstance(staged_root, Root)
            if staged_root.version == (root.version if root is not None else 0) + 1:
                return staged_root
        return root

    def review(self, proposal: Proposal) -> Review:
        return review(proposal.metadata, self.current(proposal.role))

    def status(self, proposal: Proposal) -> SignatureStatus:
        check_follows(proposal.metadata, self.current(proposal.role))
        return signature_status(proposal.metadata, self.delegator(proposal))

    # -- proposing
    def propose(
        self,
        role: str,
        changes: list[KeyChange],
        expires_days: float | None = None,
    ) -> Proposal:
        """Lint and stage the next version of ``role``; refuse a second proposal."""
        with self.workspace.lock():
            draft = self.draft(self.repository(), role, changes, expires_days)
            return self.stage(draft)

    def draft(
        self,
        repo: SignedRepository,
        role: str,
        changes: list[KeyChange],
        expires_days: float | None = None,
    ) -> Proposal:
        """The linted next version of ``role`` (not written). Caller holds the lock."""
        if role not in PROPOSAL_ROLES:
            raise PolicyError(
                f"ceremonies propose root or targets, not {role}; online roles change with "
                "'repo-sign rotate'"
            )
        path = self.staged_path(role)
        if path.exists():
            existing = Proposal.read(path)
            raise ConflictingFile(
                f"a {role} proposal (version {existing.version}, digest {existing.digest}, "
                f"{len(existing.metadata.signatures)} signatures) is already staged: publish it "
                f"or discard it ('repo-sign ceremony discard {role}') first"
            )
        days = repo.policy.role(role).expires_days if expires_days is None else expires_days
        if days <= 0:
            raise PolicyError(f"--expires {days:g}: the expiry would be in the past")
        md = repo.open(role)
        md.signatures.clear()
        md.signed.version += 1
        md.signed.expires = expiry(days)
        for change in changes:
            apply_change(md.signed, change)
        lint(md)
        return Proposal(path, md)

    def stage(self, proposal: Proposal) -> Proposal:
        """Write a drafted proposal to ``staged/``. Caller holds the lock."""
        proposal.write()
        return proposal

    def discard(self, role: str) -> Path:
        with self.workspace.lock():
            path = self.staged_path(role)
            if not path.exists():
                raise PolicyError(f"no {role} proposal is staged")
            if self.workspace.awaits_first_root():
                raise PolicyError(
                    f"{role} version 1 is this repository's first version: to start over, "
                    "delete the workspace and run 'repo-sign init' again"
                )
            path.unlink()
            return path

    # -- publishing
    def publish(self, proposals: list[Proposal] | None = None) -> Published:
        """Verify proposals as a client would and publish them (see module docstring).

        Without ``proposals``, every staged proposal is published together.
        Nothing is written unless everything verifies.
        """
        with self.workspace.lock():
            if self.workspace.awaits_first_root():
                return self._publish_first(proposals)
            repo = self.repository()
            proposals = proposals if proposals is not None else self.staged()
            if not proposals:
                raise PolicyError("nothing to publish: no proposal is staged")
            roles = [p.role for p in proposals]
            if len(set(roles)) != len(roles):
                raise ConflictingFile("two proposals for the same role: publish one of them")
            proposals = sorted(proposals, key=lambda p: PROPOSAL_ROLES.index(p.role))
            trusted_before = self._trusted_keyids(repo)
            signers_before = {name: dict(r.signers) for name, r in repo.policy.roles.items()}
            for p in proposals:
                lint(p.metadata)
                check_follows(p.metadata, repo.open(p.role))
                _require_ready(p, repo.root())
                repo.stage(p.role, p.metadata)
            sync_policy(repo.policy, repo, self.workspace)
            resigned = self._resign_unverifiable(repo)
            try:
                repo.do_snapshot()
                repo.do_timestamp()
            except ThresholdNotMet as exc:
                raise ThresholdNotMet(
                    f"{exc}: a new snapshot or timestamp key needs its private key at "
                    "keys/ROLE-KEYID16 (use 'repo-sign rotate') or a signer in repo-sign.toml"
                ) from exc
            check_client_view(repo)
            # Crash safety: until the new metadata is out, the policy names the old
            # and the new signers (only keys the metadata trusts ever sign).
            _with_signers(repo.policy, signers_before).save(self.workspace.policy_file)
            files = repo.publish()
            repo.policy.save(self.workspace.policy_file)
            retired = self._retire_keys(trusted_before - self._trusted_keyids(repo))
            for p in proposals:
                self._unstage(p)
        return Published(
            files=files,
            proposals=[f"{p.role} version {p.version}" for p in proposals],
            resigned=resigned,
            retired_keys=retired,
        )

    def _publish_first(self, proposals: list[Proposal] | None) -> Published:
        """Publish root and targets version 1, signed by their holders, and the online roles.

        Caller holds the lock. Both proposals ``init`` staged go out together
        (given ones replace the staged copies); the online roles are made and
        signed now, with the keys ``init`` made.
        """
        staged = {p.role: p for p in self.staged()}
        staged.update({p.role: p for p in proposals or []})
        missing = [role for role in PROPOSAL_ROLES if role not in staged]
        if missing:
            raise PolicyError(
                f"{' and '.join(missing)} version 1 is not staged: root and targets "
                "version 1 are published together"
            )
        root, targets = staged[Root.type], staged[Targets.type]
        for p in (root, targets):
            lint(p.metadata)
            check_follows(p.metadata, None)
            _require_ready(p, None if p is root else root.metadata.signed)
        policy = Policy.load(self.workspace.policy_file)
        metadata = initial_metadata(policy, _role_keys(root.metadata, targets.metadata))
        metadata.update({Root.type: root.metadata, Targets.type: targets.metadata})
        files = SignedRepository.create(self.workspace, policy, metadata, {}, self.passphrases)
        for p in (targets, root):  # root last: its staged copy marks an unpublished init
            self._unstage(p)
        return Published(
            files=files,
            proposals=[f"{p.role} version 1" for p in (root, targets)],
            resigned=[],
            retired_keys=[],
        )

    @staticmethod
    def _trusted_keyids(repo: SignedRepository) -> set[str]:
        result = set()
        for signed in (repo.root(), repo.targets()):
            for trust in delegations_of(signed).values():
                result.update(trust.keyids)
        return result

    def _resign_unverifiable(self, repo: SignedRepository) -> list[str]:
        """Re-sign targets and hash bins that the new delegator no longer verifies."""
        resigned = []
        for role in [Targets.type, *delegated_bins(repo.targets())]:
            delegator = repo.root() if role == Targets.type else repo.targets()
            md = repo.open(role)
            if _verifies(delegator, role, md):
                continue
            try:
                with repo.edit_targets(role):
                    pass
            except ThresholdNotMet as exc:
                hint = (
                    "stage a targets proposal, sign it with the new targets keys, and publish "
                    "both together"
                    if role == Targets.type
                    else f"put the new {BINS_PREFIX} key under keys/ or name it in repo-sign.toml"
                )
                raise ThresholdNotMet(
                    f"{role} would no longer verify with the keys this change trusts: {hint}"
                ) from exc
            resigned.append(role)
        return resigned

    def _retire_keys(self, keyids: set[str]) -> list[str]:
        """Move private key files of keys no role trusts any more to ``keys/retired/``."""
        retired = []
        for keyid in sorted(keyids):
            for private in sorted(self.workspace.keys.glob(f"*-{short_keyid(keyid)}")):
                target = self.workspace.keys / "retired" / private.name
                make_folder(target.parent, PRIVATE_FOLDER)
                private.rename(target)
                public = private.with_name(f"{private.name}.pub")
                if public.exists():
                    public.rename(target.with_name(f"{private.name}.pub"))
                retired.append(f"keys/{private.name}")
        return retired

    def _unstage(self, proposal: Proposal) -> None:
        """Remove the staged copy of a published proposal (same signed bytes only)."""
        path = self.staged_path(proposal.role)
        with contextlib.suppress(FileNotFoundError, PolicyError):
            if Proposal.read(path).digest == proposal.digest:
                path.unlink()


def _verifies(delegator: Root | Targets, role: str, md: Metadata) -> bool:
    try:
        delegator.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        return False
    return True


def check_client_view(repo: SignedRepository) -> None:
    """Every role about to be current verifies by its delegator, as a client checks it."""
    root = repo.root()
    failed = [
        role
        for role in (Targets.type, Snapshot.type, Timestamp.type)
        if not _verifies(root, role, repo.open(role))
    ]
    targets = repo.targets()
    failed += [
        role for role in delegated_bins(targets) if not _verifies(targets, role, repo.open(role))
    ]
    if failed:
        raise ThresholdNotMet(
            f"after this change {', '.join(failed)} would not verify for clients: nothing published"
        )


def _with_signers(policy: Policy, extra: dict[str, dict[str, str]]) -> Policy:
    """A copy of ``policy`` whose roles also name the signers in ``extra``."""
    merged = copy.deepcopy(policy)
    for name, signers in extra.items():
        if name in merged.roles:
            merged.roles[name].signers = {**signers, **merged.roles[name].signers}
    return merged


def sync_policy(policy: Policy, repo: SignedRepository, workspace: Workspace) -> None:
    """Make ``repo-sign.toml`` follow the trusted keys and thresholds.

    A kept key keeps its signer; a new key gets ``keys/ROLE-KEYID16`` when
    that private key file exists (online keys made by ``init`` or ``rotate``);
    keys no longer trusted lose their signer.
    """
    for signed in (repo.root(), repo.targets()):
        for role, trust in delegations_of(signed).items():
            if role not in policy.roles:
                continue
            role_policy = policy.roles[role]
            role_policy.threshold = trust.threshold
            signers = {}
            for keyid in trust.keyids:
                name = f"{role}-{short_keyid(keyid)}"
                if keyid in role_policy.signers:
                    signers[keyid] = role_policy.signers[keyid]
                elif (workspace.keys / name).exists():
                    signers[keyid] = f"keys/{name}"
            role_policy.signers = signers


# ---- a key holder's side ----------------------------------------------------------


def holder_signer(
    reference: str,
    role: str,
    candidates: dict[str, Key],
    passphrases: keys.PassphraseProvider,
    public_key: Path | None = None,
) -> Signer:
    """A signer for a key file (beside its ``.pub``) or a signer URI, to sign ``role``.

    For a URI without ``public_key``, the key is found among ``candidates``
    (the keys that can count for the proposal) by a probe signature.
    """
    if not keys.is_signer_uri(reference):
        pub = keys.read_public_key(public_key or Path(f"{reference}.pub"))
        return keys.load_signer(reference, pub, Path.cwd(), passphrases, role)
    if public_key is not None:
        candidates = {(k := keys.read_public_key(public_key)).keyid: k}
    probe = b"repo-sign: which key is this?"
    for key in candidates.values():
        with contextlib.suppress(Exception):  # backends raise anything for a wrong key
            signer = Signer.from_priv_key_uri(reference, key)
            if _valid(key, signer.sign(probe), probe):
                return signer
    raise KeyUnavailable(
        f"{reference} signs with none of the keys this proposal names: pass --public-key"
    )


def candidate_keys(proposal: Metadata, delegator: Root | None) -> dict[str, Key]:
    """Keys whose signatures can count for ``proposal``."""
    result: dict[str, Key] = {}
    for signed in (proposal.signed, delegator):
        if isinstance(signed, Root):
            role = proposal.signed.type
            result.update({k: signed.keys[k] for k in signed.roles[role].keyids})
    return result
