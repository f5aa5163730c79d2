"""``outreach-map export``: a differentially private release written to CSV (docs/disclosure.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mapping.cli.exits import EXIT_OK


def add_export_parser(sub: Any, workspace_help: str) -> None:
    """Add the ``export`` command to the command line."""
    export = sub.add_parser(
        "export", help="write a disclosure-controlled release (differential privacy) to CSV"
    )
    export.add_argument("--role", required=True, choices=["funder", "coordinator"])
    export.add_argument(
        "--period", required=True, help="a finished month or quarter: 2026-07, 2026-Q3"
    )
    export.add_argument(
        "--level", default="district", help="district, or an H3 resolution 0-6 (default district)"
    )
    export.add_argument(
        "--measure", default="people", help="people (default), tested or violence (districts only)"
    )
    export.add_argument("--out", required=True, type=Path, help="CSV file to write")
    export.add_argument("--workspace", help=workspace_help)
    export.add_argument(
        "--internal",
        action="store_true",
        help="coordinator only: raw counts marked INTERNAL, not disclosure-controlled",
    )


def export_command(args: argparse.Namespace) -> int:
    """Write a disclosure-controlled release (or internal raw counts); return the exit code."""
    from mapping.access.disclosure import export
    from mapping.storage.workspace import open_workspace, upgrade_store, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    upgrade_store(workspace)
    table = export(
        workspace,
        args.out,
        role=args.role,
        period=args.period,
        level=args.level,
        measure=args.measure,
        internal=args.internal,
    )
    released = table.filter(~table["key"].str.starts_with("_total"))["value"].drop_nulls()
    if args.internal:
        print(f"wrote {args.out}: INTERNAL raw counts, {table.height} groups — do not share")
    else:
        print(f"wrote {args.out}: {released.len()} of {table.height - 1} groups released")
    return EXIT_OK
