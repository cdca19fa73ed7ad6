"""Errors are decided by python-tuf's exception types and by the metadata seen,
never by the exceptions' wording (the attack suite shows each reason end to end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_exc
from tuf.api.metadata import Metadata, MetaFile, Snapshot, Timestamp

from tufpip.errors import FreezeDetected, RollbackDetected
from tufpip.reasons import Seen, translate

WORDINGS = ["", "New timestamp version 1 must be >= 2", "completely different words 7 9"]


def _timestamp(version: int, snapshot: int, expires: datetime | None = None) -> bytes:
    signed = Timestamp(version=version, snapshot_meta=MetaFile(version=snapshot))
    if expires is not None:
        signed.expires = expires
    return Metadata(signed).to_bytes()


def _snapshot(version: int, meta: dict[str, int]) -> bytes:
    files = {f"{name}.json": MetaFile(version=v) for name, v in meta.items()}
    return Metadata(Snapshot(version=version, meta=files)).to_bytes()


def _seen(tmp_path: Path, trusted: dict[str, bytes], fetched: dict[str, bytes]) -> Seen:
    for role, data in trusted.items():
        (tmp_path / f"{role}.json").write_bytes(data)
    return Seen(tmp_path, dict(fetched))


@pytest.mark.parametrize("wording", WORDINGS)
def test_rollbacks_are_named_from_metadata(wording: str, tmp_path: Path) -> None:
    error = tuf_exc.BadVersionNumberError(wording)
    cases = [
        (
            {"timestamp": _timestamp(3, 3)},
            {"timestamp": _timestamp(2, 2)},
            "rollback refused: timestamp version 2 is older than trusted version 3",
        ),
        (
            {"timestamp": _timestamp(3, 3)},
            {"timestamp": _timestamp(4, 2)},
            "rollback refused: snapshot version 2 is older than trusted version 3",
        ),
        (
            {"timestamp": _timestamp(3, 3), "snapshot": _snapshot(3, {"bins-a": 5})},
            {"timestamp": _timestamp(4, 4), "snapshot": _snapshot(4, {"bins-a": 4})},
            "rollback refused: bins-a.json version 4 is older than trusted version 5",
        ),
        (
            {"snapshot": _snapshot(4, {"bins-a": 5})},
            {"bins-a": Metadata(Snapshot(version=4)).to_bytes()},
            "rollback refused: bins-a.json version 4 is older than version 5 listed by the"
            " trusted snapshot",
        ),
    ]
    for number, (trusted, fetched, expected) in enumerate(cases):
        folder = tmp_path / str(number)
        folder.mkdir()
        result = translate(error, repository="http://r", seen=_seen(folder, trusted, fetched))
        assert isinstance(result, RollbackDetected)
        assert str(result) == expected


@pytest.mark.parametrize("wording", WORDINGS)
def test_freeze_names_the_expired_role_and_when(wording: str, tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    later = datetime.now(UTC) + timedelta(days=1)
    seen = _seen(
        tmp_path,
        {"timestamp": _timestamp(3, 3, later)},
        {"timestamp": _timestamp(4, 3, when)},
    )
    result = translate(tuf_exc.ExpiredMetadataError(wording), repository="http://r", seen=seen)
    assert isinstance(result, FreezeDetected)
    assert str(result) == (
        "timestamp.json expired at 2026-01-02 03:04:05 UTC:"
        " the repository serves stale metadata (freeze?)"
    )
