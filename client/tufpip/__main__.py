import sys

from tufpip.cli import main

sys.exit(main())
