"""Attack 10: malformed metadata and index pages (property-based).

Whatever a mirror sends in place of metadata or a page (truncated JSON,
wrong types, huge numbers, deep nesting, bytes that are not UTF-8), the
client must end with one of its own errors: never accept it, never crash
with a traceback. The property runs in process against the same Session
code a run uses (fast enough for many examples); a few cases run the real
command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tuf.api.metadata import Metadata

from tests.attacks.attacker import replace
from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tests.attacks.inprocess import trusting
from tufpip.errors import TufpipError
from tufpip.session import Session

PAGE = "simple/beta/vnd.pypi.simple.v1.json"


def _mutations(honest: bytes) -> st.SearchStrategy[bytes]:
    """Malformed variants of an honest JSON document."""
    document = json.loads(honest)
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=5),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True),
        st.just(10**5000 // 10**4990),
    )

    def set_field(path: list[str], value: object) -> bytes:
        changed = json.loads(honest)
        node = changed
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(changed).encode()

    if "signed" in document:
        fields = [["signed", key] for key in document["signed"]] + [["signatures"]]
    else:  # a project page
        fields = [[key] for key in document] + [["files", 0]]
    return st.one_of(
        st.integers(0, len(honest) - 1).map(lambda n: honest[:n]),  # truncated
        st.tuples(st.sampled_from(fields), scalars).map(lambda fv: set_field(*fv)),  # types
        st.integers(1, 20_000).map(lambda depth: b"[" * depth + b"]" * depth),  # nesting
        st.just(b'{"signed": {"version": 1' + b"0" * 5000 + b"}}"),  # a huge number
        st.binary(max_size=64).map(lambda b: b"\xff\xfe" + b),  # not UTF-8
        st.binary(max_size=200),
    )


def _same_document(data: bytes, honest: bytes) -> bool:
    """Whether ``data`` says what ``honest`` says. python-tuf verifies signatures
    over the canonical form of what it parsed, so key order, spacing or a null
    ``spec_version`` (filled with the default) leave valid metadata valid."""
    try:
        ours, theirs = Metadata.from_bytes(data), Metadata.from_bytes(honest)
        return ours.signed_bytes == theirs.signed_bytes and ours.signatures == theirs.signatures
    except Exception:
        pass
    try:
        return json.loads(data) == json.loads(honest)
    except (ValueError, RecursionError):
        return False


@pytest.fixture
def repository(mirror: Mirror, tmp_path: Path):  # type: ignore[no-untyped-def]
    return trusting(tmp_path / "inproc-home", mirror.url, mirror.root)


@pytest.mark.parametrize("what", ["timestamp", "bin", "page"])
def test_malformed_documents_are_refused_cleanly(
    what: str, mirror: Mirror, repository, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    forger = mirror.forger
    url = {
        "timestamp": "/metadata/timestamp.json",
        "bin": forger.url(forger.role_of(PAGE)),
        "page": forger.target_url(PAGE),
    }[what]
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()

    @settings(
        max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(data=_mutations(honest))
    def check(data: bytes) -> None:
        if _same_document(data, honest):
            return  # a re-serialized honest document is valid metadata, not an attack
        mirror.server.serve_files({url: data})
        with pytest.raises(TufpipError), Session(repository) as session:
            session.read(PAGE)

    check()


SUBPROCESS_CASES = {
    "truncated": lambda honest: honest[: len(honest) // 2],
    "deep-nesting": lambda honest: b"[" * 15000 + b"]" * 15000,
    "not-utf8": lambda honest: b"\xff\xfe" + honest,
    "huge-version": lambda honest: honest.replace(b'"version":', b'"version":' + b"9" * 5000, 1),
}


@pytest.mark.parametrize("case", list(SUBPROCESS_CASES))
def test_malformed_timestamp_on_the_command_line(
    case: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    honest = (mirror.workspace / "metadata" / "timestamp.json").read_bytes()
    mirror.server.attack("/metadata/timestamp.json", replace(SUBPROCESS_CASES[case](honest)))
    before = tree(venv)
    assert_refused(client.install(venv, "beta"), "metadata failed verification")
    assert tree(venv) == before
    assert_recovers(client, mirror, venv2)
