"""What publishing a ceremony's proposals checks and changes besides the proposals.

Rules:

- Publishing writes the proposal and re-signs with the new keys whatever the
  change left unverifiable: snapshot and timestamp when their keys rotated,
  every hash bin when the bins keys rotated, all in one publish ordered
  bottom-up with root before the snapshot and timestamp that its new keys
  sign (TUF spec 5.3.11: a client that sees the timestamp or snapshot keys
  rotate discards its cached copies, which undoes a fast-forward attack).
- Nothing is published unless every role about to be current verifies by its
  delegator, as a client checks it.
- ``repo-sign.toml`` follows what was published: thresholds, and the signers
  of online keys (``keys/ROLE-KEYID16``, as ``init`` and ``rotate`` store them).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from securesystemslib.signer import Key
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from repo_sign.bins import delegated_bins
from repo_sign.ceremony.proposal import Proposal
from repo_sign.ceremony.signatures import signature_status
from repo_sign.ceremony.trust import delegations_of
from repo_sign.errors import ThresholdNotMet
from repo_sign.keys import short_keyid
from repo_sign.policy import BINS_PREFIX, Policy
from repo_sign.repository import SignedRepository
from repo_sign.workspace import Workspace


@dataclass
class Published:
    """What one ``publish`` did, for the CLI to report."""

    files: list[str]
    proposals: list[str]
    resigned: list[str]
    retired_keys: list[str]

    def lines(self) -> list[str]:
        out = [f"published {', '.join(self.proposals)}"]
        if self.resigned:
            out.append(f"re-signed with the new keys: {', '.join(self.resigned)}")
        out.append(f"files: {', '.join(self.files)}")
        out += [
            f"retired {name} to keys/retired/ (no role trusts it any more)"
            for name in self.retired_keys
        ]
        return out


def require_ready(proposal: Proposal, delegator: Root | None) -> None:
    """Refuse a proposal that is not signed by every threshold a client will check."""
    status = signature_status(proposal.metadata, delegator)
    if not status.ready:
        counts = "; ".join(c.line() for c in status.counts)
        raise ThresholdNotMet(
            f"{proposal.role} version {proposal.version} is not signed by a threshold: "
            f"{counts}: collect signatures with 'repo-sign ceremony sign'"
        )


def keys_by_role(root: Metadata, targets: Metadata) -> dict[str, list[Key]]:
    """The public keys of every role, as ``initial_metadata`` takes them."""
    result = {}
    for signed in (root.signed, targets.signed):
        assert isinstance(signed, Root | Targets)
        for role, trust in delegations_of(signed).items():
            result[role] = [signed.get_key(k) for k in trust.keyids]
    return result


def resign_unverifiable(repo: SignedRepository) -> list[str]:
    """Re-sign targets and hash bins that the new delegator no longer verifies."""
    resigned = []
    for role in [Targets.type, *delegated_bins(repo.targets())]:
        delegator = repo.root() if role == Targets.type else repo.targets()
        md = repo.open(role)
        if verifies(delegator, role, md):
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


def trusted_keyids(repo: SignedRepository) -> set[str]:
    """Every key id that root or targets trusts for some role."""
    result: set[str] = set()
    for signed in (repo.root(), repo.targets()):
        for trust in delegations_of(signed).values():
            result.update(trust.keyids)
    return result


def verifies(delegator: Root | Targets, role: str, md: Metadata) -> bool:
    """Whether ``md`` meets the threshold ``delegator`` sets for ``role``."""
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
        if not verifies(root, role, repo.open(role))
    ]
    targets = repo.targets()
    failed += [
        role for role in delegated_bins(targets) if not verifies(targets, role, repo.open(role))
    ]
    if failed:
        raise ThresholdNotMet(
            f"after this change {', '.join(failed)} would not verify for clients: nothing published"
        )


def with_signers(policy: Policy, extra: dict[str, dict[str, str]]) -> Policy:
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
