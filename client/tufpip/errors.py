"""Typed errors of tufpip, their exit statuses, and ngclient errors in the user's words.

Rules:
- The library raises only ``TufpipError`` subclasses and never prints; the
  command line prints ``str(error)`` as one line and exits with
  ``error.exit_code``.
- ``translate()`` turns what python-tuf raises into the user's words, keeping
  the TUF reason: a rollback names both versions, a freeze names the expiry,
  tampering names the target path. python-tuf has no rollback exception: a
  rollback is a ``BadVersionNumberError`` whose message carries the versions.
- A 401 is an authentication failure, and so is a 403 on metadata (a 403 on
  a target may be a missing file on some static hosts). Credentials in URLs
  are redacted (``urls.redact``) in every message made here.
"""

from __future__ import annotations

import re
from datetime import datetime

from tuf.api import exceptions as tuf_exc


class TufpipError(Exception):
    """Base of every error tufpip reports: one line, one exit status."""

    exit_code = 1


class InstallerFailed(TufpipError):
    """pip or uv failed for a reason of its own; its output says why."""

    exit_code = 1


class UsageError(TufpipError):
    """Arguments tufpip cannot act on, such as an unreadable requirements file."""

    exit_code = 2


class RefusedSource(TufpipError):
    """The arguments or a requirements file name a package source other than the index."""

    exit_code = 3


class VerificationError(TufpipError):
    """The repository's metadata or a target failed TUF verification."""

    exit_code = 4


class RollbackDetected(VerificationError):
    """Metadata older than the metadata already trusted."""


class FreezeDetected(VerificationError):
    """Expired metadata: the repository or a mirror serves stale state."""


class TamperingDetected(VerificationError):
    """A target's bytes differ from its signed length and hashes."""


class UnsignedDependency(VerificationError):
    """A signed file whose dependencies send the installer to an unsigned source (a URL)."""


class NotFound(TufpipError):
    """A project, file or target that the repository does not sign."""

    exit_code = 5


class Unreachable(TufpipError):
    """The repository could not be reached or did not serve a file."""

    exit_code = 6


class AuthenticationFailed(TufpipError):
    """The repository refused the credentials (HTTP 401, or 403 on metadata)."""

    exit_code = 8


class StateError(TufpipError):
    """tufpip's own state: no repository recorded, unknown name, unreadable files."""

    exit_code = 7


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "the installer failed for a reason of its own (its output says why)",
    2: "usage error: unknown command, bad option or URL, nothing to install into",
    3: "refused: an option or requirement names another package source",
    4: "verification failed: rollback, freeze, tampering, bad signatures, or a signed file"
    " whose dependencies name a URL",
    5: "not found: the repository signs no such project or file",
    6: "network: the repository could not be reached",
    7: "local state: no repository recorded, unknown repository, unreadable state",
    8: "authentication: the repository refused the credentials (URL or ~/.netrc)",
    130: "interrupted",
}

_TIMESTAMP_ROLLBACK = re.compile(r"New timestamp version (\d+) must be >= (\d+)")
_SNAPSHOT_ROLLBACK = re.compile(r"New snapshot version must be >= (\d+), got version (\d+)")
# python-tuf names the new version first and the trusted one second here.
_META_ROLLBACK = re.compile(r"Expected (\S+\.json) version (\d+), got (\d+)\.")
# A targets or bin file whose version differs from the one the snapshot lists
# (python-tuf names the listed version first here).
_DELEGATE_VERSION = re.compile(r"Expected (\S+) v(\d+), got v(\d+)\.")


def translate(
    error: Exception,
    *,
    repository: str,
    target: str | None = None,
    timestamp_expiry: datetime | None = None,
) -> TufpipError:
    """The user's one-line version of an error raised by python-tuf.

    ``repository`` is the base URL, ``target`` the target path being fetched
    when the error happened (``None`` while refreshing metadata), and
    ``timestamp_expiry`` the expiry of the newest verified timestamp, when known.
    """
    from tufpip.urls import redact  # urls raises this module's UsageError

    if isinstance(error, TufpipError):
        return error
    repository = redact(repository)
    message = redact(str(error))
    if isinstance(error, tuf_exc.BadVersionNumberError):
        return _rollback(message)
    if isinstance(error, tuf_exc.ExpiredMetadataError):
        if message == "timestamp.json is expired" and timestamp_expiry is not None:
            when = timestamp_expiry.strftime("%Y-%m-%d %H:%M:%S UTC")
            message = f"timestamp.json expired at {when}"
        return FreezeDetected(f"{message}: the repository serves stale metadata (freeze?)")
    if isinstance(error, tuf_exc.LengthOrHashMismatchError) and target:
        return TamperingDetected(f"hash of {target} does not match signed metadata")
    if isinstance(error, tuf_exc.DownloadLengthMismatchError) and target:
        return TamperingDetected(f"{target} is longer than its signed length")
    if isinstance(error, tuf_exc.UnsignedMetadataError):
        return VerificationError(f"metadata not signed by trusted keys: {message}")
    if isinstance(error, tuf_exc.RepositoryError | tuf_exc.DownloadLengthMismatchError):
        return VerificationError(f"metadata failed verification: {message}")
    if isinstance(error, tuf_exc.DownloadHTTPError) and (
        error.status_code == 401 or (error.status_code == 403 and target is None)
    ):
        return AuthenticationFailed(
            f"authentication failed for {repository} (HTTP {error.status_code}):"
            " check credentials or ~/.netrc"
        )
    if isinstance(error, tuf_exc.DownloadHTTPError):
        what = target or "metadata"
        return Unreachable(f"{repository} answered HTTP {error.status_code} for {what}")
    if isinstance(error, tuf_exc.DownloadError):
        return Unreachable(f"cannot reach repository {repository}: {redact(_cause(error))}")
    if isinstance(error, OSError):
        return StateError(f"cannot use tufpip's local state: {error}")
    return TufpipError(f"{type(error).__name__}: {message}")


def _rollback(message: str) -> RollbackDetected:
    if match := _TIMESTAMP_ROLLBACK.search(message):
        new, trusted = match.groups()
        return RollbackDetected(
            f"rollback refused: timestamp version {new} is older than trusted version {trusted}"
        )
    if match := _SNAPSHOT_ROLLBACK.search(message):
        trusted, new = match.groups()
        return RollbackDetected(
            f"rollback refused: snapshot version {new} is older than trusted version {trusted}"
        )
    if match := _META_ROLLBACK.search(message):
        name, new, trusted = match.groups()
        return RollbackDetected(
            f"rollback refused: {name} version {new} is older than trusted version {trusted}"
        )
    if match := _DELEGATE_VERSION.search(message):
        name, listed, new = match.groups()
        if int(new) < int(listed):
            return RollbackDetected(
                f"rollback refused: {name}.json version {new} is older than"
                f" version {listed} listed by the trusted snapshot"
            )
        return RollbackDetected(
            f"inconsistent metadata: {name}.json version {new} is not version {listed}"
            " listed by the trusted snapshot"
        )
    return RollbackDetected(f"inconsistent metadata versions: {message}")


def _cause(error: BaseException) -> str:
    """The first non-empty message in an exception's cause chain."""
    current: BaseException | None = error
    while current is not None:
        if str(current):
            return str(current)
        current = current.__cause__ or current.__context__
    return type(error).__name__
