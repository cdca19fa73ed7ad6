"""Choosing the number of hash bins, and changing it later (``repo-sign rebin``).

A new client downloads ``snapshot.json``, which lists every bin, and then
one bin per target it looks up. More bins make the snapshot longer and each
bin shorter, so the bytes a new client downloads to install one package are

    fixed + bins * snapshot_entry(bins) + lookups * targets / bins * target_entry

and the best power of two is the one that minimizes this sum: it grows like
the square root of the number of targets (``optimal_bins``).

The count is chosen for tufpip, which looks up one target per project: the
project's JSON page, whose signed entries give the sha256 and size of each
distribution and ``.metadata`` file (``_core-metadata-size``), so it never
opens their own bins. A stock ngclient client that looks up the page, the
``.metadata`` and the distribution reads three bins and pays more: at one
million files (4,096 bins) about 430 KB where tufpip reads 225 KB, against
about 405 KB had the count been chosen for three lookups (8,192 bins; see
the curve in docs/performance.md).

Rebinning moves every target into the bins of the new count in one publish:
``targets.json`` gets the new succinct delegation (the targets key signs it),
every new bin is signed by the bins key, then snapshot and timestamp. TUF
clients refuse a snapshot that drops a role their trusted snapshot lists
(spec 5.5.5, enforced by ngclient), so bins that no longer exist stay listed
in the snapshot at their last version; a bin whose name is reused gets the
next version, so no client sees a rollback.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from tuf.api.metadata import Metadata, SuccinctRoles, TargetFile, Targets

from repo_sign.errors import PolicyError
from repo_sign.repository import Changes, SignedRepository, bins_bit_length, expiry

# Bytes of one compact-JSON target entry (path, length, sha256) for a
# typical distribution path: measured on synthetic repositories (about 169).
TARGET_ENTRY_BYTES = 169
# Targets one installed package is looked up by, in tufpip: its JSON index
# page only (stock ngclient clients also look up the ``.metadata`` and the
# distribution, in two more bins).
LOOKUPS_PER_INSTALL = 1
# root, timestamp, targets and signatures: what a new client downloads whatever the bins.
FIXED_BYTES = 4000
MAX_BITS = 16  # 65,536 bins: beyond that the snapshot alone exceeds ngclient's 2 MB default


def delegated_bins(targets: Targets) -> list[str]:
    """The delegated roles of ``targets``: its hash bins, in order.

    Only the delegator says which bins are current: bins retired by a rebin
    stay listed in the snapshot (clients require it) but are neither
    delegated, nor re-signed, reported or verified. Metadata not made by
    repo-sign may delegate to named roles instead.
    """
    delegations = targets.delegations
    if delegations is None:
        return []
    if delegations.succinct_roles is not None:
        return list(delegations.succinct_roles.get_roles())
    return list(delegations.roles or {})


def snapshot_entry_bytes(count: int) -> int:
    """Compact JSON of one bin in snapshot.json: ``"bins-0a3.json":{"version":12},``."""
    digits = max(1, math.ceil(int(math.log2(count)) / 4))
    return len('"bins-.json":{"version":},') + digits + 3


def download_bytes(
    targets: int,
    count: int,
    target_entry: float = TARGET_ENTRY_BYTES,
    lookups: int = LOOKUPS_PER_INSTALL,
) -> int:
    """Predicted metadata bytes a new client downloads to install one package."""
    per_bin = targets / count * target_entry + 150  # bin entries plus its signature
    return int(FIXED_BYTES + count * snapshot_entry_bytes(count) + lookups * per_bin)


def optimal_bins(
    targets: int,
    target_entry: float = TARGET_ENTRY_BYTES,
    lookups: int = LOOKUPS_PER_INSTALL,
) -> int:
    """The power of two (at least 2) that minimizes ``download_bytes`` for ``targets``."""
    candidates = [2**bits for bits in range(1, MAX_BITS + 1)]
    return min(candidates, key=lambda c: (download_bytes(targets, c, target_entry, lookups), c))


@dataclass
class BinStats:
    """What the current bins hold: the input of ``optimal_bins``."""

    bins: int
    targets: int
    entry_bytes: float  # average compact JSON bytes per target entry


def current_stats(repo: SignedRepository) -> BinStats:
    """Count the targets in every current bin and their average entry size."""
    succinct = _succinct(repo)
    count = total_bytes = 0
    for name in succinct.get_roles():
        entries = repo.targets(name).targets
        count += len(entries)
        compact = {path: info.to_dict() for path, info in entries.items()}
        total_bytes += len(json.dumps(compact, separators=(",", ":"))) - 1
    entry = (total_bytes / count) if count else TARGET_ENTRY_BYTES
    return BinStats(succinct.number_of_bins, count, entry)


def rebin(repo: SignedRepository, count: int | None = None) -> tuple[int, Changes]:
    """Move every target into ``count`` bins (``None``: the optimal count); one publish.

    Returns the new count and what was published. Nothing is written unless
    everything is signed (the targets key is needed for the new delegation).
    """
    try:
        return _rebin(repo, count)
    finally:
        repo.discard()


def _rebin(repo: SignedRepository, count: int | None) -> tuple[int, Changes]:
    old = _succinct(repo)
    everything: dict[str, TargetFile] = {}
    for name in old.get_roles():
        everything.update(repo.targets(name).targets)
    if count is None:
        stats = current_stats(repo)
        count = optimal_bins(max(len(everything), 1), stats.entry_bytes)
    new = SuccinctRoles(old.keyids, old.threshold, bins_bit_length(count), old.name_prefix)
    changes = Changes()
    if count == old.number_of_bins:
        return count, changes
    with repo.edit_targets() as targets:
        assert targets.delegations is not None
        targets.delegations.succinct_roles = new
    by_bin: dict[str, dict[str, TargetFile]] = {name: {} for name in new.get_roles()}
    for path, info in everything.items():
        by_bin[new.get_role_for_target(path)][path] = info
    period = repo.policy.role(old.name_prefix).expires_days
    for name, bin_targets in by_bin.items():
        version = repo._snapshot_versions.get(name, 0) + 1
        md = Metadata(Targets(version=version, expires=expiry(period), targets=bin_targets))
        repo.sign(name, md)
        repo.set_staged(name, md.to_bytes())
    changes.published = repo.snapshot_and_timestamp()
    repo.policy.bins = count
    repo.policy.save(repo.workspace.policy_file)
    return count, changes


def _succinct(repo: SignedRepository) -> SuccinctRoles:
    delegations = repo.targets().delegations
    if delegations is None or delegations.succinct_roles is None:
        raise PolicyError(
            "this repository keeps every target in targets.json (--bins 0): "
            "rebinning needs a repository created with hash bins"
        )
    return delegations.succinct_roles
