"""`outreach-map plan assign` and `plan route`: who covers which hotspot, and a shift's route."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapping.cli.formats import add_format_argument
from mapping.errors import InvalidInputError
from mapping.storage.workspace import open_workspace, upgrade_store, workspace_path

if TYPE_CHECKING:
    import polars as pl

    from mapping.planning.assignments import AssignmentResult
    from mapping.planning.plans import RoutePlan
    from mapping.storage.workspace import Workspace

#: Hotspots left out that the command lists (the app lists them all).
SHOWN = 10


def add_plan_parser(sub: Any, workspace_help: str) -> None:
    """Add the ``plan`` command and its ``assign`` and ``route`` actions to the command line."""
    plan = sub.add_parser("plan", help="assign hotspots to peer educators; plan a team's route")
    actions = plan.add_subparsers(dest="plan_action", required=True)
    assign = actions.add_parser(
        "assign", help="split the active hotspots between peer educators (workload norm)"
    )
    assign.add_argument(
        "--rebalance",
        action="store_true",
        help="assign every hotspot again (default: keep existing assignments, assign new ones)",
    )
    assign.add_argument("--workspace", help=workspace_help)
    add_format_argument(assign)
    route = actions.add_parser("route", help="plan the route of one or more teams for a shift")
    route.add_argument(
        "--team", required=True, action="append", help="team code (repeat for several teams)"
    )
    route.add_argument("--date", required=True, help="day the shift starts, YYYY-MM-DD")
    route.add_argument(
        "--start",
        required=True,
        action="append",
        help="id of the service the team leaves from and returns to (once for all teams, "
        "or once per --team in the same order)",
    )
    route.add_argument("--hours", required=True, help="the shift, HH:MM-HH:MM, e.g. 20:00-02:00")
    route.add_argument("--workspace", help=workspace_help)
    route.add_argument(
        "--out",
        help="also write the run sheet: FILE.pdf or FILE.csv (with several teams, one file "
        "per team, the team code added to the name)",
    )
    add_format_argument(route)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(
            f"--date {text!r} is not a date — write it as YYYY-MM-DD, e.g. 2026-11-28"
        ) from exc


def plan_command(args: argparse.Namespace) -> int:
    """Run ``plan assign`` or ``plan route``; return the exit code."""
    workspace = open_workspace(workspace_path(args.workspace))
    upgrade_store(workspace)
    if args.plan_action == "assign":
        return _assign(workspace, rebalance=args.rebalance, fmt=args.format)
    return _route(workspace, args)


def _assign(workspace: Any, *, rebalance: bool, fmt: str) -> int:
    from mapping.analysis.reports import render
    from mapping.planning.assignments import run_assignment
    from mapping.settings import get_settings

    result = run_assignment(workspace, rebalance=rebalance)
    norm = float(get_settings().workload_norm)
    rows = assignment_rows(workspace, result)
    if fmt == "csv":
        print(render(rows, "csv"))
    elif fmt == "json":
        meta = {
            "hotspots": result.assignments.height,
            "peer_educators": result.workloads.height,
            "kept": result.kept,
            "new": result.new,
            "changed": result.changed,
            "removed": result.removed,
            "rebalance": result.rebalance,
            "norm": norm,
        }
        print(render(_by_peer_educator(rows), "json", meta=meta))
    else:
        print(_assignment_text(result.summary(), rows, norm))
    return 0


def assignment_rows(workspace: Workspace, result: AssignmentResult) -> pl.DataFrame:
    """Return who covers what after an assignment run: one row per (peer educator, hotspot).

    Parameters
    ----------
    workspace
        The workspace the run was in (read for district and earlier peer educator names).
    result
        The run's :class:`mapping.planning.assignments.AssignmentResult`.

    Returns
    -------
    polars.DataFrame
        ``team``, ``peer_educator``, ``peer_educator_id``, ``hotspot`` (its code), ``district``
        (its name), ``people`` (estimated sex workers), ``change`` (``kept``, ``new`` or
        ``moved``), ``moved_from``, ``moved_from_team`` and ``moved_from_id`` (the earlier peer
        educator of a moved hotspot), then the peer educator's whole workload:
        ``workload_hotspots``, ``workload_people`` and ``workload_ratio`` (to the norm). An
        active peer educator with no hotspot has one row with the hotspot columns empty. Sorted
        by team, peer educator and hotspot. No cell, no coordinate.
    """
    import polars as pl
    import sqlalchemy as sa

    from mapping.planning.assignments import hotspot_districts
    from mapping.storage import store

    w = store.peer_educators.c
    with workspace.connect() as connection:
        peers = connection.execute(sa.select(w.id, w.peer_educator, w.team)).all()
        districts = hotspot_districts(connection).rename({"hotspot_id": "id"})
    earlier = pl.DataFrame(
        [tuple(row) for row in peers],
        schema={
            "previous_peer_educator_id": pl.Int64,
            "moved_from": pl.String,
            "moved_from_team": pl.String,
        },
        orient="row",
    )
    change = (
        pl.when(pl.col("kept"))
        .then(pl.lit("kept"))
        .when(pl.col("previous_peer_educator_id").is_null())
        .then(pl.lit("new"))
        .otherwise(pl.lit("moved"))
    )
    moved = pl.col("change") == "moved"
    hotspots = (
        result.assignments.join(districts, on="id", how="left")
        .join(earlier, on="previous_peer_educator_id", how="left")
        .with_columns(change.alias("change"))
        .select(
            "peer_educator_id",
            pl.col("id").alias("hotspot"),
            "district",
            pl.col("weight").cast(pl.Float64).alias("people"),
            "change",
            pl.when(moved).then(pl.col("moved_from")).alias("moved_from"),
            pl.when(moved).then(pl.col("moved_from_team")).alias("moved_from_team"),
            pl.when(moved).then(pl.col("previous_peer_educator_id")).alias("moved_from_id"),
        )
    )
    return (
        result.workloads.join(hotspots, on="peer_educator_id", how="left")
        .select(
            "team",
            "peer_educator",
            "peer_educator_id",
            "hotspot",
            "district",
            "people",
            "change",
            "moved_from",
            "moved_from_team",
            "moved_from_id",
            pl.col("hotspots").alias("workload_hotspots"),
            pl.col("sex_workers").alias("workload_people"),
            pl.col("ratio").alias("workload_ratio"),
        )
        .sort("team", "peer_educator", "hotspot", nulls_last=True)
    )


_PEER = ("team", "peer_educator", "peer_educator_id")
_WORKLOAD = ("workload_hotspots", "workload_people", "workload_ratio")


def _by_peer_educator(rows: pl.DataFrame) -> pl.DataFrame:
    """Return :func:`assignment_rows` nested: one row per peer educator, their hotspots a list."""
    import polars as pl

    hotspot = [c for c in rows.columns if c not in (*_PEER, *_WORKLOAD)]
    return (
        rows.group_by(*_PEER, *_WORKLOAD, maintain_order=True)
        .agg(pl.struct(hotspot).filter(pl.col("hotspot").is_not_null()).alias("assigned"))
        .rename(dict(zip(_WORKLOAD, ("hotspots", "people", "ratio"), strict=True)))
    )


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _assignment_text(summary: str, rows: pl.DataFrame, norm: float) -> str:
    """Return the run as a readable table per peer educator."""
    import polars as pl

    from mapping.analysis.reports import frame_text

    lines = [summary, f"workload norm: {_number(norm)} estimated sex workers per peer educator"]
    for (team, name, _), mine in rows.group_by(_PEER, maintain_order=True):
        first = mine.row(0, named=True)
        count = first["workload_hotspots"]
        lines.append(
            f"\n{name} (team {team}): {count} hotspot{'' if count == 1 else 's'}, "
            f"{_number(first['workload_people'])} estimated sex workers, "
            f"{first['workload_ratio'] * 100:.0f} % of the norm"
        )
        if not count:
            continue
        changes = [
            f"moved from {row['moved_from']} (team {row['moved_from_team']})"
            if row["change"] == "moved"
            else row["change"]
            for row in mine.iter_rows(named=True)
        ]
        table = mine.select(
            "hotspot",
            pl.col("district").fill_null("-"),
            pl.col("people").map_elements(_number, return_dtype=pl.String).alias("sex workers"),
            pl.Series("this run", changes, dtype=pl.String),
        )
        lines += ["  " + line.rstrip() for line in frame_text(table).splitlines()]
    return "\n".join(lines)


def _route(workspace: Any, args: argparse.Namespace) -> int:
    from mapping.i18n import translator
    from mapping.planning.plans import plan_routes, record_runsheet, save_plans

    words = translator("en")  # the reasons in the same words as the app's

    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".pdf", ".csv"):
        raise InvalidInputError(
            f"--out {out.name}: write the run sheet as .pdf or .csv (e.g. --out plan.pdf)"
        )
    starts = args.start[0] if len(args.start) == 1 else args.start
    plans = plan_routes(
        workspace,
        teams=args.team,
        day=_date(args.date),
        start=starts,
        hours=args.hours,
        save=False,
    )
    replaced = set(save_plans(workspace, plans))
    text = args.format == "text"
    # with csv or json, standard output is the data alone: the notes go to standard error
    note = print if text else partial(print, file=sys.stderr)
    sheets: dict[str, str] = {}
    for plan in plans:
        if text:
            _print_heading(plan)
        if plan.team in replaced:
            note(f"  (replaces the plan stored earlier for team {plan.team} that night)")
        if plan.nothing_reachable:
            note(
                f"  no hotspot of team {plan.team} can be reached from {plan.start_name}, "
                "worked and left in time: start from a service nearer the team's hotspots, "
                "or give a longer shift"
            )
        if text:
            _print_stops(plan)
            _print_left_out(plan, words)
        if out is not None:
            from mapping.planning.runsheet import runsheet_csv, runsheet_pdf
            from mapping.planning.sheet_map import map_districts

            target = out if len(plans) == 1 else out.with_stem(f"{out.stem}-{plan.team}")
            if target.suffix.lower() == ".pdf":
                target.write_bytes(runsheet_pdf(plan, districts=map_districts(workspace, plan)))
            else:
                target.write_bytes(runsheet_csv(plan))
            record_runsheet(workspace, plan, target.suffix.lower().lstrip("."))
            sheets[plan.team] = str(target)
            note(f"  run sheet: {target}")
    if not text:
        from mapping.analysis.reports import render

        if args.format == "csv":
            print(render(route_stops(plans), "csv"))
        else:
            print(render(_routes_nested(plans, replaced, sheets, words), "json"))
    return 0


def _print_heading(plan: Any) -> None:
    """Print a plan's line: team, night, start, stops, travel and when it is back."""
    back = f", back by {plan.back:%H:%M}" if plan.back else ""
    stops = "1 stop" if plan.stops.height == 1 else f"{plan.stops.height} stops"
    print(
        f"team {plan.team}, {plan.day:%a %d %b %Y} {plan.hours} from {plan.start_name}: "
        f"{stops}, {plan.travel_minutes:.0f} min travel{back} ({plan.travel})"
    )


