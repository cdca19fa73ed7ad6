"""``init --root-key``: root version 1 is signed by its holders on their own machines.

No private key of root (or of targets given ``--targets-key``) ever exists in
the workspace; nothing is published until the holders' threshold is met.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from repo_sign.workspace import Workspace
from tests.ceremony.helpers import Holder, refused, repo_sign, served, tufpip

AWAITS = "repo-sign: error: root v1 awaits signatures: see repo-sign ceremony status"


def key_files(ws: Workspace) -> set[str]:
    return {p.name for p in ws.keys.iterdir()} if ws.keys.exists() else set()


def test_holders_sign_root_v1_and_clients_install_from_it(
    tmp_path: Path, wheels: list[Path]
) -> None:
    alice, bob, carol = (Holder(tmp_path / name) for name in ("alice", "bob", "carol"))
    ws = Workspace(tmp_path / "repo")
    seen: set[str] = set()
    init = repo_sign(
        "init",
        "--repo",
        ws.root,
        "--root-key",
        alice.pub,
        "--root-key",
        bob.pub,
        "--root-key",
        carol.pub,
        "--root-threshold",
        "2",
        "--bins",
        "2",
    )
    assert "demos" not in init.stderr
    assert f"proposal: {ws.staged / 'root.json'}" in init.stdout
    seen |= key_files(ws)
    assert not list(ws.metadata.glob("*.json"))  # nothing is published yet
    assert refused("--repo", ws.root, "add", wheels[0]) == AWAITS
    assert refused("--repo", ws.root, "refresh") == AWAITS
    assert "first version" in refused("--repo", ws.root, "ceremony", "discard", "root")
    assert refused("--repo", ws.root, "ceremony", "publish").startswith(
        "repo-sign: error: root version 1 is not signed by a threshold"
    )

    usb = Path(shutil.copy(ws.staged / "root.json", tmp_path / "usb.json"))
    first = alice.sign(usb, separate=True).stdout
    assert "root version 1 (the first version)" in first
    assert "this signature counts for keys of new root version 1: 1 of 2\n" in first
    missing = sorted(h.keyid[:16] for h in (bob, carol))
    assert first.splitlines()[-1].strip() == (
        "NOT ready to publish: 1 more needed from keys of new root version 1 "
        f"(any of: {', '.join(missing)})"
    )
    assert "count for" not in first
    second = carol.sign(usb, separate=True).stdout
    assert "this signature counts for keys of new root version 1: 2 of 2 (now met)" in second
    assert second.splitlines()[-1].strip() == "ready to publish"
    assert "count for" not in second and "NOT" not in second

    out = repo_sign("--repo", ws.root, "ceremony", "publish", usb).stdout
    assert "published root version 1, targets version 1" in out
    assert (ws.metadata / "1.root.json").read_bytes() == usb.read_bytes()
    assert not list(ws.staged.glob("*.json"))
    seen |= key_files(ws)
    repo_sign("--repo", ws.root, "add", wheels[0])
    home = tmp_path / "client"
    with served(ws) as server:
        tufpip(home, "init", server.url, "--root", ws.metadata / "1.root.json")
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==1.0")
        assert (target / "ceremony_demo").is_dir()
    seen |= key_files(ws)
    assert not {name for name in seen if name.startswith("root-")}
    holder_keys = [h.key.read_bytes() for h in (alice, bob, carol)]
    for path in ws.root.rglob("*"):
        assert not path.is_file() or path.read_bytes() not in holder_keys
    repo_sign("--repo", ws.root, "verify")


def test_targets_holders_sign_targets_v1(tmp_path: Path, wheels: list[Path]) -> None:
    alice, bob = Holder(tmp_path / "alice"), Holder(tmp_path / "bob")
    ws = Workspace(tmp_path / "repo")
    repo_sign(
        "init",
        "--repo",
        ws.root,
        "--root-key",
        alice.pub,
        "--targets-key",
        bob.pub,
        "--targets-threshold",
        "1",
        "--bins",
        "2",
    )
    assert not {n for n in key_files(ws) if n.startswith(("root-", "targets-"))}
    alice.sign(ws.staged / "root.json")
    line = refused("--repo", ws.root, "ceremony", "publish")
    assert "targets version 1 is not signed by a threshold" in line
    assert "ready to publish" in bob.sign(ws.staged / "targets.json").stdout
    repo_sign("--repo", ws.root, "ceremony", "publish")
    repo_sign("--repo", ws.root, "add", wheels[0])
    repo_sign("--repo", ws.root, "verify")


def test_all_local_keys_say_they_are_for_demos(tmp_path: Path) -> None:
    result = repo_sign(
        "init", "--repo", tmp_path / "repo", "--root-keys", "3", "--root-threshold", "2"
    )
    (line,) = result.stderr.strip().splitlines()
    assert "root keys were made here" in line and "for demos only" in line
    repo_sign("--repo", tmp_path / "repo", "verify")
