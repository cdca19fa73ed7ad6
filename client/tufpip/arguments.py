"""The installer's command line, built by tufpip from an allow-list.

Rules:
- tufpip parses the user's install arguments itself and gives the installer
  only what it produced: options in their canonical long form with their
  values checked, requirements rendered by ``requirements``, and canonical
  copies of requirements files. The user's tokens and files never reach
  pip or uv, so no difference between two readers of them can matter.
- Options are matched by exact name against the installer's allow-list
  (``PIP`` or ``UV``): an abbreviation or an unknown option is a usage error
  (exit 2), an option that names or adds a package source, even abbreviated,
  is refused (exit 3). Short options may be clustered (``-Uq``) as both
  installers allow.
- Values are checked against what the option takes (a choice, a date, a
  project name); paths (``--target``, ``--report``, ...) are made absolute,
  because the installer runs in a private empty folder.
- Local paths are read by ``projects``: ``-e``/``--editable`` and a
  positional written as a path take the user's own project directory, a
  positional local file must be exactly a signed file; a local project is
  built with build isolation (``--no-build-isolation`` refused). A lock file
  (``-r pylock.toml``) is installed alone, with ``--no-deps``: exactly the
  locked files, nothing resolved.
- ``tufpip lock`` takes ``LOCK``: the options of ``PIP`` that ``pip lock``
  has, and no local project or file (``local=False``): a lock holds only
  files the repository signs.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tufpip import locks, projects
from tufpip.errors import RefusedSource, UsageError
from tufpip.requirements import (
    SOURCE_REFUSAL,
    RequirementFiles,
    canonical_requirement,
    refused_source,
)


class Kind(enum.Enum):
    FLAG = "flag"
    VALUE = "value"
    PATH = "path"
    FILE = "requirements file"
    PROJECT = "local project"


@dataclass(frozen=True)
class Option:
    """One allowed option: its canonical name, kind and value check."""

    name: str
    kind: Kind
    check: Callable[[str], bool] | None = None


def _matches(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _choice(*choices: str) -> Callable[[str], bool]:
    return lambda value: value in choices


_NAME = _matches(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_BINARY = _matches(r"(:all:|:none:|[A-Za-z0-9._-]+)(,(:all:|:none:|[A-Za-z0-9._-]+))*")
_DATE = _matches(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+)?(Z|[+-]\d{2}:?\d{2})?")
_TAG = _matches(r"[A-Za-z0-9_.-]+")
_VERSION = _matches(r"\d+(\.\d+){0,2}")
_NUMBER = _matches(r"\d+(\.\d+)?")
_SETTING = _matches(r"[A-Za-z0-9_.-]+(=[\x20-\x7e]*)?")


def _table(*options: tuple[str, Kind, Callable[[str], bool] | None]) -> dict[str, Option]:
    """Every spelling (``-U --upgrade``) of each option, the last one canonical."""
    table = {}
    for names, kind, check in options:
        spellings = names.split()
        for spelling in spellings:
            table[spelling] = Option(spellings[-1], kind, check)
    return table


F, V, P, R, E = Kind.FLAG, Kind.VALUE, Kind.PATH, Kind.FILE, Kind.PROJECT
_REQUIREMENT_OPTIONS = ("--requirement", "--requirements")

PIP: Mapping[str, Option] = _table(
    ("-U --upgrade", F, None),
    ("--force-reinstall", F, None),
    ("-I --ignore-installed", F, None),
    ("--ignore-requires-python", F, None),
    ("--no-deps", F, None),
    ("--pre", F, None),
    ("--no-build-isolation", F, None),
    ("--use-pep517", F, None),
    ("--check-build-dependencies", F, None),
    ("--no-warn-script-location", F, None),
    ("--no-warn-conflicts", F, None),
    ("--compile", F, None),
    ("--no-compile", F, None),
    ("--prefer-binary", F, None),
    ("--require-hashes", F, None),
    ("--dry-run", F, None),
    ("--user", F, None),
    ("--break-system-packages", F, None),
    ("-q --quiet", F, None),
    ("-v --verbose", F, None),
    ("--no-color", F, None),
    ("--no-cache-dir", F, None),
    ("--no-clean", F, None),
    ("--upgrade-strategy", V, _choice("only-if-needed", "eager")),
    ("--progress-bar", V, _choice("on", "off", "raw")),
    ("--root-user-action", V, _choice("warn", "ignore")),
    ("--only-binary", V, _BINARY),
    ("--no-binary", V, _BINARY),
    ("--python-version", V, _VERSION),
    ("--platform", V, _TAG),
    ("--abi", V, _TAG),
    ("--implementation", V, _choice("pp", "cp", "py", "ip", "jy")),
    ("--uploaded-prior-to", V, _DATE),
    ("-C --config-settings", V, _SETTING),
    ("--timeout --default-timeout", V, _NUMBER),
    ("--retries", V, _VERSION),
    ("-t --target", P, None),
    ("--prefix", P, None),
    ("--root", P, None),
    ("--report", P, None),
    ("--log", P, None),
    ("-d --dest", P, None),
    ("-r --requirement", R, None),
    ("-c --constraint", R, None),
    ("--build-constraint", R, None),
    ("-e --editable", E, None),
)
_LOCK_OPTIONS = (
    *("--ignore-requires-python", "--no-deps", "--pre", "--no-build-isolation", "--use-pep517"),
    *("--check-build-dependencies", "--quiet", "--verbose", "--no-color", "--no-cache-dir"),
    *("--no-clean", "--prefer-binary", "--require-hashes", "--progress-bar", "--only-binary"),
    *("--no-binary", "--uploaded-prior-to", "--config-settings", "--default-timeout"),
    *("--retries", "--log", "--requirement", "--constraint", "--build-constraint"),
)
LOCK: Mapping[str, Option] = {
    spelling: option for spelling, option in PIP.items() if option.name in _LOCK_OPTIONS
}
UV: Mapping[str, Option] = _table(
    ("-U --upgrade", F, None),
    ("--reinstall", F, None),
    ("--no-deps", F, None),
    ("--no-build-isolation", F, None),
    ("--no-build", F, None),
    ("--compile-bytecode", F, None),
    ("--dry-run", F, None),
    ("--require-hashes", F, None),
    ("--strict", F, None),
    ("--break-system-packages", F, None),
    ("--pre", F, None),
    ("-q --quiet", F, None),
    ("-v --verbose", F, None),
    ("--no-progress", F, None),
    ("--all-extras", F, None),
    ("--resolution", V, _choice("highest", "lowest", "lowest-direct")),
    (
        "--prerelease",
        V,
        _choice("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit"),
    ),
    ("--fork-strategy", V, _choice("fewest", "requires-python")),
    ("--link-mode", V, _choice("clone", "copy", "hardlink", "symlink")),
    ("--color", V, _choice("auto", "always", "never")),
    ("--only-binary", V, _BINARY),
    ("--no-binary", V, _BINARY),
    ("--exclude-newer", V, _DATE),
    ("--python-version", V, _VERSION),
    ("--python-platform", V, _TAG),
    ("--extra", V, _NAME),
    ("-P --upgrade-package", V, _NAME),
    ("--reinstall-package", V, _NAME),
    ("-C --config-setting", V, _SETTING),
    ("-t --target", P, None),
    ("--prefix", P, None),
    ("-r --requirement --requirements", R, None),
    ("-c --constraint --constraints", R, None),
    ("--override --overrides", R, None),
    ("-b --build-constraint --build-constraints", R, None),
    ("-e --editable", E, None),
)


def canonical_arguments(
    args: Sequence[str],
    table: Mapping[str, Option],
    files: RequirementFiles,
    cwd: Path | None = None,
    local: bool = True,
) -> list[str]:
    """The installer arguments for the user's ``args``, built from ``table``.

    Relative paths and requirements files are taken from ``cwd`` (default:
    the current folder); files are copied, canonical, by ``files``, which
    also collects the pins to check before the installer starts. Without
    ``local``, a positional local path (project or file) is refused.

    Raises:
        RefusedSource: An option or requirement names another package source.
        UsageError: An option is unknown, abbreviated or has a bad value.
    """
    base = cwd or Path.cwd()
    options: list[str] = []
    requirements: list[str] = []
    local_projects = False
    for spelling, option, value in _parse(args, table):
        if option is None:
            if not local and projects.local_path(value, base) is not None:
                raise RefusedSource(
                    f"{value}: a lock holds only files the repository signs: name requirements"
                )
            rendered, is_project = _positional(value, base, files)
            requirements.append(rendered)
            local_projects |= is_project
        elif option.kind is Kind.PROJECT:
            project = Path(os.path.abspath(base / value))
            if not project.is_dir():
                raise RefusedSource(f"{spelling} {value}: tufpip installs local projects only")
            options.append(f"{option.name}={projects.project(project, f'{spelling} {value}')}")
            local_projects = True
        elif (
            option.kind is Kind.FILE
            and option.name in _REQUIREMENT_OPTIONS
            and (locks.is_lock_name(value))
        ):
            options.append(f"{option.name}={files.lock(value, base, f'{spelling} {value}')}")
        elif option.kind is Kind.FLAG:
            options.append(option.name)
        elif option.kind is Kind.PATH:
            absolute = value if value == "-" else os.path.abspath(base / value)
            options.append(f"{option.name}={absolute}")
        elif option.kind is Kind.FILE:
            options.append(f"{option.name}={files.copy(value, base, f'{spelling} {value}')}")
        elif option.check is not None and option.check(value):
            options.append(f"{option.name}={value}")
        else:
            raise UsageError(f"{spelling} {value!r}: not a value this option takes")
    if local_projects and "--no-build-isolation" in options:
        raise UsageError("a local project is built with build isolation: drop --no-build-isolation")
    if files.locked:
        if requirements or files.count != 1:
            raise UsageError("a lock file is installed alone: no other requirements or files")
        options.append("--no-deps")
    return [*options, *requirements]


def _positional(text: str, base: Path, files: RequirementFiles) -> tuple[str, bool]:
    """A positional argument as passed on (a local project, a signed local file or a
    requirement), and whether it is a local project."""
    path = projects.local_path(text, base)
    if path is None:
        return canonical_requirement(text), False
    if path.is_dir():
        return projects.project(path, text), True
    rendered, pin = projects.local_file(path, files.folder, text)
    files.pins.append(pin)
    return rendered, False


def _parse(
    args: Sequence[str], table: Mapping[str, Option]
) -> Iterator[tuple[str, Option | None, str]]:
    """(spelling, option, value) per option, and ("", None, text) per requirement."""
    rest = iter(args)
    for token in rest:
        if token == "--":
            yield from (("", None, positional) for positional in rest)
        elif token.startswith("--"):
            spelling, has_value, value = token.partition("=")
            option = _lookup(spelling, table)
            if option.kind is Kind.FLAG:
                if has_value:
                    raise UsageError(f"{spelling} takes no value")
            elif not has_value:
                value = _value(spelling, rest)
            yield spelling, option, value
        elif token.startswith("-") and len(token) > 1:
            for position, letter in enumerate(token[1:], start=2):
                spelling = f"-{letter}"
                option = _lookup(spelling, table)
                if option.kind is Kind.FLAG:
                    yield spelling, option, ""
                    continue
                yield spelling, option, token[position:] or _value(spelling, rest)
                break
        else:
            yield "", None, token


def _lookup(spelling: str, table: Mapping[str, Option]) -> Option:
    if (option := table.get(spelling)) is not None and option.kind is Kind.PROJECT:
        return option
    if refused_source(spelling):
        raise RefusedSource(f"{spelling} {SOURCE_REFUSAL}")
    if option is not None:
        return option
    if spelling.startswith("--") and any(known.startswith(spelling) for known in table):
        raise UsageError(f"{spelling} is abbreviated: write the option's full name")
    raise UsageError(f"{spelling} is not an option tufpip passes on to the installer")


def _value(spelling: str, rest: Iterator[str]) -> str:
    value = next(rest, None)
    if value is None:
        raise UsageError(f"{spelling} needs a value")
    return value
