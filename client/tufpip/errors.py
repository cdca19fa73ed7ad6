"""Typed errors of tufpip and their exit statuses.

Rules:
- The library raises only ``TufpipError`` subclasses and never prints; the
  command line prints ``str(error)`` as one line and exits with
  ``error.exit_code``. What python-tuf raises is put in the user's words by
  ``reasons.translate``.
"""

from __future__ import annotations


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


class AuditFailed(VerificationError):
    """Installed distributions or files that differ from what the repository signs."""


class NotFound(TufpipError):
    """A project, file or target that the repository does not sign."""

    exit_code = 5


class ProjectQuarantined(TufpipError):
    """The repository quarantined the project (PEP 792): none of its files may be used."""

    exit_code = 5


class Unreachable(TufpipError):
    """The repository could not be reached or did not serve a file."""

    exit_code = 6


class AuthenticationFailed(TufpipError):
    """The repository refused the credentials (HTTP 401, or 403 on metadata)."""

    exit_code = 8


class RefreshFailed(TufpipError):
    """``tufpip serve`` could not refresh the trusted metadata: no page is served until it can.

    Carries the refresh's own error (its message and exit status) as ``reason``.
    """

    def __init__(self, reason: TufpipError) -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.exit_code = reason.exit_code


class StateError(TufpipError):
    """tufpip's own state: no repository recorded, unknown name, unreadable files."""

    exit_code = 7


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "the installer failed for a reason of its own (its output says why)",
    2: "usage error: unknown command, bad option or URL, nothing to install into",
    3: "refused: an option or requirement names another package source",
    4: "verification failed: rollback, freeze, tampering, bad signatures, a signed file"
    " whose dependencies name a URL, or an audit that found problems",
    5: "not found: the repository signs no such project or file, or quarantined it",
    6: "network: the repository could not be reached",
    7: "local state: no repository recorded, unknown repository, unreadable state",
    8: "authentication: the repository refused the credentials (URL or ~/.netrc)",
    130: "interrupted",
}
