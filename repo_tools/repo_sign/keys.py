"""Key material: generating keys, storing them encrypted, loading signers.

Rules:
- A private key file is PKCS#8 PEM encrypted with its own passphrase, written
  with mode 0600 (created that way, never widened), beside a public key file
  ``PATH.pub`` holding the TUF key dict and its key id.
- A key id is the sha256 of the canonical JSON of the public key (TUF spec
  4.2); a public key file whose key id disagrees with its key is refused.
- Wherever a key file is accepted, a securesystemslib signer URI (``hsm:``,
  ``gcpkms:``, ``awskms:``, ``azurekms:``, ``hv:``, ``file2:``...) may stand
  instead, so HSM and cloud KMS keys need no code here.
- Passphrases come from a caller-supplied callback, told which role the key
  signs for; this module never prompts, prints or logs secrets.
- Unattended runs take a key's passphrase from the environment, most specific
  first (``passphrase_from_env``): ``REPO_SIGN_PASSPHRASE_<ROLE>``, then
  ``REPO_SIGN_PASSPHRASE_<ROLE>_FILE``, then ``REPO_SIGN_PASSPHRASE``, then
  ``REPO_SIGN_PASSPHRASE_FILE``. So online keys may have passphrases of their
  own, and a ``_FILE`` names a file (a systemd credential) whose content
  without its trailing newline is the passphrase.
- A signer URI's secret (a token's PIN) is asked of the same callback with
  the URI as the key's description, and comes unattended from the
  ``REPO_SIGN_PIN`` family of variables (``<ROLE>``, ``_FILE``) instead: a
  key file's passphrase is never offered to a token. A signer is tried once
  when opened, so a wrong PIN, a missing token or a key not on it is one
  clear error before anything is signed; its secret is asked for once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from urllib import parse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import (
    AWSSigner,
    CryptoSigner,
    GCPSigner,
    HSMSigner,
    Key,
    Signer,
    SSlibKey,
    VaultSigner,
)

from repo_sign.errors import KeyUnavailable, PassphraseRequired, WrongPassphrase
from repo_sign.fsutil import write_atomic

KEY_TYPES = ("ed25519", "ecdsa", "rsa")

# (description of the key, role it signs for or None, whether it is a new key) -> passphrase
PassphraseProvider = Callable[[str, str | None, bool], bytes]
PASSPHRASE_VARIABLE = "REPO_SIGN_PASSPHRASE"
PIN_VARIABLE = "REPO_SIGN_PIN"
_PROBE = b"repo-sign: does this signer work?"

_URI = re.compile(r"^[a-z][a-z0-9+.-]*:")


def is_signer_uri(reference: str) -> bool:
    """Whether ``reference`` is a signer URI rather than a key file path."""
    return bool(_URI.match(reference)) and not Path(reference).exists()


def keyid_of(key_dict: dict) -> str:
    """The TUF key id of a public key dict: sha256 of its canonical JSON."""
    canonical = encode_canonical({k: key_dict[k] for k in ("keytype", "scheme", "keyval")})
    assert canonical is not None  # None only when an output function is given
    return hashlib.sha256(canonical.encode()).hexdigest()


def short_keyid(keyid: str) -> str:
    """A key id as people see it, in messages and key file names: its first 16 hex digits."""
    return keyid[:16]


def fingerprint(key: Key) -> str:
    """A key id grouped for reading aloud when key holders compare out of band."""
    return " ".join(key.keyid[i : i + 4] for i in range(0, 64, 4))


def generate(key_type: str = "ed25519") -> tuple[PrivateKeyTypes, SSlibKey]:
    """A new private key (a ``cryptography`` object) and its TUF public key."""
    private: PrivateKeyTypes
    if key_type == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    elif key_type == "ecdsa":
        private = ec.generate_private_key(ec.SECP256R1())
    elif key_type == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:
        raise KeyUnavailable(f"unknown key type {key_type!r}: use one of {', '.join(KEY_TYPES)}")
    public = SSlibKey.from_crypto(private.public_key())
    # Recompute the id from the dict so it always matches keyid_of().
    public = SSlibKey.from_dict(keyid_of(public.to_dict()), public.to_dict())
    return private, public


def write_key_pair(path: Path, private: object, public: Key, passphrase: bytes) -> None:
    """Write ``path`` (encrypted private key, 0600) and ``path.pub``; never overwrite."""
    if not passphrase:
        raise PassphraseRequired(f"an empty passphrase would leave {path} unencrypted")
    if path.exists() or Path(f"{path}.pub").exists():
        raise KeyUnavailable(f"{path} already exists: choose another path")
    pem = private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    write_atomic(path, pem, mode=0o600)
    write_public_key(Path(f"{path}.pub"), public)


def write_public_key(path: Path, public: Key) -> None:
    data = {"keyid": public.keyid, **public.to_dict()}
    write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_public_key(path: Path) -> SSlibKey:
    """A public key from a ``.pub`` file (TUF key JSON, or PEM SubjectPublicKeyInfo).

    Raises KeyUnavailable when the file does not parse or its key id is wrong.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyUnavailable(f"cannot read public key {path}: {exc.strerror}") from exc
    try:
        if raw.lstrip().startswith(b"-----BEGIN PUBLIC KEY"):
            key = SSlibKey.from_crypto(serialization.load_pem_public_key(raw))
            return SSlibKey.from_dict(keyid_of(key.to_dict()), key.to_dict())
        data = json.loads(raw)
        keyid = data.pop("keyid", None)
        computed = keyid_of(data)
        key = SSlibKey.from_dict(computed, data)
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyUnavailable(f"{path} is not a public key file: {exc}") from exc
    if keyid is not None and keyid != computed:
        raise KeyUnavailable(
            f"{path}: key id {short_keyid(keyid)} does not match its key "
            f"({short_keyid(computed)}): the file was edited or corrupted"
        )
    return key


