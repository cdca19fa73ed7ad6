"""Network and folder access for the TUF client.

``RequestsFetcher`` implements ngclient's ``FetcherInterface`` on one
``requests.Session``: connections are pooled across the many small metadata
and package downloads of one install, and the usual environment variables
(``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``, ...) apply, so the
client works behind corporate proxies without options of its own.

``file://`` URLs read a local folder (an air-gapped mirror, a USB stick). A
missing file there behaves like HTTP 404, which is what ngclient's root walk
needs to stop at the newest root.

Only transport lives here. The ngclient base class enforces length limits and
the updater verifies everything this module returns.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.cookiejar import DefaultCookiePolicy
from importlib import metadata
from typing import IO, TYPE_CHECKING
from urllib import parse
from urllib.request import url2pathname

import requests
import tuf
import urllib3
from tuf.api import exceptions
from tuf.ngclient import FetcherInterface

from tufpip.errors import UsageError
from tufpip.urls import redact

if TYPE_CHECKING:
    from tufpip.reasons import Seen

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a TCP (and TLS) connection to a repository."""

DEFAULT_READ_TIMEOUT = 30.0
"""Seconds to wait for the next bytes of a response before giving up."""

TIMEOUT_VARIABLE = "TUFPIP_TIMEOUT"
"""Sets the read timeout in seconds (slow networks, or tests that need no 30 s wait)."""

DEFAULT_CHUNK_SIZE = 64 * 1024
"""Bytes per chunk: small enough that ngclient cuts oversized files early."""

DEFAULT_MIN_SPEED = 8 * 1024
"""Bytes per second a download must average once it has run ``read_timeout``
seconds: a mirror that trickles (each byte well within the read timeout) is
cut off too. A download therefore ends, done or failed, within twice the read
timeout or at this average speed (TUF's slow retrieval attack)."""


def configured_read_timeout(environ: Mapping[str, str]) -> float:
    """``TUFPIP_TIMEOUT`` in seconds if set, else ``DEFAULT_READ_TIMEOUT``.

    Raises:
        UsageError: The variable is not a positive number.
    """
    value = environ.get(TIMEOUT_VARIABLE)
    if not value:
        return DEFAULT_READ_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise UsageError(f"{TIMEOUT_VARIABLE}={value!r} is not a positive number of seconds")
    return seconds


def _tufpip_version() -> str:
    """Return the installed tufpip version, for the User-Agent header."""
    try:
        return metadata.version("tufpip")
    except metadata.PackageNotFoundError:
        return "unknown"


def default_user_agent() -> str:
    """Return the User-Agent that lets repository operators see client versions."""
    return f"tufpip/{_tufpip_version()} python-tuf/{tuf.__version__}"


