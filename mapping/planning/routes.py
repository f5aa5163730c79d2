"""Outreach routes: which hotspots each team visits in a shift, in what order, and when.

A prize-collecting vehicle routing problem with time windows, solved with Google OR-Tools:
each team (a vehicle) leaves its start point and returns to it within the shift; each hotspot
may be visited once, starting inside its working hours and finishing before they end, and may
be left out at a cost equal to its priority. The objective puts priority first (a hotspot is
worth ten hours of travel per unit of priority) and travel time second, so the solver visits
the most important hotspots the shift can hold, then the shortest way. The model and its
defaults are in docs/planning.md.

Everything here is pure: minutes and indices in, routes out. :mod:`mapping.planning.plans` builds
the problem from a workspace.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from mapping.errors import InvalidInputError
from mapping.settings import Settings

#: Cost of leaving out one unit of priority, in seconds of travel (ten hours): larger than any
#: shift's travel, so the solver never drops a hotspot it could fit to save walking.
PRIORITY_SECONDS = 36_000
#: Why a hotspot is not on a route.
NOT_WORKING = "not_working"  # its working hours leave no room for a visit in the shift
UNREACHABLE = "unreachable"  # even alone, the team cannot get there, stay and get back in time
NO_TIME = "no_time"  # it fits alone, but not with the stops chosen (more priority together)


@dataclass(frozen=True)
class RoutingProblem:
    """One shift's routing problem, in minutes from the start of the shift.

    Node 0..``len(starts)``-1 are not special: ``starts[v]`` is the node team ``v`` leaves from
    and returns to (a start point, never a hotspot). Every other node is a hotspot.

    Parameters
    ----------
    minutes
        Square matrix of travel minutes between nodes (rows: from, columns: to).
    service
        Minutes spent at each node (0 at start points).
    windows
        For each node, the intervals ``(earliest, latest)`` in which a visit may *start*, in
        minutes from the start of the shift; an empty list means the node cannot be visited.
        Start points have ``[(0, horizon)]``.
    priority
        Each node's priority (0 at start points): the cost of leaving it out, in units of
        :data:`PRIORITY_SECONDS`.
    horizon
        Length of the shift in minutes: every team is back at its start point by then.
    starts
        The start node of each team.
    allowed
        For each node, the teams (indices into ``starts``) that may visit it; None means any.
    """

    minutes: np.ndarray
    service: np.ndarray
    windows: list[list[tuple[int, int]]]
    priority: np.ndarray
    horizon: int
    starts: list[int]
    allowed: list[list[int] | None] | None = None

    def __post_init__(self) -> None:
        n = len(self.service)
        if self.minutes.shape != (n, n) or len(self.windows) != n or len(self.priority) != n:
            raise InvalidInputError(
                f"routing problem: {self.minutes.shape} travel matrix, {len(self.windows)} "
                f"windows and {len(self.priority)} priorities for {n} nodes — give one of each "
                "per node"
            )
        if not self.starts:
            raise InvalidInputError("routing problem: no team — give at least one start node")
        if self.horizon <= 0:
            raise InvalidInputError(
                f"routing problem: a shift of {self.horizon} minutes — give a positive length"
            )

    @property
    def hotspots(self) -> list[int]:
        """Return the nodes that are hotspots (every node that is not a start point)."""
        starts = set(self.starts)
        return [node for node in range(len(self.service)) if node not in starts]

    def may_visit(self, team: int, node: int) -> bool:
        """Return whether ``team`` may visit ``node``."""
        if self.allowed is None or self.allowed[node] is None:
            return True
        return team in (self.allowed[node] or [])


@dataclass
class Route:
    """One team's route: the hotspots in order, the planned arrival at each, and the return."""

    team: int
    stops: list[int] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    back: float = 0.0
    travel: float = 0.0


@dataclass
class RoutingSolution:
    """The routes of a shift and the hotspots left out, each with the reason."""

    routes: list[Route]
    dropped: dict[int, str]
    seconds: float = 0.0

    def priority(self, problem: RoutingProblem) -> float:
        """Return the total priority of the hotspots visited."""
        return float(sum(problem.priority[node] for route in self.routes for node in route.stops))

    @property
    def travel(self) -> float:
        """Return the total travel minutes of all routes."""
        return float(sum(route.travel for route in self.routes))


def _seconds(minutes: np.ndarray) -> np.ndarray:
    seconds: np.ndarray = np.rint(np.asarray(minutes, dtype=float) * 60).astype(np.int64)
    return seconds


