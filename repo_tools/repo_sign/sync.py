"""Keeping a mirror current from a policy file: what to take from upstream, and when.

Rules:

- The policy is TOML (``[sync]``: ``index``, ``requirements``,
  ``cooldown-days``, ``python-versions``, ``platforms``, ``sdists``); anything
  else in ``[sync]`` is refused, so a misspelt key is never silently ignored,
  and so is a requirement that is not PEP 508 (it would reach pip as an option).
- It becomes the ``importer.Mirror`` that ``import`` uses too: resolution per
  listed Python version and platform, only files uploaded before the
  cooldown's cutoff, and a release only when every file of it upstream is
  older than the cutoff. Without ``sdists``, wheels only. With it, each
  release's sdist too, and when no Python version or platform is listed pip
  may take an sdist where no wheel fits (a project without wheels). The
  build requirements of every sdist follow.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from repo_sign.errors import PolicyError
from repo_sign.importer import DEFAULT_INDEX, Mirror

_KEYS = {"index", "requirements", "cooldown-days", "python-versions", "platforms", "sdists"}


@dataclass(frozen=True)
class SyncPolicy:
    """What a ``sync`` mirrors (see the module doc)."""

    requirements: tuple[str, ...]
    index: str = DEFAULT_INDEX
    cooldown_days: float = 0
    python_versions: tuple[str, ...] = ()  # empty: this interpreter's
    platforms: tuple[str, ...] = ()  # empty: this machine's
    sdists: bool = False

    @classmethod
    def load(cls, path: Path) -> SyncPolicy:
        try:
            table = tomllib.loads(path.read_text())["sync"]
        except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
            raise PolicyError(f"{path}: not a sync policy ({exc})") from None
        if unknown := set(table) - _KEYS:
            raise PolicyError(f"{path}: unknown [sync] keys: {', '.join(sorted(unknown))}")
        try:
            policy = cls(
                requirements=tuple(_strings(table.get("requirements", []))),
                index=str(table.get("index", DEFAULT_INDEX)),
                cooldown_days=float(table.get("cooldown-days", 0)),
                python_versions=tuple(_strings(table.get("python-versions", []))),
                platforms=tuple(_strings(table.get("platforms", []))),
                sdists=bool(table.get("sdists", False)),
            )
            for requirement in policy.requirements:  # never a pip option
                Requirement(requirement)
        except (TypeError, ValueError, InvalidRequirement) as exc:
            raise PolicyError(f"{path}: {exc}") from None
        if not policy.requirements or policy.cooldown_days < 0:
            raise PolicyError(f"{path}: [sync] needs requirements and a cooldown-days >= 0")
        return policy

    def mirror(self, now: datetime) -> Mirror:
        """The mirroring rules of this policy at ``now``."""
        return Mirror(
            index=self.index,
            python_versions=self.python_versions,
            platforms=self.platforms,
            cutoff=now - timedelta(days=self.cooldown_days),
            wheels_only=not self.sdists,
            sdists=self.sdists,
        )


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, not {value!r}")
    return value
