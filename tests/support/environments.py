"""Empty virtual environments for tests to install into."""

from __future__ import annotations

import venv
from pathlib import Path


def new_venv(path: Path) -> Path:
    """An empty virtual environment at ``path`` (no pip: tufpip brings its own).

    Made in process, as ``python -m venv --without-pip`` would make it, without
    paying for another interpreter start.
    """
    venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
    return path
