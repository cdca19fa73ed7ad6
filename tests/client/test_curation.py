"""What installers do with a curated repository's upload times, yanks and project status,
and with a repository's default cooldown (``tufpip init --cooldown``)."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from repo_sign.distributions import inspect
from repo_sign.repository import SignedRepository, add_distributions
from tests.client.helpers import Served, Tufpip, last_line
from tests.support.distributions import make_wheel
from tests.support.environments import new_venv
from tests.support.repositories import PASSPHRASE, build_repository, repo_sign, served

UPLOADED = {"1.0": "2020-01-01T00:00:00Z", "2.0": "2024-06-01T12:00:00.5Z"}
FRESH = "3.0"  # uploaded when the repository is built


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``alpha`` 1.0 (uploaded in 2020) and 2.0 (in 2024), as a mirror records them,
    and 3.0, uploaded now."""
    directory = tmp_path_factory.mktemp("curated")
    wheels = [make_wheel(directory, "alpha", version) for version in [*UPLOADED, FRESH]]
    workspace = build_repository(directory / "repo", [])
    with workspace.lock():
        repo = SignedRepository.load(workspace, lambda _n, _r, _new: PASSPHRASE.encode())
        times = {wheel.name: UPLOADED[wheel.name.split("-")[1]] for wheel in wheels[:-1]}
        add_distributions(repo, [inspect(w) for w in wheels], times)
    with served(workspace) as url:
        yield Served(workspace, url)


@pytest.fixture
def client(tufpip: Tufpip, curated: Served) -> Tufpip:
    result = tufpip("init", curated.url, "--root", curated.root)
    assert result.returncode == 0, result.stderr
    return tufpip


def installed_version(python: Path, project: str) -> str | None:
    site = next(python.parent.parent.glob("lib/python*/site-packages"))
    found = [p.name for p in site.glob(f"{project}-*.dist-info")]
    return found[0].removesuffix(".dist-info").split("-")[1] if found else None


def curate(curated: Served, *args: str) -> None:
    repo_sign(*args, "--repo", curated.workspace.root)


def test_uploaded_prior_to_honours_the_signed_upload_time(client: Tufpip, venv: Path) -> None:
    result = client(
        "install", "--python", venv, "--uploaded-prior-to", "2022-01-01T00:00:00Z", "alpha"
    )
    assert result.returncode == 0, result.stderr
    assert installed_version(venv, "alpha") == "1.0"


def test_a_yanked_version_is_skipped_unless_pinned(
    client: Tufpip, curated: Served, venv: Path
) -> None:
    curate(curated, "yank", "alpha==3.0", "--reason", "corrupt wheel")
    try:
        result = client("install", "--python", venv, "alpha")
        assert result.returncode == 0, result.stderr
        assert installed_version(venv, "alpha") == "2.0"
        result = client("install", "--python", venv, "alpha==3.0")
        assert result.returncode == 0, result.stderr
        assert installed_version(venv, "alpha") == "3.0"
        assert "yanked" in result.stderr and "corrupt wheel" in result.stderr
    finally:
        curate(curated, "unyank", "alpha==3.0")


def test_project_status_warns_then_refuses(client: Tufpip, curated: Served, venv: Path) -> None:
    try:
        curate(curated, "project-status", "alpha", "deprecated", "--reason", "use beta")
        result = client("install", "--python", venv, "alpha")
        assert result.returncode == 0, result.stderr
        assert "tufpip: warning: project alpha is deprecated: use beta" in result.stderr
        assert installed_version(venv, "alpha") == "3.0"

        curate(curated, "project-status", "alpha", "quarantined", "--reason", "compromised")
        for command in ("install", "download"):
            args = ("--python", venv) if command == "install" else ("--dest", venv.parent / "d")
            result = client(command, *args, "alpha==1.0")
            assert result.returncode == 5, result.stderr
            assert last_line(result) == (
                "tufpip: error: refused: project alpha is quarantined: compromised"
            )
        assert installed_version(venv, "alpha") == "3.0"
        audit = client("audit", "--python", venv)  # installed before the quarantine
        assert (audit.returncode, audit.stdout) == (4, "quarantined project alpha 3.0\n")
    finally:
        curate(curated, "project-status", "alpha", "active")


def test_cooldown_of_the_repository_record(tufpip: Tufpip, curated: Served, tmp_path: Path) -> None:
    """``init --cooldown 30``: every resolution leaves out files uploaded in the last 30
    days (pip's ``--uploaded-prior-to``, uv's ``--exclude-newer``), unless the command
    gives its own cutoff; a lock's files are installed as locked."""
    result = tufpip("init", curated.url, "--root", curated.root, "--cooldown", "30")
    assert result.returncode == 0, result.stderr
    assert "  cooldown: 30 days" in tufpip("status").stdout.splitlines()
    assert json.loads(tufpip("status", "--json").stdout)["cooldown_days"] == 30

    old = "2022-01-01T00:00:00Z"
    for installer, cutoff in (("pip", "--uploaded-prior-to"), ("uv", "--exclude-newer")):
        folder = new_venv(tmp_path / installer)  # --python names a venv folder, as pip's does
        target = folder / "bin" / "python"
        args = ("--installer", installer, "--python", folder)
        result = tufpip("install", *args, cutoff, old, "alpha")
        assert result.returncode == 0, result.stderr
        assert installed_version(target, "alpha") == "1.0"  # the user's cutoff wins
        result = tufpip("install", *args, "--upgrade", "alpha")
        assert result.returncode == 0, result.stderr
        assert installed_version(target, "alpha") == "2.0"  # 3.0 is too fresh

    result = tufpip("lock", "-o", "-", "alpha")
    assert result.returncode == 0, result.stderr
    assert [p["version"] for p in tomllib.loads(result.stdout)["packages"]] == ["2.0"]

    fresh = curated.stored(f"packages/alpha/alpha-{FRESH}-py3-none-any.whl")
    lock = tmp_path / "pylock.toml"
    lock.write_text(
        f'lock-version = "1.0"\ncreated-by = "hand"\n[[packages]]\nname = "alpha"\n'
        f'version = "{FRESH}"\n[[packages.wheels]]\nname = "{fresh.name.partition(".")[2]}"\n'
        f'hashes = {{sha256 = "{fresh.name.partition(".")[0]}"}}\n'
    )
    target = tmp_path / "uv" / "bin" / "python"
    result = tufpip("install", "--installer", "uv", "--python", target, "-r", lock)
    assert result.returncode == 0, result.stderr
    assert installed_version(target, "alpha") == FRESH
