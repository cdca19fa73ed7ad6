"""Mirroring a curated requirements list from an upstream index.

pip resolves and downloads the listed packages with their dependencies;
every downloaded file is then checked against the sha256 the upstream
index publishes for it (PEP 691 JSON) before it may be signed, so a file
that changed between pip's download and our check, or a pip that fetched
from somewhere else, is refused. The same pages give each file's PEP 700
``upload-time``, which the repository's pages then carry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from repo_sign.errors import InvalidDistribution, RepoSignError
from repo_sign.fsutil import sha256_file
from tufindex import targetpaths

DEFAULT_INDEX = "https://pypi.org/simple/"
JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


class ImportFailed(RepoSignError):
    exit_code = 10


@contextmanager
def download(
    requirements: Path, index_url: str = DEFAULT_INDEX
) -> Iterator[tuple[list[Path], dict[str, str]]]:
    """Download ``requirements`` and their dependencies with pip.

    Yields the checked files and their upstream upload times by file name.
    """
    with tempfile.TemporaryDirectory(prefix="repo-sign-import-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
        env["PIP_CONFIG_FILE"] = os.devnull
        command = [
            sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check",
            "download", "--quiet", "--index-url", index_url, "-r", str(requirements),
            "-d", tmp,
        ]  # fmt: skip
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
            raise ImportFailed(f"pip could not download {requirements}: {last}")
        files = sorted(Path(tmp).iterdir())
        yield files, check_upstream_hashes(files, index_url)


def check_upstream_hashes(files: list[Path], index_url: str) -> dict[str, str]:
    """Refuse any file whose sha256 differs from the upstream index's.

    Returns the upstream ``upload-time`` of each file that has one, by file name.
    """
    session = requests.Session()
    pages: dict[str, dict[str, dict]] = {}
    upload_times: dict[str, str] = {}
    for path in files:
        try:
            project, _version, _wheel = targetpaths.parse_filename(path.name)
        except targetpaths.InvalidDistributionName as exc:
            raise InvalidDistribution(str(exc)) from exc
        if project not in pages:
            url = f"{index_url.rstrip('/')}/{project}/"
            try:
                response = session.get(url, headers={"Accept": JSON_ACCEPT}, timeout=30)
                response.raise_for_status()
                page = response.json()
            except (requests.RequestException, ValueError) as exc:
                raise ImportFailed(f"cannot read the upstream page {url}: {exc}") from exc
            pages[project] = {f["filename"]: f for f in page["files"]}
        entry = pages[project].get(path.name) or {}
        expected = entry.get("hashes", {}).get("sha256")
        _length, actual = sha256_file(path)
        if expected != actual:
            raise ImportFailed(
                f"{path.name}: sha256 {actual[:16]}... does not match the upstream index "
                f"({(expected or 'not listed')[:16]}): refusing to sign it"
            )
        if isinstance(entry.get("upload-time"), str):
            upload_times[path.name] = entry["upload-time"]
    return upload_times
