"""Every other package source is refused before anything runs; what passes is
rebuilt by tufpip (canonical options, requirements and file copies)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from tufpip.arguments import PIP, UV, Option, canonical_arguments
from tufpip.cli import main
from tufpip.errors import RefusedSource, UsageError
from tufpip.requirements import RequirementFiles


def check(
    args: list[str], table: Mapping[str, Option], tmp_path: Path, env: dict[str, str] | None = None
) -> list[str]:
    """The installer arguments tufpip builds, copies written under ``tmp_path/copies``."""
    copies = tmp_path / "copies"
    copies.mkdir(exist_ok=True)
    return canonical_arguments(args, table, RequirementFiles(copies, env or {}), cwd=tmp_path)


REFUSED_EVERYWHERE = [
    ["-i", "http://127.0.0.1:9/simple/", "beta"],
    ["--index-url=http://127.0.0.1:9/simple/", "beta"],
    ["--pypi-url", "http://127.0.0.1:9/simple/", "beta"],
    ["--extra-index-url", "http://127.0.0.1:9/simple/", "beta"],
    ["--extra-index=http://127.0.0.1:9/simple/", "beta"],  # optparse prefix
    ["-f", "/opt/wheels", "beta"],
    ["--find-links=/opt/wheels", "beta"],
    ["--no-index", "beta"],
    ["--trusted-host", "example.org", "beta"],
    ["-e", "."],
    ["--editable=git+https://example.org/x.git#egg=x"],
    ["-Uihttp://127.0.0.1:9/simple/", "beta"],  # clustered short options
    ["--proxy", "http://127.0.0.1:9", "beta"],
    ["--index", "http://127.0.0.1:9/simple/", "beta"],
    ["--default-index", "http://127.0.0.1:9/simple/", "beta"],
    ["--group", "dev"],
    ["./local-project"],
    ["/tmp/beta-1.0-py3-none-any.whl"],
    ["beta-1.0-py3-none-any.whl"],
    ["https://example.org/beta-1.0.tar.gz"],
    ["git+https://example.org/beta.git"],
    ["beta @ https://example.org/beta-1.0-py3-none-any.whl"],
    ["--", "./local-project"],
]


@pytest.mark.parametrize("table", [PIP, UV], ids=["pip", "uv"])
@pytest.mark.parametrize("args", REFUSED_EVERYWHERE, ids=" ".join)
def test_command_line_refused(table: Mapping[str, Option], args: list[str], tmp_path: Path) -> None:
    with pytest.raises(RefusedSource):
        check(args, table, tmp_path)


@pytest.mark.parametrize("table", [PIP, UV], ids=["pip", "uv"])
def test_named_requirements_and_harmless_options_pass(
    table: Mapping[str, Option], tmp_path: Path
) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text(
        "# pinned\nbeta==1.0 --hash=sha256:" + "0" * 64 + "\nepsilon[fast] ; python_version > '3'\n"
        "-c constraints.txt\n--only-binary :all:\n"
    )
    (tmp_path / "constraints.txt").write_text("zeta<2\n")
    args = ["-U", "--target", "./dir", "--prefix=./p", "-r", str(reqs), "Alpha>=1", "-q"]
    built = check(args, table, tmp_path)
    requirements = "--requirement=" if table is PIP else "--requirements="
    assert built == [
        "--upgrade",
        f"--target={tmp_path / 'dir'}",
        f"--prefix={tmp_path / 'p'}",
        f"{requirements}{tmp_path / 'copies' / 'requirements-2.txt'}",
        "--quiet",
        "alpha>=1",
    ]
    assert (tmp_path / "copies" / "requirements-2.txt").read_text() == (
        f"beta==1.0 --hash=sha256:{'0' * 64}\n"
        'epsilon[fast] ; python_version > "3"\n'
        "-c requirements-1.txt\n"
        "--only-binary=:all:\n"
    )
    assert (tmp_path / "copies" / "requirements-1.txt").read_text() == "zeta<2\n"


LINES_REFUSED = [
    "--extra-index-url http://127.0.0.1:9/simple/",
    "-i http://127.0.0.1:9/simple/",
    "--index-url=http://127.0.0.1:9/simple/",
    "-f /opt/wheels",
    "--find-links /opt/wheels",
    "--no-index",
    "--trusted-host example.org",
    "-e ./local",
    "./local",
    "beta @ file:///tmp/beta-1.0-py3-none-any.whl",
    "git+https://example.org/beta.git#egg=beta",
    "${OPTION} http://127.0.0.1:9/simple/",
    "-r https://example.org/more.txt",
    "--extra-index-url \\\n  http://127.0.0.1:9/simple/",
]


@pytest.mark.parametrize("line", LINES_REFUSED)
def test_refused_inside_nested_files(line: str, tmp_path: Path) -> None:
    """Top file -> -c file -> -r file in another folder holding the line."""
    (tmp_path / "deep").mkdir()
    (tmp_path / "deep" / "inner.txt").write_text(f"beta\n{line}\n")
    (tmp_path / "constraints.txt").write_text("-r deep/inner.txt\n")
    (tmp_path / "top.txt").write_text("alpha\n-c ${CONSTRAINTS}\n")
    env = {"OPTION": "--extra-index-url", "CONSTRAINTS": str(tmp_path / "constraints.txt")}
    with pytest.raises(RefusedSource, match=r"inner\.txt, line 2"):
        check(["-r", str(tmp_path / "top.txt")], PIP, tmp_path, env)


def test_cycles_in_requirements_files_terminate(tmp_path: Path) -> None:
    """A file that includes itself is refused: the installer would recurse forever."""
    (tmp_path / "a.txt").write_text("-r b.txt\nalpha\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nbeta\n")
    with pytest.raises(UsageError, match="includes itself"):
        check(["-r", str(tmp_path / "a.txt")], PIP, tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["install", "--extra-index-url", "http://127.0.0.1:9/simple/", "beta"],
        ["install", "--installer", "uv", "--index", "http://127.0.0.1:9/simple/", "beta"],
        ["install", "./local-project"],
        # pip's clusters stay whole: this one holds -h (help, exit 0) and -o (lock's output)
        ["install", "-ihttps://example.org/simple/", "beta"],
        ["download", "-d", "out", "-ihttps://example.org/simple/", "beta"],
        ["lock", "-ihttps://example.org/simple/", "beta"],
    ],
    ids=" ".join,
)
def test_cli_refuses_before_running_anything(
    args: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 3 and one line, even with no repository recorded: nothing else ran."""
    monkeypatch.setenv("TUFPIP_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(args) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("tufpip: error: ")
    assert "verified index" in err or "install it by name" in err
    assert list(tmp_path.iterdir()) == [], "no state, no download folder, no lock"
