"""Reading facts about a target environment by running its interpreter once.

Rules:
- The interpreter runs isolated (``-I``: no ``PYTHON*`` variables, user
  site or current folder), writes no bytecode (``-B``), reads nothing on
  stdin, and prints one JSON document; anything else is a ``UsageError``
  naming what could not be read.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

from tufpip.errors import UsageError


def run(
    python: str, code: str, what: str, *, flags: Sequence[str] = (), args: Sequence[str] = ()
) -> Any:
    """The JSON that ``code`` prints, run as ``python -I -B FLAGS -c CODE ARGS``.

    Raises:
        UsageError: ``python`` cannot be run, fails, or prints no JSON.
    """
    try:
        result = subprocess.run(
            [python, "-I", "-B", *flags, "-c", code, *args],
            capture_output=True,
            text=True,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        return json.loads(result.stdout)
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read {what} of {python}: {exc}") from exc
