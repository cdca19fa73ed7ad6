"""python-tuf's exceptions in the user's words, decided by type and by the metadata seen.

Rules:
- The exception's type decides the error class and so the exit status;
  its message is never parsed (a wording change in python-tuf changes
  nothing here). python-tuf has no rollback exception: a rollback is a
  ``BadVersionNumberError``.
- The versions and expiry dates a message names come from metadata, not
  from the exception: the copies trusted before the failure (persisted,
  verified when stored) and the copies fetched in this run (``Seen``; read
  only to name what ngclient refused). A rollback names the role and both
  versions, a freeze the role and when it expired, tampering the target.
- A 401 is an authentication failure, and so is a 403 on metadata (a 403 on
  a target may be a missing file on some static hosts). Credentials in URLs
  are redacted (``urls.redact``) in every message made here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tuf.api import exceptions as tuf_exc

from tufpip.errors import (
    AuthenticationFailed,
    FreezeDetected,
    RollbackDetected,
    StateError,
    TamperingDetected,
    TufpipError,
    Unreachable,
    VerificationError,
)
from tufpip.urls import redact

TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
_TOP_LEVEL = ("timestamp", "snapshot", "targets", "root")


@dataclass
class Seen:
    """Metadata a session has seen: trusted before this run, and fetched in it.

    ``fetched`` maps a role name to the bytes of its last complete fetch in
    this run, in fetch order; ``trusted_dir`` holds ngclient's persisted,
    verified copies (``ROLE.json``).
    """

    trusted_dir: Path | None = None
    fetched: dict[str, bytes] = field(default_factory=dict)

    @property
    def last(self) -> str | None:
        """The role fetched last: the one ngclient was checking when it failed."""
        return next(reversed(self.fetched), None)

    def trusted(self, role: str) -> dict[str, object] | None:
        if self.trusted_dir is None:
            return None
        try:
            return _signed((self.trusted_dir / f"{role}.json").read_bytes())
        except OSError:
            return None

    def new(self, role: str) -> dict[str, object] | None:
        data = self.fetched.get(role)
        return None if data is None else _signed(data)

    def newest(self, role: str) -> dict[str, object] | None:
        """The fetched copy if it is newer than the trusted one, else the trusted one."""
        trusted, new = self.trusted(role), self.new(role)
        if new is not None and (trusted is None or _version(new) > _version(trusted)):
            return new
        return trusted


def translate(
    error: Exception,
    *,
    repository: str,
    target: str | None = None,
    seen: Seen | None = None,
) -> TufpipError:
    """The user's one-line version of an error raised by python-tuf.

    ``repository`` is the base URL, ``target`` the target path being fetched
    when the error happened (``None`` while refreshing metadata).
    """
    if isinstance(error, TufpipError):
        return error
    seen = seen or Seen()
    repository = redact(repository)
    message = redact(str(error))
    if isinstance(error, tuf_exc.BadVersionNumberError):
        return RollbackDetected(_version_conflict(seen))
    if isinstance(error, tuf_exc.ExpiredMetadataError):
        return FreezeDetected(f"{_expired(seen)}: the repository serves stale metadata (freeze?)")
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


def _version_conflict(seen: Seen) -> str:
    """What went back, from the role ngclient was checking and what was trusted.

    ngclient refuses, in this order: a timestamp older than the trusted one;
    a timestamp listing an older snapshot; a snapshot listing an older
    version of a role than the trusted snapshot; a snapshot or targets file
    whose version is not the one its parent lists.
    """
    role = seen.last
    new = seen.new(role) if role else None
    if role is None or new is None:
        return "inconsistent metadata versions"
    if role == "timestamp":
        trusted = seen.trusted("timestamp")
        if trusted is not None and _version(new) < _version(trusted):
            return _older("timestamp", _version(new), _version(trusted))
        if trusted is not None:
            listed, before = _listed(new, "snapshot"), _listed(trusted, "snapshot")
            if listed is not None and before is not None and listed < before:
                return _older("snapshot", listed, before)
    if role == "snapshot" and (trusted := seen.trusted("snapshot")) is not None:
        for name, before in _listings(trusted):
            listed = _listed(new, name)
            if listed is not None and listed < before:
                return _older(f"{name}.json", listed, before)
    parent = "timestamp" if role == "snapshot" else "snapshot"
    listing = seen.newest(parent)
    expected = _listed(listing, role) if listing is not None else None
    if expected is None:
        return f"inconsistent metadata: {role}.json version {_version(new)}"
    relation = "is older than" if _version(new) < expected else "is not"
    verdict = "rollback refused" if _version(new) < expected else "inconsistent metadata"
    return (
        f"{verdict}: {role}.json version {_version(new)} {relation} version {expected}"
        f" listed by the trusted {parent}"
    )


def _older(name: str, new: int, trusted: int) -> str:
    return f"rollback refused: {name} version {new} is older than trusted version {trusted}"


def _expired(seen: Seen) -> str:
    """Which metadata expired and when: the role checked last first, then any other."""
    now = datetime.now(UTC)
    for role, signed in _candidates(seen):
        expires = _expires(signed)
        if expires is not None and expires <= now:
            return f"{role}.json expired at {expires.strftime(TIME_FORMAT)}"
    return "metadata expired"


def _candidates(seen: Seen) -> Iterator[tuple[str, dict[str, object]]]:
    roles = [*reversed(seen.fetched), *_TOP_LEVEL]
    for role in dict.fromkeys(roles):
        if (signed := seen.newest(role)) is not None:
            yield role, signed


def _signed(data: bytes) -> dict[str, object] | None:
    try:
        signed = json.loads(data)["signed"]
    except (ValueError, KeyError, TypeError):
        return None
    return signed if isinstance(signed, dict) else None


def _version(signed: dict[str, object]) -> int:
    version = signed.get("version")
    return version if isinstance(version, int) else 0


def _expires(signed: dict[str, object]) -> datetime | None:
    try:
        return datetime.strptime(str(signed["expires"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        return None


def _listings(signed: dict[str, object]) -> Iterator[tuple[str, int]]:
    meta = signed.get("meta")
    if isinstance(meta, dict):
        for name, info in meta.items():
            if isinstance(info, dict) and isinstance(info.get("version"), int):
                yield name.removesuffix(".json"), info["version"]


def _listed(signed: dict[str, object], role: str) -> int | None:
    return dict(_listings(signed)).get(role)


def _cause(error: BaseException) -> str:
    """The first non-empty message in an exception's cause chain."""
    current: BaseException | None = error
    while current is not None:
        if str(current):
            return str(current)
        current = current.__cause__ or current.__context__
    return type(error).__name__