def _find_cause(error: BaseException, kind: type[BaseException]) -> BaseException | None:
    """Walk the cause and context chain of ``error`` for an exception of ``kind``.

    requests wraps urllib3 errors, which wrap socket errors; the innermost one
    says what really went wrong.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        # urllib3 keeps the real error in ``reason`` (MaxRetryError) or in
        # its arguments (ProtocolError), requests in its arguments.
        reason = getattr(current, "reason", None)
        inner = [a for a in current.args if isinstance(a, BaseException)]
        if isinstance(reason, BaseException):
            current = reason
        elif inner:
            current = inner[-1]
        else:
            current = current.__cause__ or current.__context__
    return None


def _connection_problem(error: BaseException) -> str:
    """Describe in plain words why a connection could not be made."""
    incomplete = _find_cause(error, urllib3.exceptions.IncompleteRead)
    if isinstance(incomplete, urllib3.exceptions.IncompleteRead):
        return (
            f"the server closed the connection after {incomplete.partial} bytes,"
            f" {incomplete.expected} more were announced"
        )
    if _find_cause(error, ConnectionRefusedError) is not None:
        return "connection refused"
    if (
        _find_cause(error, urllib3.exceptions.NameResolutionError) is not None
        or _find_cause(error, socket.gaierror) is not None
    ):
        return "host name not found"
    if _find_cause(error, ssl.SSLCertVerificationError) is not None:
        cert_error = _find_cause(error, ssl.SSLCertVerificationError)
        detail = getattr(cert_error, "verify_message", "") or "verification failed"
        return f"TLS certificate not trusted ({detail})"
    if _find_cause(error, ssl.SSLError) is not None or isinstance(
        error, requests.exceptions.SSLError
    ):
        return "TLS handshake failed"
    if isinstance(error, requests.exceptions.ProxyError):
        return "the proxy refused or failed the connection"
    os_error = _find_cause(error, OSError)
    if isinstance(os_error, OSError) and os_error.errno is not None:
        if os_error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "network unreachable"
        if os_error.errno == errno.ECONNRESET:
            return "connection reset by the server"
        return os_error.strerror or str(os_error)
    return "connection failed"


class RequestsFetcher(FetcherInterface):
    """Fetch repository files over HTTP(S) with requests, or from ``file://`` folders.

    One session serves all downloads so that connections are reused. Cookies
    are refused: TUF downloads are stateless, and a repository must not be able
    to make later requests differ from earlier ones.

    Args:
        connect_timeout: Seconds allowed to establish a connection.
        read_timeout: Seconds allowed between two received chunks; a server
            that stalls longer raises ``SlowRetrievalError``. Default:
            ``TUFPIP_TIMEOUT`` if set, else ``DEFAULT_READ_TIMEOUT``.
        chunk_size: Bytes read per chunk at most.
        user_agent: User-Agent header; defaults to ``tufpip/<version> ...``.
        min_speed: Bytes per second a download must average once it has run
            for ``read_timeout`` seconds; a slower one raises
            ``SlowRetrievalError``.
    """

    def __init__(
        self,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        user_agent: str | None = None,
        min_speed: float = DEFAULT_MIN_SPEED,
    ) -> None:
        if read_timeout is None:
            read_timeout = configured_read_timeout(os.environ)
        if connect_timeout <= 0 or read_timeout <= 0 or min_speed < 0:
            raise ValueError("timeouts must be positive, min_speed not negative")
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.chunk_size = chunk_size
        self.min_speed = min_speed
        self.user_agent = user_agent or default_user_agent()

        self._session = requests.Session()
        self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._session.headers["User-Agent"] = self.user_agent
        # TUF hashes cover the file's bytes: ask for them unencoded, as pip does.
        self._session.headers["Accept-Encoding"] = "identity"
        self._streaming: set[requests.Response] = set()  # guarded by _abort_lock
        self._abort_lock = threading.Lock()
        self._aborted = False

    def abort(self) -> None:
        """Make every body download in progress fail now, and every later one.

        Called from another thread (``tufpip serve`` stopping): shutting the
        socket down wakes a read blocked on a stalled server at once, instead
        of after the read timeout. ngclient keeps what it received in an
        anonymous temporary file that is verified before anything is written,
        so nothing of an aborted download reaches the target cache.
        """
        with self._abort_lock:
            self._aborted = True
            streaming = list(self._streaming)
        for response in streaming:
            connection = response.raw.connection
            sock = None if connection is None else connection.sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close pooled connections; the fetcher must not be used afterwards."""
        self._session.close()

    def __enter__(self) -> RequestsFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fetch(self, url: str) -> Iterator[bytes]:
        """Start downloading ``url`` and return an iterator over its bytes.

        Errors that happen before the first byte are raised here, so that
        ngclient can tell "file missing" (``DownloadHTTPError``) from a
        broken download.

        Raises:
            exceptions.DownloadHTTPError: The server answered with an error
                status, or a ``file://`` file does not exist (status 404).
            exceptions.SlowRetrievalError: The connection or a read timed out.
            exceptions.DownloadError: Any other failure to reach ``url``.
        """
        scheme = parse.urlsplit(url).scheme.lower()
        if scheme == "file":
            return self._fetch_file(url)
        if scheme in ("http", "https"):
            return self._fetch_http(url)
        raise exceptions.DownloadError(
            f"cannot download {redact(url)}: unsupported URL scheme {scheme!r}"
            " (use http, https or file)"
        )

    def _fetch_http(self, url: str) -> Iterator[bytes]:
        """Send the GET request and check the status before streaming the body.

        Messages show the URL without its credentials (``urls.redact``).
        """
        shown = redact(url)
        try:
            response = self._session.get(
                url,
                stream=True,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except requests.exceptions.ConnectTimeout as e:
            raise exceptions.SlowRetrievalError(
                f"cannot reach {shown}: no connection within {self.connect_timeout:g} s"
            ) from e
        except requests.exceptions.ReadTimeout as e:
            raise exceptions.SlowRetrievalError(
                f"no answer from {shown} within {self.read_timeout:g} s"
            ) from e
        except requests.exceptions.TooManyRedirects as e:
            raise exceptions.DownloadError(f"cannot download {shown}: too many redirects") from e
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema) as e:
            problem = f"invalid URL ({redact(str(e))})"
            raise exceptions.DownloadError(f"cannot download {shown}: {problem}") from e
        except requests.exceptions.ConnectionError as e:
            raise exceptions.DownloadError(f"cannot reach {shown}: {_connection_problem(e)}") from e
        except requests.exceptions.RequestException as e:
            raise exceptions.DownloadError(f"cannot download {shown}: {redact(str(e))}") from e

        status = response.status_code
        if not 200 <= status < 300:
            response.close()
            reason = f" {response.reason}" if response.reason else ""
            raise exceptions.DownloadHTTPError(f"HTTP {status}{reason} for {shown}", status)

        with self._abort_lock:
            if not self._aborted:
                self._streaming.add(response)
                return self._http_chunks(url, response)
        response.close()
        raise self._stopped(shown)

    @staticmethod
    def _stopped(shown: str) -> exceptions.DownloadError:
        return exceptions.DownloadError(f"download of {shown} stopped: tufpip is stopping")

    def _http_chunks(self, url: str, response: requests.Response) -> Iterator[bytes]:
        """Yield the body as sent, without content decoding.

        The raw stream is used so that a server that labels a ``.tar.gz`` with
        ``Content-Encoding: gzip`` cannot make the bytes differ from the file
        the metadata describes. Each read returns what has arrived (``read1``),
        so the average speed is checked as bytes come in, however slowly.
        """
        shown = redact(url)
        start = time.monotonic()
        received = 0
        try:
            while chunk := response.raw.read1(self.chunk_size, decode_content=False):
                received += len(chunk)
                elapsed = time.monotonic() - start
                if elapsed > self.read_timeout and received < self.min_speed * elapsed:
                    raise exceptions.SlowRetrievalError(
                        f"download of {shown} too slow: {received} bytes in {elapsed:.1f} s "
                        f"(at least {self.min_speed:g} bytes/s needed)"
                    )
                yield chunk
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as e:
            raise exceptions.SlowRetrievalError(
                f"download of {shown} stalled: no data for {self.read_timeout:g} s"
            ) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            if self._aborted:
                raise self._stopped(shown) from e
            raise exceptions.DownloadError(
                f"download of {shown} broke off: {_connection_problem(e)}"
            ) from e
        finally:
            with self._abort_lock:
                self._streaming.discard(response)
            response.close()

    def _fetch_file(self, url: str) -> Iterator[bytes]:
        """Open a ``file://`` URL; a missing file is reported like HTTP 404."""
        split = parse.urlsplit(url)
        if split.netloc not in ("", "localhost"):
            raise exceptions.DownloadError(
                f"cannot read {url}: file URLs must name a local path (file:///...)"
            )
        # ngclient percent-encodes role names; an encoded "/" must not turn
        # one name into a path that leaves the repository folder.
        for segment in split.path.split("/"):
            decoded = parse.unquote(segment)
            if "/" in decoded or "\\" in decoded or "\0" in decoded:
                raise exceptions.DownloadError(
                    f"cannot read {url}: a path segment encodes a separator"
                )
        path = url2pathname(split.path)

        try:
            info = os.stat(path)
        except (FileNotFoundError, NotADirectoryError) as e:
            raise exceptions.DownloadHTTPError(f"file not found: {path} ({url})", 404) from e
        except OSError as e:
            raise exceptions.DownloadError(f"cannot read {path}: {e.strerror or e}") from e
        if not stat.S_ISREG(info.st_mode):
            raise exceptions.DownloadError(f"cannot read {path}: not a regular file")

        try:
            file = open(path, "rb")  # noqa: SIM115 -- closed by the generator
        except FileNotFoundError as e:
            raise exceptions.DownloadHTTPError(f"file not found: {path} ({url})", 404) from e
        except OSError as e:
            raise exceptions.DownloadError(f"cannot read {path}: {e.strerror or e}") from e
        return self._file_chunks(path, file)

    def _file_chunks(self, path: str, file: IO[bytes]) -> Iterator[bytes]:
        """Yield a local file in chunks and close it, whatever the consumer does."""
        try:
            while chunk := file.read(self.chunk_size):
                yield chunk
        except OSError as e:
            raise exceptions.DownloadError(f"cannot read {path}: {e.strerror or e}") from e
        finally:
            file.close()


