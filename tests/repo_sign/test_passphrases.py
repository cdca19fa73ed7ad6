"""Unattended runs with a passphrase per online key: ``REPO_SIGN_PASSPHRASE_<ROLE>``
(or ``..._FILE``, a systemd credential) before the shared ``REPO_SIGN_PASSPHRASE``."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from repo_sign.workspace import Workspace
from tests.repo_sign.test_commands import one_error_line
from tests.support.repositories import PASSPHRASE, repo_sign, snapshot_tree

OWN = {"timestamp": "ticking clock", "snapshot": "still picture", "bins": "sorted buckets"}
PER_ROLE = {f"REPO_SIGN_PASSPHRASE_{role.upper()}": secret for role, secret in OWN.items()}
ONLY_OWN = {**PER_ROLE, "REPO_SIGN_PASSPHRASE": ""}  # no shared passphrase


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """Online keys with three passphrases of their own; root and targets share one."""
    root = tmp_path / "repo"
    repo_sign("init", "--repo", root, "--bins", "4", **PER_ROLE)  # shared: PASSPHRASE
    return Workspace(root)


def test_init_gives_each_online_key_its_own_passphrase(workspace: Workspace) -> None:
    for role, secret in {**OWN, "root": PASSPHRASE, "targets": PASSPHRASE}.items():
        (private,) = (p for p in workspace.keys.glob(f"{role}-*") if p.suffix != ".pub")
        serialization.load_pem_private_key(private.read_bytes(), secret.encode())
        for other in {*OWN.values(), PASSPHRASE} - {secret}:
            with pytest.raises(ValueError):
                serialization.load_pem_private_key(private.read_bytes(), other.encode())


def test_refresh_signs_with_three_passphrases_and_no_shared_one(workspace: Workspace) -> None:
    result = repo_sign("refresh", "--force", "--repo", workspace.root, **ONLY_OWN)
    for name in ("2.bins-0.json", "2.bins-3.json", "2.snapshot.json", "timestamp.json"):
        assert f"signed {name}" in result.stdout
    assert not any(secret in result.stdout + result.stderr for secret in OWN.values())
    repo_sign("verify", "--repo", workspace.root)


def test_cron_needs_only_the_timestamp_passphrase_from_a_credential_file(
    workspace: Workspace, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials"  # what systemd's LoadCredential= provides
    credentials.mkdir()
    (credentials / "timestamp").write_text(OWN["timestamp"] + "\n")
    result = repo_sign(
        "refresh",
        "--repo",
        workspace.root,
        REPO_SIGN_PASSPHRASE="",
        REPO_SIGN_PASSPHRASE_TIMESTAMP_FILE=str(credentials / "timestamp"),
    )
    signed = [line for line in result.stdout.splitlines() if line.startswith("signed ")]
    assert signed == ["signed timestamp.json"]  # bins and snapshot are not due yet
    repo_sign("verify", "--repo", workspace.root)


def test_a_wrong_role_passphrase_names_the_key_and_changes_nothing(
    workspace: Workspace,
) -> None:
    before = snapshot_tree(workspace.root)
    wrong = "guessed wrong"
    result = repo_sign(
        "refresh",
        "--repo",
        workspace.root,
        check=False,
        **{**PER_ROLE, "REPO_SIGN_PASSPHRASE_TIMESTAMP": wrong},  # the shared one is set too
    )
    line = one_error_line(result)
    assert result.returncode == 4  # key problem (docs/repository.md)
    assert "cannot unlock keys/timestamp-" in line and "(timestamp key)" in line
    assert wrong not in result.stdout + result.stderr
    assert snapshot_tree(workspace.root) == before


def test_a_missing_credential_file_is_one_error_line(workspace: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-credential"
    result = repo_sign(
        "refresh",
        "--repo",
        workspace.root,
        check=False,
        REPO_SIGN_PASSPHRASE="",
        REPO_SIGN_PASSPHRASE_TIMESTAMP_FILE=str(missing),
    )
    line = one_error_line(result)
    assert result.returncode == 4
    assert f"REPO_SIGN_PASSPHRASE_TIMESTAMP_FILE: cannot read {missing}" in line
