"""Attack 13: package sources outside the repository.

A second server on 127.0.0.1 plays an attacker's index: it offers
``beta 9.9`` (newer than the signed 1.0) as a PEP 503 page, a find-links
page and a direct download, and records every request. Each configuration
file, environment variable, option and requirement form through which pip
or uv could reach it is either neutralized (the install succeeds with the
signed beta 1.0 and the attacker sees no request) or refused before anything
runs (exit status 3). This machine's own pip configuration counts too: the
runs inherit it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.attacks.attacker import AttackerServer
from tests.attacks.checks import Client, assert_refused, tree
from tests.attacks.conftest import EVIL_FILE
from tests.support.distributions import make_wheel


def _version(venv: Path, project: str) -> str:
    site = next(venv.glob("lib/python*/site-packages"))
    [info] = site.glob(f"{project}-*.dist-info")
    return info.name.removesuffix(".dist-info").split("-")[1]


def _config(text: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


NEUTRALIZED_PIP = [
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_CONFIG_FILE",
    "user pip.conf",
    "venv pip.conf",
    "PIP_FIND_LINKS folder",
]


@pytest.mark.parametrize("how", NEUTRALIZED_PIP)
def test_pip_configuration_is_neutralized(
    how: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    index, links = f"{evil.url}/simple/", f"{evil.url}/links"
    conf = f"[global]\nindex-url = {index}\nextra-index-url = {index}\nfind-links = {links}\n"
    folder = tmp_path / "wheels"
    make_wheel(folder, "beta", "9.9")
    env = {
        "PIP_INDEX_URL": {"PIP_INDEX_URL": index},
        "PIP_EXTRA_INDEX_URL": {"PIP_EXTRA_INDEX_URL": index},
        "PIP_FIND_LINKS": {"PIP_FIND_LINKS": links},
        "PIP_FIND_LINKS folder": {"PIP_FIND_LINKS": str(folder)},
        "PIP_CONFIG_FILE": {"PIP_CONFIG_FILE": str(_config(conf, tmp_path / "pip.conf"))},
        "user pip.conf": {"XDG_CONFIG_HOME": str(tmp_path / "config")},
        "venv pip.conf": {},
    }[how]
    _config(conf, tmp_path / "config" / "pip" / "pip.conf")
    _config(conf, venv / "pip.conf")

    run = client.install(venv, "beta", env=env)

    assert run.returncode == 0, run.describe()
    assert _version(venv, "beta") == "1.0"
    assert evil.requests == []


def test_sdist_build_sees_no_other_source(evil: AttackerServer, client: Client, venv: Path) -> None:
    """pip's build subprocess (the backend install) reads PIP_* variables too."""
    env = {"PIP_INDEX_URL": f"{evil.url}/simple/", "PIP_EXTRA_INDEX_URL": f"{evil.url}/simple/"}
    run = client.install(venv, "lambda-pkg", env=env)
    assert run.returncode == 0, run.describe()
    assert evil.requests == []


NEUTRALIZED_UV = [
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "uv.toml",
]


@pytest.mark.parametrize("how", NEUTRALIZED_UV)
def test_uv_configuration_is_neutralized(
    how: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    index = f"{evil.url}/simple/"
    env = {
        "UV_INDEX_URL": {"UV_INDEX_URL": index},
        "UV_EXTRA_INDEX_URL": {"UV_EXTRA_INDEX_URL": index},
        "UV_FIND_LINKS": {"UV_FIND_LINKS": f"{evil.url}/links"},
        "UV_DEFAULT_INDEX": {"UV_DEFAULT_INDEX": index},
        "UV_INDEX": {"UV_INDEX": index},
        "uv.toml": {"XDG_CONFIG_HOME": str(tmp_path / "config")},
    }[how]
    _config(
        f'index-url = "{index}"\nextra-index-url = ["{index}"]\n',
        tmp_path / "config" / "uv" / "uv.toml",
    )

    run = client.install(venv, "beta", installer="uv", env=env)

    assert run.returncode == 0, run.describe()
    assert _version(venv, "beta") == "1.0"
    assert evil.requests == []


REQUIREMENT_LINES = {
    "-i": "-i {url}/simple/\nbeta\n",
    "--index-url": "--index-url={url}/simple/\nbeta\n",
    "--extra-index-url": "--extra-index-url {url}/simple/\nbeta\n",
    "-f": "-f {url}/links\nbeta\n",
    "${VAR} option": "--extra-index-url ${{EVIL_INDEX}}\nbeta\n",
    "${VAR} direct URL": "beta @ ${{EVIL_INDEX}}/../evil/" + EVIL_FILE + "\n",
    "nested -r": "-r nested.txt\n",
    "direct URL": "beta @ {url}/evil/" + EVIL_FILE + "\n",
    "VCS": "git+{url}/beta.git#egg=beta\n",
    "local wheel": "{wheel}\n",
    "local folder": "{folder}\n",
    "editable": "-e {folder}\n",
}


@pytest.mark.parametrize("installer", ["pip", "uv"])
@pytest.mark.parametrize("how", list(REQUIREMENT_LINES))
def test_requirements_file_sources_are_refused(
    how: str, installer: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "local", "beta", "9.9")
    project = tmp_path / "project"
    _config('[project]\nname = "beta"\nversion = "9.9"\n', project / "pyproject.toml")
    fields = {"url": evil.url, "wheel": wheel, "folder": project}
    (tmp_path / "nested.txt").write_text(REQUIREMENT_LINES["-i"].format(**fields))
    requirements = _config(REQUIREMENT_LINES[how].format(**fields), tmp_path / "reqs.txt")
    before = tree(venv)

    run = client.install(
        venv,
        "-r",
        str(requirements),
        installer=installer,
        env={"EVIL_INDEX": f"{evil.url}/simple/"},
    )

    assert_refused(run, ("tufpip installs", "install it by name"), code=3)
    assert tree(venv) == before
    assert evil.requests == []


COMMAND_LINES = {
    "direct URL": ["beta @ {url}/evil/" + EVIL_FILE],
    "bare URL": ["{url}/evil/" + EVIL_FILE],
    "VCS": ["git+{url}/beta.git"],
    "local wheel": ["{wheel}"],
    "local folder": ["{folder}"],
    "editable": ["-e", "{folder}"],
    "-i": ["-i", "{url}/simple/", "beta"],
    "--extra-index-url": ["--extra-index-url", "{url}/simple/", "beta"],
    "-f": ["-f", "{url}/links", "beta"],
    "--index (uv)": ["--index", "{url}/simple/", "beta"],
}


@pytest.mark.parametrize("how", list(COMMAND_LINES))
def test_command_line_sources_are_refused(
    how: str, evil: AttackerServer, client: Client, venv: Path, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "local", "beta", "9.9")
    project = tmp_path / "project"
    # A local project is the user's own code: refused when it names another source.
    evil_dependency = f'dependencies = ["gamma @ {evil.url}/evil/{EVIL_FILE}"]'
    _config(
        f'[project]\nname = "beta"\nversion = "9.9"\n{evil_dependency}\n',
        project / "pyproject.toml",
    )
    fields = {"url": evil.url, "wheel": wheel, "folder": project}
    args = [arg.format(**fields) for arg in COMMAND_LINES[how]]
    before = tree(venv)

    run = client.install(venv, *args)

    assert_refused(run, code=3)
    assert tree(venv) == before
    assert evil.requests == []
