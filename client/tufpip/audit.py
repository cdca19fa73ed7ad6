"""``tufpip audit``: does every installed distribution match a wheel the repository signs?

Rules:
- The environment is the one ``install`` writes into: ``--python`` (a
  Python or a venv folder), else the active virtual environment. Its
  interpreter is run once with ``-I -S`` (``probe``) to report its
  executable, its version and its installation paths (``sysconfig``, the
  ``venv`` scheme for the folder holding ``pyvenv.cfg``, found as ``site``
  finds it). ``-S`` skips ``site``: no ``.pth`` file or ``sitecustomize``
  of the audited environment runs, so a tampered environment cannot hide a
  distribution or point the audit elsewhere. Listing distributions with
  ``importlib.metadata`` inside the target would run that code first.
- The distributions are the ``*.dist-info`` and ``*.egg-info`` folders of
  its purelib and platlib folders (what pip lists there), read by tufpip
  itself. A venv's system site-packages, the user site and ``PYTHONPATH``
  are not part of it.
- One ``Session`` (one refresh) for the whole audit. Per distribution: no
  signed project page is ``unsigned distribution``; a quarantined project
  ``quarantined project``; no signed file of the installed version ``version
  not signed``; no signed wheel whose build tag and tags are those of the
  installed ``WHEEL`` file (installed from an sdist, or from a wheel built
  elsewhere) ``no signed wheel``: its files cannot be checked against
  anything signed. Otherwise that wheel is downloaded and verified by
  ngclient (or found in the verified cache), and checked file by file.
- Checked: every file the wheel's ``RECORD`` lists, where installers put it
  (the folder holding the dist-info folder; ``NAME.data/purelib``,
  ``platlib``, ``scripts``, ``data`` at those paths, ``headers`` where pip
  puts them), against the ``RECORD`` hash (sha256 of the wheel's own bytes
  when ``RECORD`` gives none): ``missing file`` or ``modified file``.
- A script in ``NAME.data/scripts`` whose signed first line starts with
  ``#!python`` gets a launcher from the installer instead of that line:
  ``#!PY`` (pip, uv), or ``#!/bin/sh`` and an ``exec 'PY'`` line (uv, when
  PY is long or has spaces). It matches when PY is the environment's
  interpreter (its path, or the same file in its scripts folder) and
  every byte after the launcher is the signed script's after its first line.
- Written by the installer, and excluded by rule on both sides (never
  compared, never unexpected): ``RECORD``, ``INSTALLER``, ``REQUESTED``,
  ``direct_url.json`` (pip, uv) and ``uv_cache.json`` (uv) in the dist-info
  folder; bytecode in ``__pycache__`` folders; in the scripts folder, the
  wrappers of the console and GUI scripts the installed ``entry_points.txt``
  names (that file is itself checked), and for an entry point ``pip`` also
  ``pipX`` and ``pipX.Y``, for ``easy_install`` also ``easy_install-X.Y``,
  which pip writes.
- Any other entry of the installed ``RECORD`` that the wheel does not hold
  is ``unexpected file``. Files that no ``RECORD`` lists are not seen, as
  with ``debsums``.
- Nothing in the environment is written.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import email.parser
import hashlib
import importlib.metadata
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from tufindex import targetpaths
from tufpip import probe
from tufpip.errors import NotFound, ProjectQuarantined, UsageError, VerificationError
from tufpip.installer import interpreter

if TYPE_CHECKING:
    from tufpip.session import Session

ProblemKind = Literal[
    "unsigned distribution",
    "quarantined project",
    "version not signed",
    "no signed wheel",
    "missing file",
    "modified file",
    "unexpected file",
]

# Files in the dist-info folder that installers write themselves.
INSTALLER_FILES = frozenset(
    {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json"}
)
_SCHEMES = ("purelib", "platlib", "scripts", "data")
_SH_LAUNCHER = re.compile(rb"#!/bin/sh\n'''exec' '([^'\n]+)' \"\$0\" \"\$@\"\n' '''\n")
_LAUNCHER = re.compile(rb"#!([^\n]+)\n")
_PROBE = """\
import json, os, sys, sysconfig
here = os.path.dirname(sys.executable)
venvs = [f for f in (here, os.path.dirname(here)) if os.path.isfile(os.path.join(f, "pyvenv.cfg"))]
version = "%d.%d" % sys.version_info[:2]
if venvs:
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else "posix_prefix"
    paths = sysconfig.get_paths(scheme, vars={"base": venvs[0], "platbase": venvs[0]})
    paths["headers"] = os.path.join(venvs[0], "include", "site", "python" + version)
else:
    paths = sysconfig.get_paths()
    paths["headers"] = paths["include"]
