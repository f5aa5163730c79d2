"""Outreach plans: a team's route for one shift, built from a workspace, stored, and followed up.

A plan is made from what the coverage analytics know of each active hotspot (its cell, size
range, working hours, days since the last visit) and from who covers it (:mod:`mapping.
assignment`); :mod:`mapping.planning.routes` chooses and orders the stops. The plan is stored as
hotspots and arrival times, never as a coordinate, and a visit logged at a planned hotspot's
cell during or after the shift marks it done, so the next plan knows what was missed. The
model and its defaults are in docs/planning.md; a shift's hours are read by
:mod:`mapping.planning.shifts`.

Longer than 600 lines: a plan is made, saved and read back through the same candidates (what
the analytics know of each active hotspot) and the same description of its stops; apart, the
halves would share five private helpers.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from mapping import clock
from mapping.analysis.coverage import CoverageOptions, hotspot_access, servable, service_points
from mapping.analysis.coverage_data import CoverageData, epoch_day, load_coverage_data
from mapping.analysis.peers import REFERRAL_TYPES
from mapping.analysis.peers import teams as team_codes
from mapping.cells import cell_centres, cell_to_str
from mapping.errors import InvalidInputError
from mapping.hours import SLOT_MINUTES, opening_masks, working_mask
from mapping.periods import parse_period
from mapping.planning.assignments import stored_assignments
from mapping.planning.routes import RoutingProblem, RoutingSolution, solve_routes
from mapping.planning.shifts import check_day, parse_shift, shift_windows
from mapping.settings import Settings, get_settings
from mapping.storage import store
from mapping.storage.audit import Actor, acting, record
from mapping.storage.workspace import Workspace
from mapping.vocab import HOTSPOT_TYPOLOGIES, SERVICE_TYPES, value_of

#: Nearest open services listed for referral at each stop.
REFERRALS_PER_STOP = 2


@dataclass(frozen=True)
class PlanOptions:
    """The knobs of route planning; defaults come from :mod:`mapping.settings`."""

    stop_minutes: int = Settings.stop_minutes
    kits_per_person: float = Settings.kits_per_person
    overdue_priority: float = Settings.overdue_priority
    missed_priority: float = Settings.missed_priority
    search_seconds: float = Settings.plan_search_seconds
    search_solutions: int = Settings.plan_search_solutions
    coverage: CoverageOptions = field(default_factory=CoverageOptions)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PlanOptions:
        """Return the options a deployment configured (``OUTREACH_MAP_*`` overrides applied)."""
        settings = settings or get_settings()
        return cls(
            stop_minutes=settings.stop_minutes,
            kits_per_person=settings.kits_per_person,
            overdue_priority=settings.overdue_priority,
            missed_priority=settings.missed_priority,
            search_seconds=settings.plan_search_seconds,
            search_solutions=settings.plan_search_solutions,
            coverage=CoverageOptions.from_settings(settings),
        )

    def kits_for(self, people: np.ndarray) -> np.ndarray:
        """Return the standard kits to bring to hotspots of the given estimated sizes.

        ``people`` times :attr:`kits_per_person`, rounded up: a coordinator's figure, which
        follows from the size estimate and so is never on a peer educator's copy.

        Examples
        --------
        >>> PlanOptions(kits_per_person=0.5).kits_for(np.array([0.0, 9.0, 35.0])).tolist()
        [0, 5, 18]
        """
        kits = np.ceil(np.asarray(people, float) * self.kits_per_person - 1e-9)
        return np.maximum(kits, 0).astype(np.int64)


@dataclass
class RoutePlan:
    """One team's plan for one shift: the stops in order and the hotspots left out.

    ``stops`` has one row per stop: ``seq``, ``hotspot_id``, ``cell`` (H3, int), ``cell_id``,
    ``district``, ``typology``, ``peer_educator`` (who covers it, if assigned), ``arrive``,
    ``arrive_until`` (the latest arrival that keeps the rest of the route on time),
    ``minutes_there`` (the same at every stop: :attr:`PlanOptions.stop_minutes`), ``overdue``,
    ``missed_before``, ``follow_up``, ``done``, ``referrals`` (nearest friendly services open on
    arrival), and for the coordinator the hotspot's size estimate ``size_min``..``size_max``,
    the ``people`` the kits are counted for and the standard ``kits`` to bring
    (:meth:`PlanOptions.kits_for`); a team's copy (:func:`for_peer_educators`) has those four
    empty. ``left_out`` has ``hotspot_id``,
    ``cell_id`` and ``reason`` (see :mod:`mapping.planning.routes`).
    """

    team: str
    day: dt.date
    shift_start: dt.datetime
    shift_end: dt.datetime
    start_service: str
    start_name: str
    stops: pl.DataFrame
    left_out: pl.DataFrame
    travel_minutes: float
    back: dt.datetime | None
    travel: str
    #: A team's copy (:func:`for_peer_educators`): no size estimate, no kits per stop.
    for_team: bool = False

    @property
    def nothing_reachable(self) -> bool:
        """Return whether no stop was planned because every hotspot is out of reach."""
        return (
            self.stops.height == 0
            and self.left_out.height > 0
            and set(self.left_out["reason"]) <= {"unreachable", "not_working"}
            and "unreachable" in set(self.left_out["reason"])
        )

    @property
    def hours(self) -> str:
        """Return the shift as ``HH:MM-HH:MM``."""
        return f"{self.shift_start:%H:%M}-{self.shift_end:%H:%M}"


@dataclass
class _Candidates:
    """The hotspots a night's plan may choose from, with what the run sheet says of each."""

    hotspots: pl.DataFrame
    data: CoverageData
    options: PlanOptions


