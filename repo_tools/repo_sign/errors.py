"""Typed errors of repo-sign. The CLI prints their message as one line."""

from __future__ import annotations


class RepoSignError(Exception):
    """Anything a user can cause. The message says what happened and what to do."""

    exit_code = 1


class NotInitialized(RepoSignError):
    exit_code = 3


class AlreadyInitialized(RepoSignError):
    exit_code = 3


class KeyUnavailable(RepoSignError):
    """A missing, unreadable or wrongly unlocked key."""

    exit_code = 4


class PassphraseRequired(KeyUnavailable):
    pass


class WrongPassphrase(KeyUnavailable):
    pass


class ThresholdNotMet(RepoSignError):
    exit_code = 5


class InvalidDistribution(RepoSignError):
    exit_code = 6


class ConflictingFile(RepoSignError):
    exit_code = 6


class PolicyError(RepoSignError):
    exit_code = 7


class VerificationFailed(RepoSignError):
    exit_code = 8


class Busy(RepoSignError):
    exit_code = 9


class DamagedMetadata(RepoSignError):
    """A published metadata file is missing, unreadable or does not verify."""

    exit_code = 11


class HostingError(RepoSignError):
    """A hosting configuration cannot be made, or object storage refused a publish."""

    exit_code = 12
