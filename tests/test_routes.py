"""Routes: hand-made shifts whose best route is known, checked feasible outside the solver."""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pytest

from mapping.errors import InvalidInputError
from mapping.hours import working_mask
from mapping.planning.routes import (
    NO_TIME,
    NOT_WORKING,
    UNREACHABLE,
    RoutingProblem,
    RoutingSolution,
    best_route_by_enumeration,
    nearest_neighbour_routes,
    solve_routes,
    timeline,
)
from mapping.planning.shifts import parse_shift, shift_windows

#: Search time per solve: every instance here is small, so a short search is enough.
LIMIT = 0.3
#: Search time where the test expects the exact optimum: 0.3 s missed it once on a loaded
#: machine (a fresh-clone run beside a browser and a served app).
EXACT_LIMIT = 1.5
#: A shift window open from start to end.
ANY = (0, 10_000)


def problem(
    minutes: np.ndarray | list[list[float]],
    *,
    service: list[float],
    windows: list[list[tuple[int, int]]] | None = None,
    priority: list[float] | None = None,
    horizon: int,
    starts: list[int] | None = None,
    allowed: list[list[int] | None] | None = None,
) -> RoutingProblem:
    n = len(service)
    starts = starts or [0]
    return RoutingProblem(
        minutes=np.asarray(minutes, dtype=float),
        service=np.asarray(service, dtype=float),
        windows=windows or [[(0, horizon)]] * n,
        priority=np.asarray(priority or [0.0 if i in starts else 1.0 for i in range(n)]),
        horizon=horizon,
        starts=starts,
        allowed=allowed,
    )


def euclidean(points: list[tuple[float, float]]) -> np.ndarray:
    """Return travel minutes between points given in minutes of walking (to the whole second)."""
    xy = np.asarray(points, dtype=float)
    minutes = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    return np.round(minutes * 60) / 60


def check_feasible(p: RoutingProblem, solution: RoutingSolution) -> None:
    """Re-walk every route with plain arithmetic: windows, waiting, service, return, teams."""
    seen: list[int] = []
    for route in solution.routes:
        start = p.starts[route.team]
        now, here, travel = 0.0, start, 0.0
        for stop, planned in zip(route.stops, route.arrivals, strict=True):
            assert stop not in p.starts
            if p.allowed is not None and p.allowed[stop] is not None:
                assert route.team in (p.allowed[stop] or []), (route.team, stop)
            now += float(p.minutes[here, stop])
            travel += float(p.minutes[here, stop])
            later = [begin for begin, end in p.windows[stop] if now <= end + 1e-6]
            assert later, f"team {route.team} reaches {stop} at {now}, after its windows"
            now = max(now, float(later[0]))  # wait for the hotspot to start working
            assert any(begin - 1e-6 <= now <= end + 1e-6 for begin, end in p.windows[stop])
            assert planned == pytest.approx(now, abs=1e-6)
            now += float(p.service[stop])
            here = stop
        now += float(p.minutes[here, start])
        travel += float(p.minutes[here, start])
        assert now <= p.horizon + 1e-6, f"team {route.team} back at {now} > {p.horizon}"
        if route.stops:
            assert route.back == pytest.approx(now, abs=1e-6)
        assert route.travel == pytest.approx(travel, abs=1e-6)
        seen += route.stops
    assert len(seen) == len(set(seen)), "a hotspot visited twice"
    assert set(seen) | set(solution.dropped) == set(p.hotspots)
    assert not set(seen) & set(solution.dropped)


def solve(p: RoutingProblem, limit: float = LIMIT) -> RoutingSolution:
    solution = solve_routes(p, time_limit_s=limit)
    check_feasible(p, solution)
    return solution


# --- hand-made shifts ----------------------------------------------------------------------


