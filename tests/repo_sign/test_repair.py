"""Damaged workspace metadata: every command names the file and the repair, and
``refresh --repair`` publishes a state that verifies and that clients follow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from repo_sign.workspace import Workspace
from tests.client.helpers import Tufpip
from tests.support.distributions import make_wheel
from tests.support.repositories import build_repository, repo_sign, served, snapshot_tree

DAMAGED = 11


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def not_json(path: Path) -> None:
    path.write_bytes(b"{not json")


def bad_signature(path: Path) -> None:
    md = json.loads(path.read_bytes())
    sig = md["signatures"][0]["sig"]
    md["signatures"][0]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    path.write_text(json.dumps(md))


def missing(path: Path) -> None:
    path.unlink()


DAMAGES: list[Callable[[Path], None]] = [truncate, not_json, bad_signature, missing]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    d = tmp_path / "d"
    ws = build_repository(tmp_path / "repo", [make_wheel(d, "alpha", "1.0")])
    repo_sign("add", "--repo", ws.root, make_wheel(d, "alpha", "2.0"))
    return ws


def current(ws: Workspace, role: str) -> Path:
    """The file of ``role`` the current timestamp leads to (``bin``: alpha's page's bin)."""
    timestamp = json.loads(ws.metadata_path("timestamp", None).read_bytes())["signed"]
    version = timestamp["meta"]["snapshot.json"]["version"]
    if role == "snapshot":
        return ws.metadata_path("snapshot", version)
    snapshot = json.loads(ws.metadata_path("snapshot", version).read_bytes())["signed"]
    if role == "bin":
        role = next(
            name.removesuffix(".json")
            for name in snapshot["meta"]
            if name.startswith("bins-")
            and b"simple/alpha/"
            in ws.metadata_path(
                name.removesuffix(".json"), snapshot["meta"][name]["version"]
            ).read_bytes()
        )
    return ws.metadata_path(role, snapshot["meta"][f"{role}.json"]["version"])


FILES = {
    "timestamp": lambda ws: ws.metadata_path("timestamp", None),
    "snapshot": lambda ws: current(ws, "snapshot"),
    "targets": lambda ws: current(ws, "targets"),
    "bin": lambda ws: current(ws, "bin"),
    "root": lambda ws: ws.metadata_path("root", 1),
}


@pytest.mark.parametrize("which", FILES)
def test_every_command_names_the_damaged_file(
    workspace: Workspace, tmp_path: Path, which: str
) -> None:
    path = FILES[which](workspace)
    original = path.read_bytes()
    wheel = make_wheel(tmp_path / "d", "alpha", "3.0")
    # refresh reads a bin's expiry only; a bin is checked when it is used or re-signed.
    commands = [("status",), ("add", wheel)] + ([("refresh",)] if which != "bin" else [])
    hint = "restore it from a backup" if which == "root" else "repo-sign refresh --repair"
    # Every kind of damage meets one command, and the first meets every command.
    for number, damage in enumerate(DAMAGES):
        damage(path)
        before = snapshot_tree(workspace.root)
        for command in commands if number == 0 else commands[:1]:
            result = repo_sign(*command, "--repo", workspace.root, check=False)
            assert result.returncode == DAMAGED, (damage, command, result.stderr)
            assert "Traceback" not in result.stderr
            [line] = result.stderr.strip().splitlines()
            assert line.startswith(f"repo-sign: error: metadata/{path.name}: "), line
            assert hint in line
        assert snapshot_tree(workspace.root) == before
        path.write_bytes(original)
    repo_sign("verify", "--repo", workspace.root)


def test_repair_refuses_what_only_offline_keys_could_restore(workspace: Workspace) -> None:
    """With hash bins, targets has one version, signed offline: only a backup restores it."""
    truncate(FILES["targets"](workspace))
    before = snapshot_tree(workspace.root)
    result = repo_sign("refresh", "--repair", "--repo", workspace.root, check=False)
    assert result.returncode == DAMAGED
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("repo-sign: error: metadata/1.targets.json: no version of it")
    assert line.endswith("restore it from a backup")
    assert snapshot_tree(workspace.root) == before


@pytest.fixture
def flat(tmp_path: Path) -> Workspace:
    """Every target in targets (``--bins 0``): its key is online, targets has versions."""
    d = tmp_path / "d"
    ws = build_repository(tmp_path / "flat", [make_wheel(d, "alpha", "1.0")], "--bins", "0")
    repo_sign("add", "--repo", ws.root, make_wheel(d, "alpha", "2.0"))
    return ws


@pytest.mark.parametrize(
    ("which", "damage"),
    [
        # every role, and every kind of damage a repair can undo (a truncated
        # file is refused like an unparsable one, see the test above)
        ("timestamp", missing),
        ("snapshot", bad_signature),
        ("bin", not_json),
        ("root", bad_signature),
        ("root", missing),
        ("flat targets", truncate),
        ("flat targets", bad_signature),
    ],
)
def test_repair_publishes_a_state_clients_follow(
    request: pytest.FixtureRequest, tmp_path: Path, which: str, damage: Callable[[Path], None]
) -> None:
    workspace = request.getfixturevalue("flat" if which.startswith("flat") else "workspace")
    which = which.removeprefix("flat ")
    client = Tufpip(tmp_path / "home")
    with served(workspace) as url:
        assert client("init", url, "--root", workspace.metadata_path("root", 1)).returncode == 0
        assert client("refresh").returncode == 0  # trusts the current versions
        old = {f.name: f.read_bytes() for f in workspace.metadata.glob("*.json")}
        damage(FILES[which](workspace))
        if which == "root":  # the copy root.json restores the newest root
            assert workspace.metadata_path("root", None).read_bytes() == old["1.root.json"]
        result = repo_sign("refresh", "--repair", "--repo", workspace.root)
        assert "repaired timestamp.json" in result.stdout
        verified = repo_sign("verify", "--repo", workspace.root, check=False)
        assert verified.returncode == 0, verified.stderr
        followed = client("refresh")
        assert followed.returncode == 0, followed.stderr
        info = client("info", "alpha")
        assert info.returncode == 0, info.stderr
        assert "alpha" in info.stdout