def _print_stops(plan: Any) -> None:
    """Print a plan's stops, one line each."""
    for row in plan.stops.iter_rows(named=True):
        flags = [
            name
            for name, on in (
                ("overdue", row["overdue"]),
                ("missed last plan", row["missed_before"]),
                ("follow-up due", row["follow_up"]),
            )
            if on
        ]
        print(
            f"  {row['seq']:>2}. {row['cell_id']}  {row['district'] or '-':<22} "
            f"arrive {row['arrive']:%H:%M} (by {row['arrive_until']:%H:%M}), "
            f"{row['minutes_there']} min" + (f"  [{', '.join(flags)}]" if flags else "")
        )


def _print_left_out(plan: Any, words: Any) -> None:
    """Print the hotspots a plan left out, highest priority first, the first :data:`SHOWN`."""
    if not plan.left_out.height:
        return
    print(f"  left out: {plan.left_out.height} hotspots, highest priority first:")
    for row in plan.left_out.head(SHOWN).iter_rows(named=True):
        print(f"     {row['hotspot_id']}: {words('plan.reason_' + row['reason'])}")
    if plan.left_out.height > SHOWN:
        print(f"     … and {plan.left_out.height - SHOWN} more (the Plan page lists all)")


def route_stops(plans: list[RoutePlan]) -> pl.DataFrame:
    """Return the stops of ``plans`` as the command prints them: one row per stop, in order.

    Parameters
    ----------
    plans
        :class:`mapping.planning.plans.RoutePlan` of one or more teams.

    Returns
    -------
    polars.DataFrame
        ``team``, ``date`` (the day the shift starts), ``seq``, ``hotspot`` (its code),
        ``district``, ``cell_id``, ``arrive`` and ``arrive_until`` (``HH:MM``; after midnight
        for a night shift), ``minutes_there``, ``overdue``, ``missed_before``, ``follow_up``,
        and ``route_travel_minutes``: the whole route's travel, the start and the way back
        included (a plan keeps no minutes per leg). No coordinate, no size estimate.
    """
    import polars as pl

    frames = [
        plan.stops.select(
            pl.lit(plan.team, dtype=pl.String).alias("team"),
            pl.lit(plan.day.isoformat(), dtype=pl.String).alias("date"),
            "seq",
            pl.col("hotspot_id").alias("hotspot"),
            pl.col("district").cast(pl.String),
            pl.col("cell_id").cast(pl.String),
            pl.col("arrive").dt.strftime("%H:%M"),
            pl.col("arrive_until").dt.strftime("%H:%M"),
            "minutes_there",
            "overdue",
            "missed_before",
            "follow_up",
            pl.lit(round(plan.travel_minutes), dtype=pl.Int64).alias("route_travel_minutes"),
        )
        for plan in plans
    ]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def _routes_nested(
    plans: list[RoutePlan], replaced: set[str], sheets: dict[str, str], words: Any
) -> pl.DataFrame:
    """Return one row per plan, its stops and the hotspots it left out as lists."""
    import polars as pl

    stops = route_stops(plans)
    per_route = ("team", "date", "route_travel_minutes")
    stop = pl.Struct({k: v for k, v in stops.schema.items() if k not in per_route})
    gone = pl.Struct({"hotspot": pl.String, "reason": pl.String, "why": pl.String})
    rows = [
        {
            "team": plan.team,
            "date": plan.day.isoformat(),
            "hours": plan.hours,
            "start": plan.start_name,
            "travel_minutes": round(plan.travel_minutes),
            "back": None if plan.back is None else f"{plan.back:%H:%M}",
            "travel": plan.travel,
            "replaces_earlier_plan": plan.team in replaced,
            "nothing_reachable": plan.nothing_reachable,
            "run_sheet": sheets.get(plan.team),
            "stops": stops.filter(pl.col("team") == plan.team).drop(per_route).to_dicts(),
            "left_out": [
                {
                    "hotspot": row["hotspot_id"],
                    "reason": row["reason"],
                    "why": words("plan.reason_" + row["reason"]),
                }
                for row in plan.left_out.iter_rows(named=True)
            ],
        }
        for plan in plans
    ]
    return pl.DataFrame(
        rows,
        schema={
            "team": pl.String,
            "date": pl.String,
            "hours": pl.String,
            "start": pl.String,
            "travel_minutes": pl.Int64,
            "back": pl.String,
            "travel": pl.String,
            "replaces_earlier_plan": pl.Boolean,
            "nothing_reachable": pl.Boolean,
            "run_sheet": pl.String,
            "stops": pl.List(stop),
            "left_out": pl.List(gone),
        },
    )
