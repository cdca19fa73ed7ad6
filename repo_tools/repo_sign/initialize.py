"""Creating a new repository: keys for every role, policy, version 1 of all metadata."""

from __future__ import annotations

from securesystemslib.signer import CryptoSigner, Key, Signer

from . import keys
from .errors import AlreadyInitialized, PolicyError
from .policy import BINS_PREFIX, DEFAULT_EXPIRY_DAYS, Policy, RolePolicy
from .repository import SignedRepository, bins_bit_length
from .workspace import Workspace


def init_repository(
    workspace: Workspace,
    passphrases: keys.PassphraseProvider,
    *,
    root_keys: int = 1,
    root_threshold: int = 1,
    key_type: str = "ed25519",
    bins: int = 16,
    expires: dict[str, float] | None = None,
) -> list[str]:
    """Make keys, write ``repo-sign.toml`` and publish version 1 of every role.

    Refuses a workspace that already holds a policy or metadata. The policy
    file is written last: a run interrupted before it leaves no repository,
    and ``init`` can simply be run again.
    """
    if workspace.policy_file.exists() or any(workspace.metadata.glob("*.json")):
        raise AlreadyInitialized(
            f"{workspace.root} already holds a repository: refusing to overwrite it"
        )
    if not 1 <= root_threshold <= root_keys:
        raise PolicyError(
            f"a root threshold of {root_threshold} needs between 1 and {root_keys} "
            f"(--root-keys) keys"
        )
    if bins:
        bins_bit_length(bins)
    periods = dict(DEFAULT_EXPIRY_DAYS)
    for role, days in (expires or {}).items():
        if role not in periods:
            raise PolicyError(f"unknown role {role!r} in --expires: use {', '.join(periods)}")
        if days <= 0:
            raise PolicyError(f"--expires {role}={days}: a validity period must be positive")
        periods[role] = days
    counts = {"root": root_keys, "targets": 1, "snapshot": 1, "timestamp": 1}
    if bins:
        counts[BINS_PREFIX] = 1
    policy = Policy(roles={}, bins=bins)
    role_keys: dict[str, list[Key]] = {}
    signers: dict[str, Signer] = {}
    for role, count in counts.items():
        role_policy = RolePolicy(
            threshold=root_threshold if role == "root" else 1, expires_days=periods[role]
        )
        role_keys[role] = []
        for _ in range(count):
            private, public = keys.generate(key_type)
            name = keys.private_key_name(role, public)
            path = workspace.keys / name
            keys.write_key_pair(path, private, public, passphrases(f"keys/{name}", role, True))
            role_policy.signers[public.keyid] = f"keys/{name}"
            role_keys[role].append(public)
            signers[public.keyid] = CryptoSigner(private, public)
        policy.roles[role] = role_policy
    written = SignedRepository.create(workspace, policy, role_keys, signers)
    policy.save(workspace.policy_file)
    return written
