"""The rule that a signed file never sends an installer to an unsigned source.

A requirement with a direct URL (PEP 508 ``name @ URL``, ``file:`` URLs too)
makes pip and uv fetch that URL and install or build from it, outside the
repository's signatures. repo-sign refuses to sign such a file and tufpip
refuses to serve one (for repositories signed before this rule); both import
this module, and nothing else states the rule.

Rules:
- Checked: a ``.metadata`` file's ``Requires-Dist``; a wheel's own
  ``*.dist-info/METADATA``; an sdist's top-level ``PKG-INFO``
  (``Requires-Dist``) and ``pyproject.toml`` (``build-system.requires``).
- "Top-level" means at most one folder deep (``pyproject.toml`` or
  ``NAME-VERSION/pyproject.toml``): installers build from the archive's root
  or its single leading folder. Every copy of such a member is checked, and a
  link in its place is refused, because an installer may extract another copy
  than the one read here.
- A requirement that ``packaging`` cannot parse is refused, as is a
  ``pyproject.toml`` that is not TOML: an installer might read it differently.
- Errors are ``ForbiddenDependency`` naming the field and the requirement;
  callers add the file's name.
"""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement

from tufindex.targetpaths import METADATA_SUFFIX

_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError)


class ForbiddenDependency(ValueError):
    """A dependency an installer would fetch from outside the repository, or cannot be checked."""


def check_requirements(requirements: Iterable[str], field: str) -> None:
    """Refuse the first requirement that names a URL or is not valid PEP 508."""
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise ForbiddenDependency(f"{field} {text!r} is not a valid requirement") from exc
        if requirement.url is not None:
            raise ForbiddenDependency(
                f"{field} {text!r} names a direct URL: a signed repository may not send "
                "installers to an unsigned source"
            )


def check_core_metadata(data: bytes) -> RawMetadata:
    """Refuse core metadata (METADATA, PKG-INFO, ``.metadata``) with a forbidden Requires-Dist.

    Returns the parsed fields, for callers that read them too (parsed once).
    """
    fields, unparsed = parse_email(data)
    requirements = [*fields.get("requires_dist", []), *unparsed.get("requires-dist", [])]
    check_requirements(requirements, "Requires-Dist")
    return fields


def check_build_system(pyproject: bytes) -> None:
    """Refuse a ``pyproject.toml`` whose ``build-system.requires`` is forbidden."""
    check_requirements(build_system_requires(pyproject) or [], "build-system.requires")


def build_system_requires(pyproject: bytes) -> list[str] | None:
    """``build-system.requires`` of a ``pyproject.toml``; None without a ``[build-system]`` table.

    Raises:
        ForbiddenDependency: Not TOML, or ``requires`` is not a list of strings.
    """
    try:
        document = tomllib.loads(pyproject.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ForbiddenDependency(f"pyproject.toml is not valid TOML: {exc}") from exc
    if "build-system" not in document:
        return None
    build_system = document["build-system"]
    requires = build_system.get("requires", []) if isinstance(build_system, dict) else None
    if not (isinstance(requires, list) and all(isinstance(r, str) for r in requires)):
        raise ForbiddenDependency("pyproject.toml: build-system.requires is not a list of strings")
    return requires


def check_file(path: Path, filename: str) -> None:
    """Apply the rule to the file at ``path`` named ``filename`` (a distribution or ``.metadata``).

    Raises:
        ForbiddenDependency: The file breaks the rule or cannot be read to check it.
    """
    try:
        if filename.endswith(METADATA_SUFFIX):
            check_core_metadata(path.read_bytes())
        elif filename.endswith(".whl"):
            metadata = wheel_metadata(path)
            if metadata is None:
                raise ForbiddenDependency("no single .dist-info/METADATA")
            check_core_metadata(metadata)
        else:
            for data in sdist_members(path, "PKG-INFO"):
                check_core_metadata(data)
            for data in sdist_members(path, "pyproject.toml"):
                check_build_system(data)
    except _READ_ERRORS as exc:
        raise ForbiddenDependency(f"cannot be read to check its dependencies: {exc}") from exc


def wheel_metadata(path: Path) -> bytes | None:
    """A wheel's ``NAME.dist-info/METADATA``, or None unless there is exactly one."""
    with zipfile.ZipFile(path) as wheel:
        candidates = [
            n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
        ]
        if len(candidates) != 1:
            return None
        return wheel.read(candidates[0])


def sdist_members(path: Path, name: str) -> list[bytes]:
    """Every top-level copy of member ``name`` of an sdist (``.tar.gz`` or ``.zip``).

    Raises:
        ForbiddenDependency: Such a member is a link.
    """
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            return [
                archive.read(i)
                for i in archive.infolist()
                if not i.is_dir() and _top_level(i.filename, name)
            ]
    found = []
    with tarfile.open(path, "r:gz") as archive:
        for member in archive:
            if not _top_level(member.name, name):
                continue
            if not member.isfile():
                raise ForbiddenDependency(f"{member.name} is not a regular file")
            extracted = archive.extractfile(member)
            found.append(extracted.read() if extracted else b"")
    return found


def _top_level(member: str, name: str) -> bool:
    parts = [p for p in PurePosixPath(member).parts if p not in (".", "/")]
    return 1 <= len(parts) <= 2 and parts[-1] == name
