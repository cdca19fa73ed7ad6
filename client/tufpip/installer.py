"""Running pip or uv as a subprocess against the verifying index, and nothing else.

Rules:
- The installer's environment is the caller's minus every ``PIP_*`` and
  ``UV_*`` variable and every proxy variable, with ``PIP_CONFIG_FILE`` set to
  the null device: no configuration file, variable or proxy can add a source
  or stand between the installer and the loopback index. sdist builds inherit
  this environment, so build dependencies come from the index as well.
- pip runs as ``python -m pip --isolated`` from tufpip's own environment, and
  reaches another environment with pip's ``--python``; uv runs as
  ``uv pip install --no-config --index-strategy first-index --python PY``.
- pip's cache is on: the index's URL is stable per repository (its recorded
  port), so cached files hit across runs, and pip checks the sha256 of the
  verified page against cached files as against downloaded ones. pip caches
  plain-HTTP responses only from trusted hosts, so the index's own
  ``HOST:PORT`` is passed as ``--trusted-host`` (that also turns off TLS
  checks, which a loopback HTTP index has none of). The user's
  ``--no-cache-dir`` is passed through. uv's cache stays off (``--no-cache``):
  uv reuses a cached wheel without checking it against the index's hash
  (tests/client/test_caches.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal
from urllib.parse import urlsplit

from tufpip.errors import UsageError
from tufpip.sources import PIP_OPTIONS, UV_OPTIONS, Kind

InstallerName = Literal["pip", "uv"]
Action = Literal["install", "download"]

_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without installer configuration or proxies, with pip's config files off."""
    env = {
        key: value
        for key, value in environ.items()
        if not key.upper().startswith(("PIP_", "UV_")) and key.lower() not in _PROXY_VARIABLES
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


class Installer:
    """pip or uv, run against one index URL for one action.

    ``python`` is the interpreter of the target environment (default: the one
    tufpip runs in).
    """

    def __init__(
        self,
        name: InstallerName = "pip",
        python: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.python = python
        self.environment = clean_environment(os.environ if environ is None else environ)

    @property
    def options(self) -> Mapping[str, Kind]:
        """The installer's option table, for ``sources.SourceChecker``."""
        return PIP_OPTIONS if self.name == "pip" else UV_OPTIONS

    def command(self, action: Action, index_url: str, args: Sequence[str]) -> list[str]:
        """The command line that runs ``action`` with ``args`` against ``index_url`` only."""
        if self.name == "uv":
            if action != "install":
                raise UsageError(f"uv cannot {action}: use --installer pip")
            return [
                _uv_binary(),
                "pip",
                "install",
                "--no-config",
                "--no-cache",
                "--no-python-downloads",
                "--index-url",
                index_url,
                "--index-strategy",
                "first-index",
                "--python",
                self.python or sys.executable,
                *args,
            ]
        if importlib.util.find_spec("pip") is None:
            raise UsageError(f"pip is not installed for {sys.executable}")
        general = ["--isolated", "--disable-pip-version-check", "--no-input"]
        if self.python:
            general += ["--python", self.python]
        index = ["--index-url", index_url, "--trusted-host", urlsplit(index_url).netloc]
        return [sys.executable, "-m", "pip", *general, action, *index, *args]

    @contextlib.contextmanager
    def start(
        self, action: Action, index_url: str, args: Sequence[str]
    ) -> Iterator[subprocess.Popen[bytes]]:
        """The running installer; its output goes to tufpip's own streams.

        Leaving the context waits for it; an exception (Ctrl-C) kills it first.
        """
        command = self.command(action, index_url, args)
        with subprocess.Popen(command, env=self.environment) as process:
            try:
                yield process
            except BaseException:
                process.kill()
                raise


def _uv_binary() -> str:
    try:
        import uv  # the optional extra, needed only with --installer uv
    except ImportError:
        raise UsageError("uv is not installed: install tufpip[uv]") from None
    return uv.find_uv_bin()
