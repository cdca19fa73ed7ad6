"""repo-sign refuses files whose dependencies name a direct URL (an unsigned source)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from repo_sign.distributions import build_requirements
from repo_sign.errors import InvalidDistribution
from repo_sign.workspace import Workspace
from tests.support.distributions import make_sdist, make_wheel
from tests.support.repositories import build_repository, repo_sign, snapshot_tree
from tests.support.upstream import serving
from tufindex.dependencies import ForbiddenDependency, check_file

EVIL = "evil @ http://127.0.0.1:9/evil-1.0-py3-none-any.whl"

CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "wheel Requires-Dist URL": (lambda d: make_wheel(d, "victim", "1.0", requires=[EVIL]), EVIL),
    "wheel file: URL": (
        lambda d: make_wheel(d, "victim", "1.0", requires=["evil @ file:///tmp/evil.whl"]),
        "evil @ file:///tmp/evil.whl",
    ),
    "wheel URL in an extra": (
        lambda d: make_wheel(d, "victim", "1.0", extras={"fast": [EVIL]}),
        f'{EVIL} ; extra == "fast"',
    ),
    "wheel unparseable Requires-Dist": (
        lambda d: make_wheel(d, "victim", "1.0", requires=["evil((("]),
        "evil(((",
    ),
    "sdist build-system.requires URL": (
        lambda d: make_sdist(d, "victim", "1.0", build_requires=("tinybackend", EVIL)),
        EVIL,
    ),
    "sdist PKG-INFO Requires-Dist URL": (
        lambda d: make_sdist(d, "victim", "1.0", requires=[EVIL]),
        EVIL,
    ),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("deps")
    return build_repository(root / "repo", [make_wheel(root / "d", "alpha", "1.0")])


@pytest.mark.parametrize("case", CASES)
def test_add_refuses_a_direct_url_dependency(
    workspace: Workspace, tmp_path: Path, case: str
) -> None:
    make, requirement = CASES[case]
    bad = make(tmp_path / "bad")
    good = make_wheel(tmp_path / "good", "fine", "1.0")
    before = snapshot_tree(workspace.root)
    result = repo_sign("add", "--repo", workspace.root, good, bad, check=False)
    assert result.returncode == 6, result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"repo-sign: error: {bad.name}: ")
    assert repr(requirement) in line
    assert snapshot_tree(workspace.root) == before


def test_add_accepts_plain_requirements(workspace: Workspace, tmp_path: Path) -> None:
    """The rule refuses URLs, not dependencies: versions, markers and extras pass."""
    wheel = make_wheel(
        tmp_path, "plain", "1.0", requires=["alpha>=1", 'beta[x]; python_version >= "3"']
    )
    sdist = make_sdist(tmp_path, "plain-sdist", "1.0", requires=["alpha"])
    result = repo_sign("add", "-v", "--repo", workspace.root, wheel, sdist)
    assert "added packages/plain/" in result.stdout


def _sdist(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            content = data.get(info.name, b"")
            info.size = len(content) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return path


PYPROJECT_EVIL = f'[build-system]\nrequires = ["{EVIL}"]\n'.encode()


def test_every_top_level_pyproject_is_checked(tmp_path: Path) -> None:
    """An installer builds from the archive's root or its one leading folder, and a
    duplicate member may be the copy it extracts: all of them are checked."""
    clean = b'[build-system]\nrequires = ["tinybackend"]\n'
    root_level = _sdist(
        tmp_path / "a-1.0.tar.gz",
        [tarfile.TarInfo("a-1.0/pyproject.toml"), tarfile.TarInfo("pyproject.toml")],
        {"a-1.0/pyproject.toml": clean, "pyproject.toml": PYPROJECT_EVIL},
    )
    with pytest.raises(ForbiddenDependency, match="names a direct URL"):
        check_file(root_level, root_level.name)
    duplicate = tmp_path / "b-1.0.tar.gz"
    with tarfile.open(duplicate, "w:gz") as tar:
        for content in (clean, PYPROJECT_EVIL):
            info = tarfile.TarInfo("b-1.0/pyproject.toml")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    with pytest.raises(ForbiddenDependency, match="names a direct URL"):
        check_file(duplicate, duplicate.name)
    nested = _sdist(
        tmp_path / "c-1.0.tar.gz",
        [tarfile.TarInfo("c-1.0/pyproject.toml"), tarfile.TarInfo("c-1.0/tests/pyproject.toml")],
        {"c-1.0/pyproject.toml": clean, "c-1.0/tests/pyproject.toml": PYPROJECT_EVIL},
    )
    check_file(nested, nested.name)


def test_build_requirements_are_read_from_the_archive(tmp_path: Path) -> None:
    """What pip installs before building: build-system.requires, else its legacy default."""
    declared = make_sdist(tmp_path, "a", "1.0", build_requires=("tinybackend", "hatchling>=1"))
    assert build_requirements(declared) == ["hatchling>=1", "tinybackend"]
    legacy = _sdist(
        tmp_path / "b-1.0.tar.gz",
        [tarfile.TarInfo("b-1.0/setup.py"), tarfile.TarInfo("b-1.0/pyproject.toml")],
        {"b-1.0/setup.py": b"raise SystemExit('never run')", "b-1.0/pyproject.toml": b"[tool.x]\n"},
    )
    assert build_requirements(legacy) == ["setuptools>=40.8.0"]
    option = _sdist(
        tmp_path / "c-1.0.tar.gz",
        [tarfile.TarInfo("c-1.0/pyproject.toml")],
        {"c-1.0/pyproject.toml": b'[build-system]\nrequires = ["--index-url=http://x/"]\n'},
    )
    with pytest.raises(InvalidDistribution, match="not a valid requirement"):
        build_requirements(option)


def test_a_linked_pyproject_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("a-1.0/pyproject.toml")
    link.type, link.linkname = tarfile.SYMTYPE, "evil.toml"
    sdist = _sdist(
        tmp_path / "a-1.0.tar.gz",
        [tarfile.TarInfo("a-1.0/evil.toml"), link],
        {"a-1.0/evil.toml": PYPROJECT_EVIL},
    )
    with pytest.raises(ForbiddenDependency, match="not a regular file"):
        check_file(sdist, sdist.name)


def test_pyproject_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    sdist = _sdist(
        tmp_path / "a-1.0.tar.gz",
        [tarfile.TarInfo("a-1.0/pyproject.toml")],
        {"a-1.0/pyproject.toml": b"[build-system\nrequires = 1"},
    )
    with pytest.raises(ForbiddenDependency, match="not valid TOML"):
        check_file(sdist, sdist.name)


def test_import_refuses_a_direct_url_dependency(workspace: Workspace, tmp_path: Path) -> None:
    """Even when the URL is a file the upstream index lists (its hash matches)."""
    with serving() as upstream:
        dependency = upstream.add(make_wheel(tmp_path, "beta", "1.0"))
        requirement = f"beta @ {upstream.file_url(dependency.name)}"
        victim = upstream.add(make_wheel(tmp_path, "victim", "1.0", requires=[requirement]))
        (tmp_path / "requirements.txt").write_text("victim\n")
        before = snapshot_tree(workspace.root)
        result = repo_sign(
            "import",
            "--repo",
            workspace.root,
            "-r",
            tmp_path / "requirements.txt",
            "--index-url",
            upstream.url,
            check=False,
        )
    assert result.returncode == 6, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"repo-sign: error: {victim.name}: ")
    assert repr(requirement) in line
    assert snapshot_tree(workspace.root) == before
