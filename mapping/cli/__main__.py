"""``python -m mapping.cli``: the command line."""

from mapping.cli.main import run

run()
