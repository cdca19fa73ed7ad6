"""docs/ceremony.md: its commands, run as written in a fresh folder, complete every ceremony."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tuf.api.metadata import Metadata

from repo_sign import keys
from repo_sign.workspace import Workspace
from tests.ceremony.helpers import command_env, repo_sign

RUNBOOK = Path(__file__).parents[2] / "docs" / "ceremony.md"


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_the_runbook_runs_as_written(tmp_path: Path) -> None:
    blocks = shell_blocks(RUNBOOK.read_text())
    assert len(blocks) >= 10
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = command_env()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # Every confirmation is answered "y", as a holder does once the digest matches.
    answers = subprocess.Popen(["yes", "y"], stdout=subprocess.PIPE)
    try:
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            stdin=answers.stdout,
        )
    finally:
        answers.kill()
        answers.wait()
        assert answers.stdout is not None
        answers.stdout.close()
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    ws = Workspace(tmp_path / "repo")
    # Root: 1 (signed by the holders), 2 (timestamp rotated), 3 (timestamp revoked),
    # 4 (Bob's key replaced by Dave's).
    root = Metadata.from_file(str(ws.metadata / "root.json")).signed
    assert root.version == 4
    assert root.roles["root"].threshold == 2
    holders = {
        keys.read_public_key(tmp_path / name / "root-key.pub").keyid
        for name in ("alice", "carol", "dave")
    }
    assert set(root.roles["root"].keyids) == holders
    assert not list(ws.keys.glob("root-*"))  # no root private key was ever made here
    repo_sign("--repo", ws.root, "verify")
    assert not list(ws.staged.glob("*.json"))
