"""Check that a change keeps the command line's outputs on the demo identical.

Builds the demo workspace once with the code of ``--before`` (a git revision, checked out in a
temporary worktree), then runs the same commands on copies of it with the before code and with
the code of this checkout (after ``outreach-map migrate``, so an older workspace is also shown to
open after a schema change), and compares the outputs byte for byte:

- ``coverage --format csv`` (the last 90 days and 2026-Q3),
- ``gaps`` (text),
- ``summary --format json``,
- ``plan route`` for team T1 tomorrow, with its run sheet CSV (on the demo after one
  ``plan assign`` by the before code: the assignment's solver stops on a time limit, so two runs
  may differ; the route's search stops after 200 solutions, not after a time, so it repeats).

Every command is run twice with the before code; a command whose two before runs differ is
reported as not deterministic instead of compared. Run it from the repository's root::

    python3 scripts/compare_cli.py --before bde290a

Exit code 0 when every output is identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = (
    "import sys\n"
    "try:\n    from mapping.cli.main import main\n"
    "except ModuleNotFoundError:\n    from mapping.cli import main\n"  # before the subpackages
    "sys.exit(main(sys.argv[1:]))"
)


def _commands(tomorrow: str) -> list[tuple[str, list[list[str]], str | None]]:
    """Return (name, command lines run in order, run sheet file or None) for each output."""
    route = [
        "plan", "route", "--team", "T1", "--date", tomorrow, "--start", "DEMO-S01",
        "--hours", "20:00-02:00", "--out", "{tmp}/runsheet.csv",
    ]  # fmt: skip
    return [
        ("coverage-90-days.csv", [["coverage", "--format", "csv"]], None),
        ("coverage-2026-Q3.csv", [["coverage", "--period", "2026-Q3", "--format", "csv"]], None),
        ("gaps.txt", [["gaps"]], None),
        ("summary.json", [["summary", "--format", "json"]], None),
        ("plan-route.txt", [route], "runsheet.csv"),
    ]


def _run(tree: Path, workspace: Path, argv: list[str], tmp: Path) -> str:
    """Run one command of the code in ``tree`` on ``workspace``; return what it printed."""
    env = dict(
        os.environ,
        PYTHONPATH=str(tree),
        OUTREACH_MAP_PLAN_SEARCH_SECONDS="60",
        OUTREACH_MAP_PLAN_SEARCH_SOLUTIONS="200",
    )
    env.pop("OUTREACH_MAP_WORKSPACE", None)
    args = [a.replace("{tmp}", str(tmp)) for a in argv]
    done = subprocess.run(
        [sys.executable, "-c", RUN, *args, "--workspace", str(workspace)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(
            f"{tree.name}: {' '.join(args)} failed ({done.returncode}):\n{done.stderr}"
        )
    return done.stdout.replace(str(tmp), "TMP").replace(str(workspace), "WORKSPACE")


def _outputs(tree: Path, demo: Path, work: Path, label: str, *, migrate: bool) -> dict[str, str]:
    """Run every command on a fresh copy of the demo; return each output by name."""
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    result: dict[str, str] = {}
    for name, lines, sheet in _commands(tomorrow):
        workspace = work / f"{label}-{name}"
        shutil.copytree(demo, workspace)
        tmp = work / f"{label}-{name}-out"
        tmp.mkdir()
        if migrate:
            said = _run(tree, workspace, ["migrate"], tmp).strip()
            if name == "coverage-90-days.csv":
                print(f"{label}: outreach-map migrate on a copy of the demo: {said}")
        text = "".join(_run(tree, workspace, line, tmp) for line in lines)
        if sheet:
            text += "\n--- run sheet ---\n" + (tmp / sheet).read_text()
        result[name] = text
    return result


def main() -> int:
    """Compare the outputs of ``--before`` and of this checkout; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="compare-cli-") as name:
        work = Path(name)
        before = work / "before-tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(before), args.before],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        try:
            demo = work / "demo"
            env = dict(os.environ, PYTHONPATH=str(before))
            subprocess.run(
                [sys.executable, "-c", RUN, "demo", "--no-serve", "--workspace", str(demo)],
                cwd=before, env=env, check=True, capture_output=True,
            )  # fmt: skip
            _run(before, demo, ["plan", "assign"], work)
            first = _outputs(before, demo, work, "before1", migrate=False)
            second = _outputs(before, demo, work, "before2", migrate=False)
            after = _outputs(ROOT, demo, work, "after", migrate=True)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False
            )
        failed = False
        for key, text in first.items():
            if text != second[key]:
                print(f"{key}: not deterministic (two runs of the before code differ), skipped")
                continue
            if text == after[key]:
                print(f"{key}: identical ({len(text.splitlines())} lines, {len(text)} bytes)")
                continue
            failed = True
            print(f"{key}: DIFFERS")
            diff = difflib.unified_diff(
                text.splitlines(), after[key].splitlines(), "before", "after", lineterm=""
            )
            print("\n".join(list(diff)[:40]))
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for key in first:
                (args.keep / f"before-{key}").write_text(first[key])
                (args.keep / f"after-{key}").write_text(after[key])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