def _minutes(value: float) -> float:
    """Return minutes rounded to the whole second, as the solver sees them."""
    return round(float(value) * 60) / 60


def timeline(problem: RoutingProblem, team: int, stops: list[int]) -> Route | None:
    """Return the route visiting ``stops`` in order at the earliest times, or None if infeasible.

    The team leaves at the start of the shift (or later, if that only means waiting), waits at
    a hotspot that has not started working yet, and must be back by the end of the shift.

    Examples
    --------
    >>> p = RoutingProblem(
    ...     minutes=np.array([[0, 10], [10, 0]]), service=np.array([0, 20]),
    ...     windows=[[(0, 120)], [(30, 60)]], priority=np.array([0, 1]), horizon=120, starts=[0])
    >>> route = timeline(p, 0, [1])
    >>> route.arrivals, route.back, route.travel
    ([30.0], 60.0, 20.0)
    """
    start = problem.starts[team]
    now, here, travel = 0.0, start, 0.0
    arrivals: list[float] = []
    for node in stops:
        if not problem.may_visit(team, node):
            return None
        leg = _minutes(problem.minutes[here, node])
        arrive = now + leg
        opening = next((w for w in problem.windows[node] if arrive <= w[1] + 1e-9), None)
        if opening is None:
            return None
        arrive = max(arrive, float(opening[0]))
        arrivals.append(arrive)
        travel += leg
        now, here = arrive + _minutes(problem.service[node]), node
    leg = _minutes(problem.minutes[here, start])
    back = now + leg
    if back > problem.horizon + 1e-9:
        return None
    return Route(team=team, stops=list(stops), arrivals=arrivals, back=back, travel=travel + leg)


def _why_dropped(problem: RoutingProblem, node: int) -> str:
    """Return why a hotspot left out of every route was left out."""
    if not problem.windows[node]:
        return NOT_WORKING
    teams = [t for t in range(len(problem.starts)) if problem.may_visit(t, node)]
    if not any(timeline(problem, team, [node]) is not None for team in teams):
        return UNREACHABLE
    return NO_TIME


def solve_routes(
    problem: RoutingProblem,
    *,
    time_limit_s: float = Settings.plan_search_seconds,
    solution_limit: int = Settings.plan_search_solutions,
) -> RoutingSolution:
    """Return the routes OR-Tools finds within ``time_limit_s`` (guided local search).

    Arrival times are the earliest the chosen order allows (:func:`timeline`), so a route is
    checked against the windows again outside the solver: a stop is never outside its window.

    Parameters
    ----------
    problem
        The shift's routing problem.
    time_limit_s
        How long the local search may improve the first solution, in seconds.
    solution_limit
        Stop after this many solutions (0: only the time limit stops the search). A limit the
        search reaches before its time makes the routes repeatable on any machine.
    """
    import time

    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    began = time.perf_counter()
    teams = len(problem.starts)
    n = len(problem.service)
    manager = pywrapcp.RoutingIndexManager(n, teams, problem.starts, problem.starts)
    routing = pywrapcp.RoutingModel(manager)
    travel = _seconds(problem.minutes)
    service = _seconds(problem.service)
    # the time spent at a node counts on the way out of it
    transit = travel + service[:, None]
    travel_index = routing.RegisterTransitMatrix(travel.tolist())
    transit_index = routing.RegisterTransitMatrix(transit.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(travel_index)
    horizon = int(problem.horizon) * 60
    routing.AddDimension(transit_index, horizon, horizon, False, "time")
    time_dimension = routing.GetDimensionOrDie("time")
    visitable = []
    for node in problem.hotspots:
        index = manager.NodeToIndex(node)
        windows = problem.windows[node]
        penalty = max(1, round(float(problem.priority[node]) * PRIORITY_SECONDS))
        if not windows:
            # never on a route: a disjunction left out at its cost, and forced inactive (an
            # empty list of allowed vehicles would mean any vehicle to OR-Tools)
            routing.AddDisjunction([index], penalty)
            routing.ActiveVar(index).SetValue(0)
            continue
        visitable.append(node)
        cumul = time_dimension.CumulVar(index)
        cumul.SetRange(int(windows[0][0]) * 60, int(windows[-1][1]) * 60)
        for (_, end), (begin, _) in itertools.pairwise(windows):
            if begin * 60 > end * 60 + 1:
                cumul.RemoveInterval(int(end) * 60 + 1, int(begin) * 60 - 1)
        routing.AddDisjunction([index], penalty)
        if problem.allowed is not None and problem.allowed[node] is not None:
            # the vehicle variable directly: SetAllowedVehiclesForIndex takes no Python list in
            # recent OR-Tools (absl::Span), and an empty list there would mean any vehicle;
            # -1 is "not visited", always allowed
            routing.VehicleVar(index).SetValues([-1, *(problem.allowed[node] or [])])
    for team in range(teams):
        # leave as late as waiting allows, be back as early as possible: no idle time reported
        routing.AddVariableMaximizedByFinalizer(time_dimension.CumulVar(routing.Start(team)))
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.End(team)))
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(1, round(time_limit_s * 1000)))
    if solution_limit > 0:
        parameters.solution_limit = solution_limit
    # start from the nearest-neighbour routes when the model accepts them: the local search
    # then only improves on the rule a coordinator would follow by hand (on the Lima demo,
    # insertion alone served less priority than that rule; docs/planning.md)
    routing.CloseModelWithParameters(parameters)
    baseline = [route.stops for route in nearest_neighbour_routes(problem).routes]
    initial = routing.ReadAssignmentFromRoutes(baseline, True)
    if initial is not None:
        assignment = routing.SolveFromAssignmentWithParameters(initial, parameters)
    else:
        assignment = routing.SolveWithParameters(parameters)
    routes: list[Route] = []
    visited: set[int] = set()
    for team in range(teams):
        stops: list[int] = []
        if assignment is not None:
            index = assignment.Value(routing.NextVar(routing.Start(team)))
            while not routing.IsEnd(index):
                stops.append(manager.IndexToNode(index))
                index = assignment.Value(routing.NextVar(index))
        route = timeline(problem, team, stops)
        if route is None:  # cannot happen with a solver solution; never publish one unchecked
            raise RuntimeError(f"OR-Tools returned an infeasible route for team {team}: {stops}")
        routes.append(route)
        visited.update(stops)
    dropped = {
        node: _why_dropped(problem, node) for node in problem.hotspots if node not in visited
    }
    return RoutingSolution(routes=routes, dropped=dropped, seconds=time.perf_counter() - began)