def _assigned(connection: sa.Connection) -> pl.DataFrame:
    """Return each assigned hotspot's ``id`` with its peer educator's ``team`` and code."""
    return stored_assignments(connection).select(
        pl.col("hotspot_id").alias("id"), "team", "peer_educator"
    )


def _missed(connection: sa.Connection, day: dt.date, now: dt.datetime) -> set[str]:
    """Return the hotspots of shifts that have ended, before ``day``, that no visit covered."""
    p, s, v = store.plans.c, store.plan_stops.c, store.visits.c
    done = sa.select(sa.literal(1)).where(v.cell == s.cell, v.visit_date >= p.plan_date).exists()
    rows = connection.execute(
        sa.select(s.hotspot_id)
        .join_from(store.plan_stops, store.plans, s.plan_id == p.id)
        .where(p.plan_date < day, p.shift_end < now, ~done)
        .distinct()
    )
    return {str(hotspot) for (hotspot,) in rows}


def _candidates(
    workspace: Workspace, day: dt.date, options: PlanOptions, now: dt.datetime
) -> tuple[_Candidates, pl.DataFrame, set[str]]:
    """Return the active hotspots with size, priority and assignment, and each service.

    Also the hotspots other plans hold: another team's on the same night, and any team's on
    another night whose shift has not ended yet (planned already, not yet missed).
    """
    as_of = min(day, now.date())
    period = parse_period(None, today=as_of, default_days=get_settings().default_period_days)
    data = load_coverage_data(workspace, period, today=as_of)
    hotspots = hotspot_access(data, options.coverage)
    with workspace.connect() as connection:
        assigned = _assigned(connection)
        missed = _missed(connection, day, now)
        p = store.plans.c
        planned = connection.execute(
            sa.select(p.team, store.plan_stops.c.hotspot_id, p.plan_date == day)
            .join_from(store.plan_stops, store.plans, store.plan_stops.c.plan_id == p.id)
            .where(sa.or_(p.plan_date == day, p.shift_end >= now))
        ).all()
    ahead = (day - data.as_of).days
    overdue_days = options.coverage.overdue_weeks * 7
    hotspots = hotspots.join(assigned, on="id", how="left").with_columns(
        (pl.col("days_since_last_visit") + ahead).alias("days_since_last_visit"),
        pl.col("id").is_in(list(missed)).alias("missed_before"),
    )
    hotspots = hotspots.with_columns(
        (pl.col("days_since_last_visit") > overdue_days).fill_null(True).alias("overdue")
    ).with_columns(
        (
            pl.col("weight")
            * pl.when(pl.col("overdue")).then(options.overdue_priority).otherwise(1.0)
            * pl.when(pl.col("missed_before")).then(options.missed_priority).otherwise(1.0)
        ).alias("priority")
    )
    taken = pl.DataFrame(
        [(team, hotspot, bool(same)) for team, hotspot, same in planned],
        schema={"planned_by": pl.String, "id": pl.String, "same_night": pl.Boolean},
        orient="row",
    )
    return _Candidates(hotspots, data, options), taken, missed


