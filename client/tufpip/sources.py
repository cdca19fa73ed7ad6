"""Refusing every package source but the verifying index, before anything runs.

Rules:
- Refused anywhere: options that add or replace an index or a link source
  (``-i``, ``--extra-index-url``, ``-f``, ``--no-index``, ``--trusted-host``,
  uv's ``--index``, ``--default-index`` and their kin), ``-e``, options that
  route the installer's traffic elsewhere (``--proxy``), and options that read
  requirements tufpip cannot check (``--group``, ``--requirements-from-script``).
- Refused as requirements: anything that is not a named PEP 508 requirement
  (paths, URLs, VCS links, archive file names) and ``name @ URL``.
- Requirement, constraint, override and build-constraint files are read as
  pip reads them (line continuations, comments, ``${VAR}`` expanded from the
  installer's environment, options on their own lines), recursively, and the
  same rules apply to every line. Files are read from local paths only.
- Options are matched as the installers match them: exact names, ``=``
  values, clustered short options, and, as in pip's optparse, unambiguous
  prefixes of long names. A prefix of any refused option is refused.
"""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from tufpip.errors import RefusedSource, UsageError


class Kind(enum.Enum):
    FLAG = "flag"
    VALUE = "takes a value"
    SOURCE = "adds a package source"
    FILE = "names a requirements file"
    UNCHECKABLE = "reads requirements that tufpip cannot check"
    POSITIONAL = "requirement"


def _table(kind: Kind, names: str) -> dict[str, Kind]:
    return dict.fromkeys(names.split(), kind)


_SOURCES = _table(
    Kind.SOURCE,
    "-i --index-url --pypi-url --extra-index-url --no-index -f --find-links --trusted-host"
    " -e --editable --proxy --index --default-index --index-strategy --allow-insecure-host"
    " --config-file --torch-backend --directory --project",
)
_UNCHECKABLE = _table(Kind.UNCHECKABLE, "--group --requirements-from-script")

PIP_OPTIONS: Mapping[str, Kind] = {
    **_table(Kind.FILE, "-r --requirement -c --constraint --build-constraint"),
    **_table(
        Kind.VALUE,
        "--abi --all-releases --cache-dir --cert --client-cert --exists-action --implementation"
        " --keyring-provider --log --log-file --local-log --no-binary --only-binary"
        " --only-final --platform --prefix --progress-bar --python --python-version"
        " --refresh-package --report --resume-retries --retries --root --root-user-action"
        " --src --source --source-dir --source-directory --timeout --default-timeout"
        " --upgrade-strategy --uploaded-prior-to --use-deprecated --use-feature"
        " -C --config-settings -t --target -d --dest --destination-dir --destination-directory",
    ),
    **_SOURCES,
    **_UNCHECKABLE,
}
UV_OPTIONS: Mapping[str, Kind] = {
    **_table(
        Kind.FILE,
        "-r --requirements --requirement -c --constraints --constraint --overrides --override"
        " --excludes --exclude -b --build-constraints --build-constraint",
    ),
    **_table(
        Kind.VALUE,
        "--no-editable-package --extra --cert -t --target --prefix --no-binary --only-binary"
        " --python-version --python-platform --output-format --keyring-provider"
        " -P --upgrade-package --upgrade-group --resolution --prerelease --prerelease-package"
        " --fork-strategy --exclude-newer --exclude-newer-package --no-sources-package"
        " --reinstall-package --link-mode -C --config-setting --config-settings"
        " --config-settings-package --no-build-isolation-package --cache-dir"
        " --refresh-package -p --python --color",
    ),
    **_SOURCES,
    **_UNCHECKABLE,
}
REQUIREMENTS_FILE_OPTIONS: Mapping[str, Kind] = {
    **_table(Kind.FILE, "-r --requirement --requirements -c --constraint --constraints"),
    **_table(
        Kind.VALUE,
        "--no-binary --only-binary --all-releases --only-final --use-feature --hash"
        " -C --config-settings",
    ),
    **_SOURCES,
}

