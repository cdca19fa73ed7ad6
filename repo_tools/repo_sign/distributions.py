"""Validating wheels and sdists before they enter a repository.

A file is accepted only when its name is a valid wheel or sdist name and the
core metadata inside agrees with that name (project and version): a wheel
without ``METADATA`` or with a different name or version inside is refused,
because installers trust the file name while resolving and the metadata while
installing. The wheel's ``METADATA`` becomes its PEP 658 ``.metadata`` target.
A file whose dependencies name a direct URL is refused too (``dependencies``).
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
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


DISTRIBUTION_SUFFIXES = (".whl", ".tar.gz", ".zip")
_READ_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError)

# What pip installs to build an sdist without a ``[build-system]`` table (pip 26's
# ``pyproject.load_pyproject_toml``; older pips added ``wheel``).
LEGACY_BUILD_REQUIRES = ("setuptools>=40.8.0",)


def distribution_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Each path given, and for a folder every wheel and sdist inside (recursively, sorted).

    Names starting with a dot (temporary files, ``.git``) are skipped inside
    folders; a file named on the command line is always taken, and checked.
    """
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            for name in sorted(names):
                if name.endswith(DISTRIBUTION_SUFFIXES) and not name.startswith("."):
                    yield Path(folder, name)


# From this many files on, validation is spread over the machine's cores.
PARALLEL_FROM = 100


def inspect_all(paths: Iterable[Path]) -> list[Distribution]:
    """``inspect`` every file, in order; on every core when there are many.

    Validating a file (open the archive, parse its metadata, the dependency
    rule) is CPU work independent of the others, and about a fifth of
    building a repository from scratch. It runs before the workspace lock is
    taken and any key is loaded: worker processes never hold a secret.
    The first invalid file ends it with its error, as one at a time would.
    """
    files = list(paths)
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if len(files) < PARALLEL_FROM or workers < 2:
        return [inspect(path) for path in files]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(inspect, files, chunksize=64))


def inspect(path: Path) -> Distribution:
    """Validate ``path`` and read what the index pages need from it."""
    try:
        project, version, is_wheel = targetpaths.parse_filename(path.name)
    except targetpaths.InvalidDistributionName as exc:
        raise InvalidDistribution(str(exc)) from exc
    if not path.is_file():
        raise InvalidDistribution(f"{path} is not a file")
    try:
        if is_wheel:  # the METADATA read and parsed once serves the rule and the pages
            raw = dependencies.wheel_metadata(path)
            if raw is None:
                raise dependencies.ForbiddenDependency("no single .dist-info/METADATA")
            fields = dependencies.check_core_metadata(raw)
        else:
            raw = _sdist_metadata(path)
            dependencies.check_file(path, path.name)
            fields = parse_email(raw)[0] if raw is not None else {}
    except dependencies.ForbiddenDependency as exc:
        raise InvalidDistribution(f"{path.name}: {exc}") from exc
    except _READ_ERRORS as exc:
        kind = "wheel" if is_wheel else "sdist"
        raise InvalidDistribution(f"{path.name} is not a readable {kind}: {exc}") from exc
    if raw is None:  # an sdist without PKG-INFO: check_file refuses such a wheel
        return Distribution(path, path.name, project, version, False, None, None)
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


def build_requirements(path: Path) -> list[str]:
    """What an installer installs before it builds the sdist ``path``, read, never run.

    Every top-level ``pyproject.toml``'s ``build-system.requires``, or pip's
    default for a legacy sdist. Requirements a backend asks for when run
    (PEP 517 ``get_requires_for_build_wheel``) cannot be known without running it.
    """
    try:
        pyprojects = dependencies.sdist_members(path, "pyproject.toml")
        tables = [dependencies.build_system_requires(data) for data in pyprojects]
        for table in tables:  # each one reaches pip: never an option, never a URL
            dependencies.check_requirements(table or [], "build-system.requires")
    except dependencies.ForbiddenDependency as exc:
        raise InvalidDistribution(f"{path.name}: {exc}") from exc
    except _READ_ERRORS as exc:
        raise InvalidDistribution(f"{path.name} is not a readable sdist: {exc}") from exc
    declared = [table for table in tables if table is not None]
    if not declared:
        return list(LEGACY_BUILD_REQUIRES)
    return sorted({requirement for table in declared for requirement in table})


def _sdist_metadata(path: Path) -> bytes | None:
    found = dependencies.sdist_members(path, "PKG-INFO")
    return found[0] if found else None
