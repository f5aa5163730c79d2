"""Benchmark: one night's routes for five teams on the Lima demo, beside the nearest-neighbour rule.

Run with ``python benchmarks/bench_planning.py [--quick]``. The demo workspace (real Lima +
Callao districts and facilities, the demo's hotspot registry and synthetic visits to ``END``)
is built once, in its own process and not timed. Five teams then plan the Saturday night after
(20:00-02:00) with :func:`mapping.planning.plans.plan_routes` (not saved), each leaving from one of
the demo's drop-in centres, and every team may visit any active hotspot. The run prints the
wall time of planning (loading included), the stops per team, a check of every stop against
the hotspot's working hours, and the nearest-neighbour rule on the very same routing problem
as ratios. A synthetic scaling run then times the solver alone on larger shifts. Peak memory
is the process's peak resident set size (OR-Tools allocates outside Python's heap).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: The demo's last day of visits; the night planned is the Saturday after it.
END = dt.date(2026, 11, 22)
NIGHT = END + dt.timedelta(days=(5 - END.weekday()) % 7 or 7)
HOURS = "20:00-02:00"
#: The demo's drop-in centres, one per team.
STARTS = ["DEMO-S01", "DEMO-S18", "DEMO-S28", "DEMO-S32", "DEMO-S39"]
SEED = 11


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(path: Path) -> float:
    """Build the demo in a child process (so its memory is not this process's peak)."""
    began = time.perf_counter()
    code = (
        "import datetime as dt, pathlib; from mapping.cli.demo import build_demo; "
        f"build_demo(pathlib.Path({str(path)!r}), end=dt.date.fromisoformat({END.isoformat()!r}))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - began


def _demo_night(path: Path, search_seconds: float) -> None:
    import polars as pl
    import sqlalchemy as sa

    from mapping.hours import working_mask
    from mapping.planning import plans as planning
    from mapping.planning.plans import PlanOptions, plan_routes
    from mapping.planning.routes import nearest_neighbour_routes
    from mapping.storage import store
    from mapping.storage.workspace import open_workspace
    from mapping.vocab import SERVICE_TYPES

    workspace = open_workspace(path)
    with workspace.connect() as connection:
        teams = sorted(
            str(t) for (t,) in connection.execute(sa.select(store.peer_educators.c.team).distinct())
        )[: len(STARTS)]
        s = store.services.c
        kinds = dict(
            connection.execute(sa.select(s.id, s.service_type).where(s.id.in_(STARTS))).all()
        )
        h = store.hotspots.c
        hours_of = {
            row.id: (row.days, row.hours)
            for row in connection.execute(sa.select(h.id, h.days, h.hours, h.active))
            if row.active
        }
    missing = [sid for sid in STARTS if SERVICE_TYPES[kinds.get(sid, 0) - 1] != "drop_in_centre"]
    if missing or len(teams) < len(STARTS):
        raise SystemExit(f"demo has no drop-in centre {missing} or fewer than 5 teams {teams}")

    # keep the routing problem plan_routes builds, to run the baseline on exactly the same one
    seen: dict[str, object] = {}
    solve = planning.solve_routes

    def capture(problem, *, time_limit_s):  # type: ignore[no-untyped-def]
        seen["problem"] = problem
        seen["solution"] = solution = solve(problem, time_limit_s=time_limit_s)
        return solution

    options = PlanOptions.from_settings()
    options = PlanOptions(**{**options.__dict__, "search_seconds": search_seconds})
    planning.solve_routes = capture  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        plans = plan_routes(
            workspace,
            teams=teams,
            day=NIGHT,
            start=STARTS,
            hours=HOURS,
            options=options,
            now=dt.datetime.combine(END, dt.time(12)),
            save=False,
        )
        wall = time.perf_counter() - began
    finally:
        planning.solve_routes = solve
    problem, solution = seen["problem"], seen["solution"]
    baseline = nearest_neighbour_routes(problem)  # type: ignore[arg-type]

    # every stop inside its hotspot's working hours and inside the shift, minute by minute
    outside = 0
    shift_start = plans[0].shift_start
    for plan in plans:
        for row in plan.stops.select("hotspot_id", "arrive", "minutes_there").iter_rows():
            mask = working_mask(*(part or None for part in hours_of[row[0]]))
            first = (row[1] - shift_start).total_seconds() // 60
            for minute in range(int(first), int(first) + row[2]):
                moment = shift_start + dt.timedelta(minutes=minute)
                slot = (moment.weekday() * 1440 + moment.hour * 60 + moment.minute) // 15
                outside += int(not mask[slot] or moment >= plan.shift_end)
    hotspots = len(problem.hotspots)  # type: ignore[attr-defined]
    not_working = sum(1 for w in problem.windows if not w)  # type: ignore[attr-defined]
    ours = solution.priority(problem)  # type: ignore[attr-defined]
    theirs = baseline.priority(problem)  # type: ignore[arg-type]
    print(
        f"demo night {NIGHT:%a %Y-%m-%d} {HOURS}, teams {', '.join(teams)} from "
        f"{', '.join(STARTS)}, search {search_seconds:g} s, {os.cpu_count()} cores"
    )
    print(
        f"  plan_routes wall time   {wall:6.2f} s (solver {solution.seconds:.2f} s)"  # type: ignore[attr-defined]
    )
    print(f"  hotspots considered     {hotspots} ({not_working} not working that night)")
    print(
        "  stops per team          "
        + ", ".join(f"{p.team} {p.stops.height}" for p in plans)
        + f" = {sum(p.stops.height for p in plans)}"
    )
    print(f"  stop-minutes outside working hours or shift: {outside}")
    reasons = pl.Series(list(solution.dropped.values())).value_counts(sort=True)  # type: ignore[attr-defined]
    print("  left out                " + ", ".join(f"{r} {n}" for r, n in reasons.iter_rows()))
    print(
        f"  vs nearest neighbour    priority served {ours:.1f} vs {theirs:.1f} "
        f"(x{ours / theirs:.2f}), stops {sum(len(r.stops) for r in solution.routes)} vs "  # type: ignore[attr-defined]
        f"{sum(len(r.stops) for r in baseline.routes)}, travel "
        f"{solution.travel:.0f} vs {baseline.travel:.0f} min, "  # type: ignore[attr-defined]
        f"travel per priority x{(solution.travel / ours) / (baseline.travel / theirs):.2f}"  # type: ignore[attr-defined]
    )


def _synthetic(teams: int, per_team: int, search_seconds: float) -> None:
    """Time the solver on a random 6-hour shift on foot; hotspots as dense as in central Lima."""
    from mapping.planning.routes import RoutingProblem, nearest_neighbour_routes, solve_routes

    rng = np.random.default_rng(SEED + teams)
    hotspots, horizon = teams * per_team, 360
    n = teams + hotspots
    side = 1.2 * math.sqrt(teams)  # km: each team's share of the area is about 1.4 km2
    xy = rng.uniform(0, side, (n, 2))
    minutes = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(axis=2)) / 4.5 * 60
    service = np.concatenate([np.zeros(teams), rng.integers(10, 31, hotspots)])
    windows: list[list[tuple[int, int]]] = [[(0, horizon)]] * teams
    for stay in service[teams:]:
        begin = int(rng.choice([0, 0, 60, 120, 180]))
        end = min(horizon, begin + int(rng.integers(90, 361)))
        windows.append([(begin, end - int(stay))] if end - stay >= begin else [])
    problem = RoutingProblem(
        minutes=minutes,
        service=service,
        windows=windows,
        priority=np.concatenate([np.zeros(teams), np.round(rng.lognormal(0, 0.7, hotspots), 1)]),
        horizon=horizon,
        starts=list(range(teams)),
    )
    began = time.perf_counter()
    solution = solve_routes(problem, time_limit_s=search_seconds)
    wall = time.perf_counter() - began
    baseline = nearest_neighbour_routes(problem)
    ours, theirs = solution.priority(problem), baseline.priority(problem)
    print(
        f"  {teams:2d} teams x {per_team:2d} hotspots: solve {wall:5.2f} s, "
        f"stops {sum(len(r.stops) for r in solution.routes):3d} vs NN "
        f"{sum(len(r.stops) for r in baseline.routes):3d}, priority x{ours / theirs:.2f}, "
        f"travel per priority x{(solution.travel / ours) / (baseline.travel / theirs):.2f}"
    )


def main() -> None:
    """Build the demo, plan the night, run the scaling shifts and print the numbers."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short searches, small shifts")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    search = 1.0 if args.quick else 3.0
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "lima"
        built = _build(path)
        print(f"demo workspace built in {built:.0f} s (not timed below)")
        _demo_night(path, search)
    print(f"synthetic shifts, 6 hours on foot, search {search:g} s each:")
    for teams, per_team in [(5, 25)] if args.quick else [(5, 25), (10, 50)]:
        _synthetic(teams, per_team, search)
    print(f"peak memory (max RSS of this process) {_peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
