"""Proposals: the next version of root or targets, linted, in a file that travels.

Rules:

- Lint before anything is written or signed: every role's threshold lies
  between 1 and its number of keys, no key is listed twice or added to a role
  that already trusts it, every key id is the sha256 of its key's canonical
  JSON (TUF spec 4.2, "keyid"), and the expiry lies in the future.
- A proposal follows exactly one trusted version: its version is the current
  one plus one (TUF spec 5.3.4 for root, 5.6 for targets); a proposal whose
  base has moved on is stale and refused.
- Signing appends (``Metadata.sign(append=True)``): it never removes another
  holder's signature, and every signature is verified as it is added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed, Targets
from tuf.api.serialization import DeserializationError

from repo_sign import keys
from repo_sign.ceremony.signatures import digest, stale, valid_signature
from repo_sign.ceremony.trust import delegations_of, key_store
from repo_sign.errors import ConflictingFile, KeyUnavailable, PolicyError
from repo_sign.fsutil import write_atomic
from repo_sign.keys import short_keyid
from repo_sign.policy import BINS_PREFIX
from repo_sign.repository import format_time, now

PROPOSAL_ROLES = (Root.type, Targets.type)


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
            f"{format_time(signed.expires)}, in the past: propose it again"
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


def check_follows(proposal: Metadata, current: Metadata | None) -> None:
    """Refuse a proposal that is not the next version of ``current`` (None: none yet)."""
    version = current.signed.version if current is not None else 0
    if proposal.signed.version != version + 1:
        raise ConflictingFile(stale(proposal.signed.type, proposal.signed.version, version))


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
        if existing is not None and valid_signature(signer.public_key, existing, md.signed_bytes):
            return False
        try:
            signature = md.sign(signer, append=True)
        except UnsignedMetadataError as exc:
            raise KeyUnavailable(f"key {short_keyid(keyid)} could not sign: {exc}") from exc
        if not valid_signature(signer.public_key, signature, md.signed_bytes):
            md.signatures.pop(keyid, None)
            raise KeyUnavailable(
                f"the signature by {short_keyid(keyid)} does not verify with its key"
            )
        return True
