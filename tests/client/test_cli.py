"""The command line itself: version, help, usage errors, URL checks, trust on
first use without a terminal, and ``--json`` on every command that reports."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from tests.client.helpers import Served, Tufpip, last_line

COMMANDS = ["init", "install", "download", "lock", "verify", "list", "info", "status", "refresh"]


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single line of a failure that exited with ``code``."""
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("tufpip: error: "), result.stderr
    return result.stderr.strip()


def test_version(tufpip: Tufpip) -> None:
    result = tufpip("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tufpip {metadata.version('tufpip')}\n"


@pytest.mark.parametrize(
    "args",
    [["-h"], ["--help"], *([name, "-h"] for name in COMMANDS), ["install", "--help"]],
    ids=" ".join,
)
def test_help_on_every_command(tufpip: Tufpip, args: list[str]) -> None:
    result = tufpip(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: tufpip {' '.join(args[:-1])}".rstrip())
    if len(args) == 1:  # the group's help lists every command
        assert all(f"\n  {name} " in result.stdout for name in COMMANDS), result.stdout
    assert not tufpip.home.exists()


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "Missing command (see 'tufpip -h')"),
        (["--nope"], "No such option '--nope' (see 'tufpip -h')"),
        (["status", "--nope"], "No such option '--nope' (see 'tufpip status -h')"),
        (["nope"], "No such command 'nope'"),
        (["info"], "Missing argument 'NAME'"),
        (["install", "--installer", "pipx", "beta"], "Invalid value for '--installer'"),
        (["install", "--python", "/nope", "--nope", "beta"], "--nope is not an option"),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value) or "nothing",
)
def test_usage_errors_are_one_line_and_exit_2(tufpip: Tufpip, args: list[str], words: str) -> None:
    assert words in one_error_line(tufpip(*args), 2)
    assert not (tufpip.home / "repositories.json").exists()


BAD_URLS = [
    "ftp://127.0.0.1/repo",
    "127.0.0.1:8000",
    "http:///no-host",
    "https://127.0.0.1:port/",
    "http://127.0.0.1/repo?x=1",
    "file://server/share",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize(
    "options",
    [["--trust-on-first-use", "--yes"], ["--root", "ROOT"], []],
    ids=lambda options: " ".join(options) or "no-options",
)
def test_bad_url_exits_2_whatever_the_options(
    tufpip: Tufpip, repository: Served, url: str, options: list[str]
) -> None:
    """Checked before anything is fetched or read: the same input, the same exit status."""
    options = [str(repository.root) if o == "ROOT" else o for o in options]
    line = one_error_line(tufpip("init", url, *options), 2)
    assert "URL" in line or "no host" in line or "query" in line or "local folder" in line
    assert not (tufpip.home / "repositories.json").exists()


def test_trust_on_first_use_without_terminal(tufpip: Tufpip, repository: Served) -> None:
    """No terminal to confirm on, no --yes: one line saying what to pass, nothing recorded."""
    line = one_error_line(tufpip("init", repository.url, "--trust-on-first-use"), 2)
    assert "--yes" in line and "--root" in line
    assert not (tufpip.home / "repositories.json").exists()
    assert tufpip("status").returncode == 7


def test_json_on_every_reporting_command(
    trusting: Tufpip, repository: Served, dists: list[Path], tmp_path: Path
) -> None:
    listing = json.loads(trusting("list", "--json").stdout)
    assert listing == {
        "projects": ["alpha", "beta", "epsilon", "lambda-pkg", "tinybackend", "zeta"]
    }
    page = json.loads(trusting("info", "--json", "alpha").stdout)
    assert page["name"] == "alpha"
    assert [f["filename"] for f in page["files"]] == ["alpha-1.0-py3-none-any.whl"]
    for command in ("status", "refresh"):
        report = json.loads(trusting(command, "--json").stdout)
        assert report["url"] == repository.url
        assert report["roles"]["root"]["version"] == 1

    wheel = next(d for d in dists if d.name.startswith("zeta-"))
    checked = json.loads(trusting("verify", "--json", wheel).stdout)
    assert checked["results"] == [
        {"file": str(wheel), "target": f"packages/zeta/{wheel.name}", "ok": True, "error": None}
    ]

    result = trusting("download", "--json", "-d", tmp_path / "out", "alpha")
    assert result.returncode == 0, result.stderr
    downloaded = json.loads(result.stdout)  # pip's own output went to stderr
    assert downloaded["dest"] == str(tmp_path / "out")
    assert downloaded["saved"] == sorted(p.name for p in (tmp_path / "out").iterdir())
    assert any(name.startswith("beta-") for name in downloaded["saved"])


def test_json_failures_keep_their_exit_status(
    trusting: Tufpip, dists: list[Path], tmp_path: Path
) -> None:
    missing = trusting("info", "--json", "nope")
    assert missing.stdout == ""
    assert "no project 'nope'" in one_error_line(missing, 5)

    tampered = tmp_path / next(d for d in dists if d.name.startswith("zeta-")).name
    tampered.write_bytes(b"not the signed wheel")
    result = trusting("verify", "--json", tampered)
    [entry] = json.loads(result.stdout)["results"]
    assert entry["ok"] is False and "differs from signed" in entry["error"]
    assert "differs from signed" in one_error_line(result, 4)


def test_json_failure_before_any_state(tufpip: Tufpip) -> None:
    result = tufpip("list", "--json")
    assert result.stdout == ""
    assert "no repository recorded" in last_line(result)
    one_error_line(result, 7)
