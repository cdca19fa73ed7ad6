"""Validating wheels and sdists before they enter a repository.

A file is accepted only when its name is a valid wheel or sdist name and the
core metadata inside agrees with that name (project and version): a wheel
without ``METADATA`` or with a different name or version inside is refused,
because installers trust the file name while resolving and the metadata while
installing. The wheel's ``METADATA`` becomes its PEP 658 ``.metadata`` target.
A file whose dependencies name a direct URL is refused too (``dependencies``).
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from repo_sign.errors import InvalidDistribution
from tufindex import dependencies, targetpaths


@dataclass(frozen=True)
class Distribution:
    """A validated distribution file, ready to be added."""

    path: Path
    filename: str
    project: NormalizedName
    version: Version
    is_wheel: bool
    requires_python: str | None
    core_metadata: bytes | None  # a wheel's METADATA, served as FILE.metadata


def inspect(path: Path) -> Distribution:
    """Validate ``path`` and read what the index pages need from it."""
    try:
        project, version, is_wheel = targetpaths.parse_filename(path.name)
    except targetpaths.InvalidDistributionName as exc:
        raise InvalidDistribution(str(exc)) from exc
    if not path.is_file():
        raise InvalidDistribution(f"{path} is not a file")
    try:
        raw = dependencies.wheel_metadata(path) if is_wheel else _sdist_metadata(path)
        dependencies.check_file(path, path.name)
    except dependencies.ForbiddenDependency as exc:
        raise InvalidDistribution(f"{path.name}: {exc}") from exc
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        kind = "wheel" if is_wheel else "sdist"
        raise InvalidDistribution(f"{path.name} is not a readable {kind}: {exc}") from exc
    if raw is None:  # an sdist without PKG-INFO: check_file refuses such a wheel
        return Distribution(path, path.name, project, version, False, None, None)
    fields, _unparsed = parse_email(raw)
    inner_name = fields.get("name", "")
    try:
        inner_version = Version(fields.get("version", ""))
    except InvalidVersion:
        inner_version = None
    if canonicalize_name(inner_name) != project or inner_version != version:
        raise InvalidDistribution(
            f"{path.name}: its metadata says {inner_name or '?'} {inner_version or '?'}, "
            f"its file name says {project} {version}"
        )
    return Distribution(
        path=path,
        filename=path.name,
        project=project,
        version=version,
        is_wheel=is_wheel,
        requires_python=fields.get("requires_python"),
        core_metadata=raw if is_wheel else None,
    )


def _sdist_metadata(path: Path) -> bytes | None:
    found = dependencies.sdist_members(path, "PKG-INFO")
    return found[0] if found else None
