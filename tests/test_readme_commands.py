"""The README's two commands work on a stock Debian Python; CI runs the second as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = "python3 -m venv .venv && . .venv/bin/activate && "


def command_lines() -> list[str]:
    """The README's shell lines that start with ``python3``, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("## Two commands") :]
    block = block[block.index("```sh") : block.index("```", block.index("```sh") + 5)]
    return [line for line in block.splitlines() if line.startswith("python3")]


def test_both_commands_make_a_virtual_environment_first() -> None:
    """PEP 668: a system Python refuses ``pip install`` outside a virtual environment."""
    start, test = command_lines()
    assert start.startswith(VENV) and start.endswith("outreach-map demo")
    assert test.startswith(VENV) and test.endswith("&& python3 -m pytest")
    # nothing installs into the interpreter itself
    assert all(" pip install" not in line.split("activate")[0] for line in (start, test))


def test_ci_runs_the_readme_test_command_read_from_the_readme() -> None:
    """`.ci/run` takes the line from the README (so they cannot drift) on Debian's python3."""
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python3 python3-venv" in run
    pattern = re.search(r'grep -E "(.+?)" README\.md', run)
    assert pattern is not None
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    found = [line for line in readme if re.search(pattern.group(1), line)]
    assert found == [command_lines()[1]]
    assert run.rstrip().endswith('eval "$readme_test_command"')
