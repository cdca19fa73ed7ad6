"""How an installer is made to see only the index it is given.

pip and uv read package sources from their own configuration: ``PIP_*`` and
``UV_*`` variables, and pip's configuration files (global, per user, per
virtual environment). Whoever runs one against a chosen index, repo-sign
importing from an upstream index or tufpip installing from its verifying
index, runs it in this environment: without those variables, and with
``PIP_CONFIG_FILE`` set to the null device, the only way to turn every pip
configuration file off (``--isolated`` alone leaves the global one on).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def without_installer_configuration(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without pip's and uv's configuration variables, pip's files off."""
    env = {k: v for k, v in environ.items() if not k.upper().startswith(("PIP_", "UV_"))}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env
