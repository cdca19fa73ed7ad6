"""``repo-sign key new``: a key holder's key pair on their own machine."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from repo_sign import keys
from tests.ceremony.helpers import PASSPHRASE, refused, repo_sign


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa"])
def test_key_new_writes_an_encrypted_key_and_its_public_key(tmp_path: Path, key_type: str) -> None:
    result = repo_sign("key", "new", "--out", "alice.key", "--key-type", key_type, cwd=tmp_path)
    private, public = tmp_path / "alice.key", tmp_path / "alice.key.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # encrypted: unusable without the passphrase
        serialization.load_pem_private_key(private.read_bytes(), None)
    serialization.load_pem_private_key(private.read_bytes(), PASSPHRASE.encode())
    key = keys.read_public_key(public)
    assert json.loads(public.read_text())["keyid"] == key.keyid
    assert f"key id:      {key.keyid}" in result.stdout
    assert keys.fingerprint(key) in result.stdout


def test_key_new_never_overwrites(tmp_path: Path) -> None:
    repo_sign("key", "new", "--out", "k", cwd=tmp_path)
    before = (tmp_path / "k").read_bytes()
    assert "already exists" in refused("key", "new", "--out", "k", cwd=tmp_path)
    assert (tmp_path / "k").read_bytes() == before


@pytest.mark.parametrize("key_type", keys.KEY_TYPES)
def test_pem_public_key_file_reads_as_the_same_key(tmp_path: Path, key_type: str) -> None:
    """A holder may hand over a PEM SubjectPublicKeyInfo (what tokens export) instead of
    TUF key JSON: it reads as the same key, with the same key id."""
    private, public = keys.generate(key_type)
    pem = tmp_path / "holder.pem"
    pem.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert keys.read_public_key(pem).keyid == public.keyid
