"""A key holder's side of a ceremony: reading a proposal and signing it on their machine.

Rules:

- A key holder needs no workspace: a key file (beside its ``.pub``) or a
  signer URI, and the proposal file, are enough. The proposal is compared
  with the workspace when there is one, else with the trusted versions the
  holder was given (``--trusted``), else every key it names is listed.
- A proposal is linted and checked to follow its trusted version before it
  is shown or signed.
- A key that counts for no threshold of a proposal whose thresholds are all
  known here is refused (its signature would add nothing); a key not named
  by the proposal itself is signed with, with a note, when the current root
  is not known here.
- A holder reads the review and the digest before signing: the key's
  passphrase is asked for after the review, and the confirmation names the
  digest and the key's fingerprint.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from securesystemslib.signer import Key, Signer
from tuf.api.metadata import Metadata, Root

from repo_sign import keys
from repo_sign.ceremony.proposal import Proposal, check_follows, lint
from repo_sign.ceremony.review import review
from repo_sign.ceremony.signatures import SignatureStatus, signature_status, valid_signature
from repo_sign.ceremony.staging import Ceremony
from repo_sign.errors import KeyUnavailable, PolicyError
from repo_sign.keys import short_keyid


@dataclass
class Comparison:
    """What a proposal is compared with: the trusted version it follows, and its root."""

    current: Metadata | None
    delegator: Root | None
    known: bool  # False: neither a workspace nor trusted files to compare with

    @classmethod
    def of(
        cls, proposal: Proposal, ceremony: Ceremony | None, trusted: Sequence[Path] = ()
    ) -> Comparison:
        """Compare with the workspace when there is one, else with the ``trusted`` files."""
        if ceremony is not None:
            current = ceremony.current(proposal.role)
            check_follows(proposal.metadata, current)
            return cls(current, ceremony.delegator(proposal), True)
        files = {md.signed.type: md for md in (Proposal.read(path).metadata for path in trusted)}
        root = files.get(Root.type)
        current = files.get(proposal.role)
        if current is not None:
            check_follows(proposal.metadata, current)
        delegator = root.signed if root is not None else None
        assert delegator is None or isinstance(delegator, Root)
        return cls(current, delegator, current is not None or proposal.version == 1)

    def review(self, proposal: Proposal) -> list[str]:
        """What ``proposal`` changes against the trusted version (every key when unknown)."""
        lines = review(proposal.metadata, self.current).lines()
        if not self.known:
            lines.insert(
                1,
                "  (every key is listed: pass --trusted ROLE.json, the current "
                "version, to see only what changes)",
            )
        return lines

    def status(self, proposal: Proposal) -> SignatureStatus:
        return signature_status(proposal.metadata, self.delegator)

    def describe(self, proposal: Proposal) -> list[str]:
        """The proposal's file, what it changes, who signed it and what it still needs."""
        return [f"{proposal.path}:", *self.review(proposal), *self.status(proposal).lines()]


class HolderSigning:
    """One key holder adding one signature to one proposal file.

    ``open`` checks the proposal, ``use_key`` opens the key and checks that
    its signature can count, ``sign`` appends it and writes the file.
    """

    def __init__(self, proposal: Proposal, comparison: Comparison) -> None:
        self.proposal = proposal
        self.comparison = comparison
        self.before = comparison.status(proposal)
        self.signer: Signer | None = None

    @classmethod
    def open(
        cls, path: Path, ceremony: Ceremony | None, trusted: Sequence[Path] = ()
    ) -> HolderSigning:
        proposal = Proposal.read(path)
        lint(proposal.metadata)
        return cls(proposal, Comparison.of(proposal, ceremony, trusted))

    def review(self) -> list[str]:
        return self.comparison.review(self.proposal)

    def use_key(
        self, reference: str, passphrases: keys.PassphraseProvider, public_key: Path | None = None
    ) -> list[str]:
        """Open the key to sign with (see ``holder_signer``); return notes for the holder."""
        candidates = candidate_keys(self.proposal.metadata, self.comparison.delegator)
        role = self.proposal.role
        self.signer = holder_signer(reference, role, candidates, passphrases, public_key)
        keyid = self.signer.public_key.keyid
        if keyid in self.before.relevant_keyids():
            return []
        if self.before.complete:
            raise PolicyError(
                f"key {short_keyid(keyid)} counts for no threshold of {role} version "
                f"{self.proposal.version}: signing with it would add nothing"
            )
        return [
            f"note: key {short_keyid(keyid)} is not a key of this proposal: it counts only if "
            "the current root trusts it"
        ]

    def question(self) -> str:
        """What the holder confirms: the proposal, its digest and the key's fingerprint."""
        assert self.signer is not None
        p = self.proposal
        return (
            f"Sign {p.role} version {p.version} (digest {p.digest}) "
            f"with key {keys.fingerprint(self.signer.public_key)}?"
        )

    def sign(self) -> list[str]:
        """Append the signature, write the file, and say what the signature counted for."""
        assert self.signer is not None
        keyid = self.signer.public_key.keyid
        if not self.proposal.sign(self.signer):
            return [
                f"{short_keyid(keyid)} had already signed: nothing changed",
                *self.before.lines(),
            ]
        self.proposal.write()
        after = self.comparison.status(self.proposal)
        return [
            f"signed by {short_keyid(keyid)}; {self.proposal.path} holds "
            f"{len(self.proposal.metadata.signatures)} signature(s)",
            *(f"this signature {line}" for line in after.gained(self.before, keyid)),
            *after.lines(),
        ]


def holder_signer(
    reference: str,
    role: str,
    candidates: dict[str, Key],
    passphrases: keys.PassphraseProvider,
    public_key: Path | None = None,
) -> Signer:
    """A signer for a key file (beside its ``.pub``) or a signer URI, to sign ``role``.

    For a URI without ``public_key``, the key is found among ``candidates``
    (the keys that can count for the proposal) by a probe signature; signers
    that need a secret (a token's PIN) need ``public_key``.
    """
    if not keys.is_signer_uri(reference):
        pub = keys.read_public_key(public_key or Path(f"{reference}.pub"))
        return keys.load_signer(reference, pub, Path.cwd(), passphrases, role)
    if public_key is not None:
        return keys.load_signer(
            reference, keys.read_public_key(public_key), Path.cwd(), passphrases, role
        )
    probe = b"repo-sign: which key is this?"
    for key in candidates.values():
        with contextlib.suppress(Exception):  # backends raise anything for a wrong key
            signer = Signer.from_priv_key_uri(reference, key)
            if valid_signature(key, signer.sign(probe), probe):
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
            keyids = signed.get_delegated_role(role).keyids
            result.update({k: signed.get_key(k) for k in keyids})
    return result