def _start_service(data: CoverageData, service_id: str, day: dt.date) -> dict[str, Any]:
    """Return the row of the service a route starts from, refusing an unknown or closed one."""
    found = data.services.filter(pl.col("id").str.to_lowercase() == service_id.strip().lower())
    if found.height == 0:
        centres = data.services.filter(
            pl.col("service_type") == SERVICE_TYPES.index("drop_in_centre") + 1
        )
        known = ", ".join((centres if centres.height else data.services)["id"].head(8).to_list())
        raise InvalidInputError(
            f"start {service_id!r} is not a service of this workspace — give the id of the "
            f"drop-in centre or service the team leaves from (e.g. {known}; "
            "`outreach-map summary` lists them)"
        )
    if servable(found, day, friendly_only=False).height == 0:
        raise InvalidInputError(
            f"start {service_id!r} ({found['name'][0]}) is not active on {day} — choose a "
            "service that is open for business that day"
        )
    return found.row(0, named=True)


def plan_routes(
    workspace: Workspace,
    *,
    teams: list[str],
    day: dt.date,
    start: str | list[str],
    hours: str,
    options: PlanOptions | None = None,
    now: dt.datetime | None = None,
    save: bool = True,
) -> list[RoutePlan]:
    """Plan the routes of ``teams`` for the shift ``hours`` on ``day``, leaving from ``start``.

    ``start`` is a service id, the same for every team, or one per team in the same order.

    Each team may visit the hotspots assigned to its peer educators and those nobody is
    assigned to (a hotspot goes to one team only); hotspots another team's stored plan already
    holds for that night are left to it. With ``save``, the plans replace any earlier plan of
    the same teams and night, in one transaction, and the planning is audited.

    Raises
    ------
    InvalidInputError
        For unknown teams, an unknown or inactive start, or hours that are not a shift.
    """
    options = options or PlanOptions.from_settings()
    now = now or clock.now(workspace).replace(tzinfo=None)
    check_day(day, now.date())
    shift_start, shift_end = parse_shift(day, hours)
    horizon = int((shift_end - shift_start).total_seconds() // 60)
    teams = list(dict.fromkeys(team.strip() for team in teams if team.strip()))
    known = team_codes(workspace)
    unknown = [team for team in teams if team not in known]
    if not teams or unknown:
        raise InvalidInputError(
            f"team {', '.join(unknown) or '(none)'} is not a team of this workspace — "
            f"choose from {', '.join(known) or 'none yet (import visits first)'}"
        )
    starts = [start] * len(teams) if isinstance(start, str) else list(start)
    if len(starts) != len(teams):
        raise InvalidInputError(
            f"{len(starts)} start services for {len(teams)} teams — give one start for all "
            "teams, or one per team in the same order"
        )
    candidates, taken, _ = _candidates(workspace, day, options, now)
    start_rows = [_start_service(candidates.data, service, day) for service in starts]
    hotspots = candidates.hotspots
    # this night's plans of these teams are replaced; every other plan keeps its hotspots
    others = taken.filter(~(pl.col("same_night") & pl.col("planned_by").is_in(teams)))
    hotspots = hotspots.filter(
        ~pl.col("id").is_in(others["id"].to_list())
        & (pl.col("team").is_null() | pl.col("team").is_in(teams))
    )
    # one fixed stay everywhere: a stay that grew with the size estimate would let anyone
    # holding the plan read each place's size from its arrival times (docs/privacy.md)
    stays = np.full(hotspots.height, options.stop_minutes, dtype=np.int64)
    masks = {
        key: working_mask(key[0] or None, key[1] or None, week_of=day)
        for key in set(zip(hotspots["days"].to_list(), hotspots["hours"].to_list(), strict=True))
    }
    windows: list[list[tuple[int, int]]] = [[(0, horizon)]] * len(teams)
    for days, open_hours, stay in zip(
        hotspots["days"].to_list(), hotspots["hours"].to_list(), stays.tolist(), strict=True
    ):
        windows.append(shift_windows(masks[(days, open_hours)], shift_start, horizon, stay))
    s_lat, s_lng = service_points(pl.DataFrame(start_rows, schema=candidates.data.services.schema))
    h_lat, h_lng = cell_centres(hotspots["cell"].to_list())
    lat, lng = np.concatenate([s_lat, h_lat]), np.concatenate([s_lng, h_lng])
    travel = options.coverage.travel
    minutes = travel.minutes(lat, lng, lat, lng)
    minutes = np.where(np.isfinite(minutes), minutes, horizon * 10.0)
    team_of = hotspots["team"].to_list()
    allowed: list[list[int] | None] = [None] * len(teams)
    allowed += [None if team is None else [teams.index(team)] for team in team_of]
    problem = RoutingProblem(
        minutes=minutes,
        service=np.concatenate([np.zeros(len(teams), dtype=np.int64), stays]),
        windows=windows,
        priority=np.concatenate([np.zeros(len(teams)), hotspots["priority"].to_numpy()]),
        horizon=horizon,
        starts=list(range(len(teams))),
        allowed=allowed,
    )
    solution = solve_routes(
        problem, time_limit_s=options.search_seconds, solution_limit=options.search_solutions
    )
    plans = _plans_from_solution(
        solution, problem, hotspots, teams, day, shift_start, shift_end, start_rows, candidates
    )
    if save:
        save_plans(workspace, plans)
    return plans


def _latest_arrivals(
    problem: RoutingProblem, team: int, stops: list[int], arrivals: list[float]
) -> list[float]:
    """Return, per stop, the latest arrival that keeps every later stop and the return on time."""
    latest: list[float] = []
    deadline = float(problem.horizon)
    after = problem.starts[team]
    for node, arrive in zip(reversed(stops), reversed(arrivals), strict=True):
        by = deadline - float(problem.minutes[node, after]) - float(problem.service[node])
        window = next(w for w in problem.windows[node] if w[0] <= arrive + 1e-6 <= w[1] + 1e-6)
        by = min(by, float(window[1]))
        latest.append(max(by, arrive))
        deadline, after = by, node
    return list(reversed(latest))


def _plans_from_solution(
    solution: RoutingSolution,
    problem: RoutingProblem,
    hotspots: pl.DataFrame,
    teams: list[str],
    day: dt.date,
    shift_start: dt.datetime,
    shift_end: dt.datetime,
    start_rows: list[dict[str, Any]],
    candidates: _Candidates,
) -> list[RoutePlan]:
    offset = len(teams)
    plans = []
    description = candidates.options.coverage.travel.describe()
    for route in solution.routes:
        rows = [hotspots.row(node - offset, named=True) for node in route.stops]
        latest = _latest_arrivals(problem, route.team, route.stops, route.arrivals)
        stops = pl.DataFrame(
            {
                "seq": list(range(1, len(rows) + 1)),
                "hotspot_id": [row["id"] for row in rows],
                "cell": [row["cell"] for row in rows],
                "arrive": [_at(shift_start, minute) for minute in route.arrivals],
                "arrive_until": [_at(shift_start, minute) for minute in latest],
                "minutes_there": [int(problem.service[node]) for node in route.stops],
                "overdue": [bool(row["overdue"]) for row in rows],
            },
            schema=_STORED,
        )
        plans.append(
            RoutePlan(
                team=teams[route.team],
                day=day,
                shift_start=shift_start,
                shift_end=shift_end,
                start_service=str(start_rows[route.team]["id"]),
                start_name=_service_name(start_rows[route.team]),
                stops=_describe_stops(stops, candidates),
                left_out=pl.DataFrame(),
                travel_minutes=route.travel,
                back=_at(shift_start, route.back) if route.stops else None,
                travel=description,
            )
        )
    left = [
        {
            "team": hotspots["team"][node - offset],
            "hotspot_id": hotspots["id"][node - offset],
            "cell_id": cell_to_str(hotspots["cell"][node - offset]),
            "priority": round(float(problem.priority[node]), 1),
            "reason": reason,
        }
        for node, reason in sorted(
            solution.dropped.items(), key=lambda item: -float(problem.priority[item[0]])
        )
    ]
    left_frame = pl.DataFrame(
        left,
        schema={
            "team": pl.String,
            "hotspot_id": pl.String,
            "cell_id": pl.String,
            "priority": pl.Float64,
            "reason": pl.String,
        },
    )
    for plan in plans:
        plan.left_out = left_frame.filter(
            pl.col("team").is_null() | (pl.col("team") == plan.team)
        ).drop("team")
    return plans


def _at(shift_start: dt.datetime, minute: float) -> dt.datetime:
    """Return the time ``minute`` minutes into the shift, to the whole minute."""
    return shift_start + dt.timedelta(minutes=math.floor(minute + 1e-6))


def _service_name(row: dict[str, Any]) -> str:
    return str(row["id"]) if row.get("sensitive") else str(row["name"])


#: Columns of a plan's stops, in order (:class:`RoutePlan`).
STOP_COLUMNS: tuple[str, ...] = (
    "seq",
    "hotspot_id",
    "cell",
    "cell_id",
    "district",
    "typology",
    "peer_educator",
    "arrive",
    "arrive_until",
    "minutes_there",
    "overdue",
    "missed_before",
    "follow_up",
    "done",
    "referrals",
    "size_min",
    "size_max",
    "people",
    "kits",
)
#: What a team's copy of a plan leaves empty: what follows from a hotspot's size estimate.
SIZE_COLUMNS: tuple[str, ...] = ("size_min", "size_max", "people", "kits")
#: Columns of a plan's stops as stored.
_STORED: dict[str, pl.DataType | type[pl.DataType]] = {
    "seq": pl.Int64,
    "hotspot_id": pl.String,
    "cell": pl.Int64,
    "arrive": pl.Datetime("us"),
    "arrive_until": pl.Datetime("us"),
    "minutes_there": pl.Int64,
    "overdue": pl.Boolean,
}


def _describe_stops(stops: pl.DataFrame, candidates: _Candidates) -> pl.DataFrame:
    """Add to stored stops what the run sheet says of each: who, what to bring, where to refer."""
    data, hotspots = candidates.data, candidates.hotspots
    info = hotspots.select(
        pl.col("id").alias("hotspot_id"),
        pl.col("cell_id"),
        pl.col("district_id"),
        pl.col("typology"),
        pl.col("peer_educator"),
        pl.col("missed_before"),
        pl.col("size_min"),
        pl.col("size_max"),
        pl.col("weight"),
    )
    districts = data.districts.select("district_id", "district")
    out = (
        stops.join(info, on="hotspot_id", how="left")
        .join(districts, on="district_id", how="left")
        .with_columns(
            pl.coalesce("cell_id", pl.col("cell").map_elements(cell_to_str, pl.String)),
            pl.col("typology").map_elements(
                lambda code: value_of(HOTSPOT_TYPOLOGIES, code), pl.String
            ),
            pl.col("missed_before").fill_null(False),
        )
    )
    out = out.with_columns(
        _follow_ups(data, candidates.options, out["cell"].to_list()),
        pl.Series("referrals", _referrals(data, candidates.options, out), dtype=REFERRAL),
        pl.lit(False).alias("done"),
        _people(out),
    )
    return out.with_columns(_kits(candidates.options, out["people"])).select(STOP_COLUMNS)


def _follow_ups(data: CoverageData, options: PlanOptions, cells: list[int]) -> pl.Series:
    """Return, per cell, whether a follow-up is due there (a yes/no, never a count).

    Due where someone was referred on their last visit, within the last ``recent_days``, and
    has not been seen since: the team may find them there again and ask how it went.
    """
    since = epoch_day(data.as_of) - options.coverage.recent_days
    last = (
        data.visits.filter(pl.col("contact_id").is_not_null())
        .sort("day")
        .group_by("contact_id")
        .agg(pl.col("day").last(), pl.col("cell").last(), pl.col("profile_id").last())
    )
    referred = (
        last.filter((pl.col("day") >= since) & pl.col("cell").is_not_null())
        .join(data.profiles.select("profile_id", "referrals"), on="profile_id", how="inner")
        .filter(pl.col("referrals") > 0)
    )
    marked = set(referred["cell"].to_list())
    return pl.Series("follow_up", [cell in marked for cell in cells], dtype=pl.Boolean)


def _people(stops: pl.DataFrame) -> pl.Series:
    """Return the people each stop's kits are counted for: the top of its size estimate.

    The upper end of the range (the lower end when only that is known), so a team meeting
    everyone there does not run out; the median hotspot's estimate, rounded up, when there is
    none (:func:`mapping.analysis.coverage.estimated_sizes`).
    """
    people = stops.select(
        pl.coalesce(
            pl.col("size_max").cast(pl.Int64),
            pl.col("size_min").cast(pl.Int64),
            pl.col("weight").ceil().cast(pl.Int64),
        )
    ).to_series()
    return people.fill_null(0).alias("people")


def _kits(options: PlanOptions, people: pl.Series) -> pl.Series:
    """Return the standard kits to bring to each stop (:meth:`PlanOptions.kits_for`)."""
    return pl.Series("kits", options.kits_for(people.to_numpy()), dtype=pl.Int64)


#: A stop's referral services: type, name (None if sensitive) and travel minutes.
REFERRAL = pl.List(pl.Struct({"service_type": pl.String, "name": pl.String, "minutes": pl.Int64}))


def _referrals(
    data: CoverageData, options: PlanOptions, stops: pl.DataFrame
) -> list[list[dict[str, Any]]]:
    """Return, per stop, the nearest friendly services open at the planned arrival."""
    services = servable(data.services, data.as_of, friendly_only=True)
    referral_codes = [SERVICE_TYPES.index(name) + 1 for name in REFERRAL_TYPES]
    services = services.filter(pl.col("service_type").is_in(referral_codes))
    if stops.height == 0:
        return []
    if services.height == 0:
        return [[] for _ in range(stops.height)]
    masks = opening_masks(services["opening_hours"].to_list(), week_of=data.as_of)
    s_lat, s_lng = service_points(services)
    h_lat, h_lng = cell_centres(stops["cell"].to_list())
    minutes = options.coverage.travel.minutes(h_lat, h_lng, s_lat, s_lng)
    out = []
    for index, arrive in enumerate(stops["arrive"].to_list()):
        slot = (arrive.weekday() * 1440 + arrive.hour * 60 + arrive.minute) // SLOT_MINUTES
        open_now = np.flatnonzero(masks[:, slot])
        nearest = open_now[np.argsort(minutes[index, open_now])][:REFERRALS_PER_STOP]
        parts = []
        for service in nearest:
            row = services.row(int(service), named=True)
            parts.append(
                {
                    "service_type": SERVICE_TYPES[row["service_type"] - 1],
                    # a sensitive service is never named on paper: the coordinator knows it
                    "name": None if row["sensitive"] else row["name"],
                    "minutes": round(float(minutes[index, service])),
                }
            )
        out.append(parts)
    return out


def _check_no_clash(connection: sa.Connection, plans: list[RoutePlan]) -> None:
    """Refuse plans holding a hotspot another team's plan for the same night took meanwhile.

    Runs under the write lock: the plans were made from what was stored before, and another
    coordinator may have saved a plan for that night since.
    """
    p, s = store.plans.c, store.plan_stops.c
    for day in sorted({plan.day for plan in plans}):
        teams = [plan.team for plan in plans if plan.day == day]
        wanted = [h for plan in plans if plan.day == day for h in plan.stops["hotspot_id"]]
        if not wanted:
            continue
        clash = connection.execute(
            sa.select(p.team, s.hotspot_id)
            .join_from(store.plan_stops, store.plans, s.plan_id == p.id)
            .where(p.plan_date == day, p.team.not_in(teams), s.hotspot_id.in_(wanted))
            .order_by(s.hotspot_id)
        ).first()
        if clash is not None:
            raise InvalidInputError(
                f"hotspot {clash.hotspot_id} is in team {clash.team}'s plan for {day}, saved "
                "since this plan was made — plan again: the new plan leaves it to them"
            )


def save_plans(
    workspace: Workspace, plans: list[RoutePlan], *, actor: Actor | None = None
) -> list[str]:
    """Store plans, each replacing an earlier plan of the same team and day; audited.

    ``actor`` is who saves (default: :func:`mapping.storage.audit.acting`). Returns the teams whose
    earlier plan for that night was replaced.
    """
    replaced: list[str] = []
    actor = actor or acting()
    now = clock.utc_now().replace(tzinfo=None)
    with workspace.begin(write=True) as connection:
        _check_no_clash(connection, plans)
        for plan in plans:
            p = store.plans.c
            old = connection.execute(
                sa.select(p.id).where(p.team == plan.team, p.plan_date == plan.day)
            ).scalar()
            if old is not None:
                replaced.append(plan.team)
                connection.execute(
                    store.plan_stops.delete().where(store.plan_stops.c.plan_id == old)
                )
                connection.execute(store.plans.delete().where(p.id == old))
            plan_id = connection.execute(
                store.plans.insert()
                .values(
                    team=plan.team,
                    plan_date=plan.day,
                    start_service=plan.start_service,
                    shift_start=plan.shift_start,
                    shift_end=plan.shift_end,
                    travel=plan.travel[:200],
                    travel_minutes=float(plan.travel_minutes),
                    back_at=plan.back,
                    created_at=now,
                    created_by=actor.username,
                )
                .returning(p.id)
            ).scalar_one()
            rows = plan.stops.select(list(_STORED)).to_dicts()
            if rows:
                connection.execute(
                    store.plan_stops.insert(), [{"plan_id": plan_id, **row} for row in rows]
                )
            record(
                connection,
                actor,
                "plan",
                f"route of team {plan.team} for {plan.day} {plan.hours}: {plan.stops.height} stops",
            )
    return replaced


def assigned_cells(workspace: Workspace) -> pl.DataFrame:
    """Return each assigned active hotspot's cell with its peer educator and team."""
    with workspace.connect() as connection:
        frame = _assigned(connection)
        cells = connection.execute(
            sa.select(store.hotspots.c.id, store.hotspots.c.cell).where(store.hotspots.c.active)
        ).all()
    hotspots = pl.DataFrame(
        [tuple(row) for row in cells], schema={"id": pl.String, "cell": pl.Int64}, orient="row"
    )
    return frame.join(hotspots, on="id", how="inner")


def start_services(workspace: Workspace, *, today: dt.date | None = None) -> pl.DataFrame:
    """Return the services a route may start from: active ones, drop-in centres first.

    Columns ``id`` and ``label`` (name and type, for a coordinator's list).
    """
    s = store.services.c
    today = today or clock.today(workspace)
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(s.id, s.name, s.service_type)
            .where(
                sa.or_(s.active_until.is_(None), s.active_until >= today),
                sa.or_(s.active_from.is_(None), s.active_from <= today),
            )
            .order_by(s.service_type, s.id)
        ).all()
    return pl.DataFrame(
        {
            "id": [str(row.id) for row in rows],
            "label": [
                f"{row.name} ({SERVICE_TYPES[row.service_type - 1]}, {row.id})" for row in rows
            ],
        },
        schema={"id": pl.String, "label": pl.String},
    )


