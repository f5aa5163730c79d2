"""The ``outreach-map`` command line: init, import, summary, demo, serve, analyses and wipe.

Exit codes: 0 on success (also when some rows were rejected), 2 for unusable input or arguments,
3 when the store cannot be reached or used, 1 when a wipe could not destroy everything it tried to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError

from mapping.errors import InvalidInputError, MappingError
from mapping.storage.store import store_error

EXIT_OK = 0
#: Network address the app listens on; 127.0.0.1 (this machine only) unless a deployment says.
ADDRESS_ENV = "OUTREACH_MAP_ADDRESS"
EXIT_UNUSABLE = 2
#: The store could not be reached or used (server down, wrong password, locked file).
EXIT_STORE = 3
#: Streamlit settings ``serve`` and ``demo`` pass on the command line, where they win over any
#: other config file on the machine; ``.streamlit/config.toml`` holds the same values (a test
#: checks they agree) and docs/security.md says why each is set.
STREAMLIT_OPTIONS: dict[str, str] = {
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "server.enableStaticServing": "true",
    "server.enableXsrfProtection": "true",
    "server.enableCORS": "true",
    "server.maxUploadSize": "200",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "browser.gatherUsageStats": "false",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outreach-map",
        description="Privacy-first outreach mapping for sex worker-led HIV programmes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    workspace_help = "workspace folder (default: $OUTREACH_MAP_WORKSPACE)"
    db_help = (
        "store URL, e.g. postgresql://outreach@db.internal/outreach (default: $OUTREACH_MAP_DB, "
        "else the SQLite file in the workspace); the password goes in PGPASSWORD or ~/.pgpass"
    )

    demo = sub.add_parser("demo", help="build the Lima demo workspace and start the app")
    demo.add_argument("--workspace", help="demo workspace folder (default: ./demo-workspace)")
    demo.add_argument("--no-serve", action="store_true", help="build it, do not start the app")
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--db", help=db_help)

    serve = sub.add_parser("serve", help="start the app on a workspace")
    serve.add_argument("--workspace", help=workspace_help)
    serve.add_argument("--port", type=int, default=8501)

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
        "--resolution", type=int, default=None, help="H3 storage resolution, 6-9 (default 8)"
    )
    init.add_argument("--name", help="area name (default: the folder name)")

    imp = sub.add_parser("import", help="import visits, services or hotspots")
    imp.add_argument("kind", choices=["visits", "services", "hotspots"])
    imp.add_argument("file", type=Path)
    imp.add_argument("--workspace", help=workspace_help)
    imp.add_argument("--mapping", type=Path, help="TOML file mapping columns and values")
    imp.add_argument(
        "--allow-outside", action="store_true", help="keep points outside every district"
    )

    summary = sub.add_parser("summary", help="what the workspace holds")
    summary.add_argument("--workspace", help=workspace_help)
    summary.add_argument("--format", choices=["text", "json"], default="text")

    formats = ("text", "csv", "json")
    period_help = "2026-Q3, 2026-09 or last-90-days (default: the last 90 days)"
    cover = sub.add_parser("coverage", help="coverage per district, ranked by gap score")
    cover.add_argument("--workspace", help=workspace_help)
    cover.add_argument("--period", help=period_help)
    cover.add_argument("--format", choices=formats, default="text")
    cover.add_argument("--cells", action="store_true", help="one row per cell instead")
    cover.add_argument("--explain", metavar="DISTRICT", help="how one district's row was computed")

    gaps = sub.add_parser("gaps", help="overdue and uncovered hotspots, emerging and fading ones")
    gaps.add_argument("--workspace", help=workspace_help)
    gaps.add_argument("--period", help=period_help)
    gaps.add_argument("--district", help="only this district (id)")
    gaps.add_argument("--format", choices=formats, default="text")

    sites = sub.add_parser("suggest-sites", help="cells where a new service would reach most")
    sites.add_argument("--service-type", required=True, help="e.g. hiv_testing, prep_pep")
    sites.add_argument("--count", type=int, default=5, help="how many sites (default 5)")
    sites.add_argument("--workspace", help=workspace_help)
    sites.add_argument("--period", help=period_help)
    sites.add_argument("--format", choices=formats, default="text")

    from mapping.cli.users import add_user_parser

    add_user_parser(sub)
    _add_wipe_parser(sub)
    _add_export_parser(sub, workspace_help)
    _add_store_parsers(sub, workspace_help)
    from mapping.cli.plan import add_plan_parser

    add_plan_parser(sub, workspace_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    The umask is set first, so that every file a command creates — the store, reports, and
    whatever the app started by ``serve`` writes — is readable by its owner only.
    """
    os.umask(0o077)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_UNUSABLE if exc.code not in (0, None) else EXIT_OK
    try:
        return int(_COMMANDS[args.command](args))
    except MappingError as exc:
        print(f"outreach-map: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OperationalError as exc:
        # a server that is down, refuses the account, or a store that is locked: say so
        # plainly (the driver's first line names host and port, never a password or a value)
        print(
            f"outreach-map: error: the store could not be used: {store_error(exc)} — check "
            "that the database server is running and the database exists (create it first, "
            "docs/deploy.md), and that the URL, user and password (PGPASSWORD or ~/.pgpass) "
            "are right; a SQLite store may be held by another program. Nothing was changed.",
            file=sys.stderr,
        )
        return EXIT_STORE
    except DBAPIError as exc:
        # refused by the database (a missing right after `migrate`, a constraint): one line,
        # never the statement's values, which may hold cells
        print(
            f"outreach-map: error: the store refused the command: {store_error(exc)} — if the "
            "app's database role lacks a right, run deploy/grant-app.sql again "
            "(docs/deploy.md). Nothing was changed.",
            file=sys.stderr,
        )
        return EXIT_STORE
    except BrokenPipeError:
        # the reader stopped early (`| head`): not an error; keep Python from complaining
        # again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from mapping.ingest.area import districts_from_file, init_area
    from mapping.settings import get_settings
    from mapping.storage.workspace import workspace_path

    path = workspace_path(args.workspace)
    districts = districts_from_file(
        args.districts,
        id_column=args.district_id,
        name_column=args.district_name,
        population_column=args.population,
    )
    settings = get_settings()
    resolution = args.resolution or settings.default_resolution
    init_area(path, districts, name=args.name or path.name, resolution=resolution, db_url=args.db)
    if resolution >= 9 and resolution <= settings.max_resolution:
        print(
            f"warning: resolution {resolution} cells are about one block (0.1 km²) and can "
            "name a single venue; anyone who sees the map or the store sees where people work. "
            "Use 8 unless the programme has decided otherwise.",
            file=sys.stderr,
        )
    print(f"created workspace {path}: {len(districts)} districts, cells at resolution {resolution}")
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    from mapping.ingest.area import hotspots_from_file, services_from_file
    from mapping.ingest.readers import mapping_from_file
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
    print(result.summary())
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    from mapping.analysis.summary import summary_text, workspace_summary
    from mapping.storage.workspace import open_workspace, workspace_path

    facts = workspace_summary(open_workspace(workspace_path(args.workspace)))
    print(
        json.dumps(facts, indent=2, default=str) if args.format == "json" else summary_text(facts)
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from mapping.cli.demo import build_demo

    path = Path(
        args.workspace or os.environ.get("OUTREACH_MAP_WORKSPACE") or "demo-workspace"
    ).resolve()
    build_demo(path, echo=print, db_url=args.db)
    if args.no_serve:
        return EXIT_OK
    # the demo is Lima: "open now" on the peer educator's page follows Lima's clock
    os.environ.setdefault("OUTREACH_MAP_TIMEZONE", "America/Lima")
    return _run_app(path, args.port)


def _serve(args: argparse.Namespace) -> int:
    from mapping.storage.workspace import open_workspace, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    return _run_app(workspace.path, args.port)


def _note_settings(path: Path) -> None:
    """Audit the access and disclosure settings that changed since the app last started."""
    from mapping.settings import get_settings
    from mapping.storage.audit import Actor, note_settings
    from mapping.storage.workspace import open_workspace, upgrade_store

    workspace = open_workspace(path)
    upgrade_store(workspace)
    with workspace.begin() as connection:
        for change in note_settings(connection, get_settings(), Actor.command_line()):
            print(f"setting changed since the last start: {change}", file=sys.stderr)


def _run_app(workspace: Path, port: int) -> int:
    _note_settings(workspace)
    app = Path(__file__).resolve().parents[2] / "app.py"
    if not app.exists():
        print(
            f"outreach-map: error: {app} is missing — run from a clone (pip install -e .)",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    env = {**os.environ, "OUTREACH_MAP_WORKSPACE": str(workspace)}
    address = os.environ.get(ADDRESS_ENV, "127.0.0.1")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    # A specific address (not 0.0.0.0) also stops Streamlit from asking an outside server
    # for this machine's public IP address when it starts.
    for option, value in {**STREAMLIT_OPTIONS, "server.address": address}.items():
        command += [f"--{option}", value]
    print(
        f"starting the app on http://{address}:{port} (workspace {workspace}); Ctrl+C stops it",
        flush=True,
    )
    # Become the Streamlit server rather than its parent, so that stopping this process (Ctrl+C,
    # SIGTERM from a service manager) stops the server and leaves nothing running.
    os.chdir(app.parent)
    os.execve(sys.executable, command, env)


def _coverage_data(args: argparse.Namespace) -> tuple[object, object]:
    from mapping.analysis.coverage import CoverageOptions, load_coverage_data
    from mapping.periods import parse_period
    from mapping.settings import get_settings
    from mapping.storage.workspace import open_workspace, workspace_path

    workspace = open_workspace(workspace_path(args.workspace))
    options = CoverageOptions.from_settings()
    period = parse_period(args.period, default_days=get_settings().default_period_days)
    return load_coverage_data(workspace, period), options


def _coverage(args: argparse.Namespace) -> int:
    from mapping.analysis.coverage import coverage_from_data
    from mapping.analysis.reports import (
        coverage_text,
        explain_district,
        explain_frame,
        frame_text,
        render,
    )

    data, options = _coverage_data(args)
    report = coverage_from_data(data, options)  # type: ignore[arg-type]
    if args.explain:
        if args.format == "text":
            print(explain_district(report, args.explain))
        else:
            meta = {**report.totals, "explanation": explain_district(report, args.explain)}
            print(render(explain_frame(report, args.explain), args.format, meta=meta))
        return EXIT_OK
    frame = report.cells.drop("cell") if args.cells else report.ranked()
    if args.format == "text":
        print(frame_text(frame) if args.cells else coverage_text(report))
    else:
        print(render(frame, args.format, meta=report.totals))
    return EXIT_OK


def _gaps(args: argparse.Namespace) -> int:
    from mapping.analysis.coverage import coverage_from_data
    from mapping.analysis.gaps import hotspot_gaps
    from mapping.analysis.reports import coverage_notes, find_district, frame_text, render

    data, options = _coverage_data(args)
    report = coverage_from_data(data, options)  # type: ignore[arg-type]
    district = find_district(report.districts, args.district) if args.district else None
    frame = hotspot_gaps(
        report,
        data,  # type: ignore[arg-type]
        district_id=district["district_id"] if district else None,
    )
    if args.format == "text":
        where = f" in {district['district']}" if district else ""
        print(f"hotspot findings{where}, {report.totals['period']}: {frame.height}")
        for note in coverage_notes(report):
            print(f"note: {note}")
        print(frame_text(frame.drop("district_id", "z_score")))
    else:
        print(render(frame, args.format, meta=report.totals))
    return EXIT_OK


def _suggest_sites(args: argparse.Namespace) -> int:
    import polars as pl

    from mapping.analysis.reports import frame_text, render
    from mapping.analysis.siting import suggest_sites
    from mapping.vocab import SERVICE_TYPES

    # check the arguments before reading the store
    if args.service_type not in SERVICE_TYPES:
        raise InvalidInputError(
            f"service type {args.service_type!r} is not one of: {', '.join(SERVICE_TYPES)}"
        )
    if args.count < 1:
        raise InvalidInputError(f"count {args.count} is not a number of sites — give 1 or more")
    data, options = _coverage_data(args)
    frame = suggest_sites(
        data,  # type: ignore[arg-type]
        options,  # type: ignore[arg-type]
        service_type=args.service_type,
        count=args.count,
    )
    if args.format == "text":
        print(
            f"up to {args.count} new {args.service_type} sites, each adding the most hotspots "
            "not yet within reach (weight = estimated sex workers)"
        )
        if frame.height == 0:
            print(
                "nothing to add: every active hotspot already has this service within reach, "
                "or no hotspot is registered"
            )
            return EXIT_OK
        print(
            frame_text(
                frame.with_columns(
                    pl.format("{} %", (pl.col("cumulative_share") * 100).round(0).cast(pl.Int64))
                )
            )
        )
        if frame.height < args.count:
            print(f"{frame.height} sites reach every hotspot that lacks this service")
    else:
        print(render(frame, args.format, meta={"service_type": args.service_type}))
    return EXIT_OK


def _user(args: argparse.Namespace) -> int:
    from mapping.cli.users import user_command

    return user_command(args)


# --- wipe: destroy a workspace's data and key in an emergency (mapping/storage/wipe.py) ---
EXIT_WIPE_INCOMPLETE = 1


def _add_wipe_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wipe = sub.add_parser(
        "wipe", help="destroy the workspace's data and contact-code key (emergency)"
    )
    wipe.add_argument("--workspace", help="workspace folder (default: $OUTREACH_MAP_WORKSPACE)")
    wipe.add_argument("--yes", action="store_true", help="really destroy it; there is no undo")


def _wipe(args: argparse.Namespace) -> int:
    from mapping.storage.audit import Actor
    from mapping.storage.wipe import wipe_plan, wipe_workspace
    from mapping.storage.workspace import workspace_path

    path = workspace_path(args.workspace)
    if not args.yes:
        plan = wipe_plan(path)
        print(
            f"outreach-map: error: this would destroy, with no undo, in {path}:\n"
            + "".join(f"  {line}\n" for line in plan)
            + "add --yes to wipe it",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    result = wipe_workspace(path, by=Actor.command_line().username)
    for line in result.destroyed:
        print(f"destroyed: {line}")
    for line in result.failures:
        print(f"FAILED: {line}", file=sys.stderr)
    for line in result.notes:
        print(f"note: {line}")
    state = "wiped" if result.complete else "partly wiped (see FAILED above)"
    print(
        f"{path} {state} in {result.seconds:.2f} s "
        f"({result.bytes_overwritten / 1e6:.1f} MB overwritten); "
        "see docs/security.md for what a wipe cannot reach"
    )
    return EXIT_OK if result.complete else EXIT_WIPE_INCOMPLETE


# --- end of wipe -------------------------------------------------------------------------------

_COMMANDS = {
    "init": _init,
    "import": _import,
    "summary": _summary,
    "demo": _demo,
    "serve": _serve,
    "coverage": _coverage,
    "gaps": _gaps,
    "suggest-sites": _suggest_sites,
    "user": _user,
    "wipe": _wipe,
}

# --- export: differentially private releases (docs/disclosure.md) ------------------------------


def _add_export_parser(sub: Any, workspace_help: str) -> None:
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


def _export(args: argparse.Namespace) -> int:
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


_COMMANDS["export"] = _export


def _add_store_parsers(sub: Any, workspace_help: str) -> None:
    from mapping.cli.store import add_store_parsers

    add_store_parsers(sub, workspace_help)


def _migrate(args: argparse.Namespace) -> int:
    from mapping.cli.store import migrate_command

    return migrate_command(args)


def _copy(args: argparse.Namespace) -> int:
    from mapping.cli.store import copy_command

    return copy_command(args)


def _plan(args: argparse.Namespace) -> int:
    from mapping.cli.plan import plan_command

    return plan_command(args)


_COMMANDS["plan"] = _plan
_COMMANDS["migrate"] = _migrate
_COMMANDS["copy"] = _copy

#: Commands that read every visit and hold no other connection meanwhile: run as a program of
#: their own (one thread), they may read the visits through ConnectorX.
FAST_READ_COMMANDS = frozenset({"coverage", "gaps", "suggest-sites"})


def run() -> int:
    """Run ``outreach-map`` as a program (the console script): :func:`main` in its own process.

    Only a process that is the command itself turns on the fast read of visits
    (:func:`mapping.analysis.coverage.allow_arrow_reads`): the process holds no other connection to
    the
    store. :func:`main` called from other code (the tests, a notebook) keeps the safe path.
    """
    argv = sys.argv[1:]
    if argv and argv[0] in FAST_READ_COMMANDS:
        from mapping.analysis.coverage import allow_arrow_reads

        allow_arrow_reads()
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
