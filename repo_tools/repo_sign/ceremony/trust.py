"""Who trusts whom: the roles that root and targets delegate to, and their keys.

python-tuf looks up one delegated role (``get_delegated_role``) or one key
(``get_key``); a ceremony also needs every delegated role at once, with the
hash bins (TAP 15 succinct roles) counted as one role named by their prefix,
and every key listed: tuf has no lookup for those, so they are here.
"""

from __future__ import annotations

from dataclasses import dataclass

from securesystemslib.signer import Key
from tuf.api.metadata import Root, Signed, Targets


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
