"""Attacks 7 and 11: tampered index pages, and target path tricks against the
verifying index.

Project pages and PEP 658 files are TUF targets: a mirror that adds a
dependency, a file link or changes a hash fails the page's signed sha256.
The index pip talks to maps each URL onto one contract path
(``tufindex.targetpaths``) and serves only bytes ngclient verified for that
path: ``..``, absolute and percent-encoded paths, and names of another
project never reach another file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attacks.attacker import transform
from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tests.attacks.forge import Forger
from tests.attacks.inprocess import get, trusting, verifying_index

PAGE = "simple/beta/vnd.pypi.simple.v1.json"
WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"
EVIL = "/evil/beta-9.9-py3-none-any.whl"


def _extra_link(data: bytes, base: str) -> bytes:
    page = json.loads(data)
    page["files"].append(
        {
            "filename": "beta-9.9-py3-none-any.whl",
            "url": base + EVIL,
            "hashes": {"sha256": "0" * 64},
            "size": 10,
        }
    )
    page["versions"].append("9.9")
    return json.dumps(page).encode()


def _changed_hash(data: bytes, base: str) -> bytes:
    page = json.loads(data)
    page["files"][0]["hashes"]["sha256"] = "0" * 64
    return json.dumps(page).encode()


def _extra_dependency(data: bytes, base: str) -> bytes:
    return data.replace(b"Name: beta", b"Name: beta\nRequires-Dist: evil", 1)


TAMPERING = {
    "extra-dependency": (WHEEL + ".metadata", _extra_dependency),
    "extra-file-link": (PAGE, _extra_link),
    "changed-hash": (PAGE, _changed_hash),
}


@pytest.mark.parametrize("kind", list(TAMPERING))
def test_tampered_index_page(
    kind: str, mirror: Mirror, client: Client, venv: Path, venv2: Path
) -> None:
    target, change = TAMPERING[kind]
    url = mirror.forger.target_url(target)
    honest = (mirror.workspace / url.lstrip("/")).read_bytes()
    assert change(honest, mirror.url) != honest
    mirror.server.attack(url, transform(lambda data: change(data, mirror.url)))
    before = tree(venv)

    run = client.install(venv, "beta")

    assert_refused(run, target, ("does not match signed metadata", "longer than its signed"))
    assert tree(venv) == before
    assert mirror.server.requested(EVIL) == []
    assert_recovers(client, mirror, venv2)


# ---- 11. path tricks ---------------------------------------------------------------
TRICKS = [
    "/packages/../keys/",
    "/packages/beta/../../metadata/1.root.json",
    "/packages/beta/..%2f..%2fmetadata%2f1.root.json",
    "/packages/%2e%2e/%2e%2e/etc/passwd",
    "/packages/beta/%2e%2e%2fbeta-1.0-py3-none-any.whl",
    "/packages/beta//beta-1.0-py3-none-any.whl",
    "/packages//etc/passwd",
    "/packages/%2fetc%2fpasswd",
    "/packages/beta/%2Fetc%2Fpasswd.whl",
    "/packages/BETA/beta-1.0-py3-none-any.whl",  # not normalized
    "/packages/alpha/beta-1.0-py3-none-any.whl",  # another project's file
    "/packages/beta/alpha-1.0-py3-none-any.whl",
    "/packages/beta/beta-1.0-py3-none-any.whl%00.metadata",
    "/packages/beta/beta-1.0.tar.gz.metadata",
    "/simple/..%2falpha/",
    "/simple/beta%2f..%2falpha/",
    "/simple/%2e%2e/",
    "/simple/beta/../alpha/",
    "/metadata/timestamp.json",
    "/targets/" + WHEEL,
    "/keys/",
    "/../../etc/passwd",
]
SAME_FILE = [
    # spellings an HTTP server may read as the wheel's own path: only its verified bytes
    "//packages/beta/beta-1.0-py3-none-any.whl",
    "/packages/beta/beta-1.0-py3-none-any.whl?x=/../../keys",
    "/packages/beta/beta%2D1.0-py3-none-any.whl",
]


@pytest.fixture
def index_port(mirror: Mirror, tmp_path: Path):  # type: ignore[no-untyped-def]
    repository = trusting(tmp_path / "inproc-home", mirror.url, mirror.root)
    with verifying_index(repository) as (_, port):
        yield port


def _signed_hashes(workspace: Path) -> set[str]:
    """sha256 of every file the repository signs (pages, distributions, .metadata)."""
    forger = Forger(workspace)
    hashes = set()
    for name in forger.snapshot().signed.meta:
        role = name.removesuffix(".json")
        hashes |= {t.hashes["sha256"] for t in forger.targets(role).signed.targets.values()}
    return hashes


@pytest.mark.parametrize("path", TRICKS)
def test_path_tricks_reach_nothing_else(path: str, index_port: int, mirror: Mirror) -> None:
    status, body = get(index_port, path)
    assert status in (301, 400, 404), (status, body[:100])


@pytest.mark.parametrize("path", SAME_FILE)
def test_other_spellings_of_a_file_get_its_verified_bytes(
    path: str, index_port: int, mirror: Mirror
) -> None:
    status, body = get(index_port, path)
    wheel = mirror.workspace / mirror.forger.target_url(WHEEL).lstrip("/")
    assert status == 404 or (status == 200 and body == wheel.read_bytes())


def test_absolute_form_requests_get_the_index_or_nothing(index_port: int, mirror: Mirror) -> None:
    """The index is the installer's only proxy: a request in absolute form for its
    own origin gets the verified bytes; one for any other origin is refused."""
    wheel = mirror.workspace / mirror.forger.target_url(WHEEL).lstrip("/")
    own = f"http://127.0.0.1:{index_port}/packages/beta/beta-1.0-py3-none-any.whl"
    assert get(index_port, own) == (200, wheel.read_bytes())
    for other in ("http://127.0.0.1:1/", "https://127.0.0.1:{port}/", "http://localhost:{port}/"):
        url = other.format(port=index_port) + "packages/beta/beta-1.0-py3-none-any.whl"
        status, body = get(index_port, url)
        assert status == 403 and b"outside the verified index" in body, url


def test_names_normalizing_to_a_project_get_that_project_only(index_port: int) -> None:
    """``Beta``, ``BETA``, ``b.e.t.a``-like spellings redirect to the normalized
    name (as PyPI does); a name that normalizes elsewhere gets that project."""
    for spelling in ("Beta", "BETA", "beta.", "Lambda_Pkg", "lambda.pkg", "LAMBDA--PKG"):
        status, _ = get(index_port, f"/simple/{spelling}/")
        assert status in (301, 404), spelling
    status, body = get(index_port, "/simple/lambda-pkg/", "application/vnd.pypi.simple.v1+json")
    assert status == 200 and json.loads(body)["name"] == "lambda-pkg"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    segments=st.lists(
        st.sampled_from(
            [
                "packages",
                "simple",
                "beta",
                "alpha",
                "..",
                ".",
                "%2e%2e",
                "%2f",
                "",
                "beta-1.0-py3-none-any.whl",
                ".metadata",
                "vnd.pypi.simple.v1.json",
                "metadata",
                "targets",
                "keys",
                "%00",
                "B%45TA",
            ]
        )
        | st.text("abc./%-_~0", max_size=8),
        max_size=5,
    )
)
def test_any_path_serves_signed_bytes_or_nothing(
    segments: list[str], index_port: int, mirror: Mirror
) -> None:
    """Whatever the path, a 200 carries bytes whose sha256 the repository signed."""
    status, body = get(index_port, "/" + "/".join(segments), "*/*")
    assert status in (200, 301, 400, 404, 406)
    if status == 200:
        assert hashlib.sha256(body).hexdigest() in _signed_hashes(mirror.workspace)
