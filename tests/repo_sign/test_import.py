"""repo-sign import: mirroring a curated list from an upstream index."""

from __future__ import annotations

import json
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from repo_sign.errors import InvalidDistribution
from repo_sign.importer import ImportFailed, check_upstream_hashes, upload_times
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository, repo_sign


@pytest.mark.network
def test_import_requests_from_the_upstream_index(tmp_path: Path) -> None:
    workspace = build_repository(tmp_path / "repo", [])
    (tmp_path / "requirements.txt").write_text("requests\n")
    result = repo_sign("import", "--repo", workspace.root, "-r", tmp_path / "requirements.txt")
    assert "added packages/requests/requests-" in result.stdout
    assert "added packages/urllib3/" in result.stdout
    assert "OK:" in repo_sign("verify", "--repo", workspace.root).stdout


def test_refuses_a_file_whose_hash_differs_from_the_upstream_page(tmp_path: Path) -> None:
    """The upstream check is real: a loopback index lists another sha256."""
    wheel = make_wheel(tmp_path / "d", "alpha", "1.0")
    page = {
        "files": [
            {
                "filename": wheel.name,
                "url": wheel.name,
                "hashes": {"sha256": "0" * 64},
                "upload-time": "2024-09-14T02:58:29.586942Z",
            }
        ]
    }
    (tmp_path / "index" / "alpha").mkdir(parents=True)
    (tmp_path / "index" / "alpha" / "index.html").write_text(json.dumps(page))

    def handler(*args: object) -> SimpleHTTPRequestHandler:
        return SimpleHTTPRequestHandler(*args, directory=str(tmp_path / "index"))  # type: ignore[arg-type]

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(ImportFailed, match="does not match the upstream index"):
            check_upstream_hashes([wheel], url)
        (tmp_path / "notes.txt").write_text("x")
        with pytest.raises(InvalidDistribution):
            check_upstream_hashes([tmp_path / "notes.txt"], url)
        page["files"][0]["hashes"]["sha256"] = (
            __import__("hashlib").sha256(wheel.read_bytes()).hexdigest()
        )
        (tmp_path / "index" / "alpha" / "index.html").write_text(json.dumps(page))
        entries = check_upstream_hashes([wheel], url)
        assert upload_times(entries) == {wheel.name: "2024-09-14T02:58:29.586942Z"}
    finally:
        server.shutdown()
        server.server_close()
