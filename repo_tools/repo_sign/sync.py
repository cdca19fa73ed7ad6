"""Keeping a mirror current from a policy file: what to take from upstream, and when.

Rules:

- The policy is TOML (``[sync]``: ``index``, ``requirements``,
  ``cooldown-days``, ``python-versions``, ``platforms``, ``sdists``); anything
  else in ``[sync]`` is refused, so a misspelt key is never silently ignored.
- pip resolves the requirements with their dependencies once per listed
  Python version and platform, wheels only, and only from files uploaded
  before the cooldown's cutoff (``--uploaded-prior-to``). A release is taken
  only when every file of it upstream is older than the cutoff; files yanked
  upstream are never taken. With ``sdists``, each chosen release's sdist is
  fetched too, under the same rules.
- Every file is checked against the upstream page's sha256 (``importer``)
  and keeps the upstream ``upload-time``. Files download into a temporary
  folder: nothing reaches the workspace until the one signed publish.
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import requests

from repo_sign.errors import PolicyError
from repo_sign.importer import (
    DEFAULT_INDEX,
    ImportFailed,
    check_upstream_hashes,
    pip_download,
    upload_times,
    upstream_page,
)
from tufindex import targetpaths

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
        except (TypeError, ValueError) as exc:
            raise PolicyError(f"{path}: {exc}") from None
        if not policy.requirements or policy.cooldown_days < 0:
            raise PolicyError(f"{path}: [sync] needs requirements and a cooldown-days >= 0")
        return policy


def _strings(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, not {value!r}")
    return value


@dataclass
class Plan:
    """The checked files a sync would add, and what it left out and why."""

    files: list[Path] = field(default_factory=list)
    upload_times: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason


@contextmanager
def fetch(policy: SyncPolicy, now: datetime) -> Iterator[Plan]:
    """Resolve and download what ``policy`` allows at ``now``; yield the checked plan."""
    cutoff = now - timedelta(days=policy.cooldown_days)
    with tempfile.TemporaryDirectory(prefix="repo-sign-sync-") as tmp:
        dest = Path(tmp) / "files"
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{r}\n" for r in policy.requirements))
        stamp = cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")
        for python in policy.python_versions or (None,):
            for platform in policy.platforms or (None,):
                args = [
                    "--only-binary=:all:",
                    "--uploaded-prior-to",
                    stamp,
                    "-r",
                    str(requirements),
                ]
                args += ["--python-version", python] if python else []
                args += ["--platform", platform] if platform else []
                pip_download(args, policy.index, dest)
        session = requests.Session()
        pages: dict[str, dict[str, dict]] = {
            project: upstream_page(session, policy.index, project)
            for project in {targetpaths.parse_filename(p.name)[0] for p in dest.iterdir()}
        }
        if policy.sdists:
            _download_sdists(session, pages, dest, cutoff)
        files = sorted(dest.iterdir())
        entries = check_upstream_hashes(files, policy.index)
        plan = Plan()
        for path in files:
            reason = _ineligible(path.name, entries[path.name], pages, cutoff)
            if reason:
                plan.skipped[path.name] = reason
            else:
                plan.files.append(path)
        plan.upload_times = upload_times({p.name: entries[p.name] for p in plan.files})
        yield plan


def _release(filename: str) -> tuple[str, str]:
    project, version, _wheel = targetpaths.parse_filename(filename)
    return project, str(version)


def _uploaded(entry: dict) -> datetime | None:
    text = entry.get("upload-time")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _ineligible(
    filename: str, entry: dict, pages: dict[str, dict[str, dict]], cutoff: datetime
) -> str | None:
    """Why ``filename`` may not be mirrored now, or None."""
    if entry.get("yanked"):
        return f"yanked upstream: {entry['yanked']}" if entry["yanked"] is not True else "yanked"
    project, version = _release(filename)
    for name, other in pages[project].items():
        if _release(name) != (project, version):
            continue
        uploaded = _uploaded(other)
        if uploaded is None or uploaded > cutoff:
            return f"{name} of this release is inside the cooldown (uploaded {uploaded or '?'})"
    return None


def _download_sdists(
    session: requests.Session, pages: dict[str, dict[str, dict]], dest: Path, cutoff: datetime
) -> None:
    """Fetch the sdist of every release already downloaded, if it is old enough and not yanked."""
    releases = {_release(p.name) for p in dest.iterdir()}
    for project, files in pages.items():
        for name, entry in files.items():
            if name.endswith(".whl") or _release(name) not in releases or entry.get("yanked"):
                continue
            uploaded = _uploaded(entry)
            if uploaded is None or uploaded > cutoff:
                continue
            try:
                with session.get(entry["_url"], stream=True, timeout=60) as response:
                    response.raise_for_status()
                    with open(dest / name, "wb") as out:
                        shutil.copyfileobj(response.raw, out)
            except requests.RequestException as exc:
                raise ImportFailed(f"cannot download {name} of {project}: {exc}") from exc
