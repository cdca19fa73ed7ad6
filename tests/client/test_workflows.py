"""The everyday workflows, verified: a project's own directory (``install .``,
``install -e .``), a signed local file, and installing from a PEP 751 lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.client.helpers import Tufpip, installed, last_line, run_python
from tests.support.distributions import make_wheel
from tufpip.arguments import PIP, canonical_arguments
from tufpip.errors import RefusedSource, UsageError
from tufpip.requirements import RequirementFiles


def _file_of(dists: list[Path], project: str) -> Path:
    return next(path for path in dists if path.name.startswith(f"{project}-"))


def _lock(*packages: str, head: str = "") -> str:
    return f'lock-version = "1.0"\ncreated-by = "hand"\n{head}\n' + "".join(packages)


def _package(dists: list[Path], name: str, extra: str = "", sha256: str | None = None) -> str:
    """A ``[[packages]]`` entry locking the test wheel of ``name`` (its true hash by default)."""
    import hashlib

    wheel = _file_of(dists, name)
    digest = sha256 or hashlib.sha256(wheel.read_bytes()).hexdigest()
    return (
        f'[[packages]]\nname = "{name}"\nversion = "{wheel.name.split("-")[1]}"\n{extra}\n'
        f'[[packages.wheels]]\nurl = "https://files.example.org/{wheel.name}"\n'
        f'hashes = {{sha256 = "{digest}"}}\n'
    )


@pytest.fixture(scope="module")
def pip_lock(tmp_path_factory: pytest.TempPathFactory, dists: list[Path]) -> Path:
    """``pip lock`` of ``alpha`` against a plain folder of the same files as the repository."""
    path = tmp_path_factory.mktemp("lock") / "pylock.toml"
    folder = _file_of(dists, "alpha").parent
    command = [sys.executable, "-m", "pip", "lock", "-q", "--no-index", "--find-links", folder]
    subprocess.run([*command, "-o", path, "alpha"], check=True, capture_output=True)
    return path


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_lock_written_by_pip_installs(
    trusting: Tufpip, venv: Path, pip_lock: Path, installer: str
) -> None:
    assert "file://" in pip_lock.read_text()  # made against another source
    result = trusting("install", "--installer", installer, "--python", venv, "-r", pip_lock)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha", "beta"}
    assert run_python(venv, "import alpha, beta; print(beta.VERSION)") == "1.0"


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_lock_installs_exactly_what_applies(
    trusting: Tufpip, venv: Path, dists: list[Path], tmp_path: Path, installer: str
) -> None:
    """No resolution (alpha's dependency beta is not locked, so not installed);
    a package whose marker is false for the target is left out."""
    lock = tmp_path / "pylock.dev.toml"
    never = "marker = \"python_version < '3'\""
    lock.write_text(_lock(_package(dists, "alpha"), _package(dists, "zeta", never)))
    result = trusting("install", "--installer", installer, "--python", venv, "-r", lock)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"alpha"}


def test_lock_requires_python_of_the_target(
    trusting: Tufpip, venv: Path, dists: list[Path], tmp_path: Path
) -> None:
    lock = tmp_path / "pylock.toml"
    lock.write_text(_lock(_package(dists, "beta"), head='requires-python = ">=4"'))
    result = trusting("install", "--python", venv, "-r", lock)
    assert result.returncode == 2, result.stderr
    assert "requires Python >=4" in last_line(result)
    assert installed(venv) == set()


@pytest.mark.parametrize(
    ("entry", "code", "words"),
    [
        ("beta-bad-hash", 4, ("beta", "beta-1.0-py3-none-any.whl", "locked with sha256")),
        ("gamma", 5, ("gamma", "does not sign", "gamma-1.0-py3-none-any.whl")),
        ('[packages.vcs]\ntype = "git"\nurl = "https://example.org/x.git"\n', 3, ("vcs",)),
        ('[packages.directory]\npath = "."\n', 3, ("directory",)),
        ('[packages.archive]\nurl = "https://example.org/x.zip"\n', 3, ("archive",)),
    ],
    ids=["hash", "unsigned", "vcs", "directory", "archive"],
)
def test_lock_refusals_install_nothing(
    trusting: Tufpip,
    venv: Path,
    dists: list[Path],
    tmp_path: Path,
    entry: str,
    code: int,
    words: tuple[str, ...],
) -> None:
    if entry == "beta-bad-hash":
        refused = _package(dists, "beta", sha256="0" * 64)
    elif entry == "gamma":
        refused = _package([make_wheel(tmp_path / "other", "gamma", "1.0")], "gamma")
    else:
        refused = f'[[packages]]\nname = "x"\n{entry}'
    lock = tmp_path / "pylock.toml"
    lock.write_text(_lock(_package(dists, "zeta"), refused))
    result = trusting("install", "--installer", "uv", "--python", venv, "-r", lock)
    assert result.returncode == code, result.stderr
    assert all(word in last_line(result) for word in words), last_line(result)
    assert installed(venv) == set()


def test_lock_is_installed_alone(trusting: Tufpip, venv: Path, pip_lock: Path) -> None:
    result = trusting("install", "--python", venv, "-r", pip_lock, "zeta")
    assert result.returncode == 2, result.stderr
    assert "installed alone" in last_line(result)


def _project(folder: Path, dependencies: str = '"beta"', build: str = '"tinybackend"') -> Path:
    (folder / "src" / "mine").mkdir(parents=True)
    (folder / "src" / "mine" / "__init__.py").write_text("VERSION = '0.1'\n")
    (folder / "pyproject.toml").write_text(
        f'[build-system]\nrequires = [{build}]\nbuild-backend = "tinybackend"\n\n'
        f'[project]\nname = "mine"\nversion = "0.1"\ndependencies = [{dependencies}]\n'
    )
    return folder


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_local_project_builds_with_the_index(
    trusting: Tufpip, venv: Path, tmp_path: Path, installer: str
) -> None:
    """``install .``: the backend (tinybackend) and beta come from the verifying index."""
    project = _project(tmp_path / "proj")
    result = trusting("install", "--installer", installer, "--python", venv, ".", cwd=project)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"mine", "beta"}


def test_editable_project(trusting: Tufpip, venv: Path, tmp_path: Path) -> None:
    project = _project(tmp_path / "proj")
    result = trusting("install", "--python", venv, "-e", "proj", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (project / "src" / "mine" / "__init__.py").write_text("VERSION = 'edited'\n")
    assert run_python(venv, "import mine; print(mine.VERSION)") == "edited"


@pytest.mark.parametrize(
    ("dependencies", "build", "named"),
    [
        ('"beta @ https://example.org/beta-1.0.tar.gz"', '"tinybackend"', "beta @ https"),
        ('"beta @ file:///tmp/beta"', '"tinybackend"', "beta @ file"),
        ('"beta"', '"tinybackend @ git+https://example.org/t.git"', "tinybackend @ git+"),
    ],
    ids=["url", "file-url", "build-vcs"],
)
def test_project_naming_a_url_is_refused(
    trusting: Tufpip, venv: Path, tmp_path: Path, dependencies: str, build: str, named: str
) -> None:
    _project(tmp_path / "proj", dependencies, build)
    for args in (["proj/"], ["-e", "proj"]):
        result = trusting("install", "--python", venv, *args, cwd=tmp_path)
        assert result.returncode == 3, result.stderr
        assert named in last_line(result)
    assert installed(venv) == set()


def test_local_file_only_when_signed_exactly(
    trusting: Tufpip, venv: Path, dists: list[Path], tmp_path: Path
) -> None:
    signed = _file_of(dists, "zeta")
    forged = make_wheel(tmp_path / "forged", "zeta", "1.2.3", body="FORGED = True\n")
    unsigned = make_wheel(tmp_path / "unsigned", "gamma", "1.0")
    for refused in (forged, unsigned):
        result = trusting("install", "--python", venv, refused)
        assert result.returncode == 3, result.stderr
        assert "not exactly a file the repository signs" in last_line(result)
    assert installed(venv) == set()
    result = trusting("install", "--python", venv, signed)
    assert result.returncode == 0, result.stderr
    assert installed(venv) == {"zeta"}


@pytest.mark.parametrize(
    ("pyproject", "args", "error"),
    [
        (None, ["./proj"], RefusedSource),
        (
            '[project]\nname = "mine"\nversion = "1"\ndynamic = ["dependencies"]\n',
            ["./proj"],
            RefusedSource,
        ),
        (
            '[project]\nname = "mine"\nversion = "1"\n[tool.uv.sources]\nbeta = {git = "https://example.org/b"}\n',
            ["-e", "proj"],
            RefusedSource,
        ),
        (
            '[project]\nname = "mine"\nversion = "1"\n',
            ["--no-build-isolation", "./proj"],
            UsageError,
        ),
    ],
    ids=["no-pyproject", "dynamic", "uv-sources", "no-build-isolation"],
)
def test_projects_that_cannot_be_checked(
    tmp_path: Path, pyproject: str | None, args: list[str], error: type[Exception]
) -> None:
    (tmp_path / "proj").mkdir()
    if pyproject is not None:
        (tmp_path / "proj" / "pyproject.toml").write_text(pyproject)
    files = RequirementFiles(tmp_path, {})
    with pytest.raises(error):
        canonical_arguments(args, PIP, files, cwd=tmp_path)


def test_lock_only_on_the_command_line(tmp_path: Path, pip_lock: Path) -> None:
    (tmp_path / "reqs.txt").write_text(f"-r {pip_lock}\n")
    for args in (["-r", "reqs.txt"], ["-c", str(pip_lock)]):
        with pytest.raises(UsageError, match="lock file"):
            canonical_arguments(args, PIP, RequirementFiles(tmp_path, {}), cwd=tmp_path)
    canonical = canonical_arguments(["-r", str(pip_lock)], PIP, RequirementFiles(tmp_path, {}))
    assert canonical[-1] == "--no-deps"
    assert (tmp_path / "requirements-1.txt").read_text().startswith("alpha==1.0 --hash=sha256:")
