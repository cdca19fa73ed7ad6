"""Keys on a real PKCS#11 token (SoftHSM2, keys made by OpenSC's pkcs11-tool):
root moved onto the token by a ceremony and later changed by the token alone,
the timestamp rotated onto it and re-signed by ``refresh``, and a client
bootstrapped from root version 1 following all of it. A wrong PIN, a missing
token and a key not on the token each stop with one line and change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.attacks.checks import Client, installed
from tests.support.distributions import make_wheel
from tests.support.hosts import require_program
from tests.support.repositories import build_repository, repo_sign, served, snapshot_tree

LIBRARY = Path("/usr/lib/softhsm/libsofthsm2.so")
LABEL = "repo-sign-test"
PIN = "4711"
ROOT_SLOT, TIMESTAMP_SLOT = 2, 3


@dataclass
class Token:
    env: dict[str, str]  # SOFTHSM2_CONF, PYKCS11LIB and REPO_SIGN_PIN

    def uri(self, slot: int) -> str:
        return f"hsm:{slot}?label={LABEL}"


def make_token(directory: Path) -> Token:
    """A SoftHSM2 token in ``directory`` with EC P-256 keys in the root and timestamp slots."""
    softhsm = require_program("softhsm2-util")
    pkcs11_tool = require_program("pkcs11-tool")
    (directory / "tokens").mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\n")
    env = {"SOFTHSM2_CONF": str(conf), "PYKCS11LIB": str(LIBRARY), "REPO_SIGN_PIN": PIN}
    run = {"env": env, "check": True, "capture_output": True}
    subprocess.run(
        [softhsm, "--init-token", "--free", "--label", LABEL, "--so-pin", "0000", "--pin", PIN],
        **run,
    )  # type: ignore[call-overload]
    for slot in (ROOT_SLOT, TIMESTAMP_SLOT):
        subprocess.run(
            [
                pkcs11_tool,
                "--module",
                str(LIBRARY),
                "--token-label",
                LABEL,
                "--login",
                "--pin",
                PIN,
                "--keypairgen",
                "--key-type",
                "EC:prime256v1",
                "--id",
                f"{slot:02x}",
            ],
            **run,
        )  # type: ignore[call-overload]
    return Token(env)


def signed_by(metadata: Path) -> set[str]:
    return {s["keyid"] for s in json.loads(metadata.read_bytes())["signatures"]}


def keyid(pub: Path) -> str:
    return json.loads(pub.read_text())["keyid"]


def refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 4, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("repo-sign: error: "), result.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.mark.slow
def test_root_and_timestamp_on_a_token_and_a_client_following(tmp_path: Path) -> None:
    token = make_token(tmp_path / "hsm")
    env = token.env
    dists = tmp_path / "dists"
    ws = build_repository(tmp_path / "repo", [make_wheel(dists, "beta", "1.0")])
    old_root = next(ws.keys.glob("root-*.pub"))
    old_root_keyid = keyid(old_root)

    # The token's keys, read without a PIN.
    root_pub, ts_pub = tmp_path / "token-root.pub", tmp_path / "token-timestamp.pub"
    out = repo_sign("key", "import", token.uri(ROOT_SLOT), "-o", root_pub, **env).stdout
    assert f"signer:      {token.uri(ROOT_SLOT)}" in out
    repo_sign("key", "import", token.uri(TIMESTAMP_SLOT), "-o", ts_pub, **env)

    # Root moves onto the token: signed by the old file key and by the token.
    repo_sign(
        "ceremony",
        "propose",
        "root",
        "--repo",
        ws.root,
        "--add-key",
        root_pub,
        "--remove-key",
        old_root,
        **env,
    )
    proposal = ws.staged / "root.json"
    repo_sign("ceremony", "sign", proposal, "--key", old_root.with_suffix(""), "--yes", **env)
    repo_sign(
        "ceremony",
        "sign",
        proposal,
        "--key",
        token.uri(ROOT_SLOT),
        "--public-key",
        root_pub,
        "--yes",
        **env,
    )
    repo_sign("ceremony", "publish", "--repo", ws.root, **env)
    for private in (ws.keys / "retired").glob("root-*"):
        private.unlink()
    assert signed_by(ws.metadata / "2.root.json") == {keyid(root_pub), old_root_keyid}

    # A later root change signed by the token alone.
    repo_sign("ceremony", "propose", "root", "--repo", ws.root, "--expires", "200", **env)
    repo_sign(
        "ceremony",
        "sign",
        proposal,
        "--key",
        token.uri(ROOT_SLOT),
        "--public-key",
        root_pub,
        "--yes",
        **env,
    )
    repo_sign("ceremony", "publish", "--repo", ws.root, **env)
    assert signed_by(ws.metadata / "3.root.json") == {keyid(root_pub)}

    # The timestamp moves onto the token, recorded in repo-sign.toml, re-signed by refresh.
    out = repo_sign(
        "rotate",
        "timestamp",
        "--repo",
        ws.root,
        "--signer",
        token.uri(TIMESTAMP_SLOT),
        "--public-key",
        ts_pub,
        **env,
    ).stdout
    assert token.uri(TIMESTAMP_SLOT) in out
    repo_sign(
        "ceremony",
        "sign",
        proposal,
        "--key",
        token.uri(ROOT_SLOT),
        "--public-key",
        root_pub,
        "--yes",
        **env,
    )
    repo_sign("ceremony", "publish", "--repo", ws.root, **env)
    assert token.uri(TIMESTAMP_SLOT) in (ws.root / "repo-sign.toml").read_text()
    before = json.loads((ws.metadata / "timestamp.json").read_bytes())["signed"]["version"]
    repo_sign("refresh", "--force", "--repo", ws.root, **env)
    timestamp = json.loads((ws.metadata / "timestamp.json").read_bytes())
    assert timestamp["signed"]["version"] > before
    assert signed_by(ws.metadata / "timestamp.json") == {keyid(ts_pub)}
    repo_sign("add", "--repo", ws.root, make_wheel(dists, "beta", "2.0"), **env)
    repo_sign("verify", "--repo", ws.root, **env)

    # A client that trusts only root version 1 follows the token's roots and installs.
    with served(ws) as url:
        client = Client(tmp_path / "home", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
        assert client("init", url, "--root", ws.metadata / "1.root.json").returncode == 0
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        run = client.install(venv, "beta==2.0", installer="uv")
        assert run.returncode == 0, run.describe()
        assert "beta" in installed(venv)

    # Refused with one line, nothing changed: a wrong PIN, a missing token, a key not on it.
    tree = snapshot_tree(ws.root)
    wrong_pin = repo_sign(
        "refresh", "--force", "--repo", ws.root, check=False, **{**env, "REPO_SIGN_PIN": "0000"}
    )
    refused(wrong_pin, token.uri(TIMESTAMP_SLOT), "Pin")
    empty = tmp_path / "no-token.conf"
    (tmp_path / "no-tokens").mkdir()
    empty.write_text(f"directories.tokendir = {tmp_path / 'no-tokens'}\n")
    no_token = repo_sign(
        "refresh", "--force", "--repo", ws.root, check=False, **{**env, "SOFTHSM2_CONF": str(empty)}
    )
    refused(no_token, token.uri(TIMESTAMP_SLOT))
    not_there = repo_sign(
        "key", "import", token.uri(7), "-o", tmp_path / "k.pub", check=False, **env
    )
    refused(not_there, token.uri(7))
    assert not (tmp_path / "k.pub").exists()
    repo_sign("ceremony", "propose", "root", "--repo", ws.root, **env)
    staged = proposal.read_bytes()
    wrong_key = repo_sign(
        "ceremony",
        "sign",
        proposal,
        "--key",
        token.uri(TIMESTAMP_SLOT),
        "--public-key",
        root_pub,
        "--yes",
        check=False,
        **env,
    )
    refused(wrong_key, "does not hold key")
    assert proposal.read_bytes() == staged
    proposal.unlink()
    assert snapshot_tree(ws.root) == tree
