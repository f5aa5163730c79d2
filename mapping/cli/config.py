"""``outreach-map config``: what a workspace records about the programme (time zone, basemap).

The time zone is recorded at ``init``; this command shows it, and records one for a workspace
made before zones were recorded or for a programme that moved. A workspace with no recorded
zone keeps its earlier behaviour: ``OUTREACH_MAP_TIMEZONE``, else the server's clock.
``--basemap FILE`` checks a PMTiles street map and copies it into the workspace, where the app
serves it to every map (docs/basemap.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mapping import clock
from mapping.cli.exits import EXIT_OK
from mapping.errors import WorkspaceError
from mapping.maps.base import district_layers, layer_bounds
from mapping.maps.basemap import (
    BASEMAP_NAME,
    BasemapHeader,
    basemap_file,
    install_basemap,
    read_basemap_header,
)
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
        "config",
        help="show the workspace's time zone and basemap, or record them (--timezone, --basemap)",
    )
    config.add_argument("--workspace", help=workspace_help)
    config.add_argument(
        "--timezone", help="record this time zone as the programme's, e.g. Africa/Nairobi"
    )
    config.add_argument(
        "--basemap",
        metavar="FILE",
        help=f"check a PMTiles street map and copy it into the workspace as {BASEMAP_NAME}, "
        "drawn under every map (docs/basemap.md)",
    )


def config_command(args: argparse.Namespace) -> int:
    """Show the workspace's time zone and basemap, or record what is given; return the exit code."""
    workspace = open_workspace(workspace_path(args.workspace))
    if args.basemap:
        header = install_basemap(workspace, Path(args.basemap).expanduser())
        with workspace.begin() as connection:
            record(connection, Actor.command_line(), "setting", f"basemap {header.summary()}")
        print(f"basemap: {workspace.path / BASEMAP_NAME} — {header.describe()}")
        for warning in basemap_warnings(workspace, header):
            print(f"warning: {warning}", file=sys.stderr)
        print(
            "every map of the app now draws it (reload open pages); delete the file to go back "
            "to district outlines alone",
            file=sys.stderr,
        )
        if not args.timezone:
            return EXIT_OK
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
    print(describe_basemap(workspace))
    return EXIT_OK


#: A basemap that stops before this zoom level shows enlarged, blurred streets at block level.
STREET_ZOOM = 14


def _area_bounds(workspace: Workspace) -> tuple[float, float, float, float] | None:
    with workspace.connect() as connection:
        outlines, _ = district_layers(connection)
    return layer_bounds(outlines)


def basemap_warnings(workspace: Workspace, header: BasemapHeader) -> list[str]:
    """Return what a person should know about a basemap for this workspace's area, if anything."""
    warnings = []
    area = _area_bounds(workspace)
    if area is not None and not header.covers(area):
        west, south, east, north = area
        warnings.append(
            f"the basemap does not cover the whole area ({west:.4f},{south:.4f},{east:.4f},"
            f"{north:.4f} W,S,E,N): parts of it will have no streets — extract a larger "
            f"region, e.g. `pmtiles extract SOURCE {BASEMAP_NAME} --bbox="
            f"{west - 0.05:.2f},{south - 0.05:.2f},{east + 0.05:.2f},{north + 0.05:.2f}`"
        )
    if header.max_zoom < STREET_ZOOM:
        warnings.append(
            f"the basemap stops at zoom {header.max_zoom}: zoomed in to a block, its tiles are "
            f"shown enlarged — extract with --maxzoom=15 for streets a peer can read"
        )
    return warnings


def describe_basemap(workspace: Workspace) -> str:
    """Return one line saying whether the workspace has a basemap, and what it is."""
    file = basemap_file(workspace.path)
    if file is None:
        return (
            f"basemap: none — the maps show district outlines only; add streets with "
            f"`outreach-map config --workspace {workspace.path} --basemap FILE.pmtiles` "
            "(docs/basemap.md)"
        )
    try:
        header = read_basemap_header(file)
    except ValueError as exc:
        return f"basemap: {file} cannot be drawn: {exc}"
    return f"basemap: {file} — {header.describe()}"


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