class ObservingFetcher(FetcherInterface):
    """Delegates to another fetcher, recording the metadata fetched and reporting progress.

    Each complete metadata file (a URL under ``metadata_url``) is kept in
    ``seen.fetched`` under its role name, in fetch order, so that a refusal
    can name what ngclient refused (``reasons.translate``). While
    ``progress`` is set (one target download at a time: a session uses its
    Updater only under its lock) each chunk is reported. Chunks are passed
    through as they come, so ngclient's length limit still applies.
    """

    def __init__(self, fetcher: FetcherInterface, metadata_url: str, seen: Seen) -> None:
        self._fetcher = fetcher
        self._metadata_url = metadata_url
        self.seen = seen
        self.progress: Callable[[int], None] | None = None

    def _fetch(self, url: str) -> Iterator[bytes]:
        chunks = self._fetcher.fetch(url)
        if url.startswith(self._metadata_url):
            return self._recording(_role_of(url.removeprefix(self._metadata_url)), chunks)
        if self.progress is not None:
            return self._reporting(chunks, self.progress)
        return chunks

    def _recording(self, role: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        data = bytearray()
        for chunk in chunks:
            data += chunk
            yield chunk
        self.seen.fetched.pop(role, None)  # re-inserted last: the order is the fetch order
        self.seen.fetched[role] = bytes(data)

    @staticmethod
    def _reporting(chunks: Iterator[bytes], advance: Callable[[int], None]) -> Iterator[bytes]:
        for chunk in chunks:
            advance(len(chunk))
            yield chunk


def _role_of(name: str) -> str:
    """``3.bins-a.json`` -> ``bins-a``; ``timestamp.json`` -> ``timestamp``."""
    version, _, rest = name.partition(".")
    return (rest if version.isdigit() else name).removesuffix(".json")