def test_points_on_a_line_are_visited_out_and_back() -> None:
    # start at 0, hotspots at 10, 20, 30: any tour must reach 30 and come back, so 60 minutes
    # is a lower bound, met only by going out in order and back (or the reverse).
    p = problem(euclidean([(0, 0), (10, 0), (20, 0), (30, 0)]), service=[0, 5, 5, 5], horizon=200)
    solution = solve(p)
    assert solution.routes[0].stops in ([1, 2, 3], [3, 2, 1])
    assert solution.travel == pytest.approx(60)
    assert solution.dropped == {}


def test_a_square_is_toured_along_its_perimeter() -> None:
    # corners of a 10-minute square: the perimeter (40) is shorter than any tour using a
    # diagonal (at least 10 + 14.14 + 10 + 14.14 = 48.28).
    p = problem(euclidean([(0, 0), (0, 10), (10, 10), (10, 0)]), service=[0, 5, 5, 5], horizon=200)
    solution = solve(p)
    assert solution.routes[0].stops in ([1, 2, 3], [3, 2, 1])
    assert solution.travel == pytest.approx(40)


def test_working_hours_force_a_longer_order() -> None:
    # the square again (1 = (0, 10), 2 = (10, 10), 3 = (10, 0)), no time spent at a stop.
    # 3 works only until 15: reachable at 10 if first, at 20 or later otherwise, so 3 is first.
    # 2 starts at 40 and 1 stops at 35: after 3, going 3-2-1 reaches 2 at 20, waits to 40,
    # and reaches 1 at 50 > 35; so the only order visiting all is 3-1-2 (arrive 10, 24.14,
    # wait to 40, back at 54.14), with a diagonal twice: 48.28 minutes instead of 40.
    p = problem(
        euclidean([(0, 0), (0, 10), (10, 10), (10, 0)]),
        service=[0, 0, 0, 0],
        windows=[[(0, 100)], [(0, 35)], [(40, 100)], [(0, 15)]],
        horizon=100,
    )
    assert timeline(p, 0, [1, 2, 3]) is None
    assert timeline(p, 0, [3, 2, 1]) is None
    solution = solve(p)
    route = solution.routes[0]
    assert route.stops == [3, 1, 2]
    assert route.arrivals == pytest.approx([10, 10 + 200**0.5, 40], abs=1 / 60)
    assert route.travel == pytest.approx(20 + 2 * 200**0.5, abs=1 / 60)
    assert route.back == pytest.approx(40 + 200**0.5, abs=1 / 60)


def test_a_short_shift_keeps_the_highest_priority_hotspots() -> None:
    # three hotspots 20 minutes out, 35 minutes apart, 20 minutes at each: one alone takes
    # 60 minutes, two 20+20+35+20+20 = 115, all three 170. A 120-minute shift holds two, so
    # the solver keeps the two of highest priority (1 and 3, worth 5) and drops 2 (worth 1),
    # which would fit alone: no_time.
    p = problem(
        [[0, 20, 20, 20], [20, 0, 35, 35], [20, 35, 0, 35], [20, 35, 35, 0]],
        service=[0, 20, 20, 20],
        priority=[0, 3, 1, 2],
        horizon=120,
    )
    solution = solve(p)
    assert sorted(solution.routes[0].stops) == [1, 3]
    assert solution.dropped == {2: NO_TIME}
    assert solution.priority(p) == 5
    assert solution.routes[0].back == pytest.approx(115)


def test_hotspots_not_working_or_out_of_reach_are_left_out_with_the_reason() -> None:
    # 1 is near but not working during the shift; 2 is 70 minutes away, so a visit of 10
    # minutes needs 150 of a 120-minute shift; 3 is an ordinary stop.
    p = problem(
        euclidean([(0, 0), (5, 0), (70, 0), (0, 10)]),
        service=[0, 10, 10, 10],
        windows=[[(0, 120)], [], [(0, 120)], [(0, 120)]],
        priority=[0, 9, 9, 1],
        horizon=120,
    )
    solution = solve(p)
    assert solution.routes[0].stops == [3]
    assert solution.dropped == {1: NOT_WORKING, 2: UNREACHABLE}
    assert nearest_neighbour_routes(p).dropped == {1: NOT_WORKING, 2: UNREACHABLE}


