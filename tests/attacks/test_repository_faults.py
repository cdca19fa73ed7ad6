"""Faults on the repository side: crashes, concurrency, secrets.

- Crash safety: ``repo-sign add`` and ``repo-sign refresh`` killed with
  SIGKILL at seeded random moments, 20 times. After each kill the published
  repository verifies (the code of ``repo-sign verify``), a client that has
  followed every state lists every project published so far (its rollback
  protection never trips), and the next run completes; at the end the real
  ``repo-sign verify`` passes and a client installs what was added.
- Concurrency: several ``repo-sign add`` at once on one workspace, and eight
  ``tufpip install`` at once on one state folder while the repository
  publishes.
- Secrets: key files are 0600 and encrypted; no passphrase or private key in
  any output or in what is served; ``repo-sign serve`` answers 404 outside
  ``metadata/`` and ``targets/`` (more paths: tests/repo_sign/test_commands.py
  ``test_serve_answers_404_outside_metadata_and_targets``).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from repo_sign.verify import verify_repository
from repo_sign.workspace import Workspace
from tests.attacks.checks import Client, Mirror, installed
from tests.support.distributions import make_wheel
from tests.support.environments import new_venv
from tests.support.repositories import PASSPHRASE, command_env, repo_sign

REPO_SIGN = [sys.executable, "-m", "repo_sign"]
KILLS = 12
SEED = 20261124


def _listed(client: Client) -> set[str]:
    run = client("list")
    assert run.returncode == 0, run.describe()
    return set(run.stdout.split())


def test_sigkill_during_add_and_refresh(mirror: Mirror, client: Client, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    workspace = mirror.workspace
    wheels = [make_wheel(tmp_path / "crash", f"crash{i}", "1.0") for i in range(KILLS)]
    typical = {}  # how long each command takes here, now: kills land before and after the end
    for step in (["refresh", "--force"], ["add", make_wheel(tmp_path / "warm", "warm", "1.0")]):
        start = time.monotonic()
        repo_sign(*step, "--repo", workspace)
        typical[str(step[0])] = time.monotonic() - start
    published = _listed(client)
    completed = 0
    for i in range(KILLS):
        command = ["add", wheels[i]] if rng.random() < 0.6 else ["refresh", "--force"]
        process = subprocess.Popen(
            [*REPO_SIGN, "--repo", str(workspace), *map(str, command)],
            env=command_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.4) * typical[str(command[0])])
        process.send_signal(signal.SIGKILL)
        completed += process.wait() == 0

        report = verify_repository(Workspace(workspace))
        assert report.ok, (i, command, report.problems)
        listed = _listed(client)
        assert published <= listed, (i, command, published - listed)
        published = listed
    assert 0 < completed < KILLS, f"{completed} of {KILLS} runs finished: kills not spread"

    repo_sign("add", "--repo", workspace, make_wheel(tmp_path / "after", "omega", "1.0"))
    repo_sign("verify", "--repo", workspace)
    venv = new_venv(tmp_path / "venv")
    added = [*sorted(p for p in published if p.startswith("crash"))[:1], "omega"]
    run = client.install(venv, *added, installer="uv")
    assert run.returncode == 0, run.describe()
    assert set(added) <= installed(venv)


def test_concurrent_adds_are_all_published(mirror: Mirror, client: Client, tmp_path: Path) -> None:
    wheels = [make_wheel(tmp_path / "c", f"concurrent{i}", "1.0") for i in range(4)]
    processes = [
        subprocess.Popen(
            [*REPO_SIGN, "--repo", str(mirror.workspace), "add", str(wheel)],
            env=command_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for wheel in wheels
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
    repo_sign("verify", "--repo", mirror.workspace)
    assert {f"concurrent{i}" for i in range(4)} <= _listed(client)


def test_eight_installs_share_one_state_while_the_repository_publishes(
    mirror: Mirror, client: Client, tmp_path: Path
) -> None:
    venvs = [new_venv(tmp_path / f"venv{i}") for i in range(8)]
    extra = [make_wheel(tmp_path / "p", f"during{i}", "1.0") for i in range(3)]

    def publish() -> None:
        for wheel in extra:
            repo_sign("add", "--repo", mirror.workspace, wheel)

    with ThreadPoolExecutor(9) as pool:
        publisher = pool.submit(publish)
        runs = list(pool.map(lambda venv: client.install(venv, "alpha", installer="uv"), venvs))
        publisher.result()
    for run, venv in zip(runs, venvs, strict=True):
        assert run.returncode == 0, run.describe()
        assert {"alpha", "beta"} <= installed(venv)
    status = client("status", "--json")
    assert status.returncode == 0, status.describe()
    assert {f"during{i}" for i in range(3)} <= _listed(client)


# ---- secrets ---------------------------------------------------------------------
def test_keys_are_private_and_encrypted(pristine: Path) -> None:
    private = [p for p in (pristine / "keys").iterdir() if p.is_file() and p.suffix != ".pub"]
    assert len(private) >= 5
    for key in private:
        assert key.stat().st_mode & 0o777 == 0o600, key
        data = key.read_bytes()
        assert b"ENCRYPTED PRIVATE KEY" in data, key
        with pytest.raises(TypeError):
            load_pem_private_key(data, None)
        with pytest.raises(ValueError):
            load_pem_private_key(data, b"wrong passphrase")


def test_no_secret_in_any_output_or_served_file(
    mirror: Mirror, client: Client, tmp_path: Path
) -> None:
    workspace = mirror.workspace
    outputs = []
    for args in (
        ["add", make_wheel(tmp_path / "s", "secretive", "1.0")],
        ["refresh", "--force"],
        ["status"],
        ["status", "--json"],
        ["verify"],
        ["--debug", "add", tmp_path / "missing.whl"],
        ["add", tmp_path / "not-a-wheel.txt"],
    ):
        result = repo_sign("--repo", workspace, *args, check=False)
        outputs += [result.stdout, result.stderr]
    wrong = repo_sign(
        "refresh",
        "--force",
        "--repo",
        workspace,
        check=False,
        REPO_SIGN_PASSPHRASE="not the passphrase",
    )
    assert wrong.returncode != 0
    outputs += [wrong.stdout, wrong.stderr]
    for args in (("status",), ("list",), ("--debug", "refresh")):
        run = client(*args)
        outputs += [run.stdout, run.stderr]
    served = [
        p.read_bytes()
        for d in ("metadata", "targets")
        for p in (workspace / d).rglob("*")
        if p.is_file()
    ]
    for text in outputs:
        assert PASSPHRASE not in text
        assert "PRIVATE KEY" not in text
    for data in served:
        assert PASSPHRASE.encode() not in data
        assert b"PRIVATE KEY" not in data


def test_serve_never_answers_outside_metadata_and_targets(mirror: Mirror) -> None:
    workspace = mirror.workspace
    key = next(p for p in (workspace / "keys").iterdir() if p.suffix != ".pub")
    (workspace / "targets" / "leak").symlink_to(key)
    (workspace / "metadata" / "leak.json").symlink_to(workspace / "repo-sign.toml")
    server = subprocess.Popen(
        [*REPO_SIGN, "--repo", str(workspace), "serve", "--port", "0"],
        env=command_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split(" at ")[1].split("/ ")[0]
        for path in (
            f"/keys/{key.name}",
            "/repo-sign.toml",
            "/targets/leak",
            "/metadata/leak.json",
            f"/targets/..%2fkeys%2f{key.name}",
            f"/metadata/%2e%2e/keys/{key.name}",
            f"/targets/%252e%252e/keys/{key.name}",
            "/metadata/..%5c..%5crepo-sign.toml",
            "/.repo-sign.lock",
            "/staged/",
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(url + path, timeout=10)
            assert refused.value.code == 404, path
        with urllib.request.urlopen(url + "/metadata/1.root.json", timeout=10) as ok:
            assert ok.status == 200
    finally:
        server.kill()
        server.wait()
