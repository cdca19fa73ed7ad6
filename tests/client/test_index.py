"""The verifying index as installers see it: routes, content negotiation, status codes."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.helpers import Served
from tufpip import loopback
from tufpip.client import Client
from tufpip.index import HTML, JSON, VerifyingIndex, negotiate
from tufpip.session import Session
from tufpip.state import Home

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1,"
    " text/html; q=0.01"
)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (PIP_ACCEPT, ("json", JSON)),
        ("text/html", ("html", "text/html")),
        ("application/vnd.pypi.simple.v1+html", ("html", HTML)),
        (None, ("html", "text/html")),
        ("*/*", ("html", "text/html")),
        ("application/vnd.pypi.simple.latest+json;q=0.5, text/html;q=0.4", ("json", JSON)),
        ("application/json", None),
        ("application/vnd.pypi.simple.v1+json;q=0", None),
    ],
)
def test_negotiate(accept: str | None, expected: tuple[str, str] | None) -> None:
    assert negotiate(accept) == expected


@pytest.fixture
def index(repository: Served, tmp_path: Path) -> Iterator[http.client.HTTPConnection]:
    client = Client(Home(tmp_path / "home"))
    client.init(repository.url, repository.root.read_bytes())
    with (
        loopback.listen() as listener,
        Session(client.repository) as session,
        VerifyingIndex(listener, session) as index,
    ):
        host, port = index.url.split("/")[2].split(":")
        connection = http.client.HTTPConnection(host, int(port))
        yield connection
        connection.close()
        assert index.failures == []


def _get(
    connection: http.client.HTTPConnection, path: str, accept: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection.request("GET", path, headers={"Accept": accept} if accept else {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_routes_over_one_keep_alive_connection(index: http.client.HTTPConnection) -> None:
    status, headers, body = _get(index, "/simple/", JSON)
    assert status == 200
    assert {"name": "alpha"} in json.loads(body)["projects"]

    status, headers, body = _get(index, "/simple/alpha/", PIP_ACCEPT)
    assert (status, headers["Content-Type"]) == (200, JSON)
    page = json.loads(body)
    url = page["files"][0]["url"]
    assert url == "../../packages/alpha/alpha-1.0-py3-none-any.whl"

    status, headers, body = _get(index, "/simple/alpha/", "text/html")
    assert (status, headers["Content-Type"]) == (200, "text/html")
    assert b"alpha-1.0-py3-none-any.whl" in body

    status, _, wheel = _get(index, "/packages/alpha/alpha-1.0-py3-none-any.whl")
    assert status == 200
    assert len(wheel) == page["files"][0]["size"]
    status, _, metadata = _get(index, "/packages/alpha/alpha-1.0-py3-none-any.whl.metadata")
    assert (status, metadata.startswith(b"Metadata-Version")) == (200, True)


@pytest.mark.parametrize(
    ("path", "status", "location"),
    [
        ("/simple/Alpha/", 301, "/simple/alpha/"),
        ("/simple/alpha", 301, "/simple/alpha/"),
        ("/simple/nope/", 404, None),
        ("/packages/alpha/alpha-9.0-py3-none-any.whl", 404, None),
        ("/packages/alpha/../../keys/x", 404, None),
        ("/metadata/timestamp.json", 404, None),
        ("/", 404, None),
    ],
)
def test_status_codes(
    index: http.client.HTTPConnection, path: str, status: int, location: str | None
) -> None:
    got, headers, _ = _get(index, path, PIP_ACCEPT)
    assert got == status
    assert headers.get("Location") == location
