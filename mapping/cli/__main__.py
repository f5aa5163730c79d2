"""``python -m mapping.cli``: the command line, exiting with its exit code."""

import sys

from mapping.cli.main import run

sys.exit(run())
