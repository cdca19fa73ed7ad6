"""PEP 751 lock files (``pylock.toml``, ``pylock.NAME.toml``) as tufpip installs them.

Rules:
- A lock is parsed with ``tomllib``; ``lock-version`` must be 1.x.
- Markers and ``requires-python`` are evaluated for the target interpreter,
  not tufpip's: its marker environment is read once by running it
  (``target_environment``, with packaging's ``default_environment``). A
  package whose marker is false is left out; a lock or a chosen package
  whose ``requires-python`` the target does not meet is a usage error.
- Only files from an index are installed: a ``vcs``, ``directory`` or
  ``archive`` entry is another package source (exit 3). Each wheel or sdist
  is named by its ``name``, else by the last segment of its ``url`` or
  ``path``; that name must be a distribution of the package's name and
  version, with a sha256. The lock's URLs and paths are never used: every
  file comes from the repository, by name.
- The result is, per chosen package, its name, version and the sha256 of
  each locked file (``Locked``); the caller turns them into pins and into
  ``name==version --hash=...`` lines installed with ``--no-deps``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import packaging
from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from tufindex import targetpaths
from tufpip import probe
from tufpip.errors import RefusedSource, UsageError

_LOCK_NAME = re.compile(r"pylock(\.[^.]+)?\.toml")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_OTHER_SOURCES = ("vcs", "directory", "archive")
_ENVIRONMENT_PROBE = (
    "import json, sys; sys.path.append(sys.argv[1]);"
    " from packaging.markers import default_environment;"
    " print(json.dumps(default_environment()))"
)


@dataclass(frozen=True)
class Locked:
    """A package chosen from a lock: its files by name, each with its sha256."""

    name: str
    version: str
    files: Mapping[str, str]


def is_lock_name(name: str) -> bool:
    """Whether the file ``name`` names is a PEP 751 lock file."""
    return _LOCK_NAME.fullmatch(PurePosixPath(name).name) is not None


def target_environment(python: str) -> dict[str, str]:
    """The marker environment of interpreter ``python``, read by running it once.

    Raises:
        UsageError: It cannot be run.
    """
    packaging_parent = os.path.dirname(os.path.dirname(packaging.__file__))
    environment: dict[str, str] = probe.run(
        python, _ENVIRONMENT_PROBE, "the marker environment", args=[packaging_parent]
    )
    return environment


def read(text: str, environment: Mapping[str, str], where: str) -> list[Locked]:
    """The packages of lock ``text`` that apply in ``environment``.

    Raises:
        RefusedSource: A package comes from a VCS, a directory or an archive URL.
        UsageError: The lock is not valid PEP 751, or the target cannot use it.
    """
    try:
        lock = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{where} is not valid TOML: {exc}") from exc
    if not str(lock.get("lock-version", "")).startswith("1."):
        raise UsageError(f"{where}: lock-version {lock.get('lock-version')!r} is not 1.x")
    python = environment["python_full_version"]
    if not _meets(lock.get("requires-python"), python, where):
        raise UsageError(
            f"{where} requires Python {lock['requires-python']}, the target has {python}"
        )
    packages = lock.get("packages")
    if not isinstance(packages, list):
        raise UsageError(f"{where} has no [[packages]]")
    chosen: dict[str, Locked] = {}
    for package in packages:
        locked = _package(package, environment, where)
        if locked is None:
            continue
        if locked.name in chosen:
            raise UsageError(f"{where} locks {locked.name} twice for the target environment")
        chosen[locked.name] = locked
    return list(chosen.values())


def _package(package: Any, environment: Mapping[str, str], where: str) -> Locked | None:
    """One ``[[packages]]`` entry, or None when its marker is false."""
    if not isinstance(package, dict) or not isinstance(package.get("name"), str):
        raise UsageError(f"{where}: a package has no name")
    name = canonicalize_name(package["name"])
    where = f"{where}, package {name}"
    try:
        marker = package.get("marker")
        if marker is not None and not Marker(marker).evaluate(
            dict(environment), context="lock_file"
        ):
            return None
    except (InvalidMarker, TypeError) as exc:
        raise UsageError(f"{where}: invalid marker {package.get('marker')!r}") from exc
    for kind in _OTHER_SOURCES:
        if kind in package:
            raise RefusedSource(
                f"{where} is locked as a {kind}: tufpip installs only files the repository signs"
            )
    python = environment["python_full_version"]
    if not _meets(package.get("requires-python"), python, where):
        raise UsageError(f"{where} requires Python {package['requires-python']}, not {python}")
    entries = [*package.get("wheels", [])]
    if "sdist" in package:
        entries.append(package["sdist"])
    if not entries:
        raise UsageError(f"{where} locks no wheel or sdist")
    files = dict(_file(entry, where) for entry in entries)
    versions = {_version_of(name, filename, where) for filename in files}
    if "version" in package:
        versions.add(_parse_version(str(package["version"]), where))
    if len(versions) != 1:
        raise UsageError(f"{where}: its files are not all of one version")
    return Locked(name, str(versions.pop()), files)


def _file(entry: Any, where: str) -> tuple[str, str]:
    """(file name, sha256) of a wheel or sdist entry."""
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: a file entry is not a table")
    location = str(entry.get("url") or entry.get("path") or "")
    filename = entry.get("name") or unquote(PurePosixPath(urlsplit(location).path).name)
    sha256 = str(entry.get("hashes", {}).get("sha256", "")).lower()
    if not _SHA256.fullmatch(sha256):
        raise UsageError(f"{where}: {filename or 'a file'} has no sha256")
    return str(filename), sha256


def _version_of(name: str, filename: str, where: str) -> Version:
    try:
        project, version, _wheel = targetpaths.parse_filename(filename)
    except targetpaths.InvalidDistributionName as exc:
        raise UsageError(f"{where}: {exc}") from None
    if project != name:
        raise UsageError(f"{where}: {filename} is not a distribution of {name}")
    return version


def _parse_version(text: str, where: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise UsageError(f"{where}: invalid version {text!r}") from exc


def _meets(requires: Any, python: str, where: str) -> bool:
    if requires is None:
        return True
    try:
        return SpecifierSet(str(requires)).contains(python, prereleases=True)
    except InvalidSpecifier as exc:
        raise UsageError(f"{where}: invalid requires-python {requires!r}") from exc
