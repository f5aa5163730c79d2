"""Split a programme's active hotspots between its peer educators, each near where they work.

Every active hotspot goes to one active peer educator (one with a visit in the last days). The
split is an integer program solved by OR-Tools' CP-SAT: it keeps each peer educator's hotspots
near where they already work, keeps each one's estimated sex workers within the workload norm
where the programme has the people for it, and shares the overload evenly where it has not.
Current assignments stay unless the coordinator asks for a rebalance, and even then a hotspot
moves only when that is clearly better: the relationship between a peer educator and the sex
workers of a hotspot is what outreach is built on.

Where a peer educator works (their *anchor*) is the median centre of the cells of their recent
visits. It is computed in memory for the split and never stored, logged or returned by the store
functions here: it would say where a person goes every night.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa
from ortools.sat.python import cp_model
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.analysis.coverage import estimated_sizes
from mapping.cells import cell_centres
from mapping.errors import InvalidInputError
from mapping.settings import get_settings
from mapping.storage import store
from mapping.storage.audit import Actor, acting, record
from mapping.storage.workspace import Workspace
from mapping.travel import distances_km

#: Cost of one sex worker over the workload norm, in km of distance per sex worker: a hotspot
#: goes to a peer educator up to this much farther away rather than overload a nearer one. Across
#: a city that always relieves overload; a hotspot in another town is not sent to someone who
#: would have to travel there (the overload then shows that the programme needs more people).
OVERLOAD_KM = 25.0
#: The cost rises by this much for each further tenth of the norm over it (to twice
#: :data:`OVERLOAD_KM` at half the norm over and beyond), so that when need exceeds capacity,
#: overload is shared out rather than piled on a few: 20 sex workers moved from a peer
#: educator 50 over the norm to one 10 over save 11 km each.
OVERLOAD_STEP_KM = 5.0
#: Bands of overload of rising cost, the last one without end.
OVERLOAD_BANDS = 6
#: Further cost of each sex worker of the largest overload, in the same unit, so that the
#: worst-off peer educator's load is brought down first.
MAX_OVERLOAD_KM = 25.0
#: Bonus per sex worker for keeping a hotspot's current peer educator in a rebalance, in km: a
#: move must bring a hotspot at least this much nearer (about one cell at resolution 8), or
#: relieve overload, to be worth breaking a relationship.
KEEP_KM = 1.0
#: Columns :func:`assign_hotspots` needs.
HOTSPOT_COLUMNS: tuple[str, ...] = ("id", "cell", "weight", "peer_educator_id")
PEER_COLUMNS: tuple[str, ...] = (
    "peer_educator_id",
    "peer_educator",
    "team",
    "anchor_lat",
    "anchor_lng",
)
#: CP-SAT works on integers: weights in hundredths of a sex worker, costs in hundredths of a
#: sex worker-km (one sex worker 10 m farther from her peer educator).
_PER_SEX_WORKER = 100
_PER_KM = 100
#: CP-SAT's least search time, in seconds, whatever is left of the time limit.
_LEAST_SOLVE_S = 0.5
#: Ids listed in a message before "and N more".
_SHOWN = 5
#: Hotspot ids per DELETE statement (far below any engine's limit on parameters).
_IDS_PER_STATEMENT = 500


def assign_hotspots(
    hotspots: pl.DataFrame,
    peers: pl.DataFrame,
    *,
    norm: float,
    rebalance: bool = False,
    candidates: int = 8,
    time_limit_s: float = 5.0,
) -> pl.DataFrame:
    """Return the hotspots with a peer educator for each, near where they work, within the norm.

    Without ``rebalance``, a hotspot whose current peer educator is among ``peers`` keeps them;
    the others (new hotspots, or those of a peer educator no longer active) are assigned. With
    ``rebalance``, every hotspot is assigned again, but keeping the current peer educator earns
    a bonus of :data:`KEEP_KM` per sex worker, so nothing moves for a trifle.

    The split minimises, in sex worker-km: the straight-line distance from each hotspot's cell
    centre to its peer educator's anchor times the hotspot's estimated sex workers (at least
    1); plus, per sex worker over ``norm``, :data:`OVERLOAD_KM` rising by
    :data:`OVERLOAD_STEP_KM` with each further tenth of the norm over it; plus
    :data:`MAX_OVERLOAD_KM` per sex worker of the largest overload; minus the keeping bonus.
    Each hotspot considers only its ``candidates`` nearest peer educators (and its current one).
    CP-SAT searches from a split built from the linear relaxation; if it has not proved the
    best split within ``time_limit_s`` (a city's split rarely is), the best one found is used.

    Parameters
    ----------
    hotspots
        One row per hotspot: ``id``, ``cell`` (H3 as an integer), ``weight`` (estimated sex workers,
        see :func:`mapping.analysis.coverage.estimated_sizes`) and ``peer_educator_id`` (the current
        peer educator, or null). Other columns are returned unchanged.
    peers
        One row per active peer educator: ``peer_educator_id``, ``peer_educator``, ``team``,
        ``anchor_lat`` and ``anchor_lng`` (where they work; null when they have no located
        visit: then their team's median anchor, else the median centre of the hotspots).
    norm
        Estimated sex workers per peer educator (``Settings.workload_norm``).
    rebalance
        Assign every hotspot again instead of only the unassigned ones.
    candidates
        Nearest peer educators each hotspot may go to.
    time_limit_s
        Longest time CP-SAT searches, in seconds.

    Returns
    -------
    polars.DataFrame
        ``hotspots`` in the same order, with ``peer_educator_id`` (Int64) filled and ``kept`` (the
        assignment did not change).

    Raises
    ------
    InvalidInputError
        When there is no peer educator, a column is missing, a value is unusable, or an
        option is out of range.

    Examples
    --------
    >>> import h3
    >>> cell = h3.str_to_int(h3.latlng_to_cell(-12.05, -77.03, 8))
    >>> hotspots = pl.DataFrame(
    ...     {"id": ["H1"], "cell": [cell], "weight": [12.0], "peer_educator_id": [None]},
    ...     schema_overrides={"peer_educator_id": pl.Int64},
    ... )
    >>> peers = pl.DataFrame(
    ...     {"peer_educator_id": [7], "peer_educator": ["PE1"], "team": ["T1"],
    ...      "anchor_lat": [-12.05], "anchor_lng": [-77.03]}
    ... )
    >>> assign_hotspots(hotspots, peers, norm=90).select("id", "peer_educator_id", "kept").row(0)
    ('H1', 7, False)
    """
    _check_inputs(hotspots, peers, norm=norm, candidates=candidates, time_limit_s=time_limit_s)
    before = hotspots["peer_educator_id"].cast(pl.Int64)
    if hotspots.height == 0:
        return hotspots.with_columns(before.alias("peer_educator_id"), pl.lit(False).alias("kept"))
    peer_ids = peers["peer_educator_id"].cast(pl.Int64).to_numpy()
    h_lat, h_lng = cell_centres(hotspots["cell"].cast(pl.Int64).to_list())
    a_lat, a_lng = _anchors(peers, h_lat, h_lng)
    km = distances_km(h_lat, h_lng, a_lat, a_lng)
    index = {int(peer): position for position, peer in enumerate(peer_ids)}
    now = np.array(
        [-1 if peer is None else index.get(peer, -1) for peer in before.to_list()],
        dtype=np.int64,
    )
    fixed = np.zeros(hotspots.height, dtype=bool) if rebalance else now >= 0
    chosen = _split(
        km,
        hotspots["weight"].cast(pl.Float64).to_numpy(),
        now,
        fixed,
        norm=norm,
        rebalance=rebalance,
        candidates=candidates,
        time_limit_s=time_limit_s,
    )
    return hotspots.with_columns(
        pl.Series("peer_educator_id", peer_ids[chosen], dtype=pl.Int64),
        pl.Series("kept", (chosen == now) & (now >= 0), dtype=pl.Boolean),
    )


def workloads(assigned: pl.DataFrame, peers: pl.DataFrame, norm: float) -> pl.DataFrame:
    """Return each peer educator's workload: hotspots, estimated sex workers, ratio to the norm.

    Parameters
    ----------
    assigned
        Hotspots with ``peer_educator_id`` and ``weight`` (as :func:`assign_hotspots` returns them).
    peers
        The peer educators (``peer_educator_id``, ``peer_educator``, ``team``); one without a
        hotspot has a workload of 0. Hotspots of a peer educator not listed are not counted.
    norm
        Estimated sex workers per peer educator.

    Returns
    -------
    polars.DataFrame
        ``team``, ``peer_educator``, ``peer_educator_id``, ``hotspots``, ``sex_workers`` (estimated)
        and ``ratio`` (``sex_workers / norm``: over 1 is overloaded), sorted by team and peer
        educator.

    Examples
    --------
    >>> assigned = pl.DataFrame({"peer_educator_id": [1, 1, 2], "weight": [50.0, 40.0, 45.0]})
    >>> peers = pl.DataFrame({"peer_educator_id": [1, 2, 3], "peer_educator": ["A", "B", "C"],
    ...                       "team": ["T1", "T1", "T2"]})
    >>> workloads(assigned, peers, 90)["ratio"].to_list()
    [1.0, 0.5, 0.0]
    """
    _check_norm(norm)
    per_peer = (
        assigned.filter(pl.col("peer_educator_id").is_not_null())
        .group_by(pl.col("peer_educator_id").cast(pl.Int64))
        .agg(
            pl.len().cast(pl.Int64).alias("hotspots"),
            pl.col("weight").cast(pl.Float64).sum().alias("sex_workers"),
        )
    )
    return (
        peers.select(
            pl.col("team").cast(pl.String),
            pl.col("peer_educator").cast(pl.String),
            pl.col("peer_educator_id").cast(pl.Int64),
        )
        .join(per_peer, on="peer_educator_id", how="left")
        .with_columns(pl.col("hotspots").fill_null(0), pl.col("sex_workers").fill_null(0.0))
        .with_columns((pl.col("sex_workers") / float(norm)).alias("ratio"))
        .sort("team", "peer_educator")
    )


@dataclass(frozen=True)
class AssignmentResult:
    """What an assignment run decided and saved.

    ``assignments`` has one row per active hotspot: ``id``, ``cell``, ``weight``,
    ``previous_peer_educator_id`` (null if it had none), ``peer_educator_id``, ``team``,
    ``peer_educator`` and ``kept``. ``workloads`` is :func:`workloads` of every active peer
    educator. The counts say how many hotspots kept their peer educator, got one for the first time,
    changed, and how many stored assignments of hotspots no longer active were removed.
    """

    assignments: pl.DataFrame
    workloads: pl.DataFrame
    kept: int
    new: int
    changed: int
    removed: int
    rebalance: bool = False

    def summary(self) -> str:
        """Return the run in one English line (the app words it in the page's language).

        Examples
        --------
        >>> hotspots = pl.DataFrame({"id": range(8)})
        >>> peers = pl.DataFrame({"peer_educator_id": [1, 2]})
        >>> AssignmentResult(hotspots, peers, kept=5, new=2, changed=1, removed=0).summary()
        '8 hotspots between 2 peer educators: 5 kept, 2 new, 1 changed, 0 removed'
        """
        return (
            f"{self.assignments.height} hotspots between {self.workloads.height} peer educators: "
            f"{self.kept} kept, {self.new} new, {self.changed} changed, {self.removed} removed"
        )


def active_peers(
    workspace: Workspace, *, today: dt.date | None = None, days: int | None = None
) -> pl.DataFrame:
    """Return the peer educators with a visit in the last ``days`` days up to ``today``.

    Parameters
    ----------
    workspace
        The workspace whose store is read.
    today
        The last day of the window (default: today where the programme works).
    days
        Length of the window, today included (default ``Settings.default_period_days``).

    Returns
    -------
    polars.DataFrame
        ``peer_educator_id``, ``peer_educator``, ``team``, ``anchor_lat``, ``anchor_lng``: the
        median centre of the cells of their located visits in the window, weighted by visits (null
        for one whose visits there were all by phone, SMS or online). Sorted by team and peer
        educator. The anchors are for :func:`assign_hotspots` only: never store or show them.
    """
    today, days = _window(today, days)
    with workspace.connect() as connection:
        return _active_peers(connection, today=today, days=days)


def current_assignments(workspace: Workspace) -> pl.DataFrame:
    """Return the stored assignments: which peer educator covers each hotspot, since when.

    Returns
    -------
    polars.DataFrame
        ``hotspot_id``, ``peer_educator_id``, ``peer_educator``, ``team``, ``assigned_at`` (UTC) and
        ``assigned_by`` (an account's username), sorted by hotspot id.
    """
    with workspace.connect() as connection:
        return stored_assignments(connection)


def run_assignment(
    workspace: Workspace,
    *,
    rebalance: bool = False,
    today: dt.date | None = None,
    norm: float | None = None,
    days: int | None = None,
    actor: Actor | None = None,
    candidates: int = 8,
    time_limit_s: float = 5.0,
) -> AssignmentResult:
    """Assign the workspace's active hotspots to its active peer educators, and save the result.

    Reads, solves (:func:`assign_hotspots`) and writes in one transaction under the store's
    write lock, so no import or edit lands in between: a hotspot whose peer educator changed (or
    that had none) gets a new row, one that kept its peer educator is not touched (its
    ``assigned_at`` stays), and the rows of hotspots no longer active are deleted. A run that
    changes something is recorded in the audit log (action ``assign``) with its counts. Running
    again with nothing new changes nothing.

    Parameters
    ----------
    workspace
        The workspace to assign in.
    rebalance
        Assign every hotspot again (keeping current peer educators where it costs little).
    today
        The last day of the window that makes a peer educator active (default: today where
        the programme works).
    norm
        Estimated sex workers per peer educator (default ``Settings.workload_norm``).
    days
        A peer educator is active after a visit in this many days up to ``today`` (default
        ``Settings.default_period_days``).
    actor
        Who runs it, for ``assigned_by`` and the audit log (default:
        :func:`mapping.storage.audit.acting`).
    candidates
        Nearest peer educators each hotspot may go to.
    time_limit_s
        Longest time CP-SAT searches, in seconds (the write lock is held meanwhile).

    Returns
    -------
    AssignmentResult
        The assignments, the workloads and what changed.

    Raises
    ------
    InvalidInputError
        When no peer educator has a visit in the window, or an option is out of range.
    """
    today, days = _window(today, days)
    norm = float(get_settings().workload_norm if norm is None else norm)
    actor = actor or acting()
    with workspace.begin(write=True) as connection:
        hotspots = _active_hotspots(connection)
        current = stored_assignments(connection)
        peers = _active_peers(connection, today=today, days=days)
        if peers.height == 0:
            raise InvalidInputError(
                f"no active peer educator: import visits first — hotspots go to peer "
                f"educators with a visit in the {days} days up to {today}"
            )
        previous = current.select(pl.col("hotspot_id").alias("id"), "peer_educator_id")
        frame = hotspots.join(previous, on="id", how="left").sort("id")
        assigned = assign_hotspots(
            frame,
            peers,
            norm=norm,
            rebalance=rebalance,
            candidates=candidates,
            time_limit_s=time_limit_s,
        ).with_columns(frame["peer_educator_id"].alias("previous_peer_educator_id"))
        moved = assigned.filter(~pl.col("kept"))
        stale = current.join(
            hotspots.select(pl.col("id").alias("hotspot_id")), on="hotspot_id", how="anti"
        )
        _save(connection, moved, stale["hotspot_id"].to_list(), actor)
        result = AssignmentResult(
            assignments=assigned.join(
                peers.select("peer_educator_id", "team", "peer_educator"),
                on="peer_educator_id",
                how="left",
            )
            .select(
                "id",
                "cell",
                "weight",
                "previous_peer_educator_id",
                "peer_educator_id",
                "team",
                "peer_educator",
                "kept",
            )
            .sort("id"),
            workloads=workloads(assigned, peers, norm),
            kept=int(assigned["kept"].sum()),
            new=int(moved["previous_peer_educator_id"].is_null().sum()),
            changed=int(moved["previous_peer_educator_id"].is_not_null().sum()),
            removed=stale.height,
            rebalance=rebalance,
        )
        if moved.height or stale.height:
            verb = "rebalanced" if rebalance else "assigned"
            record(connection, actor, "assign", f"{verb} {result.summary()}")
        return result


# --- the integer program ------------------------------------------------------------------------


def _split(
    km: np.ndarray,
    weight: np.ndarray,
    now: np.ndarray,
    fixed: np.ndarray,
    *,
    norm: float,
    rebalance: bool,
    candidates: int,
    time_limit_s: float,
) -> np.ndarray:
    """Return the position of the peer educator each hotspot goes to (see assign_hotspots)."""
    n_peers = km.shape[1]
    chosen = np.where(fixed, now, -1)
    free = np.flatnonzero(~fixed)
    if free.size == 0:
        return chosen
    scaled = np.rint(weight * _PER_SEX_WORKER).astype(np.int64)
    base = np.bincount(now[fixed], weights=scaled[fixed], minlength=n_peers).astype(np.int64)
    rows, peers = _pairs(km, free, now, candidates)
    hotspots = free[rows]
    # distance counts per sex worker, but a hotspot of an estimated 0 still costs a trip
    per_km = np.maximum(weight[hotspots], 1.0) * _PER_KM
    cost = np.rint(per_km * km[hotspots, peers]).astype(np.int64)
    if rebalance:
        # the bonus is added to every other peer educator, so that costs stay non-negative
        moves = (now[hotspots] >= 0) & (now[hotspots] != peers)
        cost[moves] += np.rint(per_km[moves] * KEEP_KM).astype(np.int64)
    problem = _Problem(
        rows=rows,
        peers=peers,
        cost=cost,
        load=scaled[hotspots],
        spare=round(norm * _PER_SEX_WORKER) - base,
        band=max(1, round(norm * _PER_SEX_WORKER / 10)),
        n_rows=free.size,
        n_peers=n_peers,
    )
    began = time.monotonic()
    # CP-SAT's own search starts far from the best split on a city-sized instance (its first
    # solutions pile hundreds of sex workers on a few peer educators), so it is handed a good
    # one: the linear relaxation's, whose hotspots are nearly all whole, improved by single
    # moves; in a rebalance also the current split so improved, which keeps more as it was.
    shares = _relaxation(problem)
    whole = np.flatnonzero(shares > 1 - 1e-6)
    seeds = [np.full(problem.n_rows, -1, dtype=np.int64)]
    seeds[0][problem.rows[whole]] = whole
    kept = np.flatnonzero(now[free] >= 0)
    if rebalance and kept.size:
        codes = problem.rows * n_peers + problem.peers
        seeds.insert(0, np.full(problem.n_rows, -1, dtype=np.int64))
        seeds[0][kept] = np.searchsorted(codes, kept * n_peers + now[free][kept])
    # the improvements may take up to half the time, CP-SAT the rest
    share = time_limit_s / 2 / len(seeds)
    starts = [_improved(problem, seed, deadline=time.monotonic() + share) for seed in seeds]
    start = min(starts, key=lambda pairs: _objective(problem, pairs))
    left = max(time_limit_s - (time.monotonic() - began), _LEAST_SOLVE_S)
    chosen[free] = _solve(problem, start, time_limit_s=left)
    return chosen


@dataclass(frozen=True)
class _Problem:
    """The integer program in arrays: one entry per (hotspot row, peer educator) pair allowed."""

    rows: np.ndarray
    peers: np.ndarray
    cost: np.ndarray
    load: np.ndarray
    #: capacity left to each peer educator after their fixed hotspots (negative if overloaded)
    spare: np.ndarray
    #: width of each band of overload but the last (a tenth of the norm)
    band: int
    n_rows: int
    n_peers: int


def _per_load(km: float) -> int:
    """Return a cost in km per sex worker in the program's units (per hundredth of one)."""
    return round(km * _PER_KM / _PER_SEX_WORKER)


#: Cost of each band of overload, and of the largest overload, in the program's units.
_BAND_COSTS = tuple(
    _per_load(OVERLOAD_KM + band * OVERLOAD_STEP_KM) for band in range(OVERLOAD_BANDS)
)
_LARGEST = _per_load(MAX_OVERLOAD_KM)


def _pairs(
    km: np.ndarray, free: np.ndarray, now: np.ndarray, candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the allowed (row of ``free``, peer educator) pairs: the nearest, and the current."""
    n_peers = km.shape[1]
    near = min(candidates, n_peers)
    options = np.argpartition(km[free], near - 1, axis=1)[:, :near]
    rows = np.repeat(np.arange(free.size), near)
    peers = options.ravel()
    current = now[free] >= 0
    rows = np.concatenate([rows, np.flatnonzero(current)])
    peers = np.concatenate([peers, now[free][current]])
    codes = np.unique(rows * n_peers + peers)
    return codes // n_peers, codes % n_peers


def _relaxation(problem: _Problem) -> np.ndarray:
    """Return the share of each pair in the best split of the linear relaxation (HiGHS).

    The relaxation may split a hotspot between peer educators, but nearly all come out whole
    (in the synthetic city of the tests, about 1,200 of 1,400); it takes well under a second.
    """
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, vstack

    n_pairs, n_peers, n_bands = problem.rows.size, problem.n_peers, len(_BAND_COSTS)
    pairs = np.arange(n_pairs)
    # columns: the pairs, then each peer educator's bands of overload, then the largest overload
    band_peer = np.repeat(np.arange(n_peers), n_bands)
    bands = n_pairs + np.arange(n_peers * n_bands)
    largest = n_pairs + n_peers * n_bands
    width = largest + 1
    one_each = csr_array((np.ones(n_pairs), (problem.rows, pairs)), shape=(problem.n_rows, width))
    loads = csr_array(
        (
            np.concatenate([problem.load.astype(float), -np.ones(bands.size)]),
            (np.concatenate([problem.peers, band_peer]), np.concatenate([pairs, bands])),
        ),
        shape=(n_peers, width),
    )
    under_largest = csr_array(
        (
            np.concatenate([np.ones(bands.size), -np.ones(n_peers)]),
            (
                np.concatenate([band_peer, np.arange(n_peers)]),
                np.concatenate([bands, np.full(n_peers, largest)]),
            ),
        ),
        shape=(n_peers, width),
    )
    objective = np.concatenate(
        [problem.cost.astype(float), np.tile(_BAND_COSTS, n_peers), [float(_LARGEST)]]
    )
    band_bounds = [(0, problem.band)] * (n_bands - 1) + [(0, None)]
    solution = linprog(
        objective,
        A_ub=vstack([loads, under_largest]),
        b_ub=np.concatenate([problem.spare.astype(float), np.zeros(n_peers)]),
        A_eq=one_each,
        b_eq=np.ones(problem.n_rows),
        bounds=[(0, 1)] * n_pairs + band_bounds * n_peers + [(0, None)],
        method="highs",
    )
    if not solution.success:  # pragma: no cover - HiGHS solves every such program
        return np.zeros(n_pairs)
    return np.asarray(solution.x[:n_pairs])


def _band_cost(over: np.ndarray, band: int) -> np.ndarray:
    """Return the cost of overloads (program units) through the bands of rising cost."""
    cost = np.zeros(np.shape(over))
    last = len(_BAND_COSTS) - 1
    for index, per_unit in enumerate(_BAND_COSTS):
        part = np.asarray(over, dtype=float) - index * band
        cost += per_unit * np.clip(part, 0, band if index < last else None)
    return cost


class _Split:
    """A split being built or improved: the chosen pair of each row, and the peer loads."""

    def __init__(self, problem: _Problem) -> None:
        self.problem = problem
        self.first = np.searchsorted(problem.rows, np.arange(problem.n_rows + 1))
        self.chosen = np.full(problem.n_rows, -1, dtype=np.int64)
        self.load = np.zeros(problem.n_peers, dtype=np.int64)

    def over(self) -> np.ndarray:
        """Return each peer educator's overload now."""
        return np.asarray(np.maximum(self.load - self.problem.spare, 0))

    def take(self, pair: int) -> None:
        """Choose ``pair`` for its row (leaving the row's earlier choice)."""
        problem, row = self.problem, int(self.problem.rows[pair])
        if self.chosen[row] >= 0:
            self.load[problem.peers[self.chosen[row]]] -= problem.load[self.chosen[row]]
        self.chosen[row] = pair
        self.load[problem.peers[pair]] += problem.load[pair]

    def best_move(self, row: int) -> tuple[int, float]:
        """Return the row's pair that lowers the objective most, and by how much (<0 is better).

        The change counts the pair's distance cost, the bands of overload of the peer
        educator the row leaves and of the one it joins, and the largest overload.
        """
        problem = self.problem
        pairs = np.arange(self.first[row], self.first[row + 1])
        peers = problem.peers[pairs]
        weight = int(problem.load[pairs[0]])
        over = self.over()
        largest = over.max()
        current = int(self.chosen[row])
        delta = problem.cost[pairs].astype(float)
        after = over.copy()
        if current >= 0:
            left = int(problem.peers[current])
            delta -= problem.cost[current]
            after[left] = max(int(self.load[left]) - weight - int(problem.spare[left]), 0)
            delta -= _band_cost(over[left], problem.band) - _band_cost(after[left], problem.band)
        joined = np.maximum(self.load[peers] + weight - problem.spare[peers], 0)
        delta += _band_cost(joined, problem.band) - _band_cost(after[peers], problem.band)
        # the largest overload once each peer educator takes the row: the largest of the others
        # (the two largest suffice to know it) or the joining one's own
        top = np.argsort(after)[-2:]
        others = np.where(peers == top[-1], after[top[0]] if len(top) > 1 else 0, after[top[-1]])
        delta += _LARGEST * (np.maximum(others, joined) - largest)
        if current >= 0:
            delta[peers == problem.peers[current]] = 0.0
        best = int(np.argmin(delta))
        return int(pairs[best]), float(delta[best])


def _improved(problem: _Problem, seed: np.ndarray, deadline: float) -> np.ndarray:
    """Return a split (a pair id per row) grown from ``seed`` and improved by single moves.

    ``seed`` gives a pair for some rows (-1 for the others). The others go, largest first,
    where they add least to the objective; then any single move that lowers the objective is
    made, until none is left or ``deadline`` (a ``time.monotonic`` time) has passed.
    """
    split = _Split(problem)
    for pair in seed[seed >= 0].tolist():
        split.take(pair)
    open_rows = np.flatnonzero(split.chosen < 0)
    weights = problem.load[split.first[open_rows]]
    for row in open_rows[np.argsort(-weights, kind="stable")].tolist():
        split.take(split.best_move(row)[0])
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for row in range(problem.n_rows):
            pair, delta = split.best_move(row)
            if delta < -0.5:
                split.take(pair)
                improved = True
        # when every peer educator is near the norm, no single move helps; swaps still may
        improved = _swap(split) or improved
    return split.chosen


def _swap(split: _Split) -> bool:
    """Swap pairs of hotspots between peer educators where that lowers the objective.

    Every swap allowed (each hotspot may go to the other's peer educator) is priced at once,
    without the largest-overload term; the best ones that share no peer educator are made
    together, and undone if the objective, now with that term, did not fall. Return whether
    it fell.
    """
    problem = split.problem
    rows = np.arange(problem.n_rows)
    peer_of = problem.peers[split.chosen]
    # every (a, b) with b at a peer educator a may go to, and a allowed at b's
    order = np.argsort(peer_of, kind="stable")
    starts = np.searchsorted(peer_of[order], np.arange(problem.n_peers + 1))
    counts = starts[problem.peers + 1] - starts[problem.peers]
    a_pairs = np.repeat(np.arange(problem.rows.size), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    b_rows = order[np.repeat(starts[problem.peers], counts) + offsets]
    a_rows = problem.rows[a_pairs]
    keep = (a_rows < b_rows) & (peer_of[a_rows] != peer_of[b_rows])
    a_pairs, a_rows, b_rows = a_pairs[keep], a_rows[keep], b_rows[keep]
    codes = problem.rows * problem.n_peers + problem.peers
    wanted = b_rows * problem.n_peers + peer_of[a_rows]
    found = np.minimum(np.searchsorted(codes, wanted), codes.size - 1)
    allowed = codes[found] == wanted
    a_pairs, a_rows, b_rows, b_pairs = (
        a_pairs[allowed],
        a_rows[allowed],
        b_rows[allowed],
        found[allowed],
    )
    if a_pairs.size == 0:
        return False
    p, q = peer_of[a_rows], peer_of[b_rows]
    w_a, w_b = problem.load[split.chosen[a_rows]], problem.load[split.chosen[b_rows]]
    over = split.over()
    new_p = np.maximum(split.load[p] - w_a + w_b - problem.spare[p], 0)
    new_q = np.maximum(split.load[q] - w_b + w_a - problem.spare[q], 0)
    delta = (
        problem.cost[a_pairs]
        + problem.cost[b_pairs]
        - problem.cost[split.chosen[a_rows]]
        - problem.cost[split.chosen[b_rows]]
        + _band_cost(new_p, problem.band)
        - _band_cost(over[p], problem.band)
        + _band_cost(new_q, problem.band)
        - _band_cost(over[q], problem.band)
    )
    before = _objective(problem, split.chosen)
    chosen = split.chosen.copy()
    busy = np.zeros(problem.n_peers, dtype=bool)
    for index in np.argsort(delta, kind="stable").tolist():
        if delta[index] >= -0.5:
            break
        if busy[p[index]] or busy[q[index]]:
            continue
        busy[p[index]] = busy[q[index]] = True
        split.take(int(a_pairs[index]))
        split.take(int(b_pairs[index]))
    if _objective(problem, split.chosen) < before - 0.5:
        return True
    for pair in chosen[rows].tolist():
        split.take(pair)
    return False


def _objective(problem: _Problem, picked: np.ndarray) -> float:
    """Return the objective (program units) of the split choosing the ``picked`` pairs."""
    over = _overloads(problem, picked)
    return float(
        problem.cost[picked].sum()
        + _band_cost(over, problem.band).sum()
        + _LARGEST * (over.max() if over.size else 0)
    )


def _overloads(problem: _Problem, picked: np.ndarray) -> np.ndarray:
    """Return each peer educator's overload (program units) when the ``picked`` pairs are chosen."""
    load = np.bincount(
        problem.peers[picked], weights=problem.load[picked], minlength=problem.n_peers
    )
    return np.asarray(np.maximum(load.astype(np.int64) - problem.spare, 0))


def _solve(problem: _Problem, start: np.ndarray, *, time_limit_s: float) -> np.ndarray:
    """Return the peer educator of each row: CP-SAT's best split found from ``start`` (pair ids)."""
    model = cp_model.CpModel()
    choices = [model.new_bool_var(f"x{pair}") for pair in range(problem.rows.size)]
    hinted = np.zeros(problem.rows.size, dtype=bool)
    hinted[start] = True
    for choice, value in zip(choices, hinted.tolist(), strict=True):
        model.add_hint(choice, value)
    by_row: list[list[cp_model.IntVar]] = [[] for _ in range(problem.n_rows)]
    by_peer: list[list[int]] = [[] for _ in range(problem.n_peers)]
    for pair, (row, peer) in enumerate(
        zip(problem.rows.tolist(), problem.peers.tolist(), strict=True)
    ):
        by_row[row].append(choices[pair])
        by_peer[peer].append(pair)
    for row_choices in by_row:
        model.add_exactly_one(row_choices)
    total = int(problem.load.sum()) + int(np.abs(problem.spare).max())
    # the hint must be complete (every variable) for CP-SAT to start from it as it is
    start_over = _overloads(problem, start)
    bands: list[cp_model.IntVar] = []
    overloads = []
    for peer, pairs in enumerate(by_peer):
        # bands of overload, filled in order since each costs more than the one before
        own = [model.new_int_var(0, problem.band, f"over{peer}_{b}") for b in _BAND_COSTS[1:]]
        own.append(model.new_int_var(0, total, f"over{peer}_last"))
        for band, variable in enumerate(own):
            filled = int(start_over[peer]) - band * problem.band
            upper = problem.band if band < len(own) - 1 else total
            model.add_hint(variable, min(max(filled, 0), upper))
        load = cp_model.LinearExpr.weighted_sum(
            [choices[pair] for pair in pairs], problem.load[pairs].tolist()
        )
        model.add(sum(own) >= load - int(problem.spare[peer]))
        bands.extend(own)
        overloads.append(sum(own))
    largest = model.new_int_var(0, total, "largest")
    model.add_hint(largest, int(start_over.max()))
    for overload in overloads:
        model.add(largest >= overload)
    model.minimize(
        cp_model.LinearExpr.weighted_sum(choices, problem.cost.tolist())
        + cp_model.LinearExpr.weighted_sum(bands, list(_BAND_COSTS) * problem.n_peers)
        + _LARGEST * largest
    )
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.random_seed = 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # not even a first solution in time: the start is a sound split too
        picked = start
    else:
        values = np.array([solver.boolean_value(choice) for choice in choices], dtype=bool)
        picked = np.flatnonzero(values)
    result = np.empty(problem.n_rows, dtype=np.int64)
    result[problem.rows[picked]] = problem.peers[picked]
    return result


def _anchors(
    peers: pl.DataFrame, h_lat: np.ndarray, h_lng: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each peer educator's anchor: their own, else their team's, else the hotspots'."""
    located = pl.col("anchor_lat").is_not_null() & pl.col("anchor_lng").is_not_null()
    frame = peers.select(
        pl.col("team"),
        pl.when(located).then(pl.col("anchor_lat").cast(pl.Float64)).alias("lat"),
        pl.when(located).then(pl.col("anchor_lng").cast(pl.Float64)).alias("lng"),
    )
    middle = (float(np.median(h_lat)), float(np.median(h_lng)))
    filled = frame.select(
        pl.coalesce("lat", pl.col("lat").median().over("team"), pl.lit(middle[0])),
        pl.coalesce("lng", pl.col("lng").median().over("team"), pl.lit(middle[1])),
    )
    return filled["lat"].to_numpy(), filled["lng"].to_numpy()


# --- checks ---------------------------------------------------------------------------------------


def _check_norm(norm: float) -> None:
    if not (isinstance(norm, int | float) and math.isfinite(norm) and norm > 0):
        raise InvalidInputError(
            f"workload norm {norm!r} is not a number of sex workers per peer educator — give a "
            "positive number (the national norm is often 90)"
        )


def _listed(values: Sequence[Any]) -> str:
    shown = ", ".join(str(value) for value in values[:_SHOWN])
    return shown + (f" and {len(values) - _SHOWN} more" if len(values) > _SHOWN else "")


def _check_inputs(
    hotspots: pl.DataFrame,
    peers: pl.DataFrame,
    *,
    norm: float,
    candidates: int,
    time_limit_s: float,
) -> None:
    """Raise one InvalidInputError naming every problem of the inputs, with its fix."""
    if peers.height == 0:
        raise InvalidInputError(
            "no active peer educator: import visits first — hotspots go to peer educators "
            "with a recent visit"
        )
    problems = []
    for name, frame, needed in (
        ("hotspots", hotspots, HOTSPOT_COLUMNS),
        ("peers", peers, PEER_COLUMNS),
    ):
        missing = [column for column in needed if column not in frame.columns]
        if missing:
            problems.append(
                f"{name} lack the column(s) {', '.join(missing)} — give {', '.join(needed)}"
            )
    if problems:
        raise InvalidInputError("; ".join(problems))
    repeated = hotspots.filter(pl.col("id").is_duplicated())["id"].unique().sort().to_list()
    if repeated:
        problems.append(f"hotspot(s) {_listed(repeated)} appear more than once — give each once")
    no_cell = hotspots.filter(pl.col("cell").is_null())["id"].to_list()
    if no_cell:
        problems.append(f"hotspot(s) {_listed(no_cell)} have no cell — give each its H3 cell")
    weight = pl.col("weight").cast(pl.Float64)
    unusable = hotspots.filter(
        weight.is_null() | weight.is_nan() | weight.is_infinite() | (weight < 0)
    )["id"].to_list()
    if unusable:
        problems.append(
            f"hotspot(s) {_listed(unusable)} have no usable weight — give each its estimated "
            "number of sex workers, 0 or more"
        )
    if peers["peer_educator_id"].null_count():
        problems.append("peers without a peer_educator_id — give each peer educator's id")
    doubled = (
        peers.filter(pl.col("peer_educator_id").is_duplicated())["peer_educator_id"].unique().sort()
    )
    if doubled.len():
        problems.append(
            f"peer educator id(s) {_listed(doubled.to_list())} appear more than once in peers — "
            "give each peer educator once"
        )
    if candidates < 1:
        problems.append(
            f"candidates = {candidates}: each hotspot must consider at least 1 peer educator "
            "— give 1 or more (8 is usual)"
        )
    if not time_limit_s > 0:
        problems.append(f"time limit {time_limit_s} s is not positive — give a number of seconds")
    try:
        _check_norm(norm)
    except InvalidInputError as exc:
        problems.append(str(exc))
    if problems:
        raise InvalidInputError("; ".join(problems))


# --- the store --------------------------------------------------------------------------------


def _window(today: dt.date | None, days: int | None) -> tuple[dt.date, int]:
    """Return the window's last day and length, from the arguments or the settings."""
    if today is None:
        today = clock.today()
    days = get_settings().default_period_days if days is None else days
    if days < 1:
        raise InvalidInputError(
            f"days = {days}: a peer educator is active after a visit in the last days — give "
            "1 or more (90 is usual)"
        )
    return today, days


def _active_hotspots(connection: Connection) -> pl.DataFrame:
    """Return the active hotspots: ``id``, ``cell`` and ``weight`` (estimated sex workers)."""
    h = store.hotspots.c
    rows = connection.execute(
        sa.select(h.id, h.cell, h.size_min, h.size_max).where(h.active).order_by(h.id)
    ).all()
    frame = pl.DataFrame(
        [tuple(row) for row in rows],
        schema={"id": pl.String, "cell": pl.Int64, "size_min": pl.Int64, "size_max": pl.Int64},
        orient="row",
    )
    return frame.with_columns(estimated_sizes(frame).alias("weight")).select("id", "cell", "weight")


def stored_assignments(connection: Connection) -> pl.DataFrame:
    """Return the stored assignments read on ``connection`` (see :func:`current_assignments`)."""
    a, w = store.assignments.c, store.peer_educators.c
    rows = connection.execute(
        sa.select(
            a.hotspot_id, a.peer_educator_id, w.peer_educator, w.team, a.assigned_at, a.assigned_by
        )
        .select_from(store.assignments.outerjoin(store.peer_educators, w.id == a.peer_educator_id))
        .order_by(a.hotspot_id)
    ).all()
    return pl.DataFrame(
        [tuple(row) for row in rows],
        schema={
            "hotspot_id": pl.String,
            "peer_educator_id": pl.Int64,
            "peer_educator": pl.String,
            "team": pl.String,
            "assigned_at": pl.Datetime("us"),
            "assigned_by": pl.String,
        },
        orient="row",
    )


def _active_peers(connection: Connection, *, today: dt.date, days: int) -> pl.DataFrame:
    v, w = store.visits.c, store.peer_educators.c
    start = today - dt.timedelta(days=days - 1)
    rows = connection.execute(
        sa.select(w.id, w.peer_educator, w.team, v.cell, sa.func.count().label("n"))
        .select_from(store.visits.join(store.peer_educators, w.id == v.peer_educator_id))
        .where(v.visit_date >= start, v.visit_date <= today)
        .group_by(w.id, w.peer_educator, w.team, v.cell)
    ).all()
    visited = pl.DataFrame(
        [tuple(row) for row in rows],
        schema={
            "peer_educator_id": pl.Int64,
            "peer_educator": pl.String,
            "team": pl.String,
            "cell": pl.Int64,
            "n": pl.Int64,
        },
        orient="row",
    )
    cells = visited["cell"].drop_nulls().unique().sort()
    lat, lng = cell_centres(cells.to_list())
    centres = pl.DataFrame(
        {"cell": cells, "lat": lat, "lng": lng},
        schema={"cell": pl.Int64, "lat": pl.Float64, "lng": pl.Float64},
    )
    # a median over visits, not cells: where a peer educator works most, not every place once
    anchors = (
        visited.join(centres, on="cell", how="inner")
        .select("peer_educator_id", pl.col("lat", "lng").repeat_by("n"))
        .explode("lat", "lng")
        .group_by("peer_educator_id")
        .agg(pl.col("lat").median().alias("anchor_lat"), pl.col("lng").median().alias("anchor_lng"))
    )
    return (
        visited.select("peer_educator_id", "peer_educator", "team")
        .unique()
        .join(anchors, on="peer_educator_id", how="left")
        .sort("team", "peer_educator")
    )


def _save(connection: Connection, moved: pl.DataFrame, stale: list[str], actor: Actor) -> None:
    """Replace the rows of hotspots that changed peer educator; delete those of stale ones."""
    a = store.assignments.c
    gone = [*moved["id"].to_list(), *stale]
    for start in range(0, len(gone), _IDS_PER_STATEMENT):
        chunk = gone[start : start + _IDS_PER_STATEMENT]
        connection.execute(store.assignments.delete().where(a.hotspot_id.in_(chunk)))
    if moved.height:
        now = clock.utc_now().replace(tzinfo=None)
        connection.execute(
            store.assignments.insert(),
            [
                {
                    "hotspot_id": hotspot,
                    "peer_educator_id": peer,
                    "assigned_at": now,
                    "assigned_by": actor.username[:64],
                }
                for hotspot, peer in zip(
                    moved["id"].to_list(), moved["peer_educator_id"].to_list(), strict=True
                )
            ],
        )
