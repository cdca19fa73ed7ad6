"""Repository URLs: which ones tufpip accepts, and how they are shown.

Rules:
- A repository URL is checked before anything is fetched or recorded:
  scheme ``http``, ``https`` or ``file``, a host for ``http(s)``, a valid
  port, no query or fragment (metadata and target URLs are made by appending
  paths to it). A bad one is a usage error (exit 2) whatever the other
  options, because it is refused before they are acted on.
- Credentials in a URL (``https://user:password@host/``) are sent to the
  repository (requests reads them, or ``~/.netrc`` when the URL has none)
  but never shown: every text that may hold a URL passes through
  ``redact`` before it is printed, logged or put in an error message. The
  recorded URL keeps them as given (``repositories.json`` is 0600); a lock
  file written for others to use holds none (``without_credentials``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tufpip.errors import UsageError

SCHEMES = ("http", "https", "file")

# "scheme://userinfo@": the userinfo runs to the authority's last "@", as
# urllib and requests split it, so a password holding "@" is hidden whole.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def check(url: str) -> str:
    """``url`` without trailing slashes, if tufpip can use it as a repository's base URL.

    Raises:
        UsageError: It is not such a URL (the message shows it redacted).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise UsageError(f"{redact(url)} is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(f"{redact(url)!r} is not an http://, https:// or file:// URL")
    if scheme != "file" and not parts.hostname:
        raise UsageError(f"{redact(url)!r} names no host")
    if scheme == "file" and parts.netloc not in ("", "localhost"):
        raise UsageError(f"{redact(url)!r}: file URLs name a local folder (file:///PATH)")
    if parts.query or parts.fragment:
        raise UsageError(f"{redact(url)!r}: a repository URL has no query or fragment")
    return url.rstrip("/")


def without_credentials(url: str) -> str:
    """``url`` without its user name and password, for text others will read and use."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def redact(text: str) -> str:
    """``text`` with the credentials of every URL in it replaced by ``***``.

    ``https://user:secret@host/`` becomes ``https://user:***@host/``; a URL
    with a user name only (often a token) becomes ``https://***@host/``.
    """
    return _USERINFO.sub(_hide, text)


def _hide(match: re.Match[str]) -> str:
    user, has_password, _ = match["userinfo"].partition(":")
    return f"{match['scheme']}{user}:***@" if has_password else f"{match['scheme']}***@"
