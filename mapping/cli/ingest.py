"""``outreach-map init`` and ``import``: a workspace made from district outlines, files read in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapping.cli.exits import EXIT_OK
from mapping.cli.formats import add_format_argument
from mapping.settings import Settings

if TYPE_CHECKING:
    from mapping.storage.workspace import Workspace


def add_ingest_parsers(sub: Any, workspace_help: str, db_help: str) -> None:
    """Add the ``init`` and ``import`` commands to the command line."""
    init = sub.add_parser("init", help="create a workspace from a district polygon file")
    init.add_argument("--workspace", required=True)
    init.add_argument("--db", help=db_help)
    init.add_argument(
        "--districts", required=True, type=Path, help="GeoJSON, GeoPackage or Shapefile"
    )
    init.add_argument("--district-id", required=True, help="column with the district id")
    init.add_argument("--district-name", required=True, help="column with the district name")
    init.add_argument("--population", help="column with a population or size estimate")
    init.add_argument(
        "--resolution",
        type=int,
        default=None,
        help=f"H3 storage resolution, {Settings.min_resolution}-{Settings.max_resolution} "
        f"(default {Settings.default_resolution})",
    )
    init.add_argument("--name", help="area name (default: the folder name)")
    init.add_argument(
        "--timezone",
        help="the programme's time zone, e.g. Africa/Nairobi (default: $OUTREACH_MAP_TIMEZONE, "
        "else the server's zone, else UTC)",
    )

    imp = sub.add_parser("import", help="import visits, services or hotspots")
    imp.add_argument("kind", choices=["visits", "services", "hotspots"])
    imp.add_argument("file", type=Path)
    imp.add_argument("--workspace", help=workspace_help)
    imp.add_argument("--mapping", type=Path, help="TOML file mapping columns and values")
    imp.add_argument(
        "--allow-outside", action="store_true", help="keep points outside every district"
    )
    add_format_argument(imp)


def init_command(args: argparse.Namespace) -> int:
    """Create a workspace from a district polygon file; return the exit code."""
    from mapping.ingest.area import (
        init_area,
        read_district_file,
        small_districts,
        small_districts_warning,
    )
    from mapping.settings import get_settings
    from mapping.storage.workspace import workspace_path

    path = workspace_path(args.workspace)
    zone, why = _zone(args.timezone)
    district_file = read_district_file(
        args.districts,
        id_column=args.district_id,
        name_column=args.district_name,
        population_column=args.population,
    )
    districts = district_file.districts
    settings = get_settings()
    resolution = args.resolution or settings.default_resolution
    workspace = init_area(
        path, districts, name=args.name or path.name, resolution=resolution, db_url=args.db
    )
    if resolution >= 9 and resolution <= settings.max_resolution:
        print(
            f"warning: resolution {resolution} cells are about one block (0.1 km²) and can "
            "name a single venue; anyone who sees the map or the store sees where people work. "
            "Use 8 unless the programme has decided otherwise.",
            file=sys.stderr,
        )
    for repair in district_file.repairs:
        print(f"warning: repaired {repair}", file=sys.stderr)
    small = small_districts_warning(
        small_districts(districts, resolution), max_resolution=settings.max_resolution
    )
    if small:
        print(f"warning: {small}", file=sys.stderr)
    print(f"created workspace {path}: {len(districts)} districts, cells at resolution {resolution}")
    _record_zone(workspace, zone, why)
    return EXIT_OK


def _zone(given: str | None) -> tuple[str, str]:
    """Return the zone ``init`` records and why: ``--timezone``, else the default (checked)."""
    from mapping import clock

    if given:
        return clock.check_zone(given), "from --timezone"
    return clock.default_zone()


def _record_zone(workspace: Workspace, zone: str, why: str) -> None:
    """Record ``zone`` in the new workspace (if it holds another) and say how to change it."""
    from mapping.storage.workspace import record_timezone

    if workspace.timezone != zone:
        record_timezone(workspace, zone)
    print(
        f'time zone: {zone} ({why}) — "today" is this zone\'s day in every command and the '
        f"app; change it with `outreach-map config --workspace {workspace.path} --timezone NAME`"
    )


def import_command(args: argparse.Namespace) -> int:
    """Import visits, services or hotspots from a file; return the exit code."""
    from mapping.ingest.readers import mapping_from_file
    from mapping.ingest.registry_files import hotspots_from_file, services_from_file
    from mapping.ingest.visits import visits_from_file
    from mapping.storage.workspace import open_workspace, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    mapping = mapping_from_file(args.mapping)
    if args.kind == "visits":
        result = visits_from_file(
            workspace,
            args.file,
            mapping=mapping,
            allow_outside=args.allow_outside,
            progress=sys.stderr.isatty(),
        )
    elif args.kind == "services":
        result = services_from_file(
            workspace, args.file, mapping=mapping, allow_outside=args.allow_outside
        )
    else:
        result = hotspots_from_file(
            workspace, args.file, mapping=mapping, allow_outside=args.allow_outside
        )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.format == "text":
        print(result.summary())
        return EXIT_OK
    import polars as pl

    from mapping.analysis.reports import render

    counts = {
        "kind": result.kind,
        "rows_read": result.rows_read,
        "records": result.records,
        "accepted": result.accepted,
        "updated": result.updated,
        "duplicates": result.duplicates,
        "skipped": result.skipped,
        "rejected": result.rejected,
        "report": None if result.report is None else str(result.report),
    }
    frame = pl.DataFrame([counts], schema_overrides={"report": pl.String})
    print(render(frame, args.format, meta={"warnings": result.warnings}))
    return EXIT_OK
