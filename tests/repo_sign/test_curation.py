"""Curation over time: upload-time, yank and project status on the signed pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from repo_sign.distributions import inspect
from repo_sign.repository import SignedRepository, add_distributions
from repo_sign.workspace import Workspace
from tests.support.distributions import make_wheel
from tests.support.repositories import PASSPHRASE, build_repository, repo_sign, snapshot_tree
from tufindex import targetpaths

UPLOAD_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def pages(ws: Workspace, project: str) -> tuple[dict, str]:
    """The published JSON (parsed) and HTML pages of ``project``, checked against their hashes."""
    repo = SignedRepository.load(ws, lambda _n, _r, _new: PASSPHRASE.encode())
    data = repo.read_target(targetpaths.project_page(project, "json"))
    html = repo.read_target(targetpaths.project_page(project, "html"))
    assert data is not None and html is not None
    return json.loads(data), html.decode()


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("wheels")
    return [make_wheel(d, "alpha", "1.0"), make_wheel(d, "alpha", "2.0")]


def test_upload_time_is_set_once_and_kept_on_every_re_sign(
    tmp_path: Path, wheels: list[Path]
) -> None:
    """An upstream's time is kept as given; a file added by hand gets the time of its add."""
    ws = build_repository(tmp_path / "repo", [])
    upstream = {wheels[0].name: "2020-02-02T02:02:02.123456Z"}
    with ws.lock():
        repo = SignedRepository.load(ws, lambda _n, _r, _new: PASSPHRASE.encode())
        add_distributions(repo, [inspect(wheels[0])], upstream)
    first, _html = pages(ws, "alpha")
    assert first["meta"]["api-version"] == "1.4"
    (entry,) = first["files"]
    assert entry["upload-time"] == "2020-02-02T02:02:02.123456Z"
    repo_sign("add", "--repo", ws.root, wheels[1])
    repo_sign("yank", "--repo", ws.root, "alpha==2.0")
    again, _html = pages(ws, "alpha")
    times = {f["filename"]: f["upload-time"] for f in again["files"]}
    assert times[entry["filename"]] == entry["upload-time"]
    assert UPLOAD_TIME.fullmatch(times[wheels[1].name])
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout


def test_yank_and_unyank_in_both_formats(tmp_path: Path, wheels: list[Path]) -> None:
    ws = build_repository(tmp_path / "repo", wheels)
    result = repo_sign("yank", "--repo", ws.root, "alpha==1.0", "--reason", "broken <build>")
    assert "published" in result.stdout and "timestamp.json" in result.stdout
    page, html = pages(ws, "alpha")
    yanked = {f["filename"]: f.get("yanked", False) for f in page["files"]}
    assert yanked == {wheels[0].name: "broken <build>", wheels[1].name: False}
    assert html.count("data-yanked=") == 1
    assert 'data-yanked="broken &lt;build&gt;"' in html
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout

    before = snapshot_tree(ws.root)
    again = repo_sign("yank", "--repo", ws.root, "alpha==1.0", "--reason", "broken <build>")
    assert "Nothing to change" in again.stdout
    assert snapshot_tree(ws.root) == before, "a yank that changes nothing publishes nothing"

    repo_sign("unyank", "--repo", ws.root, "alpha==1.0")
    page, html = pages(ws, "alpha")
    assert all("yanked" not in f for f in page["files"])
    assert "data-yanked" not in html

    missing = repo_sign("yank", "--repo", ws.root, "alpha==3.0", check=False)
    assert missing.returncode == 6
    assert missing.stderr.strip() == "repo-sign: error: alpha has no version 3.0 in this repository"
    assert repo_sign("yank", "--repo", ws.root, "alpha", check=False).returncode == 2
    assert snapshot_tree(ws.root) != before


def test_project_status_quarantine_withholds_every_file(tmp_path: Path, wheels: list[Path]) -> None:
    ws = build_repository(tmp_path / "repo", wheels)
    original, _html = pages(ws, "alpha")
    repo_sign("project-status", "--repo", ws.root, "alpha", "quarantined", "--reason", "malware")
    page, html = pages(ws, "alpha")
    assert page["project-status"] == {"status": "quarantined", "reason": "malware"}
    assert page["files"] == [] and page["versions"] == []
    assert "href=" not in html
    assert '<meta name="pypi:project-status" content="quarantined">' in html
    assert '<meta name="pypi:project-status-reason" content="malware">' in html
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout

    repo_sign("project-status", "--repo", ws.root, "alpha", "deprecated")
    page, html = pages(ws, "alpha")
    assert page["project-status"] == {"status": "deprecated"}
    assert page["files"] == original["files"], "files come back unchanged"
    assert html.count("href=") == 2

    repo_sign("project-status", "--repo", ws.root, "alpha", "active")
    page, _html = pages(ws, "alpha")
    assert page == original
    bad = repo_sign("project-status", "--repo", ws.root, "alpha", "gone", check=False)
    assert bad.returncode == 2
    unknown = repo_sign("project-status", "--repo", ws.root, "nosuch", "archived", check=False)
    assert unknown.returncode == 6
