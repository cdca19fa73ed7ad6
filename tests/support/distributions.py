"""Tiny wheels and sdists built by the tests, so no test needs the network."""

from __future__ import annotations

import inspect
import io
import tarfile
from collections.abc import Mapping
from pathlib import Path

from tests.support import tinybackend


def module_name(project: str) -> str:
    return project.replace("-", "_").lower()


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    requires: list[str] | None = None,
    extras: Mapping[str, list[str]] | None = None,
    requires_python: str | None = None,
    body: str = "",
    files: Mapping[str, str] | None = None,
) -> Path:
    """A pure-Python wheel whose module ``name`` exposes ``VERSION``.

    ``files`` adds more (path in the wheel -> text), such as
    ``NAME-VERSION.dist-info/entry_points.txt`` or ``NAME-VERSION.data/scripts/X``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    source = f"VERSION = {version!r}\n{body}"
    metadata = tinybackend.core_metadata(name, version, requires, extras, requires_python)
    contents = {f"{module_name(name)}/__init__.py": source, **(files or {})}
    filename = tinybackend.write_wheel(str(directory), name, version, contents, metadata)
    return directory / filename


def make_backend_wheel(directory: Path) -> Path:
    """The ``tinybackend`` build backend as a wheel, for sdists to build with."""
    directory.mkdir(parents=True, exist_ok=True)
    metadata = tinybackend.core_metadata("tinybackend", "1.0")
    files = {"tinybackend.py": inspect.getsource(tinybackend)}
    return directory / tinybackend.write_wheel(
        str(directory), "tinybackend", "1.0", files, metadata
    )


def make_sdist(
    directory: Path,
    name: str,
    version: str,
    requires: list[str] | None = None,
    build_requires: tuple[str, ...] = ("tinybackend",),
) -> Path:
    """An sdist that only builds with the ``tinybackend`` backend (``build_requires``)."""
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{module_name(name)}-{version}"
    deps = ", ".join(f'"{r}"' for r in requires or [])
    build = ", ".join(f'"{r}"' for r in build_requires)
    files = {
        "pyproject.toml": (
            f'[build-system]\nrequires = [{build}]\nbuild-backend = "tinybackend"\n\n'
            f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n'
        ),
        f"src/{module_name(name)}/__init__.py": f"VERSION = {version!r}\nFROM_SDIST = True\n",
        "PKG-INFO": tinybackend.core_metadata(name, version, requires),
    }
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for arcname, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{arcname}")
            info.size = len(data)
            info.mtime = 1577836800
            tar.addfile(info, io.BytesIO(data))
    return path