print(json.dumps({"python": sys.executable, "version": version, "paths": paths}))
"""


@dataclass(frozen=True)
class Problem:
    """One finding: a distribution-wide one (``path`` None) or one about a file."""

    name: str
    version: str
    problem: ProblemKind
    path: str | None = None

    def __str__(self) -> str:
        if self.path is None:
            return f"{self.problem} {self.name} {self.version}"
        return f"{self.problem} {self.path} ({self.name} {self.version})"

    def to_json(self) -> dict[str, str | None]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Report:
    """What ``Client.audit`` found in the environment of ``python``."""

    python: str
    distributions: int
    problems: list[Problem]


@dataclass(frozen=True)
class Environment:
    """The audited interpreter, its ``X.Y`` version and its installation paths."""

    python: str
    version: str
    paths: dict[str, str]

    def distributions(self) -> list[Installed]:
        """Every dist-info (or egg-info) folder in purelib and platlib, by folder name."""
        folders = dict.fromkeys(Path(self.paths[key]) for key in ("purelib", "platlib"))
        found = []
        for folder in folders:
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if child.suffix in (".dist-info", ".egg-info") and child.is_dir():
                    found.append(Installed.at(child))
        return found

    def is_own_python(self, path: str) -> bool:
        """Whether ``path`` names this interpreter: its own path, or the same file in
        the environment's scripts folder (``python3`` beside ``python``)."""
        if path == self.python:
            return True
        scripts = os.path.realpath(self.paths["scripts"])
        try:
            return os.path.realpath(os.path.dirname(path)) == scripts and os.path.samefile(
                path, self.python
            )
        except OSError:
            return False


@dataclass(frozen=True)
class Installed:
    """An installed distribution: its dist-info folder, name and version."""

    path: Path
    name: str
    version: str

    @classmethod
    def at(cls, path: Path) -> Installed:
        """Name and version from the folder's metadata, else from the folder's name."""
        try:
            metadata = importlib.metadata.Distribution.at(path).metadata
        except UnicodeDecodeError:
            metadata = None
        stem_name, _, stem_version = path.stem.partition("-")
        name = (metadata["Name"] if metadata else None) or stem_name
        version = (metadata["Version"] if metadata else None) or stem_version
        return cls(path, name, version)

    @property
    def site(self) -> Path:
        """The folder the wheel's root was installed into."""
        return self.path.parent

    def problem(self, kind: ProblemKind, path: Path | None = None) -> Problem:
        return Problem(self.name, self.version, kind, None if path is None else str(path))


def environment(python: str) -> Environment:
    """The environment of ``python`` (an interpreter or a venv folder), read by running it once.

    Raises:
        UsageError: It cannot be found or run.
    """
    found = probe.run(interpreter(python), _PROBE, "the installation paths", flags=["-S"])
    try:
        return Environment(found["python"], found["version"], dict(found["paths"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"cannot read the installation paths of {python}: {exc!r}") from exc


def check(env: Environment, session: Session) -> Report:
    """Check every distribution of ``env`` against the repository ``session`` verifies.

    Raises:
        TufpipError: The repository's metadata or a signed wheel failed verification.
    """
    distributions = env.distributions()
    problems = [
        problem for installed in distributions for problem in _check_one(env, installed, session)
    ]
    return Report(env.python, len(distributions), problems)


def _check_one(env: Environment, installed: Installed, session: Session) -> list[Problem]:
    name = targetpaths.normalize(installed.name)
    page_path = targetpaths.project_page(name)
    try:
        files = json.loads(session.read(page_path))["files"]
    except NotFound:
        return [installed.problem("unsigned distribution")]
    except ProjectQuarantined:
        return [installed.problem("quarantined project")]
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"signed {page_path} is not a page tufpip reads: {exc}") from exc
    version = _parse(installed.version)
    signed = [
        entry["filename"]
        for entry in files
        if isinstance(entry, dict) and version is not None and _version_of(entry) == version
    ]
    if not signed:
        return [installed.problem("version not signed")]
    wheel = _installed_wheel(installed, signed)
    if wheel is None:
        return [installed.problem("no signed wheel")]
    return list(_compare(env, installed, session.target(targetpaths.distribution(name, wheel))))


def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def _version_of(entry: dict[str, object]) -> Version | None:
    """The version of a signed page's file entry (None for what is no distribution name)."""
    filename = entry.get("filename")
    if not isinstance(filename, str):
        return None
    try:
        return targetpaths.parse_filename(filename)[1]
    except targetpaths.InvalidDistributionName:
        return None


def _installed_wheel(installed: Installed, filenames: list[str]) -> str | None:
    """The signed wheel whose build tag and tags are those of the installed ``WHEEL`` file."""
    try:
        wheel = email.parser.Parser().parsestr((installed.path / "WHEEL").read_text("utf-8"))
    except (OSError, UnicodeDecodeError):
        return None  # an egg-info folder, or no wheel metadata: not installed from a wheel
    tags = {tag.strip() for tag in wheel.get_all("Tag") or []}
    build = (wheel.get("Build") or "").strip()
    for filename in filenames:
        try:
            _name, _version, build_tag, file_tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue  # an sdist
        if {str(tag) for tag in file_tags} == tags and "".join(map(str, build_tag)) == build:
            return filename
    return None


def _compare(env: Environment, installed: Installed, wheel: Path) -> Iterator[Problem]:
    """Problems of ``installed`` against the verified ``wheel``, in the wheel's RECORD order."""
    expected: set[str] = set()
    try:
        with zipfile.ZipFile(wheel) as archive:
            record = next(
                (n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)),
                None,
            )
            if record is None:
                raise VerificationError(f"signed wheel {wheel.name} has no RECORD")
            info = record.split("/")[0]
            text = archive.read(record).decode("utf-8")
            for row in csv.reader(io.StringIO(text)):
                if not row:
                    continue
                target = _installed_path(env, installed, info, row[0])
                if target is None:
                    continue
                expected.add(os.path.realpath(target))
                signed_hash = row[1] if len(row) > 1 else ""
                kind = _check_file(env, target, archive, row[0], signed_hash)
                if kind is not None:
                    yield installed.problem(kind, target)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, csv.Error) as exc:
        raise VerificationError(f"signed wheel {wheel.name} cannot be read: {exc}") from exc
    for path in _recorded(installed):
        if os.path.realpath(path) not in expected and not _written_by_installer(
            env, installed, path
        ):
            yield installed.problem("unexpected file", path)


