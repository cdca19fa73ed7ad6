"""What a proposal changes, for key holders to read before they sign.

Rules:

- A review compares the proposal with the trusted version it follows when
  that version is known, and then shows only what changes; otherwise it lists
  every key. Keys are shown by fingerprint and the review ends with the
  proposal's digest, for holders to compare out of band.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from securesystemslib.signer import Key
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from repo_sign import keys
from repo_sign.ceremony.signatures import digest
from repo_sign.ceremony.trust import Trust, delegations_of
from repo_sign.repository import format_time


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
    assert isinstance(new, Root | Targets) and (old is None or isinstance(old, Root | Targets))
    new_roles = delegations_of(new)
    old_roles = delegations_of(old) if old is not None else {}
    diffs = []
    for role in sorted(set(new_roles) | set(old_roles), key=_role_order):
        n = new_roles.get(role, Trust((), 0))
        o = old_roles.get(role, Trust((), 0)) if old is not None else None
        old_ids = set(o.keyids) if o is not None else set()
        diffs.append(
            RoleDiff(
                role=role,
                added=[new.get_key(k) for k in n.keyids if o is not None and k not in old_ids],
                removed=[old.get_key(k) for k in o.keyids if k not in n.keyids]
                if old is not None and o is not None
                else [],
                kept=[new.get_key(k) for k in n.keyids if o is None or k in old_ids],
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
        expires=format_time(new.expires),
        digest=digest(proposal),
        roles=diffs,
        notes=notes,
        base_expires=format_time(old.expires) if old is not None else None,
    )


def _role_order(role: str) -> tuple[int, str]:
    order = (Root.type, Targets.type, Snapshot.type, Timestamp.type)
    return (order.index(role), role) if role in order else (len(order), role)
