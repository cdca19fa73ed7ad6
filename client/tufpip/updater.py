"""The one place where tufpip builds ngclient Updaters.

Every part of the client (the verifying index, the CLI, the conformance
adapter) constructs its ``tuf.ngclient.Updater`` here, so they all share the
same fetcher, limits and trust bootstrap rules.
"""

from __future__ import annotations

from pathlib import Path

from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig

from tufpip.fetcher import RequestsFetcher
from tufpip.state import make_private_folder


def default_config() -> UpdaterConfig:
    """Return the limits tufpip uses.

    ngclient's defaults are kept: they bound every metadata download (root
    512 kB, timestamp 16 kB, snapshot 2 MB, targets 5 MB unless snapshot or
    timestamp state a length), and allow 256 root rotations and 32 delegations
    per lookup, which fits curated package repositories. Consistent-snapshot
    targets are fetched by hash-prefixed name so a repository can publish
    new files without racing clients.
    """
    return UpdaterConfig(
        max_root_rotations=256,
        max_delegations=32,
        root_max_length=512_000,
        timestamp_max_length=16_384,
        snapshot_max_length=2_000_000,
        targets_max_length=5_000_000,
        prefix_targets_with_hash=True,
    )


def build_updater(
    metadata_dir: Path,
    metadata_url: str,
    target_dir: Path | None,
    target_url: str | None,
    bootstrap: bytes | None,
    fetcher: FetcherInterface | None = None,
    config: UpdaterConfig | None = None,
) -> Updater:
    """Create an ngclient Updater with tufpip's fetcher and limits.

    Args:
        metadata_dir: Folder of trusted metadata; created (0700) if missing. Only one
            Updater may use it at a time: callers lock it.
        metadata_url: Base URL of the repository's metadata (http, https or
            file).
        target_dir: Default download folder, or None when callers always pass
            ``filepath`` to ``download_target``.
        target_url: Base URL of the repository's targets, or None when only
            metadata is refreshed.
        bootstrap: The trusted root's bytes (the root shipped with the client
            or given at initialisation), or None to trust the cached
            ``root.json`` in ``metadata_dir``.
        fetcher: Transport; a ``RequestsFetcher`` with default timeouts if None.
        config: Limits; ``default_config()`` if None.

    Raises:
        OSError: ``bootstrap`` is None and the cached root.json cannot be read.
        tuf.api.exceptions.RepositoryError: The root to start from is invalid.
    """
    # ngclient keeps every root it accepts in root_history/: made private here.
    make_private_folder(metadata_dir / "root_history")
    return Updater(
        str(metadata_dir),
        metadata_url,
        None if target_dir is None else str(target_dir),
        target_url,
        fetcher if fetcher is not None else RequestsFetcher(),
        config if config is not None else default_config(),
        bootstrap=bootstrap,
    )