def for_peer_educators(plan: RoutePlan) -> RoutePlan:
    """Return the plan as a peer educator sees it: nothing that follows from a size estimate.

    The size range and the kits per stop are emptied, and so is the list of hotspots left out
    (it is ordered by priority, which grows with size); the stops, their order and times, and
    the stay (the same at every stop) are as planned, since none of them depends on a size
    (docs/privacy.md). A team brings what the coordinator packs, and hands out one standard
    kit per person.

    Raises
    ------
    InvalidInputError
        If the plan's stays differ between stops: a plan stored before stays were fixed, whose
        arrival times would tell each place's size. Plan that night again.
    """
    stays = set(plan.stops["minutes_there"].to_list()) if "minutes_there" in plan.stops else set()
    if len(stays) > 1:
        raise InvalidInputError(
            f"the plan of team {plan.team} for {plan.day} stays {min(stays)} to {max(stays)} "
            "minutes at its stops: it was made when the stay grew with each hotspot's size, "
            "which its times would tell a peer educator — plan that night again"
        )
    stops = plan.stops.with_columns(
        pl.lit(None, dtype=pl.Int64).alias(name) for name in SIZE_COLUMNS if name in plan.stops
    )
    # what was left out is listed by priority, which grows with size: not on a team's copy
    return replace(plan, stops=stops, left_out=plan.left_out.clear(), for_team=True)


