"""Requirements as tufpip hands them to an installer: named, canonical, read once.

Rules:
- A requirement is a named PEP 508 requirement. Paths, URLs, VCS links,
  ``name @ URL``, archive file names and arbitrary equality (``===``, which
  pip may read as a local file) are refused as other package sources.
- What the installer receives is tufpip's own rendering of the parsed
  requirement (normalized name, extras, specifiers, marker), never the
  user's text, and only when that rendering reads the same to pip and uv:
  printable ASCII, no ``#``, no ``$``, no backslash, no word starting with
  ``-``.
- A requirements or constraints file is read once, by ``RequirementFiles``,
  with one strict grammar: UTF-8 (a UTF-8 byte order mark is allowed, a
  coding line naming anything else is refused); a regular file under 1 MiB;
  backslash continuations and ``#`` comments as pip documents them, with a
  comment ending in a backslash refused (pip joins it, uv does not);
  ``${UPPER_CASE}`` expanded from tufpip's environment, an unset or empty
  variable refused; nested ``-r``/``-c`` named by local paths only, resolved
  next to the file as it was named (pip's rule, which does not follow the
  file's symlink), a file that includes itself refused. Options on their own
  lines are allowed only from a short list; ``--hash`` only after a
  requirement.
- Each file read is written, canonical, into a private folder, and nested
  files refer to their canonical copies: the installer reads only those.
- A PEP 751 lock (``pylock.toml``, ``pylock.NAME.toml``) is read only as
  ``-r`` on the command line (``RequirementFiles.lock``, parsed by
  ``locks``), never nested or as constraints: its copy holds
  ``name==version --hash=sha256:...`` per package chosen for the target
  interpreter, and each locked file is pinned (``pins``) to be checked
  against the repository before the installer starts.
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tufpip import locks
from tufpip.errors import RefusedSource, UsageError
from tufpip.pins import Pin

MAX_FILE_BYTES = 1 << 20
ARCHIVE_SUFFIXES = (
    ".whl",
    ".zip",
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)
# Options that add or replace a package source, or route traffic elsewhere:
# refused (exit 3) wherever they appear, abbreviated or not.
SOURCE_OPTIONS = frozenset(
    (
        *("-i", "--index-url", "--pypi-url", "--extra-index-url", "--no-index", "--index"),
        *("--default-index", "--index-strategy", "-f", "--find-links", "--trusted-host"),
        *("--allow-insecure-host", "-e", "--editable", "--src", "--proxy", "--config-file"),
        *("--torch-backend", "--directory", "--project", "--group", "--requirements-from-script"),
        "--cache-dir",
    )
)
# Options allowed on their own line of a requirements file, as (kind, canonical name).
_FILE_OPTIONS: Mapping[str, tuple[str, str]] = {
    "-r": ("file", "-r"),
    "--requirement": ("file", "-r"),
    "--requirements": ("file", "-r"),
    "-c": ("file", "-c"),
    "--constraint": ("file", "-c"),
    "--constraints": ("file", "-c"),
    "--only-binary": ("value", "--only-binary"),
    "--no-binary": ("value", "--no-binary"),
    "--pre": ("flag", "--pre"),
    "--prefer-binary": ("flag", "--prefer-binary"),
    "--require-hashes": ("flag", "--require-hashes"),
    "--hash": ("hash", "--hash"),
}
_NOT_A_FILE_SUFFIXES = (".py", ".toml", ".cfg", ".lock")
_OTHER_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_CODING = re.compile(r"coding[:=]\s*([-\w.]+)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")
_HASH = re.compile(r"(sha256:[0-9a-fA-F]{64}|sha384:[0-9a-fA-F]{96}|sha512:[0-9a-fA-F]{128})")
_BINARY_FORMAT = re.compile(r"(:all:|:none:|[A-Za-z0-9._-]+)(,(:all:|:none:|[A-Za-z0-9._-]+))*")
# Characters that split or end lines differently for different readers.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_UNSAFE = re.compile(r"[^\x20-\x7e]|[#$\\]|(^|\s)-")


def canonical_requirement(text: str, where: str = "") -> str:
    """The named requirement ``text`` as tufpip passes it on.

    Raises:
        RefusedSource: ``text`` is not a named requirement from the index.
        UsageError: It cannot be passed on so that every installer reads it alike.
    """
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        raise RefusedSource(
            f"{text!r}{where} is not a named requirement: tufpip installs by name"
            " from the verified index (no paths, URLs or VCS links)"
        ) from None
    if requirement.url:
        raise RefusedSource(f"{text!r}{where} is a direct URL requirement: install it by name")
    if requirement.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise RefusedSource(f"{text!r}{where} names a local file: install it by name")
    if any(spec.operator == "===" for spec in requirement.specifier):
        raise RefusedSource(
            f"{text!r}{where} uses arbitrary equality (===), which installers may read as"
            " a local file: use == instead"
        )
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    rendered = f"{canonicalize_name(requirement.name)}{extras}{requirement.specifier}"
    if requirement.marker is not None:
        rendered += f" ; {requirement.marker}"
    if _UNSAFE.search(rendered):
        raise UsageError(f"{text!r}{where} cannot be passed on unambiguously: simplify it")
    return rendered


@dataclass
class RequirementFiles:
    """Reads requirements files and writes their canonical copies into ``folder``.

    ``environ`` is what ``${VAR}`` expands from; ``python`` finds the target
    interpreter, whose environment decides a lock's markers (default: the one
    tufpip runs in), only when a lock is read. Each distinct file is read once; ``copy`` returns the
    path of its canonical copy. ``pins`` collects what the repository must
    sign exactly before the installer may start.
    """

    folder: Path
    environ: Mapping[str, str]
    python: Callable[[], str] = lambda: sys.executable
    pins: list[Pin] = field(default_factory=list)
    locked: bool = False
    _copies: dict[tuple[int, int], Path] = field(default_factory=dict)
    _reading: list[tuple[int, int]] = field(default_factory=list)

    def copy(self, name: str, base: Path, via: str) -> Path:
        """The canonical copy of requirements file ``name`` (relative to ``base``).

        ``via`` names what asked for it (``-r reqs.txt``), for messages.

        Raises:
            RefusedSource: The file names another package source.
            UsageError: It cannot be read with certainty.
        """
        if _SCHEME.match(name):
            raise RefusedSource(f"{via}: tufpip reads requirements files from local paths only")
        if locks.is_lock_name(name):
            raise UsageError(f"{via}: a lock file is installed only as -r on the command line")
        if name.endswith(_NOT_A_FILE_SUFFIXES) or Path(name).name == "pyproject.toml":
            raise UsageError(f"{via}: tufpip reads requirements files only, not {name}")
        path = Path(os.path.join(base, name))
        text, identity = _read(path, via)
        if identity in self._reading:
            raise UsageError(f"{via}: {name} includes itself")
        if (known := self._copies.get(identity)) is not None:
            return known
        self._reading.append(identity)
        try:
            lines = list(self._canonical_lines(text, path, name))
        finally:
            self._reading.pop()
        copy = self.folder / f"requirements-{len(self._copies) + 1}.txt"
        copy.write_text("".join(f"{line}\n" for line in lines), encoding="ascii")
        self._copies[identity] = copy
        return copy

    def lock(self, name: str, base: Path, via: str) -> Path:
        """The canonical copy of lock file ``name`` (relative to ``base``), its files pinned.

        Raises:
            RefusedSource: The lock names another package source.
            UsageError: It cannot be read, is not valid PEP 751, or does not fit the target.
        """
        text, identity = _read(Path(os.path.join(base, name)), via)
        environment = locks.target_environment(self.python())
        lines = []
        for package in locks.read(text, environment, name):
            requirement = canonical_requirement(f"{package.name}=={package.version}", f" ({via})")
            hashes = [f"--hash=sha256:{sha256}" for sha256 in package.files.values()]
            lines.append(" ".join([requirement, *hashes]))
            self.pins += [
                Pin(package.name, filename, f"{name}, package {package.name}", sha256=sha256)
                for filename, sha256 in package.files.items()
            ]
        copy = self.folder / f"requirements-{len(self._copies) + 1}.txt"
        copy.write_text("".join(f"{line}\n" for line in lines), encoding="ascii")
        self._copies[identity] = copy
        self.locked = True
        return copy

    @property
    def count(self) -> int:
        """How many distinct files were read."""
        return len(self._copies)

    def _canonical_lines(self, text: str, path: Path, name: str) -> Iterator[str]:
        for number, line in _logical_lines(text, name):
            where = f" (in {name}, line {number})"
            line = self._expand_variables(line, where)
            requirement, options = _split_line(line)
            try:
                tokens = shlex.split(options)
            except ValueError as exc:
                raise UsageError(f"cannot parse {options!r}{where}: {exc}") from exc
            parsed = list(_file_options(tokens, where))
            if requirement:
                rendered = canonical_requirement(requirement, where)
                hashes = [f"--hash={value}" for kind, _, value in parsed if kind == "hash"]
                if len(hashes) != len(parsed):
                    raise UsageError(f"only --hash may follow a requirement{where}")
                yield " ".join([rendered, *hashes])
                continue
            for kind, option, value in parsed:
                if kind == "hash":
                    raise UsageError(f"--hash must follow a requirement{where}")
                if kind == "file":
                    copy = self.copy(value, path.parent, f"{option} {value}{where}")
                    yield f"{option} {copy.name}"
                else:
                    yield f"{option}={value}" if value else option

    def _expand_variables(self, line: str, where: str) -> str:
        return _ENV_VAR.sub(lambda match: self._expand(match[1], where), line)

    def _expand(self, variable: str, where: str) -> str:
        value = self.environ.get(variable, "")
        if not value:
            raise UsageError(f"${{{variable}}}{where} is not set or empty")
        return value


def _read(path: Path, via: str) -> tuple[str, tuple[int, int]]:
    """The text of a regular file, decoded strictly, and its (device, inode)."""
    try:
        # Non-blocking: opening a FIFO must not wait for a writer.
        with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as file:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UsageError(f"{via}: {path} is not a regular file")
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read requirements file {path} ({via}): {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{via}: {path} is larger than {MAX_FILE_BYTES} bytes")
    if data.startswith(_OTHER_BOMS):
        raise UsageError(f"{via}: {path} is not UTF-8")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{via}: {path} is not UTF-8 ({exc.reason})") from exc
    for line in text.split("\n")[:2]:
        if line.startswith("#") and (coding := _CODING.search(line)):
            try:
                codec = codecs.lookup(coding[1]).name
            except LookupError:
                codec = coding[1]
            if codec != "utf-8":
                raise UsageError(f"{via}: {path} declares coding {coding[1]}: only UTF-8 is read")
    return text.replace("\r\n", "\n"), (info.st_dev, info.st_ino)


def _logical_lines(text: str, name: str) -> Iterator[tuple[int, str]]:
    """Lines as pip sees them: backslash continuations joined, comments removed."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if _CONTROL.search(line):
            raise UsageError(f"control character or line separator in {name}, line {number}")
        if line.endswith("\\") and not _COMMENT.match(line):
            if _COMMENT.search(line):
                raise UsageError(
                    f"a comment ends in a backslash in {name}, line {number}: installers"
                    " disagree on joining it"
                )
            first = first if pending else number
            pending.append(line.strip("\\"))
            continue
        if pending:
            line, number = "".join(pending) + line, first
            pending = []
        if stripped := _COMMENT.sub("", line).strip():
            yield number, stripped
    if pending and (stripped := _COMMENT.sub("", "".join(pending)).strip()):
        yield first, stripped


