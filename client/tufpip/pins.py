"""Files the installer may use only if the repository signs them exactly.

Rules:
- A pin names a distribution by its target path (``tufindex.targetpaths``,
  found from the file's name and its project) and what it must equal: a
  local file's bytes (``tufpip install ./x.whl``) or a lock's sha256
  (``tufpip install -r pylock.toml``).
- Pins are collected while the installer's arguments are built and checked
  in the run's session before the installer starts: a refused pin leaves
  nothing installed.
- A local file that is not exactly a signed target is another package
  source (exit 3); a locked hash that differs from the signed one is
  tampering (exit 4); a locked file the repository does not sign is not
  found (exit 5).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tuf.api import exceptions as tuf_exc

from tufindex import targetpaths
from tufpip.errors import NotFound, RefusedSource, TamperingDetected, UsageError

if TYPE_CHECKING:
    from tufpip.session import Session


@dataclass(frozen=True)
class Pin:
    """Distribution ``filename`` of ``project``, to be a signed target equal to
    the file ``local`` or to the hash ``sha256``; ``what`` names it in messages."""

    project: str
    filename: str
    what: str
    local: Path | None = None
    sha256: str | None = None

    @property
    def target(self) -> str:
        return targetpaths.distribution(self.project, self.filename)


def check(session: Session, pins: Iterable[Pin]) -> None:
    """Refuse the first pin that the repository does not sign exactly.

    Raises:
        RefusedSource: A local file is not exactly a signed target.
        TamperingDetected: A locked sha256 differs from the signed one.
        NotFound: A locked file is not signed.
    """
    for pin in pins:
        if pin.local is not None:
            _check_local(session, pin)
            continue
        try:
            info = session.targetinfo(pin.target)
        except NotFound:
            raise NotFound(
                f"{pin.what}: the repository does not sign {pin.filename} of {pin.project}"
            ) from None
        signed = info.hashes.get("sha256")
        if signed != pin.sha256:
            raise TamperingDetected(
                f"{pin.what}: {pin.filename} of {pin.project} is locked with sha256 {pin.sha256},"
                f" the repository signs {signed}"
            )


def _check_local(session: Session, pin: Pin) -> None:
    assert pin.local is not None
    try:
        info = session.targetinfo(pin.target)
        with open(pin.local, "rb") as data:
            info.verify_length_and_hashes(data)
    except tuf_exc.LengthOrHashMismatchError:
        reason = "it differs from the signed file"
    except OSError as exc:
        raise UsageError(f"{pin.what}: cannot read it: {exc.strerror}") from exc
    except NotFound:
        reason = "the repository does not sign it"
    else:
        return
    raise RefusedSource(
        f"{pin.what} is not exactly a file the repository signs ({reason}): tufpip installs"
        " local files only when they are"
    )
