"""Status of every role, and re-signing the online roles before they expire.

Rules:
- Online roles (timestamp, snapshot, hash bins) are re-signed by ``refresh``
  once less than half of their validity period remains; the timestamp is
  re-signed on every run, so a cron job keeps clients from seeing a freeze.
- Offline roles (root, targets) cannot be re-signed unattended: from the start
  of their signing window (``signing_window_days`` before expiry) ``status``
  and ``refresh`` warn, and ``refresh`` exits non-zero, so a ceremony starts
  well before clients would fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from repo_sign.bins import delegated_bins
from repo_sign.policy import OFFLINE_ROLES
from repo_sign.repository import SignedRepository, format_time, now


@dataclass
class RoleStatus:
    name: str
    version: int
    expires: str
    threshold: int
    keys: list[str]
    signatures: int  # valid signatures by the role's keys
    online: bool

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "expires": self.expires,
            "threshold": self.threshold,
            "keys": self.keys,
            "signatures": self.signatures,
            "online": self.online,
        }


@dataclass
class Report:
    roles: dict[str, RoleStatus] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    needs_key_holders: bool = False

    def to_json(self) -> dict:
        return {
            "roles": {name: s.to_json() for name, s in self.roles.items()},
            "warnings": self.warnings,
        }


def _roles(repo: SignedRepository) -> list[str]:
    return [Root.type, Targets.type, *delegated_bins(repo.targets()), Snapshot.type, Timestamp.type]


def _valid_signatures(repo: SignedRepository, role: str, md: Metadata) -> int:
    """Signatures by the role's keys that verify, counted by python-tuf as a client counts them."""
    result = repo.delegator(role).get_verification_result(role, md.signed_bytes, md.signatures)
    return len(result.signed)


def status(repo: SignedRepository, roles: list[str] | None = None) -> Report:
    """Versions, expiry, keys and signatures of every role (or of ``roles``), with warnings."""
    report = Report()
    window = timedelta(days=repo.policy.signing_window_days)
    for role in _roles(repo) if roles is None else roles:
        md = repo.open(role)
        role_keys, threshold = repo.role_keys(role)
        online = role not in OFFLINE_ROLES
        s = RoleStatus(
            name=role,
            version=md.signed.version,
            expires=format_time(md.signed.expires),
            threshold=threshold,
            keys=sorted(role_keys),
            signatures=_valid_signatures(repo, role, md),
            online=online,
        )
        report.roles[role] = s
        left = md.signed.expires - now()
        if s.signatures < threshold:
            report.warnings.append(f"{role}: {s.signatures} of {threshold} required signatures")
        if left <= timedelta(0):
            report.warnings.append(f"{role} expired at {s.expires}")
            report.needs_key_holders |= not online
        elif not online and left <= window:
            report.warnings.append(
                f"{role} expires at {s.expires} ({left.days} days): start a signing ceremony"
            )
            report.needs_key_holders = True
        elif online and left <= timedelta(days=repo.policy.role(role).expires_days) / 2:
            report.warnings.append(f"{role} expires at {s.expires}: run 'repo-sign refresh'")
    return report


def refresh(repo: SignedRepository, force: bool = False) -> Report:
    """Re-sign online roles past half their validity (all with ``force``), and the timestamp.

    Made for cron on large repositories: a bin's expiry is read without
    parsing or verifying the whole bin, only due bins are loaded, and the
    report covers the top-level roles (``status`` checks every bin).
    """
    resigned = 0
    for role in delegated_bins(repo.targets()):
        if force or _past_half(repo, role, repo.expires(role)):
            with repo.edit_targets(role):
                resigned += 1
    snapshot_due = _past_half(repo, Snapshot.type, repo.expires(Snapshot.type))
    repo.do_snapshot(force=force or snapshot_due)
    repo.do_timestamp(force=True)
    written = repo.publish()
    report = status(repo, [Root.type, Targets.type, Snapshot.type, Timestamp.type])
    report.actions = [f"signed {name}" for name in written]
    return report


def _past_half(repo: SignedRepository, role: str, expires: datetime) -> bool:
    period = timedelta(days=repo.policy.role(role).expires_days)
    return expires - now() < period / 2