def _split_line(line: str) -> tuple[str, str]:
    """A line's requirement and its options: options start at the first ``-`` word (pip)."""
    tokens = line.split(" ")
    for position, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:position]).strip(), " ".join(tokens[position:])
    return line.strip(), ""


def _file_options(tokens: list[str], where: str) -> Iterator[tuple[str, str, str]]:
    """(kind, canonical option, value) for each option of a requirements-file line."""
    rest = iter(tokens)
    for token in rest:
        name, has_value, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if not name.startswith("--") and len(name) > 2 and name.startswith("-"):
            name, has_value, value = name[:2], "=", name[2:]
        if refused_source(name):
            raise RefusedSource(f"{name}{where} {SOURCE_REFUSAL}")
        if name not in _FILE_OPTIONS:
            raise UsageError(f"{name}{where} is not an option tufpip accepts in requirements files")
        kind, canonical = _FILE_OPTIONS[name]
        if kind == "flag":
            if has_value:
                raise UsageError(f"{name}{where} takes no value")
            yield kind, canonical, ""
            continue
        if not has_value:
            value = next(rest, "")
        if not value:
            raise UsageError(f"{name}{where} needs a value")
        if kind == "hash" and not _HASH.fullmatch(value):
            raise UsageError(f"{name}={value}{where} is not a sha256, sha384 or sha512 hash")
        if kind == "value" and not _BINARY_FORMAT.fullmatch(value):
            raise UsageError(f"{name}={value}{where}: not :all:, :none: or project names")
        yield kind, canonical, value


SOURCE_REFUSAL = (
    "is, or abbreviates, an option that adds a package source: tufpip installs only"
    " from the verified index"
)


def refused_source(name: str) -> bool:
    """Whether option ``name``, or an option it abbreviates, names a package source."""
    if name in SOURCE_OPTIONS:
        return True
    return (
        name.startswith("--")
        and len(name) > 2
        and any(known.startswith(name) for known in SOURCE_OPTIONS if known.startswith("--"))
    )
