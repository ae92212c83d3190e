"""Pulumi program of the one-time account bootstrap: GitHub OIDC, deploy roles, state backend."""

import sys
from pathlib import Path

# tenfold_infra is vendored once, in infra/; this project lives in infra/bootstrap/.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenfold_infra.bootstrap import run

run()
