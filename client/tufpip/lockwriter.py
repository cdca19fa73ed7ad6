"""PEP 751 lock files as ``tufpip lock`` writes them.

Rules:
- The resolution is pip's (``pip lock``, run through the verifying index for
  the target interpreter); the lock written is tufpip's own: per package its
  name and version, per locked file its name, the repository's own absolute
  URL for it (``Session.download_url``: the URL a plain TUF client fetches,
  consistent-snapshot name included, credentials left out), and its signed
  size and sha256. uv installs it without tufpip; pip 26.3 cannot, as it
  takes a project's name from the URL's last segment (``HASH.FILE``).
- Every file pip chose is checked in the run's session (``pins``): a sha256
  other than the signed one is tampering (exit 4), a file the repository
  does not sign is not found (exit 5). Anything but index files (``vcs``,
  ``directory``, ``archive``) is refused when pip's lock is read (``locks``).
- The text is written here: the standard library reads TOML but cannot
  write it, and a lock has a fixed shape whose strings (normalized names,
  versions, checked file names, hex hashes, percent-encoded URLs) are
  printable ASCII, which a JSON string encodes exactly as a TOML basic string.
- The file is written under a temporary name in its folder, with the user's
  umask, and renamed into place: nothing is written unless the whole lock was
  made, and a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from tufindex import targetpaths
from tufpip import locks, pins
from tufpip.errors import UsageError
from tufpip.urls import without_credentials

if TYPE_CHECKING:
    from tufpip.session import Session

STDOUT = "-"
# RFC 3986 reserved and unreserved characters, and "%": a URL already encoded stays as is.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


def check_output(output: str) -> None:
    """Refuse an output that ``tufpip install -r`` would not read as a lock, before any work.

    Raises:
        UsageError: Not ``pylock.toml`` or ``pylock.NAME.toml`` (or ``-``), or no such folder.
    """
    if output == STDOUT:
        return
    if not locks.is_lock_name(output):
        raise UsageError(f"-o {output}: a lock file is named pylock.toml or pylock.NAME.toml")
    if not Path(output).absolute().parent.is_dir():
        raise UsageError(f"-o {output}: no such folder")


def render(session: Session, packages: Sequence[locks.Locked], where: str) -> str:
    """The lock of ``packages``, each file checked against the signed targets of ``session``.

    Raises:
        TamperingDetected: A file's sha256 is not the signed one.
        NotFound: The repository does not sign a file.
    """
    pins.check(
        session,
        [
            pins.Pin(package.name, filename, f"{where}, package {package.name}", sha256=sha256)
            for package in packages
            for filename, sha256 in package.files.items()
        ],
    )
    lines = ['lock-version = "1.0"', 'created-by = "tufpip"']
    for package in packages:
        lines += ["", "[[packages]]", f"name = {_string(package.name)}"]
        lines.append(f"version = {_string(package.version)}")
        wheels = []
        for filename in package.files:
            entry = _file(session, package.name, filename)
            if filename.endswith(".whl"):
                wheels.append(entry)
            else:
                lines.append(f"sdist = {entry}")
        if wheels:
            lines += ["wheels = [", *(f"  {wheel}," for wheel in wheels), "]"]
    return "\n".join(lines) + "\n"


def _file(session: Session, project: str, filename: str) -> str:
    """A file's inline table: name, absolute URL, signed size and sha256."""
    info = session.targetinfo(targetpaths.distribution(project, filename))
    url = quote(without_credentials(session.download_url(info)), safe=_URL_SAFE)
    sha256 = _string(info.hashes["sha256"])
    return (
        f"{{name = {_string(filename)}, url = {_string(url)}, size = {info.length},"
        f" hashes = {{sha256 = {sha256}}}}}"
    )


def _string(value: str) -> str:
    """``value`` as a TOML basic string (see Rules: always printable ASCII here)."""
    return json.dumps(value)


def save(output: Path, text: str) -> None:
    """Write ``text`` to ``output`` whole or not at all (temporary file and rename).

    Raises:
        UsageError: It cannot be written.
    """
    temporary = output.with_name(f".{output.name}.{secrets.token_hex(8)}.tmp")
    try:
        # 0666 as any new file: the user's umask applies.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with open(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, output)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise UsageError(f"cannot write {output}: {exc.strerror}") from exc
