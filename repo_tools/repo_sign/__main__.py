"""``python -m repo_sign``: the ``repo-sign`` command, as its console script runs it."""

import sys

from repo_sign.cli import main

sys.exit(main())
