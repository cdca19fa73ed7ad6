"""A repository built from a dozen distributions serves over HTTP and verifies
with bare python-tuf ngclient (not with tufpip), and ``repo-sign verify``
finds tampered target and metadata files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.ngclient import Updater

from repo_sign.workspace import Workspace
from tests.support.repositories import build_repository, repo_sign, served
from tufindex import targetpaths


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, dozen: list[Path]) -> Workspace:
    return build_repository(tmp_path_factory.mktemp("repo"), dozen)


def updater(tmp_path: Path, workspace: Workspace, url: str) -> Updater:
    trusted = workspace.metadata / "1.root.json"
    return Updater(
        str(tmp_path / "metadata"),
        f"{url}/metadata/",
        str(tmp_path / "targets"),
        f"{url}/targets/",
        bootstrap=trusted.read_bytes(),
    )


def test_bare_ngclient_verifies_pages_metadata_and_distributions(
    tmp_path: Path, workspace: Workspace, dozen: list[Path]
) -> None:
    with served(workspace) as url:
        client = updater(tmp_path, workspace, url)
        client.refresh()
        projects = json.loads(
            Path(
                client.download_target(
                    client.get_targetinfo(targetpaths.PROJECT_LIST),
                    str(tmp_path / "projects.json"),
                )
            ).read_bytes()
        )
        names = {p["name"] for p in projects["projects"]}
        assert names == {
            "alpha",
            "beta",
            "gamma-delta",
            "epsilon",
            "zeta",
            "eta",
            "theta",
            "iota",
            "kappa",
            "lambda-pkg",
            "tinybackend",
        }
        for dist in dozen:
            name, _version, is_wheel = targetpaths.parse_filename(dist.name)
            info = client.get_targetinfo(targetpaths.distribution(name, dist.name))
            assert info is not None, dist.name
            got = client.download_target(info, str(tmp_path / dist.name))
            assert Path(got).read_bytes() == dist.read_bytes()
            meta = client.get_targetinfo(targetpaths.core_metadata(name, dist.name))
            assert (meta is not None) == is_wheel
            page_info = client.get_targetinfo(targetpaths.project_page(name, "json"))
            page = json.loads(
                Path(client.download_target(page_info, str(tmp_path / f"{name}.json"))).read_bytes()
            )
            entry = next(f for f in page["files"] if f["filename"] == dist.name)
            assert entry["hashes"]["sha256"] == info.hashes["sha256"]
            assert entry["size"] == info.length
            assert entry["url"] == f"../../packages/{name}/{quote(dist.name)}"
            if is_wheel:
                assert entry["core-metadata"] == {"sha256": meta.hashes["sha256"]}
            html_info = client.get_targetinfo(targetpaths.project_page(name, "html"))
            assert html_info is not None
        assert client.get_targetinfo("packages/alpha/alpha-9.9-py3-none-any.whl") is None


def test_page_fields_follow_pep_691(tmp_path: Path, workspace: Workspace) -> None:
    with served(workspace) as url:
        client = updater(tmp_path, workspace, url)
        client.refresh()
        info = client.get_targetinfo(targetpaths.project_page("beta", "json"))
        page = json.loads(Path(client.download_target(info, str(tmp_path / "b"))).read_bytes())
        html_info = client.get_targetinfo(targetpaths.project_page("beta", "html"))
        html = Path(client.download_target(html_info, str(tmp_path / "h"))).read_text()
    assert page["meta"]["api-version"] == "1.4"
    assert page["name"] == "beta"
    assert page["versions"] == ["1.0", "2.0"]
    assert [f["requires-python"] for f in page["files"]] == [">=3.8", ">=3.9"]
    assert 'data-requires-python="&gt;=3.8"' in html
    assert 'data-core-metadata="sha256=' in html
    assert 'data-dist-info-metadata="sha256=' in html


def test_tampered_client_download_is_refused(tmp_path: Path, workspace: Workspace) -> None:
    target = "packages/zeta/zeta-1.2.3-py3-none-any.whl"
    with served(workspace) as url:
        client = updater(tmp_path, workspace, url)
        client.refresh()
        info = client.get_targetinfo(target)
        stored = workspace.target_file(target, info.hashes["sha256"])
        original = stored.read_bytes()
        try:
            stored.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
            with pytest.raises(LengthOrHashMismatchError):
                client.download_target(info, str(tmp_path / "zeta.whl"))
        finally:
            stored.write_bytes(original)


def test_verify_reports_every_tampered_file(tmp_path: Path, dozen: list[Path]) -> None:
    ws = build_repository(tmp_path / "repo", dozen)
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout
    wheel = next(ws.targets.glob("packages/alpha/*.alpha-1.0-py3-none-any.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"x")
    sdist = next(ws.targets.glob("packages/lambda-pkg/*.tar.gz"))
    sdist.unlink()
    snapshot = json.loads((ws.metadata / "timestamp.json").read_text())
    version = snapshot["signed"]["meta"]["snapshot.json"]["version"]
    snap = json.loads((ws.metadata / f"{version}.snapshot.json").read_text())
    bin_name, meta = next((k, v) for k, v in snap["signed"]["meta"].items() if k != "targets.json")
    bin_file = ws.metadata / f"{meta['version']}.{bin_name}"
    data = json.loads(bin_file.read_text())
    data["signed"]["expires"] = "2099-01-01T00:00:00Z"
    bin_file.write_text(json.dumps(data))

    result = repo_sign("verify", "--repo", ws.root, check=False)
    assert result.returncode == 8
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem:")]
    assert any("alpha-1.0-py3-none-any.whl" in p and "length" in p.lower() for p in problems)
    assert any("lambda_pkg-1.0.tar.gz" in p and "missing" in p for p in problems)
    assert any(bin_file.name in p for p in problems)
    assert "FAILED verification: 3 problem(s)" in result.stderr


def test_page_gives_sizes_to_verify_files_and_metadata(workspace: Workspace) -> None:
    """A client holding the verified page can verify a wheel and its .metadata by it."""
    page = json.loads(_published(workspace, targetpaths.project_page("alpha", "json")))
    entry = page["files"][0]
    wheel = _published(workspace, targetpaths.distribution("alpha", entry["filename"]))
    metadata = _published(workspace, targetpaths.core_metadata("alpha", entry["filename"]))
    assert entry["size"] == len(wheel)
    assert entry["hashes"]["sha256"] == hashlib.sha256(wheel).hexdigest()
    assert entry["_core-metadata-size"] == len(metadata)
    assert entry["core-metadata"]["sha256"] == hashlib.sha256(metadata).hexdigest()


def _published(workspace: Workspace, target: str) -> bytes:
    directory, _, name = target.rpartition("/")
    return next((workspace.targets / directory).glob(f"*.{name}")).read_bytes()
