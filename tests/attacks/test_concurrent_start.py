"""The installer starts before the refresh: what it asks meanwhile waits for the outcome.

``tufpip install`` binds its index's socket and starts pip before it refreshes
the metadata. While the refresh is held up (the mirror answers
``timestamp.json`` late), the test itself sends a request to that index, on
the repository's recorded port: it must wait, then get the verified page, or,
when the refresh fails, be refused, and pip with it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path

from tests.attacks.attacker import Behaviour, Honest, transform
from tests.attacks.checks import Client, Mirror, assert_refused, installed
from tests.attacks.inprocess import get
from tufpip.state import Home

JSON_PAGE = "application/vnd.pypi.simple.v1+json"


def _asking_the_index_first(
    then: Behaviour, answers: list[tuple[int, bytes]], asker: threading.Thread
) -> Behaviour:
    """Before answering the refresh's ``timestamp.json`` with ``then``, start
    ``asker`` (a request to the index, already listening) and see it wait."""

    def respond(handler: object, honest: Honest) -> None:
        asker.start()
        asker.join(timeout=1.0)
        answers.append((0, b"still waiting") if asker.is_alive() else (-1, b"answered early"))
        then(handler, honest)  # type: ignore[arg-type]

    return respond


def _install_with(
    mirror: Mirror, client: Client, venv: Path, change: Callable[[bytes], bytes]
) -> tuple[object, list[tuple[int, bytes]]]:
    answers: list[tuple[int, bytes]] = []
    port = Home(client.home).get(None).port
    asker = threading.Thread(target=lambda: answers.append(get(port, "/simple/alpha/", JSON_PAGE)))
    behaviour = _asking_the_index_first(transform(change), answers, asker)
    mirror.server.attack("/metadata/timestamp.json", behaviour)
    run = client.install(venv, "alpha")
    asker.join(timeout=60)
    return run, answers


def test_a_request_before_the_refresh_ends_gets_verified_bytes(
    mirror: Mirror, client: Client, venv: Path
) -> None:
    run, answers = _install_with(mirror, client, venv, lambda honest: honest)
    assert run.returncode == 0, run.describe()  # type: ignore[attr-defined]
    assert {"alpha", "beta"} <= installed(venv)
    [waiting, (status, body)] = answers
    assert waiting == (0, b"still waiting")
    assert status == 200
    page = json.loads(body)
    signed = {
        hashlib.sha256(wheel.read_bytes()).hexdigest()
        for wheel in (mirror.workspace / "targets").rglob("*alpha-1.0-*.whl")
    }
    assert page["name"] == "alpha"
    assert {file["hashes"]["sha256"] for file in page["files"]} == signed != set()


def test_a_failed_refresh_fails_the_started_installer(
    mirror: Mirror, client: Client, venv: Path
) -> None:
    def unsigned(honest: bytes) -> bytes:
        timestamp = json.loads(honest)
        timestamp["signed"]["version"] += 1  # the signature no longer matches
        return json.dumps(timestamp).encode()

    run, answers = _install_with(mirror, client, venv, unsigned)
    assert_refused(run, "timestamp", "not signed by trusted keys", code=4)  # type: ignore[arg-type]
    assert installed(venv) == set()
    [waiting, (status, _)] = answers
    assert waiting == (0, b"still waiting")
    assert status == 403