def _installed_path(env: Environment, installed: Installed, info: str, entry: str) -> Path | None:
    """Where an installer puts the wheel's file ``entry``; None for files it writes itself."""
    parts = entry.split("/")
    if "__pycache__" in parts:
        return None
    if parts[0] == info:
        if len(parts) == 2 and parts[1] in INSTALLER_FILES:
            return None
        return installed.path.joinpath(*parts[1:])
    if parts[0].endswith(".data") and len(parts) > 2:
        scheme, rest = parts[1], parts[2:]
        if scheme in _SCHEMES:
            return Path(env.paths[scheme]).joinpath(*rest)
        if scheme == "headers":
            return Path(env.paths["headers"], installed.name).joinpath(*rest)
    return installed.site.joinpath(*parts)


def _check_file(
    env: Environment, target: Path, archive: zipfile.ZipFile, entry: str, signed_hash: str
) -> ProblemKind | None:
    if not target.is_file():
        return "missing file"
    parts = entry.split("/")
    try:
        if parts[0].endswith(".data") and parts[1:2] == ["scripts"]:
            signed = archive.read(entry)
            if signed.startswith(b"#!python"):
                same = _same_script(env, target.read_bytes(), signed)
                return None if same else "modified file"
        algorithm, _, digest = signed_hash.partition("=")
        if not digest or algorithm not in hashlib.algorithms_guaranteed:
            algorithm, digest = "sha256", _encode(hashlib.sha256(archive.read(entry)).digest())
        with target.open("rb") as installed:
            actual = _encode(hashlib.file_digest(installed, algorithm).digest())
    except OSError as exc:
        raise UsageError(f"cannot read {target}: {exc.strerror}") from exc
    return None if actual == digest else "modified file"


def _encode(digest: bytes) -> str:
    """A RECORD hash: urlsafe base64 without padding."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same_script(env: Environment, installed: bytes, signed: bytes) -> bool:
    """Whether ``installed`` is the ``#!python`` script ``signed`` with a launcher for ``env``."""
    for launcher in (_SH_LAUNCHER, _LAUNCHER):
        if match := launcher.match(installed):
            return (
                env.is_own_python(os.fsdecode(match[1]))
                and installed[match.end() :] == signed.partition(b"\n")[2]
            )
    return False


def _recorded(installed: Installed) -> list[Path]:
    """The files the installed RECORD lists (none for a folder without one)."""
    try:
        text = (installed.path / "RECORD").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    return [
        Path(os.path.normpath(installed.site / row[0]))
        for row in csv.reader(io.StringIO(text))
        if row
    ]


def _written_by_installer(env: Environment, installed: Installed, path: Path) -> bool:
    """Whether the installer writes ``path`` itself (the exclusion rule, see Rules)."""
    if "__pycache__" in path.parts:
        return True
    if path.parent == installed.path:
        return path.name in INSTALLER_FILES
    if os.path.realpath(path.parent) != os.path.realpath(env.paths["scripts"]):
        return False
    return path.name in _wrappers(env, installed)


def _wrappers(env: Environment, installed: Installed) -> set[str]:
    """The script wrappers installers write for the installed entry points."""
    points = importlib.metadata.Distribution.at(installed.path).entry_points
    names = {p.name for p in points if p.group in ("console_scripts", "gui_scripts")}
    major = env.version.split(".")[0]
    if "pip" in names:
        names |= {f"pip{major}", f"pip{env.version}"}
    if "easy_install" in names:
        names.add(f"easy_install-{env.version}")
    return names
