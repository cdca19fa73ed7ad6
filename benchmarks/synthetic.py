"""Synthetic TUF repositories of N distribution files, signed for real.

Every distribution is a wheel, so each has a ``.metadata`` target; projects
have 1 to 6 files (about 3.3 on average), each with two index pages; one
project list. That is about 2.6 targets per file, as on PyPI. Target files
themselves are not written (the client benchmark only resolves metadata),
except in ``write_workspace_metadata`` callers that add real ones.

Bins are written as compact JSON signed with an ed25519 key. The signed
bytes are canonical JSON produced by ``json.dumps(sort_keys=True)``: for these
ASCII paths and integers it is byte-for-byte what securesystemslib's
canonical encoder gives (and the client, which uses the latter, checks it),
but a thousand times faster for hundreds of megabytes.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    SuccinctRoles,
    Targets,
    Timestamp,
)

SPEC_VERSION = "1.0.31"


@dataclass
class Entry:
    path: str
    line: str  # compact JSON of ``"path":{"hashes":...,"length":...}``


def project_name(i: int) -> str:
    return f"proj{i:07d}"


def targets_of(files: int, seed: int = 1) -> Iterator[tuple[str, int]]:
    """(target path, length) of every target of a repository of ``files`` wheels."""
    rnd = random.Random(seed)
    made = project = 0
    while made < files:
        name = project_name(project)
        count = min(files - made, rnd.choice((1, 1, 2, 3, 3, 4, 5, 6, 6, 2)))
        yield f"simple/{name}/vnd.pypi.simple.v1.json", 400 + 300 * count
        yield f"simple/{name}/vnd.pypi.simple.v1.html", 300 + 250 * count
        for v in range(count):
            wheel = f"{name}-{v}.{rnd.randrange(30)}.{rnd.randrange(10)}-py3-none-any.whl"
            yield f"packages/{name}/{wheel}", rnd.randrange(10_000, 5_000_000)
            yield f"packages/{name}/{wheel}.metadata", rnd.randrange(800, 8_000)
        made += count
        project += 1
    yield "simple/vnd.pypi.simple.v1.json", 30 * project


def bin_index(path: str, bits: int) -> int:
    """The succinct bin of a target path (TAP 15: first bits of sha256(path))."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:4], "big") >> (32 - bits)


def entries(files: int) -> list[Entry]:
    rnd = random.Random(2)
    out = []
    for path, length in targets_of(files):
        sha = rnd.randbytes(32).hex()
        out.append(Entry(path, f'"{path}":{{"hashes":{{"sha256":"{sha}"}},"length":{length}}}'))
    return out


def expires(days: int) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def _sign_raw(signed: dict, signer: Signer) -> bytes:
    """Sign a ``signed`` dict and return the compact metadata file."""
    payload = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    signature = signer.sign(payload)
    return json.dumps(
        {"signatures": [signature.to_dict()], "signed": signed},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


def bin_file(entries_of_bin: list[Entry], version: int, signer: Signer) -> bytes:
    """A signed bin holding ``entries_of_bin``."""
    targets = json.loads("{" + ",".join(e.line for e in entries_of_bin) + "}")
    signed = {
        "_type": "targets",
        "spec_version": SPEC_VERSION,
        "version": version,
        "expires": expires(7).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "targets": targets,
    }
    return _sign_raw(signed, signer)


@dataclass
class Keys:
    root: Signer
    targets: Signer
    bins: Signer
    snapshot: Signer
    timestamp: Signer

    @classmethod
    def generate(cls) -> Keys:
        return cls(*(CryptoSigner.generate_ed25519() for _ in range(5)))


def write_repository(out: Path, files: int, bits: int, keys: Keys | None = None) -> dict:
    """Write a consistent-snapshot repository of ``files`` wheels in ``2**bits`` bins.

    Returns sizes: ``targets`` (count), ``snapshot`` bytes, and per-bin bytes.
    """
    keys = keys or Keys.generate()
    out.mkdir(parents=True, exist_ok=True)
    all_entries = entries(files)
    bins: list[list[Entry]] = [[] for _ in range(2**bits)]
    for e in all_entries:
        bins[bin_index(e.path, bits)].append(e)
    succinct = SuccinctRoles([keys.bins.public_key.keyid], 1, bits, "bins")
    names = list(succinct.get_roles())
    bin_sizes = []
    for name, contents in zip(names, bins, strict=True):
        data = bin_file(contents, 1, keys.bins)
        bin_sizes.append(len(data))
        (out / f"1.{name}.json").write_bytes(data)
    root = Root(expires=expires(365), consistent_snapshot=True)
    for role, signer in (
        ("root", keys.root),
        ("targets", keys.targets),
        ("snapshot", keys.snapshot),
        ("timestamp", keys.timestamp),
    ):
        root.add_key(signer.public_key, role)
    targets = Targets(expires=expires(365))
    targets.delegations = Delegations(
        keys={keys.bins.public_key.keyid: keys.bins.public_key}, succinct_roles=succinct
    )
    snapshot = Snapshot(expires=expires(7))
    snapshot.meta = {"targets.json": MetaFile(1), **{f"{n}.json": MetaFile(1) for n in names}}
    written = {}
    for role, signed, signer in (
        ("root", root, keys.root),
        ("targets", targets, keys.targets),
        ("snapshot", snapshot, keys.snapshot),
    ):
        md = Metadata(signed)
        md.sign(signer)
        written[role] = md.to_bytes()
        (out / f"1.{role}.json").write_bytes(written[role])
    timestamp = Metadata(Timestamp(expires=expires(1)))
    timestamp.signed.snapshot_meta = MetaFile(1)
    timestamp.sign(keys.timestamp)
    (out / "timestamp.json").write_bytes(timestamp.to_bytes())
    (out / "root.json").write_bytes(written["root"])
    return {
        "targets": len(all_entries),
        "snapshot": len(written["snapshot"]),
        "fixed": len(written["root"]) + len(written["targets"]) + len(timestamp.to_bytes()),
        "bin_sizes": bin_sizes,
        "entries": all_entries,
        "keys": keys,
    }


def curve(all_entries: list[Entry], bits_range: range) -> dict[int, tuple[int, float]]:
    """For each bit length: (snapshot entry bytes total, mean bytes of a bin), computed.

    Exact compact-JSON sizes of the entries, grouped as the client would
    find them; a bin's signature and envelope add about 200 bytes.
    """
    hashes = [
        int.from_bytes(hashlib.sha256(e.path.encode()).digest()[:4], "big") for e in all_entries
    ]
    sizes = [len(e.line) + 1 for e in all_entries]
    result = {}
    for bits in bits_range:
        count = 2**bits
        per_bin = [0] * count
        shift = 32 - bits
        for h, s in zip(hashes, sizes, strict=True):
            per_bin[h >> shift] += s
        digits = max(1, -(-bits // 4))
        snapshot = count * (len('"bins-.json":{"version":1},') + digits)
        result[count] = (snapshot, sum(per_bin) / count + 230)
    return result
