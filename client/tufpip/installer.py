"""Running pip or uv as a subprocess against the verifying index, and nothing else.

Rules:
- The target environment is pip's: ``--python`` if given, else the active
  virtual environment (``VIRTUAL_ENV``), else none (``target_python``); the
  command line then refuses to install into tufpip's own environment.
- The installer is given only arguments tufpip built (``arguments``) and
  runs in a private empty folder, so nothing in the user's current folder
  (a ``pip.py``, a requirements file, a wheel) can be imported or read.
- pip is tufpip's own pip, started once, by the target environment's
  interpreter: ``PY -I PIP_DIR/__pip-runner__.py --isolated ...``, what pip's
  ``--python`` runs in its second process (``-I``: no script folder or
  current folder on the import path, no ``PYTHON*`` variables, no user site;
  the runner imports exactly that pip and checks the Python version pip
  supports). ``--user`` needs the user site, which ``-I`` hides: there
  ``-E`` alone is used (then pip's own folder is on the path, as under
  pip's ``--python``; the current folder is not). ``--python DIR`` names
  the environment's ``bin/python``, as with pip. An old pip or none in the
  target environment does not matter.
  uv runs as ``uv pip install --no-config --index-strategy first-index
  --python PY``.
- The installer's environment is the caller's minus every ``PIP_*``,
  ``UV_*``, proxy and ``PYTHON*`` variable (``PYTHONUSERBASE``, where
  ``--user`` installs, is kept), with ``PIP_CONFIG_FILE`` set to the null
  device: no configuration file or variable can add a source. sdist builds
  inherit this environment.
- Network jail: every proxy variable names the verifying index itself, and
  no host is exempt (``NO_PROXY`` is removed). pip and uv then send every
  HTTP request, and every HTTPS tunnel, to the index, which serves its own
  URLs and refuses all others (``index``): a way around the argument checks
  that nobody has found yet still cannot fetch from anywhere else.
- pip's cache is tufpip's own (``HOME/cache/pip``, mode 0700), never the
  user's: a wheel planted in the user's pip cache under a signed sdist's
  cache key cannot reach an install. The index's URL is stable per
  repository, so pip reuses the wheels it built from sdists (keyed by the
  sdist's URL and sha256); its HTTP cache keeps nothing (every response is
  ``no-store``). pip caches plain-HTTP responses only from trusted hosts, so
  the index's ``HOST:PORT`` is passed as ``--trusted-host``. uv's cache stays
  off (``--no-cache``): uv reuses a cached wheel without checking it against
  the index's hash (tests/client/test_caches.py).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from tufindex.installers import without_installer_configuration
from tufpip.arguments import PIP, UV, Option
from tufpip.errors import UsageError

InstallerName = Literal["pip", "uv"]
Action = Literal["install", "download", "lock"]

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_DROPPED_PROXY_VARIABLES = {*_PROXY_VARIABLES, "no_proxy", "ftp_proxy"}
_KEPT_PYTHON_VARIABLES = {"PYTHONUSERBASE"}


def jailed_environment(environ: Mapping[str, str], index_url: str) -> dict[str, str]:
    """``environ`` without installer configuration, with every request sent to the index."""
    env = {
        key: value
        for key, value in without_installer_configuration(environ).items()
        if key.lower() not in _DROPPED_PROXY_VARIABLES
        and (not key.startswith("PYTHON") or key in _KEPT_PYTHON_VARIABLES)
    }
    parts = urlsplit(index_url)
    proxy = f"{parts.scheme}://{parts.netloc}"
    for variable in _PROXY_VARIABLES:
        env[variable] = env[variable.upper()] = proxy
    return env


def target_python(python: str | None, environ: Mapping[str, str]) -> str | None:
    """The interpreter of the environment to install into, as pip chooses it.

    ``python`` when given, else the active virtual environment's
    (``VIRTUAL_ENV`` set and its ``bin/python`` present), else None: only
    tufpip's own interpreter is left.
    """
    if python:
        return python
    if active := environ.get("VIRTUAL_ENV"):
        candidate = Path(active) / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    return None


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
        self.environ = dict(os.environ if environ is None else environ)

    @property
    def options(self) -> Mapping[str, Option]:
        """The installer's allow-list of options, for ``arguments.canonical_arguments``."""
        return PIP if self.name == "pip" else UV

    @property
    def interpreter(self) -> str:
        """The target environment's interpreter, found as pip finds ``--python``.

        Raises:
            UsageError: There is none.
        """
        return sys.executable if self.python is None else interpreter(self.python)

    @property
    def cutoff_option(self) -> str:
        """The option that leaves out files uploaded after a time (pip's, or uv's)."""
        return "--uploaded-prior-to" if self.name == "pip" else "--exclude-newer"

    def command(
        self, action: Action, index_url: str, args: Sequence[str], cache: Path | None = None
    ) -> list[str]:
        """The command line that runs ``action`` with ``args`` against ``index_url`` only.

        ``args`` must come from ``arguments.canonical_arguments``; ``cache`` is
        pip's cache folder (None: pip's cache off).
        """
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
                self.interpreter,
                *args,
            ]
        general = ["--isolated", "--disable-pip-version-check", "--no-input"]
        if cache is None or "--no-cache-dir" in args:
            general.append("--no-cache-dir")
        else:
            general.append(f"--cache-dir={cache}")
        index = ["--index-url", index_url, "--trusted-host", urlsplit(index_url).netloc]
        python = self.interpreter
        isolation = "-E" if "--user" in args else "-I"
        return [python, isolation, _pip_runner(), *general, action, *index, *args]

    def environment(self, index_url: str) -> dict[str, str]:
        """The environment the installer runs with (``jailed_environment``)."""
        return jailed_environment(self.environ, index_url)

    @contextlib.contextmanager
    def start(
        self,
        action: Action,
        index_url: str,
        args: Sequence[str],
        cwd: Path,
        cache: Path | None = None,
    ) -> Iterator[subprocess.Popen[bytes]]:
        """The running installer, in folder ``cwd``; its output goes to tufpip's own streams.

        Leaving the context waits for it; an exception (Ctrl-C) kills it first.
        """
        command = self.command(action, index_url, args, cache)
        environment = self.environment(index_url)
        with subprocess.Popen(
            command, env=environment, cwd=cwd, stdin=subprocess.DEVNULL
        ) as process:
            try:
                yield process
            except BaseException:
                process.kill()
                raise