def test_a_hotspot_nobody_may_visit_is_left_out() -> None:
    # an empty list of teams must not read as "any team" (as it does to OR-Tools)
    p = problem(
        euclidean([(0, 0), (5, 0), (0, 5)]),
        service=[0, 5, 5],
        horizon=60,
        allowed=[None, [], None],
    )
    solution = solve(p)
    assert solution.routes[0].stops == [2]
    assert solution.dropped == {1: UNREACHABLE}


def test_two_teams_visit_only_the_hotspots_allowed_to_them() -> None:
    # team 0 starts at 0, team 1 at 60 (nodes 0 and 1) on a line. 3 (at 55) is team 0's only,
    # 4 (at 58) team 1's only; 2 (at 10) anybody's and on team 0's way to 3, so it costs
    # team 0 nothing extra and team 1 100 minutes. 5 (at -30) is team 1's only, but team 1
    # would need 180 minutes of a 150-minute shift: unreachable, though team 0 could.
    p = problem(
        euclidean([(0, 0), (60, 0), (10, 0), (55, 0), (58, 0), (-30, 0)]),
        service=[0, 0, 5, 5, 5, 5],
        horizon=150,
        starts=[0, 1],
        allowed=[None, None, None, [0], [1], [1]],
    )
    solution = solve(p)
    assert solution.routes[0].stops == [2, 3]
    assert solution.routes[1].stops == [4]
    assert solution.dropped == {5: UNREACHABLE}
    assert solution.travel == pytest.approx(110 + 4)


def test_a_gap_in_working_hours_is_waited_out() -> None:
    # 1 works 0-5 and 30-40 (a break between): 10 minutes away, the team can only arrive in
    # the gap, so it waits until 30; 2 (10 from both) fits before it, with 10 minutes there.
    p = problem(
        euclidean([(0, 0), (10, 0), (5, 5 * 3**0.5)]),
        service=[0, 10, 10],
        windows=[[(0, 100)], [(0, 5), (30, 40)], [(0, 100)]],
        horizon=100,
    )
    solution = solve(p)
    route = solution.routes[0]
    # both orders travel 30 minutes (an equilateral triangle): either is optimal, and either
    # way the team reaches 1 in its second window, at 30
    assert sorted(route.stops) == [1, 2] and route.travel == pytest.approx(30, abs=1 / 60)
    assert route.arrivals[route.stops.index(1)] == pytest.approx(30, abs=1 / 60)
    # a window that ends before the team can get there and a later one past the shift
    late = problem(
        euclidean([(0, 0), (10, 0)]),
        service=[0, 10],
        windows=[[(0, 60)], [(0, 5), (55, 58)]],
        horizon=60,
    )
    assert solve(late).dropped == {1: UNREACHABLE}


# --- against exhaustive search and the nearest-neighbour rule ------------------------------


