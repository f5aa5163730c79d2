"""``outreach-map config``: what a workspace records about the programme (its time zone).

The time zone is recorded at ``init``; this command shows it, and records one for a workspace
made before zones were recorded or for a programme that moved. A workspace with no recorded
zone keeps its earlier behaviour: ``OUTREACH_MAP_TIMEZONE``, else the server's clock.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mapping import clock
from mapping.cli.exits import EXIT_OK
from mapping.errors import WorkspaceError
from mapping.settings import get_settings
from mapping.storage.audit import Actor, record
from mapping.storage.workspace import (
    Workspace,
    open_workspace,
    read_config,
    record_timezone,
    workspace_path,
)


def add_config_parser(sub: Any, workspace_help: str) -> None:
    """Add the ``config`` command to the command line."""
    config = sub.add_parser(
        "config", help="show the workspace's time zone, or record one (--timezone)"
    )
    config.add_argument("--workspace", help=workspace_help)
    config.add_argument(
        "--timezone", help="record this time zone as the programme's, e.g. Africa/Nairobi"
    )


def config_command(args: argparse.Namespace) -> int:
    """Show the workspace's time zone, or record the one given; return the exit code."""
    workspace = open_workspace(workspace_path(args.workspace))
    if args.timezone:
        zone = clock.check_zone(args.timezone)
        before = workspace.timezone or "not recorded"
        workspace = record_timezone(workspace, zone)
        with workspace.begin() as connection:
            record(connection, Actor.command_line(), "setting", f"time zone {before} -> {zone}")
        print(f"time zone: {before} -> {zone}; today there is {clock.today(workspace)}")
        print(
            "visits, plans and releases already stored keep their dates; from now on every "
            "command and the app count days in this zone",
            file=sys.stderr,
        )
        return EXIT_OK
    print(describe_zone(workspace))
    return EXIT_OK


def describe_zone(workspace: Workspace) -> str:
    """Return one line saying which zone the workspace's clock uses, and where it comes from."""
    if workspace.timezone:
        return (
            f"time zone: {workspace.timezone} (recorded in the workspace); today there is "
            f"{clock.today(workspace)}"
        )
    name = clock.zone_name(workspace)
    source = f"{clock.ZONE_ENV}={name}" if name else "the server's clock"
    return (
        f"time zone: not recorded — {source} is used (today: {clock.today(workspace)}); "
        f"record one with `outreach-map config --workspace {workspace.path} --timezone NAME`"
    )


def zone_note(workspace_arg: str | None) -> str:
    """Return a note when ``OUTREACH_MAP_TIMEZONE`` differs from the workspace's zone, else ''.

    The workspace's recorded zone wins: the variable is only the zone ``init`` records when
    given none. Reads ``workspace.toml`` only; a missing or broken workspace is left to the
    command to report.
    """
    from_env = get_settings().timezone
    if not from_env:
        return ""
    try:
        area = read_config(workspace_path(workspace_arg)).get("area")
    except (WorkspaceError, OSError, ValueError):  # no or unreadable workspace: the command says
        return ""
    recorded = area.get("timezone") if isinstance(area, dict) else None
    if not recorded or recorded == from_env:
        return ""
    return (
        f"note: {clock.ZONE_ENV}={from_env} is not used: this workspace's time zone is "
        f"{recorded} (recorded in the workspace) — to change it run `outreach-map config "
        "--timezone NAME`"
    )
