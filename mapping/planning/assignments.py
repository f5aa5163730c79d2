"""Which peer educator covers each hotspot: read from the store, split again, shown, and saved.

A split is first proposed (:func:`propose_assignment`, nothing written) so a coordinator sees
what would move, then saved as shown (:func:`save_assignment`), or refused if the store changed
in between; :func:`run_assignment` does both at once (the command line).

Every active hotspot goes to one active peer educator (one with a visit in the last days); the
split itself is :func:`mapping.planning.split.assign_hotspots`. Current assignments stay unless
the coordinator asks for a rebalance, and even then a hotspot moves only when that is clearly
better: the relationship between a peer educator and the sex workers of a hotspot is what
outreach is built on.

Where a peer educator works (their *anchor*) is the median centre of the cells of their recent
visits. It is computed in memory for the split and never stored, logged or returned by the store
functions here: it would say where a person goes every night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.analysis.coverage import estimated_sizes
from mapping.cells import cell_centres
from mapping.errors import InvalidInputError, OutdatedProposalError
from mapping.planning.split import assign_hotspots, workloads
from mapping.settings import get_settings
from mapping.storage import store
from mapping.storage.audit import Actor, acting, record
from mapping.storage.workspace import Workspace

#: Hotspot ids per DELETE statement (far below any engine's limit on parameters).
_IDS_PER_STATEMENT = 500

#: Columns of :attr:`AssignmentResult.changes`.
CHANGE_SCHEMA = pl.Schema(
    {
        "hotspot_id": pl.String(),
        "district": pl.String(),
        "change": pl.String(),
        "previous_peer_educator": pl.String(),
        "previous_team": pl.String(),
        "peer_educator": pl.String(),
        "team": pl.String(),
    }
)


@dataclass(frozen=True)
class AssignmentResult:
    """What an assignment run decided (a proposal) or saved.

    ``assignments`` has one row per active hotspot: ``id``, ``cell``, ``weight``,
    ``previous_peer_educator_id`` (null if it had none), ``peer_educator_id``, ``team``,
    ``peer_educator`` and ``kept``. ``workloads`` is :func:`mapping.planning.split.workloads` of
    every active peer educator. The counts say how many hotspots kept their peer educator, got one
    for the first time, changed, and how many stored assignments of hotspots no longer active were
    removed.

    ``changes`` lists what saving writes, one row per hotspot, new first, then changed, then
    removed (each by hotspot id): ``hotspot_id``, ``district`` (its name), ``change`` (``new``,
    ``changed`` or ``removed``), ``previous_peer_educator`` and ``previous_team`` (null for a new
    one), ``peer_educator`` and ``team`` (null for a removed one). ``removed_ids`` are the
    hotspots whose stored row saving deletes. ``basis`` fingerprints the store the proposal was
    made from, and ``today`` and ``days`` the window that made peer educators active: saving
    checks them (:func:`save_assignment`).
    """

    assignments: pl.DataFrame
    workloads: pl.DataFrame
    kept: int
    new: int
    changed: int
    removed: int
    rebalance: bool = False
    changes: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CHANGE_SCHEMA))
    removed_ids: tuple[str, ...] = ()
    basis: str = ""
    today: dt.date | None = None
    days: int | None = None

    @property
    def change_count(self) -> int:
        """Return how many stored assignments saving writes or deletes (0: nothing to save).

        Examples
        --------
        >>> empty = pl.DataFrame()
        >>> AssignmentResult(empty, empty, kept=5, new=2, changed=1, removed=1).change_count
        4
        """
        return self.new + self.changed + self.removed

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
    today, days = _window(workspace, today, days)
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


def propose_assignment(
    workspace: Workspace,
    *,
    rebalance: bool = False,
    today: dt.date | None = None,
    norm: float | None = None,
    days: int | None = None,
    candidates: int = 8,
    time_limit_s: float = 5.0,
) -> AssignmentResult:
    """Return what an assignment run would change, without writing anything.

    The same split as :func:`run_assignment` (same parameters, but no ``actor``), read from one
    consistent view of the store: show its :attr:`AssignmentResult.changes`, then pass it to
    :func:`save_assignment` to store exactly that.

    Raises
    ------
    InvalidInputError
        When no peer educator has a visit in the window, or an option is out of range.
    """
    today, days = _window(workspace, today, days)
    norm = float(get_settings().workload_norm if norm is None else norm)
    with workspace.begin() as connection:
        return _propose(
            connection,
            rebalance=rebalance,
            today=today,
            days=days,
            norm=norm,
            candidates=candidates,
            time_limit_s=time_limit_s,
        )


def save_assignment(
    workspace: Workspace, proposal: AssignmentResult, *, actor: Actor | None = None
) -> AssignmentResult:
    """Store a proposal of :func:`propose_assignment` exactly as it was shown; audited.

    Under the store's write lock, the proposal's :attr:`AssignmentResult.basis` is checked
    against the store first: if any assignment, active hotspot or active peer educator changed
    since it was made (another coordinator saved, an import landed), nothing is written. A
    proposal with nothing to change writes and records nothing. Returns ``proposal``.

    Raises
    ------
    OutdatedProposalError
        When the store changed since the proposal was made: propose again and show that.
    """
    if proposal.today is None or proposal.days is None or not proposal.basis:
        raise InvalidInputError(
            "this assignment result is not a proposal: make one with propose_assignment"
        )
    actor = actor or acting()
    with workspace.begin(write=True) as connection:
        if _basis(connection, today=proposal.today, days=proposal.days) != proposal.basis:
            raise OutdatedProposalError(
                "the assignments, hotspots or active peer educators changed since this "
                "proposal was made (another coordinator saved, or an import landed): nothing "
                "was saved — make a new proposal, check it and save that"
            )
        _write(connection, proposal, actor)
    return proposal


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

    :func:`propose_assignment` and :func:`save_assignment` in one step, for the command line.
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
    today, days = _window(workspace, today, days)
    norm = float(get_settings().workload_norm if norm is None else norm)
    actor = actor or acting()
    with workspace.begin(write=True) as connection:
        result = _propose(
            connection,
            rebalance=rebalance,
            today=today,
            days=days,
            norm=norm,
            candidates=candidates,
            time_limit_s=time_limit_s,
        )
        _write(connection, result, actor)
        return result


def _propose(
    connection: Connection,
    *,
    rebalance: bool,
    today: dt.date,
    days: int,
    norm: float,
    candidates: int,
    time_limit_s: float,
) -> AssignmentResult:
    """Read the store on ``connection`` and split its hotspots; write nothing."""
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
    named = (
        assigned.join(
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
        .sort("id")
    )
    return AssignmentResult(
        assignments=named,
        workloads=workloads(assigned, peers, norm),
        kept=int(assigned["kept"].sum()),
        new=int(moved["previous_peer_educator_id"].is_null().sum()),
        changed=int(moved["previous_peer_educator_id"].is_not_null().sum()),
        removed=stale.height,
        rebalance=rebalance,
        changes=_changes(connection, named.filter(~pl.col("kept")), current, stale),
        removed_ids=tuple(stale["hotspot_id"].to_list()),
        basis=_basis(connection, today=today, days=days),
        today=today,
        days=days,
    )


def _changes(
    connection: Connection, moved: pl.DataFrame, current: pl.DataFrame, stale: pl.DataFrame
) -> pl.DataFrame:
    """Return what saving writes, hotspot by hotspot, in names (see :class:`AssignmentResult`)."""
    before = current.select(
        "hotspot_id",
        pl.col("peer_educator").alias("previous_peer_educator"),
        pl.col("team").alias("previous_team"),
    )
    written = (
        moved.select(pl.col("id").alias("hotspot_id"), "peer_educator", "team")
        .join(before, on="hotspot_id", how="left")
        .with_columns(
            pl.when(pl.col("previous_peer_educator").is_null())
            .then(pl.lit("new"))
            .otherwise(pl.lit("changed"))
            .alias("change")
        )
    )
    deleted = stale.select(
        "hotspot_id",
        pl.lit(None, pl.String).alias("peer_educator"),
        pl.lit(None, pl.String).alias("team"),
        pl.col("peer_educator").alias("previous_peer_educator"),
        pl.col("team").alias("previous_team"),
        pl.lit("removed").alias("change"),
    )
    changes = pl.concat([written, deleted], how="diagonal_relaxed")
    districts = hotspot_districts(connection)
    order = {"new": 0, "changed": 1, "removed": 2}
    return (
        changes.join(districts, on="hotspot_id", how="left")
        .with_columns(pl.col("change").replace_strict(order, return_dtype=pl.Int8).alias("_order"))
        .sort("_order", "hotspot_id")
        .select(list(CHANGE_SCHEMA))
        .cast(CHANGE_SCHEMA)
    )


def hotspot_districts(connection: Connection) -> pl.DataFrame:
    """Return each hotspot's id (``hotspot_id``) and its district's name (``district``)."""
    h, d = store.hotspots.c, store.districts.c
    rows = connection.execute(
        sa.select(h.id, d.name).select_from(
            store.hotspots.outerjoin(store.districts, d.id == h.district_id)
        )
    ).all()
    return pl.DataFrame(
        [tuple(row) for row in rows],
        schema={"hotspot_id": pl.String, "district": pl.String},
        orient="row",
    )


def _write(connection: Connection, result: AssignmentResult, actor: Actor) -> None:
    """Write a split's moved and removed assignments on ``connection``; audit a real change."""
    moved = result.assignments.filter(~pl.col("kept"))
    _save(connection, moved, list(result.removed_ids), actor)
    if result.change_count:
        verb = "rebalanced" if result.rebalance else "assigned"
        record(connection, actor, "assign", f"{verb} {result.summary()}")


