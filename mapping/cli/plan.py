"""`outreach-map plan assign` and `plan route`: who covers which hotspot, and a shift's route."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from mapping.errors import InvalidInputError
from mapping.storage.workspace import open_workspace, upgrade_store, workspace_path

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
        return _assign(workspace, rebalance=args.rebalance)
    return _route(workspace, args)


def _assign(workspace: Any, *, rebalance: bool) -> int:
    from mapping.planning.assignments import run_assignment

    result = run_assignment(workspace, rebalance=rebalance)
    print(result.summary())
    return 0


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
    for plan in plans:
        back = f", back by {plan.back:%H:%M}" if plan.back else ""
        stops = "1 stop" if plan.stops.height == 1 else f"{plan.stops.height} stops"
        print(
            f"team {plan.team}, {plan.day:%a %d %b %Y} {plan.hours} from {plan.start_name}: "
            f"{stops}, {plan.travel_minutes:.0f} min travel{back} ({plan.travel})"
        )
        if plan.team in replaced:
            print(f"  (replaces the plan stored earlier for team {plan.team} that night)")
        if plan.nothing_reachable:
            print(
                f"  no hotspot of team {plan.team} can be reached from {plan.start_name}, "
                "worked and left in time: start from a service nearer the team's hotspots, "
                "or give a longer shift"
            )
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
        if plan.left_out.height:
            print(f"  left out: {plan.left_out.height} hotspots, highest priority first:")
            for row in plan.left_out.head(SHOWN).iter_rows(named=True):
                reason = words("plan.reason_" + row["reason"])
                print(f"     {row['hotspot_id']}: {reason}")
            if plan.left_out.height > SHOWN:
                print(f"     … and {plan.left_out.height - SHOWN} more (the Plan page lists all)")
        if out is not None:
            from mapping.planning.runsheet import runsheet_csv, runsheet_pdf
            from mapping.planning.sheet_map import map_districts

            target = out if len(plans) == 1 else out.with_stem(f"{out.stem}-{plan.team}")
            if target.suffix.lower() == ".pdf":
                target.write_bytes(runsheet_pdf(plan, districts=map_districts(workspace, plan)))
            else:
                target.write_bytes(runsheet_csv(plan))
            record_runsheet(workspace, plan, target.suffix.lower().lstrip("."))
            print(f"  run sheet: {target}")
    return 0