def record_runsheet(
    workspace: Workspace, plan: RoutePlan, fmt: str, *, actor: Actor | None = None
) -> None:
    """Audit that a plan's run sheet left the server (a file written or downloaded).

    ``actor`` is who took it (default: :func:`mapping.storage.audit.acting`): a download button's
    callback runs outside the page, so the app passes the signed-in account.
    """
    with workspace.begin() as connection:
        record(
            connection,
            actor or acting(),
            "export",
            f"run sheet ({fmt}{', team copy' if plan.for_team else ''}) of team {plan.team} "
            f"for {plan.day}: {plan.stops.height} stops",
        )


def stored_plans(
    workspace: Workspace,
    *,
    teams: list[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
    now: dt.datetime | None = None,
    options: PlanOptions | None = None,
) -> list[RoutePlan]:
    """Return the stored plans of ``teams`` (all if None) from ``since`` to ``until``, newest first.

    Each stop's ``done`` says whether a visit was logged at its cell from the plan's day on.
    """
    options = options or PlanOptions.from_settings()
    now = now or clock.now(workspace).replace(tzinfo=None)
    p, s, v = store.plans.c, store.plan_stops.c, store.visits.c
    query = sa.select(*store.plans.c).order_by(p.plan_date.desc(), p.team)
    if teams is not None:
        query = query.where(p.team.in_(teams))
    if since is not None:
        query = query.where(p.plan_date >= since)
    if until is not None:
        query = query.where(p.plan_date <= until)
    with workspace.connect() as connection:
        heads = [dict(row._mapping) for row in connection.execute(query)]
        if not heads:
            return []
        done = (
            sa.select(sa.literal(1))
            .where(v.cell == s.cell, v.visit_date >= p.plan_date)
            .correlate(store.plan_stops, store.plans)
            .exists()
        )
        stop_rows = connection.execute(
            sa.select(s.plan_id, *(s[name] for name in _STORED), done.label("done"))
            .join_from(store.plan_stops, store.plans, s.plan_id == p.id)
            .where(s.plan_id.in_([head["id"] for head in heads]))
            .order_by(s.plan_id, s.seq)
        ).all()
    day = max(head["plan_date"] for head in heads)
    candidates, _, _ = _candidates(workspace, day, options, now)
    plans = []
    for head in heads:
        mine = [row for row in stop_rows if row.plan_id == head["id"]]
        stops = pl.DataFrame(
            [{name: getattr(row, name) for name in _STORED} for row in mine], schema=_STORED
        )
        finished = pl.DataFrame(
            {"seq": [row.seq for row in mine], "is_done": [bool(row.done) for row in mine]},
            schema={"seq": pl.Int64, "is_done": pl.Boolean},
        )
        described = (
            _describe_stops(stops, candidates)
            .join(finished, on="seq", how="left")
            .with_columns(pl.col("is_done").fill_null(False).alias("done"))
            .drop("is_done")
            .sort("seq")
        )
        start = candidates.data.services.filter(pl.col("id") == head["start_service"])
        plans.append(
            RoutePlan(
                team=head["team"],
                day=head["plan_date"],
                shift_start=head["shift_start"],
                shift_end=head["shift_end"],
                start_service=head["start_service"],
                start_name=_service_name(start.row(0, named=True))
                if start.height
                else head["start_service"],
                stops=described,
                left_out=pl.DataFrame(),
                travel_minutes=float(head["travel_minutes"]),
                back=head["back_at"],
                travel=head["travel"],
            )
        )
    return plans


#: Nights ahead a peer educator's pages show plans for.
WEEK = 7


def current_plans(workspace: Workspace, team: str, today: dt.date) -> list[RoutePlan]:
    """Return a team's plans for the night on now and the next week's, soonest first.

    Yesterday's plan is included while its night may still be running (it ends in the morning).
    """
    if not team:
        return []
    now = clock.now(workspace).replace(tzinfo=None)
    plans = stored_plans(
        workspace,
        teams=[team],
        since=today - dt.timedelta(days=1),
        until=today + dt.timedelta(days=WEEK),
        now=now,
    )
    current = [plan for plan in plans if plan.day >= today or plan.shift_end >= now]
    return sorted(current, key=lambda plan: plan.day)