# --- the store --------------------------------------------------------------------------------


def _window(workspace: Workspace, today: dt.date | None, days: int | None) -> tuple[dt.date, int]:
    """Return the window's last day and length, from the arguments or the settings."""
    if today is None:
        today = clock.today(workspace)
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


def _basis(connection: Connection, *, today: dt.date, days: int) -> str:
    """Return a fingerprint of what a split rests on: assignments, active hotspots and peers.

    Two reads with the same fingerprint would give a proposal the same starting point, so a
    proposal saved on it writes what was shown. Peer educators count by id only: a new visit of
    an already active one does not outdate a proposal.
    """
    a, h, v = store.assignments.c, store.hotspots.c, store.visits.c
    start = today - dt.timedelta(days=days - 1)
    assigned = connection.execute(
        sa.select(a.hotspot_id, a.peer_educator_id).order_by(a.hotspot_id)
    ).all()
    active = connection.execute(sa.select(h.id).where(h.active).order_by(h.id)).all()
    peers = connection.execute(
        sa.select(v.peer_educator_id)
        .where(v.visit_date >= start, v.visit_date <= today)
        .distinct()
        .order_by(v.peer_educator_id)
    ).all()
    digest = hashlib.sha256()
    for part in (assigned, active, peers):
        digest.update(repr([tuple(row) for row in part]).encode())
        digest.update(b"|")
    return digest.hexdigest()


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