def _pip_runner() -> str:
    """tufpip's own pip's ``__pip-runner__.py``, found without importing pip.

    Looked up only in tufpip's environment's site-packages, where ``python -I``
    would find it: never in ``PYTHONPATH``, the current folder or the user site.
    """
    paths = sysconfig.get_paths()
    spec = importlib.machinery.PathFinder.find_spec("pip", [paths["purelib"], paths["platlib"]])
    if spec is None or spec.origin is None:
        raise UsageError(f"pip is not installed for {sys.executable}")
    return str(Path(spec.origin).resolve().parent / "__pip-runner__.py")


def interpreter(python: str) -> str:
    """The interpreter ``--python`` names, as pip finds it: a file, or a venv folder's.

    Made absolute (symbolic links kept: a venv's ``python`` is one), as the
    installer runs in another folder.
    """
    path = Path(python)
    if path.is_dir():
        for executable in ("bin/python", "Scripts/python.exe"):
            if (path / executable).exists():
                return os.path.abspath(path / executable)
    elif path.exists():
        return os.path.abspath(path)
    raise UsageError(f"no Python interpreter at --python {python}")


def _uv_binary() -> str:
    try:
        import uv  # the optional extra, needed only with --installer uv
    except ImportError:
        raise UsageError("uv is not installed: install tufpip[uv]") from None
    return uv.find_uv_bin()
