"""Counting a proposal's signatures as a client would, and what they still need.

Rules:

- Every signature is verified with its key (python-tuf's verification
  results, or ``Key.verify_signature`` for one signature); a signature that
  does not verify counts for nothing.
- A new root is trusted by clients only when it is signed by a threshold of
  the *current* root's root keys AND a threshold of its *own* root keys (TUF
  spec 5.3.4). ``SignatureStatus`` shows both counts; ``publish`` checks both
  with python-tuf's ``Root.get_root_verification_result``, as a client does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from securesystemslib.signer import Key, Signature
from tuf.api.metadata import Metadata, Root, Targets, VerificationResult

from repo_sign.errors import ConflictingFile
from repo_sign.keys import short_keyid


def digest(md: Metadata) -> str:
    """Short digest of the signed bytes, for key holders to compare out of band.

    The first 16 hex digits of the sha256 of the canonical signed bytes (what
    every signature covers), grouped by four for reading aloud.
    """
    hexdigest = hashlib.sha256(md.signed_bytes).hexdigest()[:16]
    return " ".join(hexdigest[i : i + 4] for i in range(0, 16, 4))


def valid_signature(key: Key, signature: Signature, payload: bytes) -> bool:
    """Whether ``signature`` over ``payload`` verifies with ``key``."""
    try:
        key.verify_signature(signature, payload)
    except Exception:  # securesystemslib raises several types for a bad signature
        return False
    return True


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


def _count(label: str, result: VerificationResult) -> ThresholdCount:
    return ThresholdCount(
        label=label,
        keyids=tuple(sorted(set(result.signed) | set(result.unsigned))),
        signed=sorted(result.signed),
        threshold=result.threshold,
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
                raise ConflictingFile(stale(Root.type, new.version, delegator.version))
            both = new.get_root_verification_result(delegator, payload, sigs)
            counts.append(_count(f"keys of current root version {delegator.version}", both.first))
            own = both.second
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


def stale(role: str, version: int, current: int) -> str:
    """Why a proposal whose trusted version has moved on is refused, and what to do."""
    return (
        f"the proposal is {role} version {version} but the repository's {role} is at "
        f"version {current}: it is stale; discard it ('repo-sign ceremony discard {role}') "
        "and propose again"
    )
