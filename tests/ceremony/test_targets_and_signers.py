"""Changing the targets keys (root and targets proposals published together), and
signing through a signer URI instead of a key file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from repo_sign import keys
from repo_sign.workspace import Workspace
from tests.ceremony.helpers import (
    Holder,
    rebin,
    refused,
    repo_sign,
    served,
    tufpip,
    workspace_holders,
)


@pytest.mark.parametrize("rebins", [(), ("16", "4")], ids=["init bins", "rebinned"])
def test_new_targets_keys_publish_with_a_targets_version_they_signed(
    workspace: Workspace, tmp_path: Path, rebins: tuple[str, ...]
) -> None:
    rebin(workspace, *rebins)
    ws = ("--repo", workspace.root)
    (old_targets,) = workspace_holders(workspace, "targets")
    new_targets = Holder(tmp_path / "targets-holder")
    root_holders = workspace_holders(workspace)[:2]
    home = tmp_path / "client"
    with served(workspace) as server:
        tufpip(home, "init", server.url, "--root", workspace.metadata / "1.root.json")
        repo_sign(
            *ws,
            "ceremony",
            "propose",
            "root",
            "--role",
            "targets",
            "--add-key",
            new_targets.pub,
            "--remove-key",
            old_targets.keyid,
        )
        for holder in root_holders:
            holder.sign(workspace.staged / "root.json")
        # Alone, the new root would leave targets signed by a key it no longer trusts.
        assert "targets would no longer verify" in refused(*ws, "ceremony", "publish")
        repo_sign(*ws, "ceremony", "propose", "targets")
        staged_targets = workspace.staged / "targets.json"
        # Checked against the staged root: the outgoing targets key counts for nothing.
        line = refused(*ws, "ceremony", "sign", staged_targets, "--key", old_targets.key, "--yes")
        assert "counts for no threshold" in line
        new_targets.sign(staged_targets)
        out = repo_sign(*ws, "ceremony", "publish").stdout
        # Each rebin published a targets version with the new delegation.
        assert f"published root version 2, targets version {2 + len(rebins)}" in out
        repo_sign(*ws, "verify")
        target = tmp_path / "installed"
        tufpip(home, "install", "--target", target, "ceremony-demo==1.0")
        assert (target / "ceremony_demo").is_dir()


def test_a_signer_uri_signs_where_a_key_file_would(workspace: Workspace, tmp_path: Path) -> None:
    private, public = keys.generate("ed25519")
    hsm = tmp_path / "token"  # stands for an HSM or KMS: the key never passes through repo-sign
    hsm.mkdir()
    pem = hsm / "key.pem"
    pem.write_bytes(
        private.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keys.write_public_key(tmp_path / "token.pub", public)
    repo_sign(
        "--repo", workspace.root, "ceremony", "propose", "root", "--add-key", tmp_path / "token.pub"
    )
    staged = workspace.staged / "root.json"
    out = repo_sign(
        "ceremony", "sign", staged, "--key", f"file2:{pem}", "--yes", cwd=tmp_path
    ).stdout
    assert f"signed by {public.keyid[:16]}" in out
    for holder in workspace_holders(workspace)[:2]:
        holder.sign(staged)
    out = repo_sign("--repo", workspace.root, "ceremony", "status").stdout
    assert "keys of new root version 2: 3 of 2 required (of 4 keys): met" in out
    repo_sign("--repo", workspace.root, "ceremony", "publish")
    repo_sign("--repo", workspace.root, "verify")
