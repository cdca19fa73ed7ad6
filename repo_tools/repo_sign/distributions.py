"""Validating wheels and sdists before they enter a repository.

A file is accepted only when its name is a valid wheel or sdist name and the
core metadata inside agrees with that name (project and version): a wheel
without ``METADATA`` or with a different name or version inside is refused,
because installers trust the file name while resolving and the metadata while
installing. The wheel's ``METADATA`` becomes its PEP 658 ``.metadata`` target.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import parse_email
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from . import targetpaths
from .errors import InvalidDistribution


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
        raw = _wheel_metadata(path) if is_wheel else _sdist_metadata(path)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        kind = "wheel" if is_wheel else "sdist"
        raise InvalidDistribution(f"{path.name} is not a readable {kind}: {exc}") from exc
    if raw is None:
        if is_wheel:
            raise InvalidDistribution(f"{path.name} has no .dist-info/METADATA")
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


def _wheel_metadata(path: Path) -> bytes | None:
    with zipfile.ZipFile(path) as wheel:
        candidates = [
            n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            return None
        return wheel.read(candidates[0])


def _sdist_metadata(path: Path) -> bytes | None:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
            return archive.read(names[0]) if names else None
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if (
                member.isfile()
                and member.name.count("/") == 1
                and member.name.endswith("/PKG-INFO")
            ):
                extracted = archive.extractfile(member)
                return extracted.read() if extracted else None
    return None
