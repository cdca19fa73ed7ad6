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
from urllib.parse import urljoin

import requests

from repo_sign.errors import InvalidDistribution, RepoSignError
from repo_sign.fsutil import sha256_file
from tufindex import targetpaths
from tufindex.installers import without_installer_configuration

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
        pip_download(["-r", str(requirements)], index_url, Path(tmp))
        files = sorted(Path(tmp).iterdir())
        yield files, upload_times(check_upstream_hashes(files, index_url))


def pip_download(args: list[str], index_url: str, dest: Path) -> None:
    """``pip download ARGS`` from ``index_url`` only (no configuration, no PIP_ variables)."""
    env = without_installer_configuration(os.environ)
    command = [
        sys.executable,
        "-m",
        "pip",
        "--isolated",
        "--disable-pip-version-check",
        "download",
        "--quiet",
        "--index-url",
        index_url,
        "-d",
        str(dest),
        *args,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise ImportFailed(f"pip could not download {' '.join(args)}: {last}")


def upload_times(entries: dict[str, dict]) -> dict[str, str]:
    """The upstream ``upload-time`` of each file that has one, by file name."""
    return {
        name: entry["upload-time"]
        for name, entry in entries.items()
        if isinstance(entry.get("upload-time"), str)
    }


def check_upstream_hashes(files: list[Path], index_url: str) -> dict[str, dict]:
    """Refuse any file whose sha256 differs from the upstream index's.

    Returns each file's entry on the upstream's PEP 691 page, by file name.
    """
    session = requests.Session()
    pages: dict[str, dict[str, dict]] = {}
    entries: dict[str, dict] = {}
    for path in files:
        try:
            project, _version, _wheel = targetpaths.parse_filename(path.name)
        except targetpaths.InvalidDistributionName as exc:
            raise InvalidDistribution(str(exc)) from exc
        if project not in pages:
            pages[project] = upstream_page(session, index_url, project)
        entry = pages[project].get(path.name) or {}
        expected = entry.get("hashes", {}).get("sha256")
        _length, actual = sha256_file(path)
        if expected != actual:
            raise ImportFailed(
                f"{path.name}: sha256 {actual[:16]}... does not match the upstream index "
                f"({(expected or 'not listed')[:16]}): refusing to sign it"
            )
        entries[path.name] = entry
    return entries


def upstream_page(session: requests.Session, index_url: str, project: str) -> dict[str, dict]:
    """The file entries of ``project``'s PEP 691 page upstream, by file name.

    Each entry also gets ``_url``, its file URL made absolute.
    """
    url = f"{index_url.rstrip('/')}/{project}/"
    try:
        response = session.get(url, headers={"Accept": JSON_ACCEPT}, timeout=30)
        response.raise_for_status()
        files = response.json()["files"]
        return {f["filename"]: {**f, "_url": urljoin(response.url, f["url"])} for f in files}
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise ImportFailed(f"cannot read the upstream page {url}: {exc}") from exc