def nearest_neighbour_routes(problem: RoutingProblem) -> RoutingSolution:
    """Return the routes of the nearest-neighbour rule: the baseline the solver is measured by.

    Team by team, from its start point, go to the nearest hotspot (by travel minutes) that can
    still be visited inside its window with time to get back, until none can; what one team
    took, the next cannot. This is how a route is planned by hand on a map.
    """
    routes: list[Route] = []
    taken: set[int] = set()
    for team in range(len(problem.starts)):
        stops: list[int] = []
        here = problem.starts[team]
        while True:
            order = np.argsort(problem.minutes[here], kind="stable")
            step = None
            for node in order:
                node = int(node)
                if node in taken or node in problem.starts or node in stops:
                    continue
                if timeline(problem, team, [*stops, node]) is not None:
                    step = node
                    break
            if step is None:
                break
            stops.append(step)
            taken.add(step)
            here = step
        route = timeline(problem, team, stops)
        assert route is not None
        routes.append(route)
    dropped = {node: _why_dropped(problem, node) for node in problem.hotspots if node not in taken}
    return RoutingSolution(routes=routes, dropped=dropped)


def best_route_by_enumeration(problem: RoutingProblem) -> RoutingSolution:
    """Return a single team's optimal route by trying every order of every subset.

    The reference for tests on small hand-made problems (at most 8 hotspots): the highest
    total priority, then the least travel.
    """
    if len(problem.starts) != 1:
        raise InvalidInputError("enumeration plans one team — give a single start node")
    nodes = problem.hotspots
    if len(nodes) > 8:
        raise InvalidInputError(
            f"enumeration of {len(nodes)} hotspots would take too long — give at most 8"
        )
    best = Route(team=0, back=0.0)
    best_key = (0.0, 0.0)
    for size in range(1, len(nodes) + 1):
        for order in itertools.permutations(nodes, size):
            route = timeline(problem, 0, list(order))
            if route is None:
                continue
            key = (float(sum(problem.priority[list(order)])), -route.travel)
            if key > best_key:
                best, best_key = route, key
    if not best.stops:
        best = timeline(problem, 0, []) or best
    dropped = {node: _why_dropped(problem, node) for node in nodes if node not in best.stops}
    return RoutingSolution(routes=[best], dropped=dropped)
