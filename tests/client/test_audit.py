"""``tufpip audit``: environments installed by real pip and uv runs, checked against
the shared repository's signed wheels, before and after they are changed by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.client.helpers import Tufpip, last_line
from tests.support.distributions import make_wheel
from tests.support.environments import new_venv
from tests.support.repositories import snapshot_tree


def _site(venv: Path) -> Path:
    return next(venv.glob("lib/python*/site-packages"))


def _installed_by(trusting: Tufpip, venv: Path, installer: str) -> Path:
    """A new venv at ``venv`` with alpha (and beta) and epsilon installed by tufpip."""
    new_venv(venv)
    result = trusting("install", "--installer", installer, "--python", venv, "alpha", "epsilon")
    assert result.returncode == 0, result.stderr
    return venv


def test_environments_installed_by_pip_and_uv_pass(trusting: Tufpip, tmp_path: Path) -> None:
    """What the installers write themselves (wrappers, launchers, INSTALLER,
    REQUESTED, bytecode) is excluded by rule; nothing is written."""
    by_pip = _installed_by(trusting, tmp_path / "pip", "pip")
    by_uv = _installed_by(trusting, tmp_path / "uv", "uv")
    for venv in (by_pip, by_uv):
        assert (venv / "bin" / "epsilon-cli").is_file()  # a console-script wrapper
        tool = (venv / "bin" / "epsilon-tool").read_text()  # #!python rewritten
        assert tool.startswith(f"#!{venv}/bin/python\n"), tool
    assert list(_site(by_pip).glob("epsilon/__pycache__/*.pyc"))  # pip compiles
    before = [snapshot_tree(by_pip), snapshot_tree(by_uv)]

    result = trusting("audit", "--python", by_pip / "bin" / "python")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"OK: 3 distributions of {by_pip}/bin/python match the wheels the repository signs\n"
    )
    as_json = trusting("audit", "--json", VIRTUAL_ENV=str(by_uv))  # the active environment
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []
    assert [snapshot_tree(by_pip), snapshot_tree(by_uv)] == before

    no_environment = trusting("audit")
    assert no_environment.returncode == 2
    assert "no active virtual environment to audit" in last_line(no_environment)


def test_each_problem_is_one_line_and_exit_4(
    trusting: Tufpip, tmp_path: Path, dists: list[Path]
) -> None:
    venv = _installed_by(trusting, tmp_path / "venv", "pip")
    site, bin_dir = _site(venv), venv / "bin"
    # Installed with plain pip from files: a project the repository does not
    # sign, a version of beta it does not sign, and lambda-pkg, which it signs
    # as an sdist only (a wheel built elsewhere).
    local = [
        make_wheel(tmp_path / "local", "rogue", "1.0"),
        make_wheel(tmp_path / "local", "beta", "2.0"),
        make_wheel(tmp_path / "local", "lambda-pkg", "1.0"),
    ]
    pip = [sys.executable, "-m", "pip", "--python", str(venv), "install", "--no-index", "-q"]
    subprocess.run([*pip, "--no-deps", *map(str, local)], check=True, env=trusting.env())
    with (site / "alpha" / "__init__.py").open("a") as module:
        module.write("OWNED = True\n")
    (site / "epsilon" / "__init__.py").unlink()
    tool = bin_dir / "epsilon-tool"
    tool.write_text(tool.read_text().replace("epsilon.main()", "import os"))
    (site / "alpha" / "extra.py").write_text("OWNED = True\n")
    with (site / "alpha-1.0.dist-info" / "RECORD").open("a") as record:
        record.write("alpha/extra.py,,\n")
    before = snapshot_tree(venv)

    result = trusting("audit", "--python", venv)  # a venv folder, as pip's --python takes
    assert result.returncode == 4, result.stderr
    assert sorted(result.stdout.splitlines()) == sorted(
        [
            f"modified file {site}/alpha/__init__.py (alpha 1.0)",
            f"unexpected file {site}/alpha/extra.py (alpha 1.0)",
            "version not signed beta 2.0",
            f"missing file {site}/epsilon/__init__.py (epsilon 3.0)",
            f"modified file {bin_dir}/epsilon-tool (epsilon 3.0)",
            "no signed wheel lambda-pkg 1.0",
            "unsigned distribution rogue 1.0",
        ]
    )
    assert last_line(result) == (
        f"tufpip: error: 7 problems in 5 of 5 distributions of {bin_dir}/python: reinstall"
        " them with tufpip install --force-reinstall, or remove what the repository does not sign"
    )
    as_json = trusting("audit", "--json", "--python", venv)
    assert as_json.returncode == 4
    problems = json.loads(as_json.stdout)
    assert {
        "name": "rogue",
        "version": "1.0",
        "problem": "unsigned distribution",
        "path": None,
    } in problems
    assert {
        "name": "alpha",
        "version": "1.0",
        "problem": "modified file",
        "path": f"{site}/alpha/__init__.py",
    } in problems
    assert len(problems) == 7
    assert snapshot_tree(venv) == before
