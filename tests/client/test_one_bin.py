"""An install verifies files against their project's signed page: one bin per project.

The repository is served by a static server that records every path asked
for, with enough bins that a project's page, its wheel and the wheel's
``.metadata`` fall into three different bins.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Targets

from tests.client.helpers import Served, Tufpip, installed, last_line
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository
from tufindex import targetpaths

WHEEL = "packages/beta/beta-1.0-py3-none-any.whl"


class _RecordingHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    requested: list[str]

    def do_GET(self) -> None:
        self.requested.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def recording_server(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``directory`` on 127.0.0.1; yield its URL and the list of paths requested."""
    requested: list[str] = []
    handler = type("Handler", (_RecordingHandler,), {"requested": requested})
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
    )
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def binned(tmp_path: Path, dists: list[Path]) -> Iterator[tuple[Served, list[str]]]:
    """A 256-bin repository whose metadata and targets are served by a recording server."""
    workspace = build_repository(tmp_path / "repo", dists, "--bins", "256")
    www = tmp_path / "www"
    www.mkdir()
    for name in ("metadata", "targets"):
        (www / name).symlink_to(workspace.root / name)
    with recording_server(www) as (url, requested):
        yield Served(workspace, url), requested


def _bin_of(tufpip: Tufpip, path: str) -> str:
    """The succinct bin that signs ``path``, from the client's trusted targets.json."""
    trusted = tufpip.home / "repositories" / "default" / "metadata" / "targets.json"
    delegations = Metadata[Targets].from_file(str(trusted)).signed.delegations
    assert delegations is not None and delegations.succinct_roles is not None
    return delegations.succinct_roles.get_role_for_target(path)


def _bins_fetched(requested: list[str]) -> set[str]:
    names = (re.fullmatch(r"/metadata/\d+\.(bins-[0-9a-f]+)\.json", p) for p in requested)
    return {match[1] for match in names if match}


def test_install_fetches_only_the_page_bin(
    binned: tuple[Served, list[str]], tufpip: Tufpip, venv: Path
) -> None:
    repository, requested = binned
    assert tufpip("init", repository.url, "--root", repository.root).returncode == 0
    requested.clear()

    result = tufpip("install", "--python", venv, "beta")

    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"beta"}
    page = _bin_of(tufpip, targetpaths.project_page("beta"))
    # Stock ngclient lookups would need these two bins as well.
    assert page not in {_bin_of(tufpip, WHEEL), _bin_of(tufpip, WHEEL + ".metadata")}
    assert _bins_fetched(requested) == {page}
    wheel_name = re.compile(r"/targets/packages/beta/[0-9a-f]{64}\.beta-1\.0-py3-none-any\.whl")
    assert any(wheel_name.fullmatch(p) for p in requested)


def test_wheel_differing_from_the_page_hash_is_refused(
    binned: tuple[Served, list[str]], tufpip: Tufpip, venv: Path, tmp_path: Path
) -> None:
    """Another wheel of the same name served in place of the signed one.

    Cut to the signed length: a longer file is refused as too long instead.
    """
    repository, requested = binned
    stored = repository.stored(WHEEL)
    impostor = make_wheel(tmp_path / "impostor", "beta", "1.0", body="EVIL = True\n")
    stored.write_bytes(impostor.read_bytes()[: stored.stat().st_size])
    assert tufpip("init", repository.url, "--root", repository.root).returncode == 0
    requested.clear()

    result = tufpip("install", "--python", venv, "beta")

    assert result.returncode == 4
    assert last_line(result) == f"tufpip: error: hash of {WHEEL} does not match signed metadata"
    assert "Traceback" not in result.stderr
    assert installed(venv) == set()
    assert _bins_fetched(requested) == {_bin_of(tufpip, targetpaths.project_page("beta"))}


def test_file_missing_from_the_page_is_not_found(
    binned: tuple[Served, list[str]], tufpip: Tufpip, venv: Path
) -> None:
    """A file name the page does not list is 404, even a valid name of that project."""
    from tufpip.client import Client
    from tufpip.errors import NotFound
    from tufpip.session import Session
    from tufpip.state import Home

    repository, _ = binned
    client = Client(Home(tufpip.home))
    client.init(repository.url, repository.root.read_bytes())
    with Session(client.repository) as session:
        assert session.target(WHEEL).read_bytes() == repository.stored(WHEEL).read_bytes()
        with pytest.raises(NotFound, match="not listed on the signed page"):
            session.target("packages/beta/beta-2.0-py3-none-any.whl")
        with pytest.raises(NotFound):
            session.target("packages/nobody/nobody-1.0-py3-none-any.whl.metadata")
