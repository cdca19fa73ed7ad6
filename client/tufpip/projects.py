"""Local paths on tufpip's command line: the user's own project, or a signed file.

Rules:
- A positional argument is a local path only when it is written as one
  (``.``, ``..``, or with a ``/``) and exists; ``-e``/``--editable`` takes a
  local project directory only. Anything else is a requirement, read by
  ``requirements``.
- A project directory is the user's own code: it is passed on, as an
  absolute path (the installer's folder is private), and built with build
  isolation, so its build backend and every dependency come from the
  verifying index (``--no-build-isolation`` is refused with it). Its
  ``pyproject.toml`` must declare the dependencies statically (a
  ``[project]`` table, with neither ``dependencies`` nor
  ``optional-dependencies`` dynamic) and name no direct URL in them or in
  ``build-system.requires`` (``tufindex.dependencies``); ``[tool.uv.sources]``,
  which sends uv elsewhere, is refused too. A project that breaks this is
  another package source (exit 3), refused before anything runs.
- A local file is used only when it is exactly a file the repository
  signs: it is copied into the private folder and that copy is pinned
  (``pins``), checked in the run's session before the installer starts.
- Paths are passed on only when every installer reads them alike: ASCII
  letters, digits and ``._+-/`` only.
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

from tufindex import targetpaths
from tufindex.dependencies import ForbiddenDependency, check_build_system, check_requirements
from tufpip.errors import RefusedSource, UsageError
from tufpip.pins import Pin

_SAFE_PATH = re.compile(r"[A-Za-z0-9._+/-]+")
_CHECKED_FIELDS = ("dependencies", "optional-dependencies")


def local_path(text: str, base: Path) -> Path | None:
    """The existing local path ``text`` is written as, or None when it is no path."""
    if not (text in (".", "..") or "/" in text):
        return None
    path = Path(os.path.abspath(base / text))
    return path if path.exists() else None


def project(path: Path, what: str) -> str:
    """The absolute path of the checked project directory ``path``, as passed on.

    Raises:
        RefusedSource: It is not a project tufpip can check, or it names another source.
        UsageError: Its path cannot be passed on unambiguously.
    """
    pyproject = path / "pyproject.toml"
    if not pyproject.is_file():
        raise RefusedSource(f"{what}: no pyproject.toml, so its dependencies cannot be checked")
    try:
        data = pyproject.read_bytes()
        check_build_system(data)
        document = tomllib.loads(data.decode())
        _check_project(document)
    except ForbiddenDependency as exc:
        raise RefusedSource(f"{what}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {pyproject}: {exc.strerror}") from exc
    return _passable(path, what)


def _check_project(document: dict[str, Any]) -> None:
    table = document.get("project")
    if not isinstance(table, dict):
        raise ForbiddenDependency("pyproject.toml has no [project] table to check")
    dynamic = set(table.get("dynamic", []))
    for field in _CHECKED_FIELDS:
        if field in dynamic:
            raise ForbiddenDependency(f"project.{field} is dynamic and cannot be checked")
    check_requirements(_strings(table.get("dependencies", []), "dependencies"), "dependencies")
    optional = table.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        raise ForbiddenDependency("project.optional-dependencies is not a table")
    for extra, requirements in optional.items():
        field = f"optional-dependencies.{extra}"
        check_requirements(_strings(requirements, field), field)
    tool = document.get("tool", {})
    uv = tool.get("uv", {}) if isinstance(tool, dict) else {}
    if isinstance(uv, dict) and "sources" in uv:
        raise ForbiddenDependency("[tool.uv.sources] names package sources")


def _strings(value: Any, field: str) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise ForbiddenDependency(f"project.{field} is not a list of strings")
    return value


def local_file(path: Path, folder: Path, what: str) -> tuple[str, Pin]:
    """A private copy of local distribution ``path`` in ``folder``, and its pin.

    Raises:
        RefusedSource: It is not a distribution file.
        UsageError: It cannot be read, or another file of that name was given.
    """
    if not path.is_file():
        raise RefusedSource(f"{what} is neither a project directory nor a distribution file")
    try:
        project, _version, _wheel = targetpaths.parse_filename(path.name)
    except targetpaths.InvalidDistributionName as exc:
        raise RefusedSource(f"{what}: {exc}") from None
    copy = folder / path.name
    if copy.exists():
        raise UsageError(f"{what}: another {path.name} was given already")
    try:
        shutil.copyfile(path, copy)
    except OSError as exc:
        raise UsageError(f"{what}: cannot read it: {exc.strerror}") from exc
    return _passable(copy, what), Pin(project, path.name, what, local=copy)


def _passable(path: Path, what: str) -> str:
    if not _SAFE_PATH.fullmatch(str(path)):
        raise UsageError(f"{what}: its path {path} cannot be passed on unambiguously")
    return str(path)
