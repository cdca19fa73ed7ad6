"""Mirroring from an upstream index: what ``import``, ``sync`` and ``add --check-upstream`` share.

Rules:

- pip resolves and downloads the requirements with their dependencies from
  the upstream index only (no configuration, no ``PIP_`` variables), once per
  target: each listed Python version and platform, else this interpreter on
  this machine. A pass for a listed target takes wheels only (pip cannot
  resolve an sdist's dependencies for another interpreter), and so does every
  pass with ``wheels_only``; otherwise pip takes an sdist where no wheel fits.
  With a ``cutoff``, pip considers only files uploaded before it.
- Build requirements: for every sdist taken, what an installer needs to build
  it (``distributions.build_requirements``, read from the archive, never run)
  is resolved and downloaded the same way, for the same targets, until no new
  sdist comes in, so that every signed sdist builds from the repository alone.
- With ``sdists``, the sdist of every release taken is fetched too.
- Every file is checked against the sha256 on the upstream's PEP 691 page,
  so a file that changed between pip's download and our check, or a pip that
  fetched from somewhere else, is refused. The same pages give each file's
  PEP 700 ``upload-time``, which the repository's pages then carry.
- A file is left out, with the reason, when it is yanked upstream or, with a
  cutoff, when a file of its release is newer than the cutoff (or undated).
- Files download into a temporary folder: nothing reaches the workspace
  until the caller's one signed publish.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urljoin

import requests

from repo_sign.distributions import build_requirements
from repo_sign.errors import InvalidDistribution, RepoSignError
from repo_sign.fsutil import sha256_file
from tufindex import targetpaths
from tufindex.installers import without_installer_configuration

DEFAULT_INDEX = "https://pypi.org/simple/"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"

Pages = dict[str, dict[str, dict]]  # project -> file name -> its upstream entry


class ImportFailed(RepoSignError):
    exit_code = 10


@dataclass(frozen=True)
class Mirror:
    """Where to mirror from, for which targets, and under which rules (see the module doc)."""

    index: str = DEFAULT_INDEX
    python_versions: tuple[str, ...] = ()  # empty: this interpreter's
    platforms: tuple[str, ...] = ()  # empty: this machine's
    cutoff: datetime | None = None
    wheels_only: bool = False
    sdists: bool = False

    def passes(self) -> Iterator[tuple[str, list[str]]]:
        """Each target's description and its ``pip download`` options."""
        for python in self.python_versions or (None,):
            for platform in self.platforms or (None,):
                args = ["--only-binary=:all:"] if self.wheels_only or python or platform else []
                if self.cutoff is not None:
                    args += ["--uploaded-prior-to", self.cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")]
                args += ["--python-version", python] if python else []
                args += ["--platform", platform] if platform else []
                target = f" for Python {python or 'here'} on {platform or 'this platform'}"
                yield (target if python or platform else ""), args


@dataclass
class Plan:
    """The checked files to add, and what was left out and why."""

    files: list[Path] = field(default_factory=list)
    upload_times: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason


@contextmanager
def fetch(requirements: Sequence[str], mirror: Mirror) -> Iterator[Plan]:
    """Download ``requirements`` (pip arguments: PEP 508 strings or ``-r FILE``) and
    everything needed to install and build them; yield the checked plan."""
    with tempfile.TemporaryDirectory(prefix="repo-sign-mirror-") as tmp:
        dest = Path(tmp) / "files"
        _download(requirements, "the requirements", mirror, dest)
        session = requests.Session()
        pages: Pages = {}
        looked_at: set[str] = set()  # sdists whose build requirements are known
        resolved: set[tuple[str, ...]] = set()
        while True:
            _read_pages(session, mirror.index, dest, pages)
            if mirror.sdists:
                _download_sdists(session, pages, dest, mirror.cutoff)
            needed: dict[tuple[str, ...], str] = {}
            for path in sorted(dest.iterdir()):
                if path.name.endswith(".whl") or path.name in looked_at:
                    continue
                looked_at.add(path.name)
                entry = _entry(pages, path.name)
                if _ineligible(path.name, entry, pages, mirror.cutoff) is None:
                    requires = tuple(build_requirements(path))
                    if requires and requires not in resolved:
                        needed.setdefault(requires, path.name)
            if not needed:
                break
            for requires, sdist in needed.items():
                resolved.add(requires)
                _download(requires, f"the build requirements of {sdist}", mirror, dest)
        files = sorted(dest.iterdir())
        entries = check_upstream_hashes(files, mirror.index, pages)
        plan = Plan()
        for path in files:
            reason = _ineligible(path.name, entries[path.name], pages, mirror.cutoff)
            if reason:
                plan.skipped[path.name] = reason
            else:
                plan.files.append(path)
        plan.upload_times = upload_times({p.name: entries[p.name] for p in plan.files})
        yield plan


def _download(requirements: Sequence[str], what: str, mirror: Mirror, dest: Path) -> None:
    for target, args in mirror.passes():
        pip_download([*args, *requirements], f"{what}{target}", mirror.index, dest)


def pip_download(args: list[str], what: str, index_url: str, dest: Path) -> None:
    """``pip download ARGS`` into ``dest`` from ``index_url`` only (no configuration at all)."""
    env = without_installer_configuration(os.environ)
    command = [
        sys.executable,
        "-m",
        "pip",
        "--isolated",
        "--disable-pip-version-check",
        "download",
        "--quiet",
        "--index-url",
        index_url,
        "-d",
        str(dest),
        *args,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise ImportFailed(f"pip could not download {what}: {last}")


def upload_times(entries: dict[str, dict]) -> dict[str, str]:
    """The upstream ``upload-time`` of each file that has one, by file name."""
    return {
        name: entry["upload-time"]
        for name, entry in entries.items()
        if isinstance(entry.get("upload-time"), str)
    }


def check_upstream_hashes(
    files: list[Path], index_url: str, pages: Pages | None = None
) -> dict[str, dict]:
    """Refuse any file whose sha256 differs from the upstream index's.

    Returns each file's entry on the upstream's PEP 691 page, by file name;
    ``pages`` holds the pages already read (and gets the ones read here).
    """
    session = requests.Session()
    pages = {} if pages is None else pages
    entries: dict[str, dict] = {}
    for path in files:
        project = _project(path.name)
        if project not in pages:
            pages[project] = upstream_page(session, index_url, project)
        entry = pages[project].get(path.name) or {}
        expected = entry.get("hashes", {}).get("sha256")
        _length, actual = sha256_file(path)
        if expected != actual:
            raise ImportFailed(
                f"{path.name}: sha256 {actual[:16]}... does not match the upstream index "
                f"({(expected or 'not listed')[:16]}): refusing to sign it"
            )
        entries[path.name] = entry
    return entries


def upstream_page(session: requests.Session, index_url: str, project: str) -> dict[str, dict]:
    """The file entries of ``project``'s PEP 691 page upstream, by file name.

    Each entry also gets ``_url``, its file URL made absolute.
    """
    url = f"{index_url.rstrip('/')}/{project}/"
    try:
        response = session.get(url, headers={"Accept": JSON_ACCEPT}, timeout=30)
        response.raise_for_status()
        files = response.json()["files"]
        return {f["filename"]: {**f, "_url": urljoin(response.url, f["url"])} for f in files}
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise ImportFailed(f"cannot read the upstream page {url}: {exc}") from exc


def _project(filename: str) -> str:
    try:
        return targetpaths.parse_filename(filename)[0]
    except targetpaths.InvalidDistributionName as exc:
        raise InvalidDistribution(str(exc)) from exc


def _release(filename: str) -> tuple[str, str] | None:
    """Project and version of a distribution's file name; None for other files (``.egg``)."""
    try:
        project, version, _wheel = targetpaths.parse_filename(filename)
    except targetpaths.InvalidDistributionName:
        return None
    return project, str(version)


def _read_pages(session: requests.Session, index_url: str, dest: Path, pages: Pages) -> None:
    """Read the upstream page of every project downloaded and not read yet."""
    for project in sorted({_project(p.name) for p in dest.iterdir()} - set(pages)):
        pages[project] = upstream_page(session, index_url, project)


def _entry(pages: Pages, filename: str) -> dict:
    return pages[_project(filename)].get(filename) or {}


def _uploaded(entry: dict) -> datetime | None:
    text = entry.get("upload-time")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _ineligible(filename: str, entry: dict, pages: Pages, cutoff: datetime | None) -> str | None:
    """Why ``filename`` may not be mirrored now, or None."""
    if entry.get("yanked"):
        return f"yanked upstream: {entry['yanked']}" if entry["yanked"] is not True else "yanked"
    if cutoff is None:
        return None
    release = _release(filename)
    for name, other in pages[_project(filename)].items():
        if _release(name) != release:
            continue
        uploaded = _uploaded(other)
        if uploaded is None or uploaded > cutoff:
            return f"{name} of this release is inside the cooldown (uploaded {uploaded or '?'})"
    return None


def _download_sdists(
    session: requests.Session, pages: Pages, dest: Path, cutoff: datetime | None
) -> None:
    """Fetch the sdist of every release downloaded, if it is old enough and not yanked."""
    releases = {_release(p.name) for p in dest.iterdir()}
    for project, files in pages.items():
        for name, entry in files.items():
            if name.endswith(".whl") or _release(name) not in releases or entry.get("yanked"):
                continue
            uploaded = _uploaded(entry)
            if (dest / name).exists() or (
                cutoff is not None and (uploaded is None or uploaded > cutoff)
            ):
                continue
            try:
                with session.get(entry["_url"], stream=True, timeout=60) as response:
                    response.raise_for_status()
                    with open(dest / name, "wb") as out:
                        shutil.copyfileobj(response.raw, out)
            except requests.RequestException as exc:
                raise ImportFailed(f"cannot download {name} of {project}: {exc}") from exc
