"""Fuzzing what tufpip hands the installer (hypothesis).

Command lines and requirements files are generated from pip's and uv's
documented grammars: every option spelling of both installers, abbreviations
of them, ``=`` and separate values, clustered short options, named and
unnamed requirements (URLs, paths, ``===``, markers), and files with
continuations, comments, ``${VAR}``, nested ``-r``/``-c``, byte order marks
and coding lines. Whatever tufpip accepts, the installer is given only
canonical options, requirements that render to themselves, canonical copies
inside tufpip's private folder, and the index URL as its only URL; whatever
it refuses is refused with one of its own errors.
"""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Mapping
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from tufpip.arguments import PIP, UV, Kind, Option, canonical_arguments
from tufpip.errors import RefusedSource, UsageError
from tufpip.installer import Installer
from tufpip.requirements import SOURCE_OPTIONS, RequirementFiles, canonical_requirement

INDEX = "http://127.0.0.1:61234/simple/"
EVIL = "http://127.0.0.1:9/evil"
SPELLINGS = sorted({*PIP, *UV, *SOURCE_OPTIONS, "--hash", "--python", "--no-config"})
ABBREVIATIONS = sorted({s[:n] for s in SPELLINGS if s.startswith("--") for n in (3, 5, 8)})
VALUES = [
    EVIL,
    f"{EVIL}/simple/",
    "./x",
    "x/beta-9.9-py3-none-any.whl",
    ":all:",
    "beta",
    "eager",
    "3.11",
    "2025-01-01T00:00:00Z",
    "",
    "-",
    "file:reqs.txt",
    "sha256:" + "0" * 64,
    "${EVIL_VAR}",
    "key=value",
]
NAMES = ["beta", "Beta_Pkg", "zeta.x", "a-b"]
SPECIFIERS = ["", "==1.0", ">=1,<2", "===x/beta-9.9-py3-none-any.whl", "~=1.0", "==1.*"]
MARKERS = ["", ' ; python_version >= "3"', " ; sys_platform == 'linux'", ' ; extra == "-x"']
SCARY = [
    f"beta @ {EVIL}/b.whl",
    f"{EVIL}/b.whl",
    "./proj",
    "git+https://h/x.git",
    "-e .",
    "beta-9.9-py3-none-any.whl",
    "x/../y.tar.gz",
]

named = st.builds(
    lambda name, extras, spec, marker: f"{name}{extras}{spec}{marker}",
    st.sampled_from(NAMES),
    st.sampled_from(["", "[fast]", "[b,a]"]),
    st.sampled_from(SPECIFIERS),
    st.sampled_from(MARKERS),
)
requirements = st.one_of(named, named, named, st.sampled_from(SCARY))
options = st.one_of(
    st.sampled_from(["-U", "--upgrade", "-q", "--no-deps", "--pre", "-Uq", "--dry-run"]),
    st.sampled_from(SPELLINGS),
    st.sampled_from(ABBREVIATIONS),
    st.builds(lambda o, v: f"{o}={v}", st.sampled_from(SPELLINGS), st.sampled_from(VALUES)),
    st.builds(
        lambda a, b: f"-{a}{b}",
        st.sampled_from("UqvrcitefdCPb"),
        st.sampled_from(["", "q", "ihttp://x"]),
    ),
)
tokens = st.one_of(options, requirements, requirements, st.sampled_from([*VALUES, "-r"]))
lines = st.one_of(
    requirements,
    requirements,
    st.builds(lambda r, h: f"{r} --hash={h}", requirements, st.sampled_from(VALUES)),
    st.builds(
        lambda o, v: f"{o} {v}",
        st.sampled_from(SPELLINGS + ABBREVIATIONS),
        st.sampled_from([*VALUES, "inner.txt"]),
    ),
    st.sampled_from(
        [
            "# comment",
            "beta # trailing \\",
            "   ",
            "beta \\",
            "--pre",
            "-r inner.txt",
            "-c inner.txt",
            "--only-binary :all:",
            "beta${EVIL_VAR}",
            "beta\x0c-i x",
        ]
    ),
)
encodings = st.sampled_from(
    [
        *("utf-8", "utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16"),
        *("coding:utf-7", "coding:latin-1", "coding:utf-8"),
    ]
)


def _encode(text: str, encoding: str) -> bytes:
    if encoding.startswith("coding:"):
        codec = encoding.removeprefix("coding:")
        return f"# -*- coding: {codec} -*-\n{text}".encode(codec, errors="replace")
    return codecs.encode(text, encoding)


CANONICAL = {option.name: option for option in (*PIP.values(), *UV.values())}
FILE_LINE_OPTIONS = ("--pre", "--prefer-binary", "--require-hashes")


def _assert_canonical_requirement(text: str) -> None:
    assert canonical_requirement(text) == text
    assert Requirement(text).url is None
    assert "===" not in text


def _assert_canonical_copy(copy: Path, folder: Path) -> None:
    assert copy.parent == folder and copy.name.startswith("requirements-")
    for line in copy.read_text(encoding="ascii").splitlines():
        assert "://" not in line and "${" not in line
        if line.startswith(("-r ", "-c ")):
            assert (folder / line[3:]).is_file()
        elif line.startswith(("--only-binary=", "--no-binary=")) or line in FILE_LINE_OPTIONS:
            continue
        else:
            requirement, *hashes = line.split(" --hash=")
            _assert_canonical_requirement(requirement)
            assert all(h.split(":")[0] in ("sha256", "sha384", "sha512") for h in hashes)


def _assert_canonical(built: list[str], table: Mapping[str, Option], folder: Path) -> None:
    for token in built:
        assert "://" not in token
        if not token.startswith("-"):
            _assert_canonical_requirement(token)
            continue
        name, _, value = token.partition("=")
        option = CANONICAL[name]
        assert table.get(name) == option
        if option.kind is Kind.FILE:
            _assert_canonical_copy(Path(value), folder)
        elif option.kind is Kind.PATH:
            assert value == "-" or Path(value).is_absolute()


@settings(max_examples=600, deadline=None)
@given(
    installer=st.sampled_from(["pip", "uv"]),
    args=st.lists(tokens, max_size=4),
    top=st.lists(lines, max_size=3),
    inner=st.lists(lines, max_size=2),
    encoding=encodings,
)
def test_installer_gets_only_canonical_arguments(
    installer: str, args: list[str], top: list[str], inner: list[str], encoding: str
) -> None:
    runner = Installer(installer, "/usr/bin/python3", {})  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as work:
        base = Path(work)
        (base / "copies").mkdir()
        (base / "reqs.txt").write_bytes(_encode("\n".join(top) + "\n", encoding))
        (base / "inner.txt").write_text("\n".join(inner) + "\n")
        files = RequirementFiles(base / "copies", {"EVIL_VAR": f" --extra-index-url {EVIL}"})
        try:
            built = canonical_arguments([*args, "-r", "reqs.txt"], runner.options, files, cwd=base)
        except (RefusedSource, UsageError):
            event("refused")
            return
        event("accepted")
        _assert_canonical(built, runner.options, base / "copies")
        command = runner.command("install", INDEX, built, base / "cache")
        urls = [part for part in command if "://" in part]
        assert urls == [INDEX]
