"""The repository's policy, kept in ``repo-sign.toml`` beside ``keys/`` and ``metadata/``.

Policy is what maintainers decide and must not live only in someone's head:
per role the threshold, the validity period, and where each key's signer
lives (a key file under ``keys/`` or a signer URI); the number of hash bins;
and how long before expiry an offline role enters its signing window.
Key ids and thresholds that clients enforce live in the signed metadata; the
policy file records the same thresholds so new versions keep them.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from repo_sign.errors import PolicyError
from repo_sign.fsutil import write_atomic

TOP_ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("bins", "snapshot", "timestamp")
OFFLINE_ROLES = ("root", "targets")
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 365, "bins": 7, "snapshot": 7, "timestamp": 1}
DEFAULT_SIGNING_WINDOW_DAYS = 60
BINS_PREFIX = "bins"


@dataclass
class RolePolicy:
    threshold: int = 1
    expires_days: float = 1
    # key id -> key file path (relative to the workspace) or signer URI
    signers: dict[str, str] = field(default_factory=dict)


@dataclass
class Policy:
    roles: dict[str, RolePolicy]
    bins: int = 16
    signing_window_days: float = DEFAULT_SIGNING_WINDOW_DAYS

    def role(self, name: str) -> RolePolicy:
        """Policy of a role; every hash bin shares the ``bins`` policy."""
        key = BINS_PREFIX if name.startswith(f"{BINS_PREFIX}-") else name
        try:
            return self.roles[key]
        except KeyError:
            raise PolicyError(f"repo-sign.toml has no [roles.{key}] section") from None

    def signers(self) -> dict[str, str]:
        """Every key id the policy can sign with, and its key file or signer URI."""
        return {k: v for role in self.roles.values() for k, v in role.signers.items()}

    def signer_role(self, keyid: str) -> str | None:
        """The role whose signers name ``keyid`` (``bins`` for every hash bin)."""
        return next((name for name, role in self.roles.items() if keyid in role.signers), None)

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"cannot read {path}: {exc}") from exc
        try:
            roles = {
                name: RolePolicy(
                    threshold=int(section.get("threshold", 1)),
                    expires_days=float(section["expires_days"]),
                    signers={s["keyid"]: s["signer"] for s in section.get("signers", [])},
                )
                for name, section in data["roles"].items()
            }
            return cls(
                roles=roles,
                bins=int(data.get("bins", 16)),
                signing_window_days=float(
                    data.get("signing_window_days", DEFAULT_SIGNING_WINDOW_DAYS)
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"{path} is not a valid repo-sign policy: missing {exc}") from exc

    def dump(self) -> str:
        """TOML text of this policy (strings are JSON-quoted, which TOML accepts)."""
        lines = [
            "# repo-sign policy: thresholds, validity and signers of each role.",
            "# Signed metadata is what clients enforce; this file is what repo-sign",
            "# uses to produce it. Signers are key files under keys/ or signer URIs.",
            f"bins = {self.bins}",
            f"signing_window_days = {_number(self.signing_window_days)}",
        ]
        for name, role in self.roles.items():
            lines += [
                "",
                f"[roles.{name}]",
                f"threshold = {role.threshold}",
                f"expires_days = {_number(role.expires_days)}",
                "signers = [",
                *(
                    f"  {{ keyid = {json.dumps(k)}, signer = {json.dumps(v)} }},"
                    for k, v in role.signers.items()
                ),
                "]",
            ]
        return "\n".join(lines) + "\n"

    def save(self, path: Path) -> None:
        write_atomic(path, self.dump().encode())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
