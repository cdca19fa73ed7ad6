"""repo-sign sync: a policy mirrored from an upstream PEP 691 index served on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from repo_sign.workspace import Workspace
from tests.repo_sign.test_curation import pages
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository, repo_sign, snapshot_tree

OLD = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")
FRESH = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.123456Z")


class Upstream:
    """A PEP 691 index on 127.0.0.1: ``add`` a file with its upload time and yank."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, tuple[bytes, dict]]] = {}
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[0] == "simple" and len(parts) == 2 and parts[1] in upstream.files:
                    body = json.dumps(upstream.page(parts[1])).encode()
                    kind = "application/vnd.pypi.simple.v1+json"
                elif parts[0] == "files" and len(parts) == 3:
                    body, kind = upstream.files[parts[1]][parts[2]][0], "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def add(self, path: Path, uploaded: str, yanked: bool | str = False, sha: str = "") -> None:
        data = path.read_bytes()
        entry = {
            "filename": path.name,
            "url": f"../../files/{path.name.split('-')[0]}/{path.name}",
            "hashes": {"sha256": sha or hashlib.sha256(data).hexdigest()},
            "size": len(data),
            "upload-time": uploaded,
            "yanked": yanked,
        }
        self.files.setdefault(path.name.split("-")[0], {})[path.name] = (data, entry)

    def page(self, name: str) -> dict:
        files = [entry for _data, entry in self.files[name].values()]
        return {"meta": {"api-version": "1.1"}, "name": name, "files": files}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    d = tmp_path_factory.mktemp("upstream")
    index = Upstream()
    index.add(make_wheel(d, "alpha", "1.0"), OLD)
    index.add(make_wheel(d, "alpha", "2.0"), FRESH)  # inside the cooldown
    index.add(make_wheel(d, "beta", "1.0"), OLD)
    index.add(make_wheel(d, "beta", "1.1"), OLD, yanked="broken")
    generic = make_wheel(d / "g", "gamma", "1.0")
    for tag in ("win_amd64", "manylinux_2_17_x86_64"):
        index.add(shutil.copy(generic, d / f"gamma-1.0-py3-none-{tag}.whl"), OLD)
    Thread(target=index.server.serve_forever, daemon=True).start()
    yield index
    index.server.shutdown()
    index.server.server_close()


def policy(tmp_path: Path, upstream: Upstream, *requirements: str) -> Path:
    path = tmp_path / "sync.toml"
    path.write_text(
        f'[sync]\nindex = "{upstream.url}"\nrequirements = {json.dumps(list(requirements))}\n'
        'cooldown-days = 7\npython-versions = ["3.11"]\nplatforms = ["win_amd64"]\n'
    )
    return path


def sync(ws: Workspace, policy_file: Path, *args: str, check: bool = True) -> object:
    return repo_sign("sync", "--repo", ws.root, "--policy", policy_file, *args, check=check)


def test_sync_takes_what_the_policy_allows_once(tmp_path: Path, upstream: Upstream) -> None:
    ws = build_repository(tmp_path / "repo", [])
    reqs = policy(tmp_path, upstream, "alpha", "beta==1.1", "gamma")
    before = snapshot_tree(ws.root)

    dry = json.loads(sync(ws, reqs, "--dry-run", "--json").stdout)
    assert snapshot_tree(ws.root) == before, "a dry run writes nothing"
    assert dry["published"] == [] and dry["dry-run"] is True
    assert sorted(item["file"] for item in dry["add"]) == [
        "alpha-1.0-py3-none-any.whl",  # 2.0 is inside the cooldown
        "gamma-1.0-py3-none-win_amd64.whl",  # only the policy's platform
    ]
    assert dry["skipped"] == [
        {"file": "beta-1.1-py3-none-any.whl", "reason": "yanked upstream: broken"}
    ]

    result = sync(ws, reqs)
    assert "added alpha: alpha-1.0-py3-none-any.whl" in result.stdout
    assert "published" in result.stdout
    alpha, _html = pages(ws, "alpha")
    assert [(f["filename"], f["upload-time"]) for f in alpha["files"]] == [
        ("alpha-1.0-py3-none-any.whl", OLD)
    ]
    assert [f["filename"] for f in pages(ws, "gamma")[0]["files"]] == [
        "gamma-1.0-py3-none-win_amd64.whl"
    ]
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout

    published = snapshot_tree(ws.root)
    again = sync(ws, reqs)
    assert "Nothing new: published nothing." in again.stdout
    assert snapshot_tree(ws.root) == published, "no new snapshot or timestamp"


def test_an_upstream_hash_mismatch_publishes_nothing(tmp_path: Path, upstream: Upstream) -> None:
    ws = build_repository(tmp_path / "repo", [])
    upstream.add(make_wheel(tmp_path / "d", "delta", "1.0"), OLD, sha="0" * 64)
    before = snapshot_tree(ws.root)
    result = sync(ws, policy(tmp_path, upstream, "delta"), check=False)
    assert result.returncode == 10, result.stderr
    assert result.stderr.startswith("repo-sign: error: ") and len(result.stderr.splitlines()) == 1
    assert snapshot_tree(ws.root) == before


@pytest.mark.network
def test_sync_a_small_policy_from_the_public_index(tmp_path: Path) -> None:
    ws = build_repository(tmp_path / "repo", [])
    path = tmp_path / "sync.toml"
    path.write_text('[sync]\nrequirements = ["idna"]\ncooldown-days = 7\n')
    assert "added idna: idna-" in sync(ws, path).stdout
    (entry,) = pages(ws, "idna")[0]["files"]
    uploaded = datetime.fromisoformat(entry["upload-time"])
    assert uploaded < datetime.now(UTC) - timedelta(days=7)
    assert "OK:" in repo_sign("verify", "--repo", ws.root).stdout