def random_problem(
    seed: int, hotspots: int, teams: int = 1, horizon: int = 360, side_km: float = 3.0
) -> RoutingProblem:
    """Return a shift on foot (4.5 km/h) in a square of ``side_km``, with working hours."""
    rng = np.random.default_rng(seed)
    n = teams + hotspots
    xy = rng.uniform(0, side_km, (n, 2))
    km = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    minutes = np.round(km / 4.5 * 60 * 60) / 60  # to the whole second, as the solver sees it
    service = np.concatenate([np.zeros(teams), rng.integers(10, 31, hotspots)])
    windows: list[list[tuple[int, int]]] = [[(0, horizon)] for _ in range(teams)]
    for stay in service[teams:]:
        kind = rng.integers(3)
        if kind == 0:  # works the whole shift
            spans = [(0, horizon)]
        elif kind == 1:  # one stretch
            begin = int(rng.integers(0, horizon * 2 // 3))
            spans = [(begin, min(horizon, begin + int(rng.integers(horizon // 6, horizon))))]
        else:  # two stretches with a break
            a = int(rng.integers(0, horizon // 3))
            b = a + int(rng.integers(horizon // 8, horizon // 3))
            c = b + int(rng.integers(horizon // 12, horizon // 4))
            spans = [(a, b), (c, min(horizon, c + int(rng.integers(horizon // 8, horizon // 2))))]
        windows.append([(s, e - int(stay)) for s, e in spans if e - int(stay) >= s])
    priority = np.concatenate([np.zeros(teams), np.round(rng.lognormal(0, 0.7, hotspots), 1)])
    return RoutingProblem(
        minutes=minutes,
        service=service,
        windows=windows,
        priority=priority,
        horizon=horizon,
        starts=list(range(teams)),
    )


@pytest.mark.parametrize("seed", range(20))
def test_the_solver_finds_the_best_route_on_small_shifts(seed: int) -> None:
    # 6 or 7 hotspots in a 150-minute shift: usually not all fit, so the choice matters
    p = random_problem(seed, hotspots=6 + seed % 2, horizon=150)
    best = best_route_by_enumeration(p)
    check_feasible(p, best)
    solution = solve(p, EXACT_LIMIT)
    assert solution.priority(p) == pytest.approx(best.priority(p))
    assert solution.travel <= best.travel + 0.5


def compare_with_nearest_neighbour(seeds: range) -> dict[str, float]:
    """Return the mean gain of the solver over the nearest-neighbour rule, checking each."""
    gains, nn_rates, solver_rates, worse = [], [], [], []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        p = random_problem(
            1000 + seed, hotspots=int(rng.integers(25, 41)), teams=int(rng.integers(1, 4))
        )
        baseline = nearest_neighbour_routes(p)
        solution = solve_routes(p, time_limit_s=0.4)
        check_feasible(p, baseline)
        check_feasible(p, solution)
        ours, theirs = solution.priority(p), baseline.priority(p)
        if ours < theirs - 1e-9:
            worse.append(seed)
        gains.append(ours / theirs - 1)
        nn_rates.append(baseline.travel / theirs)
        solver_rates.append(solution.travel / ours)
    return {
        "instances": len(gains),
        "worse": len(worse),
        "mean_priority_gain": float(np.mean(gains)),
        "min_priority_gain": float(np.min(gains)),
        "nn_travel_per_priority": float(np.mean(nn_rates)),
        "solver_travel_per_priority": float(np.mean(solver_rates)),
    }


def test_the_solver_beats_the_nearest_neighbour_rule() -> None:
    report = compare_with_nearest_neighbour(range(30))
    message = (
        f"solver vs nearest neighbour on {report['instances']} shifts: priority served "
        f"+{report['mean_priority_gain']:.1%} on average (least {report['min_priority_gain']:+.1%}"
        f"), travel per unit of priority {report['solver_travel_per_priority']:.1f} vs "
        f"{report['nn_travel_per_priority']:.1f} min; worse on {report['worse']}"
    )
    print(message)
    assert report["worse"] == 0, message
    assert report["mean_priority_gain"] > 0.02, message


# --- shifts and working hours --------------------------------------------------------------


def test_a_night_shift_ends_the_next_morning() -> None:
    friday = dt.date(2026, 11, 27)
    assert parse_shift(friday, "22:00-03:30") == (
        dt.datetime(2026, 11, 27, 22, 0),
        dt.datetime(2026, 11, 28, 3, 30),
    )
    assert parse_shift(friday, " 20:00 – 24:00 ")[1] == dt.datetime(2026, 11, 28, 0, 0)
    # a whole day is refused: nearly always a typo, and no team works 24 hours
    with pytest.raises(InvalidInputError, match="start and end at the same time"):
        parse_shift(friday, "06:00-06:00")


def test_a_sunday_night_wraps_to_monday_morning() -> None:
    sunday = dt.date(2026, 11, 29)
    start, end = parse_shift(sunday, "20:00-04:00")
    horizon = int((end - start).total_seconds() // 60)
    # works Sunday 22:00 to Monday 02:00: a 30-minute visit may start 22:00 to 01:30
    assert shift_windows(working_mask("su", "22:00-02:00"), start, horizon, 30) == [(120, 330)]
    # Monday's own hours start at midnight of the week's wrap
    assert shift_windows(working_mask("mo", "00:00-01:00"), start, horizon, 30) == [(240, 270)]
    # a hotspot working Sunday 03:00-05:00 only is not working that night (that was this
    # morning), only from Monday 03:00 if it worked Mondays
    assert shift_windows(working_mask("su", "03:00-05:00"), start, horizon, 30) == []


def test_a_stay_longer_than_the_working_time_has_no_window() -> None:
    start = dt.datetime(2026, 11, 27, 20, 0)
    friday = working_mask("fr", "22:00-23:00")
    assert shift_windows(friday, start, 360, 60) == [(120, 120)]
    assert shift_windows(friday, start, 360, 61) == []
    assert shift_windows(working_mask(None, None), start, 360, 400) == []
    assert shift_windows(working_mask(None, None), start, 360, 360) == [(0, 0)]
    # two stretches give two windows
    split = working_mask("fr", "20:00-21:00,23:00-01:00")
    assert shift_windows(split, start, 360, 30) == [(0, 30), (180, 270)]


@pytest.mark.parametrize("hours", ["8pm-2am", "", "20:00", "20.00-02.00", "20:00-02:00-03:00"])
def test_hours_that_are_not_a_shift_are_refused(hours: str) -> None:
    with pytest.raises(InvalidInputError, match=r"are not a shift — write the start and end as"):
        parse_shift(dt.date(2026, 11, 27), hours)


@pytest.mark.parametrize("hours", ["25:00-02:00", "20:60-02:00", "24:30-02:00", "20:00-24:01"])
def test_hours_outside_the_day_are_refused(hours: str) -> None:
    with pytest.raises(InvalidInputError, match=r"is not a time of day — use 00:00 to 24:00"):
        parse_shift(dt.date(2026, 11, 27), hours)


def test_an_inconsistent_routing_problem_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"give one of each per node"):
        problem(np.zeros((3, 3)), service=[0, 5], horizon=60)
    with pytest.raises(InvalidInputError, match=r"give one of each per node"):
        RoutingProblem(
            minutes=np.zeros((2, 2)),
            service=np.zeros(2),
            windows=[[(0, 60)]],
            priority=np.zeros(2),
            horizon=60,
            starts=[0],
        )
    with pytest.raises(InvalidInputError, match=r"no team — give at least one start node"):
        RoutingProblem(
            minutes=np.zeros((2, 2)),
            service=np.zeros(2),
            windows=[[(0, 60)]] * 2,
            priority=np.zeros(2),
            horizon=60,
            starts=[],
        )
    with pytest.raises(InvalidInputError, match=r"a shift of 0 minutes — give a positive length"):
        problem(np.zeros((2, 2)), service=[0, 5], horizon=0)


def test_enumeration_refuses_what_it_cannot_do() -> None:
    with pytest.raises(InvalidInputError, match=r"enumeration plans one team"):
        best_route_by_enumeration(random_problem(0, hotspots=4, teams=2))
    with pytest.raises(InvalidInputError, match=r"enumeration of 9 hotspots .* give at most 8"):
        best_route_by_enumeration(random_problem(0, hotspots=9))


def test_the_reference_search_is_exhaustive() -> None:
    # the enumeration is itself checked against a brute force written here, on a tiny shift
    p = random_problem(3, hotspots=4, horizon=90)
    best = (0.0, 0.0)
    for size in range(1, 5):
        for order in itertools.permutations(p.hotspots, size):
            route = timeline(p, 0, list(order))
            if route is not None:
                best = max(best, (float(p.priority[list(order)].sum()), -route.travel))
    reference = best_route_by_enumeration(p)
    assert reference.priority(p) == pytest.approx(best[0])
    assert -reference.travel == pytest.approx(best[1]) or math.isclose(best[0], 0)