def load_signer(
    reference: str,
    public_key: Key,
    base: Path,
    passphrases: PassphraseProvider,
    role: str | None,
) -> Signer:
    """A signer for ``public_key`` of ``role`` from a key file path (relative to ``base``)
    or a URI."""
    if is_signer_uri(reference):
        return open_signer(reference, public_key, passphrases, role)
    path = base / reference
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyUnavailable(
            f"private key {reference} for key {short_keyid(public_key.keyid)} is not here "
            f"({exc.strerror}): sign on the machine that holds it"
        ) from exc
    try:
        private = serialization.load_pem_private_key(data, passphrases(reference, role, False))
    except (ValueError, TypeError) as exc:
        of_role = f" ({role} key)" if role else ""
        raise WrongPassphrase(
            f"cannot unlock {reference}{of_role}: wrong passphrase or not a private key"
        ) from exc
    signer = CryptoSigner(private, public_key)  # type: ignore[arg-type]
    if keyid_of(SSlibKey.from_crypto(private.public_key()).to_dict()) != public_key.keyid:
        raise KeyUnavailable(
            f"{reference} is not the private key of {short_keyid(public_key.keyid)}"
        )
    return signer


def open_signer(
    reference: str, public_key: Key, passphrases: PassphraseProvider, role: str | None
) -> Signer:
    """The signer a URI names for ``public_key``, tried once (module docstring)."""
    secret: list[str] = []

    def secrets_handler(_what: str) -> str:
        if not secret:
            secret.append(passphrases(reference, role, False).decode())
        return secret[0]

    try:
        signer = Signer.from_priv_key_uri(reference, public_key, secrets_handler)
        signature = signer.sign(_PROBE)
    except KeyUnavailable:
        raise
    except Exception as exc:  # signer backends raise anything; name the cause
        raise KeyUnavailable(f"cannot sign with {reference}: {_cause(exc)}") from exc
    try:
        public_key.verify_signature(signature, _PROBE)
    except UnverifiedSignatureError:
        raise KeyUnavailable(
            f"{reference} does not hold key {short_keyid(public_key.keyid)}"
        ) from None
    return signer


def import_public_key(uri: str) -> tuple[str, SSlibKey]:
    """The signer URI to record and the public key of the key ``uri`` names.

    Reading a key needs no PIN (``hsm:``) or only the KMS's usual credentials.
    """
    scheme, _, rest = uri.partition(":")
    try:
        if scheme == HSMSigner.SCHEME:
            parsed = parse.urlparse(uri)
            label = dict(parse.parse_qsl(parsed.query)).get("label")
            uri, key = HSMSigner.import_(int(parsed.path) if parsed.path else None, label)
        elif scheme in _KMS_IMPORTS:
            uri, key = _KMS_IMPORTS[scheme](rest)
        else:
            raise KeyUnavailable(f"{uri}: key import reads hsm:, {', '.join(_KMS_IMPORTS)} URIs")
    except KeyUnavailable:
        raise
    except Exception as exc:  # signer backends raise anything; name the cause
        raise KeyUnavailable(f"cannot read the public key of {uri}: {_cause(exc)}") from exc
    return uri, SSlibKey.from_dict(keyid_of(key.to_dict()), key.to_dict())


# KMS signers whose import_ takes the rest of the URI (their libraries load when used)
_KMS_IMPORTS: dict[str, Callable[[str], tuple[str, SSlibKey]]] = {
    AWSSigner.SCHEME: AWSSigner.import_,
    GCPSigner.SCHEME: GCPSigner.import_,
    VaultSigner.SCHEME: VaultSigner.import_,
}


def _cause(exc: BaseException) -> str:
    """What went wrong, for libraries whose exceptions carry no message (python-pkcs11)."""
    return str(exc) or type(exc).__name__


def private_key_name(role: str, key: Key) -> str:
    """The file name of a role's key in ``keys/``: ROLE-KEYIDPREFIX."""
    return f"{role}-{short_keyid(key.keyid)}"


def passphrase_variables(role: str | None, reference: str = "") -> list[str]:
    """The environment variables that may hold the secret of a ``role`` key, in order:
    a passphrase, or the PIN when ``reference`` is a signer URI."""
    base = PIN_VARIABLE if is_signer_uri(reference) else PASSPHRASE_VARIABLE
    shared = [base, f"{base}_FILE"]
    if role is None:
        return shared
    own = f"{base}_{role.upper()}"
    return [own, f"{own}_FILE", *shared]


def passphrase_from_env(role: str | None, reference: str = "") -> bytes | None:
    """The secret of a ``role`` key from the first variable set (module docstring)."""
    for name in passphrase_variables(role, reference):
        value = os.environ.get(name)
        if not value:
            continue
        if not name.endswith("_FILE"):
            return value.encode()
        try:
            secret = Path(value).read_bytes().removesuffix(b"\n")
        except OSError as exc:
            raise PassphraseRequired(f"{name}: cannot read {value}: {exc.strerror}") from exc
        if not secret:
            raise PassphraseRequired(f"{name}: {value} is empty")
        return secret
    return None
