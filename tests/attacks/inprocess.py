"""The verifying index and session in this process, for tests that send many
small requests (property tests): no installer, same code paths as a run."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tufpip import loopback
from tufpip.client import Client
from tufpip.index import VerifyingIndex
from tufpip.session import Session
from tufpip.state import Home, Repository


def trusting(home: Path, url: str, root: Path) -> Repository:
    """A tufpip state folder that trusts ``root`` for the repository at ``url``."""
    client = Client(Home(home))
    client.init(url, root.read_bytes())
    return client.repository


@contextmanager
def verifying_index(repository: Repository) -> Iterator[tuple[VerifyingIndex, int]]:
    """A running verifying index over one session; yields it and its port."""
    with (
        loopback.listen(0) as listener,
        Session(repository) as session,
        VerifyingIndex(listener, session) as index,
    ):
        yield index, loopback.port_of(listener)


def get(port: int, path: str, accept: str | None = None) -> tuple[int, bytes]:
    """One raw GET (the path is sent exactly as given)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        if accept:
            connection.putheader("Accept", accept)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
