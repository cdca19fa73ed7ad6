"""Creating a new repository: keys, policy, and version 1 of every role.

Rules:

- Online roles (timestamp, snapshot, hash bins) get keys made here, in
  ``keys/``: they sign unattended.
- An offline role (root, targets) given key holders' public keys
  (``holders``) never has a private key here: its version 1 is staged as a
  ceremony proposal (``staged/ROLE.json``) that the holders sign on their own
  machines and ``repo-sign ceremony publish`` makes live, together with the
  online roles (see ``ceremony``). Until then nothing is published.
- Without holders, root and targets keys are made here too and everything is
  published at once: a threshold in name only, for demos and tests.
- The policy file is written last: a run interrupted before it leaves no
  repository, and ``init`` can simply be run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from securesystemslib.signer import CryptoSigner, Key, Signer
from tuf.api.metadata import Root, Targets

from repo_sign import keys
from repo_sign.ceremony.proposal import Proposal, lint
from repo_sign.errors import AlreadyInitialized, PolicyError
from repo_sign.policy import BINS_PREFIX, DEFAULT_EXPIRY_DAYS, OFFLINE_ROLES, Policy, RolePolicy
from repo_sign.repository import SignedRepository, bins_bit_length, initial_metadata
from repo_sign.workspace import Workspace


def init_repository(
    workspace: Workspace,
    passphrases: keys.PassphraseProvider,
    *,
    root_keys: int = 1,
    thresholds: dict[str, int] | None = None,
    holders: Mapping[str, Sequence[Key]] | None = None,
    key_type: str = "ed25519",
    bins: int = 16,
    expires: dict[str, float] | None = None,
) -> list[str]:
    """Make keys and policy; publish version 1, or stage it for the key holders.

    ``holders`` maps root and/or targets to their key holders' public keys,
    ``thresholds`` maps them to their thresholds (default 1). Returns the
    metadata files published, or the proposals staged when there are holders.
    Refuses a workspace that already holds a policy or metadata.
    """
    if workspace.policy_file.exists() or any(workspace.metadata.glob("*.json")):
        raise AlreadyInitialized(
            f"{workspace.root} already holds a repository: refusing to overwrite it"
        )
    holders = {role: tuple(held) for role, held in (holders or {}).items() if held}
    thresholds = thresholds or {}
    counts = {Root.type: root_keys, Targets.type: 1, "snapshot": 1, "timestamp": 1}
    if bins:
        bins_bit_length(bins)
        counts[BINS_PREFIX] = 1
    for role in OFFLINE_ROLES:
        held = holders.get(role, ())
        if len({k.keyid for k in held}) != len(held):
            raise PolicyError(f"a {role} key holder's key is given twice")
        number = len(held) or counts[role]
        threshold = thresholds.get(role, 1)
        if not 1 <= threshold <= number:
            source = f"--{role}-key" if held else f"--{role}-keys"
            raise PolicyError(
                f"a {role} threshold of {threshold} needs between 1 and {number} ({source}) keys"
            )
    periods = _periods(expires or {})
    policy = Policy(roles={}, bins=bins)
    role_keys: dict[str, list[Key]] = {}
    signers: dict[str, Signer] = {}
    for role, count in counts.items():
        role_policy = RolePolicy(threshold=thresholds.get(role, 1), expires_days=periods[role])
        role_keys[role] = list(holders.get(role, ()))
        for _ in range(0 if role in holders else count):
            private, public = keys.generate(key_type)
            name = keys.private_key_name(role, public)
            keys.write_key_pair(
                workspace.keys / name, private, public, passphrases(f"keys/{name}", role, True)
            )
            role_policy.signers[public.keyid] = f"keys/{name}"
            role_keys[role].append(public)
            signers[public.keyid] = CryptoSigner(private, public)
        policy.roles[role] = role_policy
    metadata = initial_metadata(policy, role_keys)
    if not holders:
        written = SignedRepository.create(workspace, policy, metadata, signers)
        policy.save(workspace.policy_file)
        return written
    staged = []
    for role in (Targets.type, Root.type):  # root last: its presence marks a staged init
        proposal = Proposal(workspace.staged / f"{role}.json", metadata[role])
        if role not in holders:
            for key in role_keys[role]:
                proposal.sign(signers[key.keyid])
        lint(proposal.metadata)
        proposal.write()
        staged.append(str(proposal.path))
    policy.save(workspace.policy_file)
    return staged


def _periods(expires: dict[str, float]) -> dict[str, float]:
    periods: dict[str, float] = dict(DEFAULT_EXPIRY_DAYS)
    for role, days in expires.items():
        if role not in periods:
            raise PolicyError(f"unknown role {role!r} in --expires: use {', '.join(periods)}")
        if days <= 0:
            raise PolicyError(f"--expires {role}={days}: a validity period must be positive")
        periods[role] = days
    return periods
