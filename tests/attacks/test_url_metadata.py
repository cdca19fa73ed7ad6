"""Signed files whose dependencies name a direct URL, from a repository signed before
repo-sign refused them.

A wheel whose metadata says ``Requires-Dist: evil @ URL``, or an sdist whose
``build-system.requires`` or ``PKG-INFO`` does, would make pip or uv fetch and
run code from that URL, outside the repository's signatures. Such files are
signed here with repo-sign's own publishing code, skipping its validation (as
a repository signed before the rule holds them); a second server on
127.0.0.1 would serve ``evil``. tufpip refuses the file after verifying it,
before serving a byte (exit 4, one line naming the requirement), the
environment is unchanged, the attacker sees no request, and the repository's
other projects still install.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from repo_sign.distributions import Distribution
from repo_sign.repository import SignedRepository, add_distributions
from repo_sign.workspace import Workspace
from tests.attacks.attacker import AttackerServer, replace
from tests.attacks.checks import Client, Mirror, assert_recovers, assert_refused, tree
from tests.support import tinybackend
from tests.support.distributions import make_sdist, make_wheel
from tests.support.repositories import PASSPHRASE
from tufindex import targetpaths


@pytest.fixture
def evil(tmp_path: Path) -> Iterator[AttackerServer]:
    """Serves a wheel of ``evil`` at any path, and records every request."""
    wheel = make_wheel(tmp_path / "evil-dists", "evil", "1.0", body="OWNED = True\n")
    server = AttackerServer(tmp_path / "evil-root")
    server.attack("/*", replace(wheel.read_bytes()))
    with server.running():
        yield server


def sign_unchecked(workspace: Path, path: Path, core_metadata: bytes | None) -> None:
    """Publish ``path`` with repo-sign's own code but without its validation."""
    project, version, is_wheel = targetpaths.parse_filename(path.name)
    dist = Distribution(path, path.name, project, version, is_wheel, None, core_metadata)
    ws = Workspace(workspace)
    with ws.lock():
        repository = SignedRepository.load(ws, lambda _name, _role, _new: PASSPHRASE.encode())
        add_distributions(repository, [dist])


def own_metadata(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("victim-1.0.dist-info/METADATA")


Publish = Callable[[Path, str], tuple[str, str]]
"""Signs a victim file needing ``URL`` into a workspace; returns (requirement, target path)."""


def metadata_file(workspace: Path, url: str) -> tuple[str, str]:
    requirement = f"evil @ {url}"
    wheel = make_wheel(workspace.parent / "victim", "victim", "1.0", requires=[requirement])
    sign_unchecked(workspace, wheel, own_metadata(wheel))
    return requirement, targetpaths.core_metadata("victim", wheel.name)


def wheel_only(workspace: Path, url: str) -> tuple[str, str]:
    """The ``.metadata`` is clean; the wheel's own METADATA names the URL."""
    requirement = f"evil @ {url}"
    wheel = make_wheel(workspace.parent / "victim", "victim", "1.0", requires=[requirement])
    sign_unchecked(workspace, wheel, tinybackend.core_metadata("victim", "1.0").encode())
    return requirement, targetpaths.distribution("victim", wheel.name)


def sdist_build_requires(workspace: Path, url: str) -> tuple[str, str]:
    requirement = f"tinybackend @ {url}"
    sdist = make_sdist(workspace.parent / "victim", "victim", "1.0", build_requires=(requirement,))
    sign_unchecked(workspace, sdist, None)
    return requirement, targetpaths.distribution("victim", sdist.name)


def sdist_pkg_info(workspace: Path, url: str) -> tuple[str, str]:
    requirement = f"evil @ {url}"
    sdist = make_sdist(workspace.parent / "victim", "victim", "1.0", requires=[requirement])
    sign_unchecked(workspace, sdist, None)
    return requirement, targetpaths.distribution("victim", sdist.name)


PUBLISH: dict[str, Publish] = {
    "metadata Requires-Dist": metadata_file,
    "wheel METADATA Requires-Dist": wheel_only,
    "sdist build-system.requires": sdist_build_requires,
    "sdist PKG-INFO Requires-Dist": sdist_pkg_info,
}


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("case", PUBLISH)
def test_direct_url_dependency_is_refused(
    case: str,
    installer: str,
    evil: AttackerServer,
    mirror: Mirror,
    client: Client,
    venv: Path,
    venv2: Path,
) -> None:
    requirement, target = PUBLISH[case](mirror.workspace, f"{evil.url}/evil-1.0-py3-none-any.whl")
    before = tree(venv)
    run = client.install(venv, "victim", installer=installer)
    line = assert_refused(run, requirement, target, "direct URL", code=4)
    assert line.startswith(f"tufpip: error: refused {target}: ")
    after = tree(venv)
    if installer == "uv":  # uv creates its empty lock file in the venv before resolving
        assert after.pop(".lock") == b""
    assert after == before
    assert evil.requests == []
    assert_recovers(client, mirror, venv2)