# pip's ${VAR} syntax in requirements files (uv follows it).
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_COMMENT = re.compile(r"(^|\s+)#.*$")
_ARCHIVE_SUFFIXES = (
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


class SourceChecker:
    """Refuses arguments that would let an installer use anything but the index.

    ``options`` is the installer's option table (``PIP_OPTIONS`` or
    ``UV_OPTIONS``), ``environ`` the environment the installer will run
    with (``${VAR}`` in requirements files expand from it, as they will for
    the installer).
    """

    def __init__(self, options: Mapping[str, Kind], environ: Mapping[str, str]) -> None:
        self._options = options
        self._environ = environ
        self._seen: set[Path] = set()

    def check_arguments(self, args: Sequence[str], base: Path = Path()) -> None:
        """Check an installer's command-line arguments, and every file they name.

        Raises:
            RefusedSource: Something names another package source.
            UsageError: A requirements file cannot be read.
        """
        self._check(args, self._options, base, "")

    def _check(
        self, tokens: Sequence[str], table: Mapping[str, Kind], base: Path, where: str
    ) -> None:
        for option, kind, value in _parse(tokens, table):
            if kind is Kind.POSITIONAL:
                _check_requirement(value, where)
            elif kind in (Kind.SOURCE, Kind.UNCHECKABLE):
                raise RefusedSource(
                    f"{option}{where} {kind.value}: tufpip installs only from the verified index"
                )
            elif kind is Kind.FILE:
                self._check_file(value, base, f"{option} {value}{where}")

    def _check_file(self, name: str, base: Path, via: str) -> None:
        if "://" in name:
            raise RefusedSource(f"{via}: tufpip reads requirements files from local paths only")
        path = (base / name).resolve()
        if path in self._seen:
            return
        self._seen.add(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read requirements file {name} ({via}): {exc}") from exc
        for number, line in _logical_lines(text):
            line = _ENV_VAR.sub(lambda m: self._environ.get(m[1], m[0]), line)
            where = f" (in {name}, line {number})"
            requirement, options = _split_line(line)
            if requirement:
                _check_requirement(requirement, where)
            try:
                tokens = shlex.split(options)
            except ValueError as exc:
                raise UsageError(f"cannot parse {options!r}{where}: {exc}") from exc
            self._check(tokens, REQUIREMENTS_FILE_OPTIONS, path.parent, where)


def _resolve(name: str, table: Mapping[str, Kind]) -> tuple[str, Kind]:
    """The option a long name means, accepting unambiguous prefixes as optparse does.

    A prefix of any refused option counts as that option (fail closed); an
    unknown or ambiguous name counts as a flag, so that the token after it is
    checked as a requirement.
    """
    if name in table:
        return name, table[name]
    matches = [known for known in table if known.startswith(name) and known.startswith("--")]
    for known in matches:
        if table[known] in (Kind.SOURCE, Kind.UNCHECKABLE):
            return known, table[known]
    if len(matches) == 1:
        return matches[0], table[matches[0]]
    return name, Kind.FLAG


def _parse(tokens: Sequence[str], table: Mapping[str, Kind]) -> Iterator[tuple[str, Kind, str]]:
    """(option, kind, value) for each option and (``""``, POSITIONAL, text) for the rest."""
    rest = iter(tokens)
    for token in rest:
        if token == "--":
            yield from (("", Kind.POSITIONAL, positional) for positional in rest)
        elif token.startswith("--"):
            name, has_value, value = token.partition("=")
            option, kind = _resolve(name, table)
            if kind is not Kind.FLAG and not has_value:
                value = next(rest, "")
            yield option, kind, value
        elif token.startswith("-") and len(token) > 1:
            for position, letter in enumerate(token[1:], start=2):
                option = f"-{letter}"
                kind = table.get(option, Kind.FLAG)
                if kind is Kind.FLAG:
                    yield option, kind, ""
                    continue
                yield option, kind, token[position:] or next(rest, "")
                break
        else:
            yield "", Kind.POSITIONAL, token


def _check_requirement(text: str, where: str) -> None:
    """Refuse anything but a named requirement (``name[extras] specifiers ; markers``)."""
    try:
        requirement = Requirement(text)
    except InvalidRequirement:
        raise RefusedSource(
            f"{text!r}{where} is not a named requirement: tufpip installs by name"
            " from the verified index (no paths, URLs or VCS links)"
        ) from None
    if requirement.url:
        raise RefusedSource(f"{text!r}{where} is a direct URL requirement: install it by name")
    if requirement.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise RefusedSource(f"{text!r}{where} names a local file: install it by name")


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines as pip sees them: backslash continuations joined, comments removed."""
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if line.endswith("\\") and not _COMMENT.match(line):
            if not pending:
                first = number
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
    """A line's requirement and its options: options start at the first ``-`` token."""
    tokens = line.split(" ")
    for position, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:position]).strip(), " ".join(tokens[position:])
    return line.strip(), ""
