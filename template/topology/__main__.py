"""``python3 -m topology``: see ``topology/cli.py``."""

import sys

from topology.cli import main

sys.exit(main())
