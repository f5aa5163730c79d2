"""Differential privacy for everything that leaves the organisation: releases, budget, exports.

A *release* is the number of people per group (a district, or an H3 cell at resolution 6 or
coarser) in one calendar month or quarter, for one measure (``people``, ``tested``,
``violence``), passed through OpenDP's Laplace-threshold mechanism
(:mod:`mapping.access.mechanism`) after each person's contribution is bounded. Each release is
stored with its figures in the privacy-budget ledger (``privacy_releases`` +
``released_figures``): asking again returns the stored answer and spends nothing, and a release
past the quarter's budget is refused. The derivation of every parameter is in docs/disclosure.md.

Longer than 600 lines: counting the people of a release, spending its budget and storing its
figures happen in one transaction, and the ledger that refuses a second spend must read the same
keys the counting wrote; apart, the two halves could disagree about what was released.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import polars_h3 as plh3
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.access.mechanism import (
    DisclosureParameters,
    measurement,
    privacy_loss,
    release_threshold,
)
from mapping.analysis.coverage import NO_LOCATION, OUTSIDE_AREA
from mapping.errors import InvalidInputError, PrivacyBudgetError
from mapping.periods import Period, parse_period, quarter_of
from mapping.storage import store
from mapping.storage.audit import Actor, record
from mapping.storage.workspace import Workspace

#: Level of a release by district (else an H3 resolution, as text).
DISTRICT = "district"
#: The finest H3 resolution ever released (about 36 km²): finer cells come close to venues.
FINEST_RESOLUTION = 6
#: What a release may count: people with at least one visit, with an HIV test done, with
#: violence reported. ``tested`` and ``violence`` are sensitive: released by district only.
MEASURES = ("people", "tested", "violence")
SENSITIVE_MEASURES = frozenset({"tested", "violence"})
#: Stored code of "done" in ``visit_profiles.hiv_test`` (vocab.HIV_TESTS, position + 1).
_HIV_TEST_DONE = 3
_PERIOD = re.compile(r"^\d{4}-(?:q[1-4]|\d{1,2})$", re.IGNORECASE)
#: Slack when comparing sums of ε with the budget (0.1 + 0.2 is not 0.3 in binary).
_EPSILON_SLACK = 1e-9


def parse_level(level: str | int, storage_resolution: int) -> str:
    """Return the level of a release: ``district`` or an H3 resolution 0..6 as text.

    Examples
    --------
    >>> parse_level("6", 8), parse_level("District", 8)
    ('6', 'district')
    >>> parse_level("8", 8)
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: level 8 is finer than resolution 6 ...
    """
    text = str(level).strip().lower()
    if text == DISTRICT:
        return DISTRICT
    if not text.isdigit():
        raise InvalidInputError(
            f"level {level!r} is neither 'district' nor an H3 resolution — write district or 6"
        )
    resolution = int(text)
    if resolution > FINEST_RESOLUTION:
        raise InvalidInputError(
            f"level {resolution} is finer than resolution {FINEST_RESOLUTION} (about 36 km²): "
            "finer cells come close to naming a venue — use district or a resolution 0-6"
        )
    if resolution > storage_resolution:
        raise InvalidInputError(
            f"level {resolution} is finer than the workspace's storage resolution "
            f"{storage_resolution} — use district or a resolution 0-{storage_resolution}"
        )
    return str(resolution)


def releasable_period(text: str, today: dt.date) -> Period:
    """Return the calendar month or quarter ``text`` names, refusing one that has not ended.

    Examples
    --------
    >>> releasable_period("2026-Q3", dt.date(2026, 10, 1)).label
    '2026-Q3'
    >>> releasable_period("2026-Q4", dt.date(2026, 12, 2))
    Traceback (most recent call last):
    ...
    mapping.errors.InvalidInputError: period 2026-Q4 ends on 2026-12-31, not before today ...
    """
    if not _PERIOD.match(text.strip()):
        raise InvalidInputError(
            f"period {text!r} is not a calendar month or quarter — write 2026-07 or 2026-Q3 "
            "(no free date ranges: overlapping ranges could be subtracted)"
        )
    period = parse_period(text)
    if not period.has_ended(today):
        raise InvalidInputError(
            f"period {period.label} ends on {period.end}, not before today ({today}): only "
            "a period that has ended is released — a running one would change, and asking "
            "again would need fresh noise and budget"
        )
    return period


def quarter_of_period(period: Period) -> str:
    """Return the calendar quarter whose budget a period spends (a month spends its quarter's).

    Examples
    --------
    >>> quarter_of_period(parse_period("2026-08"))
    '2026-Q3'
    """
    return quarter_of(period.start).label


def _check_measure(measure: str, level: str) -> None:
    if measure not in MEASURES:
        raise InvalidInputError(
            f"measure {measure!r} is unknown — use one of {', '.join(MEASURES)}"
        )
    if measure in SENSITIVE_MEASURES and level != DISTRICT:
        raise InvalidInputError(
            f"measure {measure!r} is sensitive and is released only by district, never by "
            f"cell (level {level}) — use --level district"
        )


# --- the data: who counts in which group -------------------------------------------------------


def _key_expr(level: str) -> pl.Expr:
    """Return the group of a visit: its district (or a special row), or its cell's parent."""
    if level == DISTRICT:
        return (
            pl.when(pl.col("cell").is_null())
            .then(pl.lit(NO_LOCATION))
            .otherwise(pl.col("district_id").fill_null(OUTSIDE_AREA))
        )
    parent: pl.Expr = plh3.int_to_str(plh3.cell_to_parent("cell", int(level)))
    return parent


def group_keys(connection: Connection, level: str) -> pl.DataFrame:
    """Return the public set of groups a release may hold: ``key`` and ``name``.

    By district: every district and the no-location and outside-area rows. By cell: the parents
    at the level's resolution of the area's cells (derived from the district boundaries, not from
    any visit), so the set of possible keys says nothing about where people were.
    """
    if level == DISTRICT:
        d = store.districts.c
        rows = connection.execute(sa.select(d.id, d.name).order_by(d.id)).all()
        return pl.DataFrame(
            [*rows, (NO_LOCATION, ""), (OUTSIDE_AREA, "")],
            schema={"key": pl.String, "name": pl.String},
            orient="row",
        )
    cells = connection.execute(sa.select(store.area_cells.c.cell)).scalars().all()
    return (
        pl.DataFrame({"cell": cells}, schema={"cell": pl.Int64})
        .select(_key_expr(level).alias("key"))
        .unique()
        .sort("key")
        .with_columns(pl.lit("").alias("name"))
    )


def _visits(connection: Connection, period: Period, measure: str) -> pl.DataFrame:
    """Return the period's visits with a contact id (only they can be counted as people).

    Each visit's district is the one stored with it (its exact point's, decided at import or
    capture), the same one coverage counts by; cell levels use its cell.
    """
    v, p = store.visits.c, store.visit_profiles.c
    query = (
        sa.select(v.contact_id, v.cell, v.district_id)
        .select_from(store.visits.join(store.visit_profiles, v.profile_id == p.id))
        .where(v.visit_date.between(period.start, period.end), v.contact_id.is_not(None))
    )
    if measure == "tested":
        query = query.where(p.hiv_test == _HIV_TEST_DONE)
    elif measure == "violence":
        query = query.where(p.violence_type.is_not(None))
    rows = connection.execute(query).all()
    return pl.DataFrame(
        rows,
        schema={"contact_id": pl.Int64, "cell": pl.Int64, "district_id": pl.String},
        orient="row",
    )


def bounded_counts(visits: pl.DataFrame, level: str, *, max_groups: int) -> pl.DataFrame:
    """Return distinct people per group (``key``, ``count``), each person in ``max_groups`` at most.

    A person is kept in the groups where they had the most visits; ties go to the smaller key,
    so the result never depends on row order. Each person adds 1 to a group (L∞ = 1).

    Examples
    --------
    >>> visits = pl.DataFrame({"contact_id": [1, 1, 1, 2], "cell": [None, None, None, None],
    ...                        "district_id": [None] * 4})
    >>> bounded_counts(visits, "district", max_groups=3).rows()
    [('_no_location', 2)]
    """
    per_group = (
        visits.select("contact_id", _key_expr(level).alias("key"))
        .drop_nulls("key")
        .group_by("contact_id", "key")
        .agg(pl.len().alias("visits"))
        .sort(["contact_id", "visits", "key"], descending=[False, True, False])
    )
    kept = per_group.group_by("contact_id", maintain_order=True).head(max_groups)
    return (
        kept.group_by("key")
        .agg(pl.len().cast(pl.Int64).alias("count"))
        .sort("key")
        .select("key", "count")
    )


def raw_counts(
    workspace: Workspace,
    period: str | Period,
    level: str = DISTRICT,
    measure: str = "people",
    *,
    params: DisclosureParameters | None = None,
) -> pl.DataFrame:
    """Return the true bounded counts of a release (``key``, ``count``): never to be released.

    These are what the mechanism adds noise to; the coordinator's internal export writes them.
    Groups outside the public set (:func:`group_keys`) are left out.
    """
    params = params or DisclosureParameters.from_settings()
    chosen = period if isinstance(period, Period) else parse_period(period)
    level = parse_level(level, workspace.resolution)
    _check_measure(measure, level)
    with workspace.connect() as connection:
        keys = group_keys(connection, level)
        visits = _visits(connection, chosen, measure)
    counts = bounded_counts(visits, level, max_groups=params.max_groups)
    return counts.filter(pl.col("key").is_in(keys["key"].implode()))


# --- the ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """One differentially private release as the ledger holds it.

    ``figures`` holds the released groups only (``key``, ``value``); every other group of the
    public set was not released (its count is under the noisy threshold, or under k). ``spent``
    says whether this call made the release (and spent ``epsilon``) or returned the stored one.
    """

    id: int
    period: str
    quarter: str
    level: str
    measure: str
    epsilon: float
    delta: float
    scale: float
    threshold: int
    min_count: int
    max_groups: int
    max_contacts: int
    created_at: dt.datetime
    created_by: str
    figures: pl.DataFrame
    spent: bool

    @property
    def resolution(self) -> int | None:
        """The H3 resolution of a release by cell; ``None`` by district."""
        return None if self.level == DISTRICT else int(self.level)

    def describe(self) -> str:
        """Return what the release is, for the audit log (never a cell or a coordinate)."""
        where = "by district" if self.level == DISTRICT else f"by cell at resolution {self.level}"
        return f"{self.measure} {where}, {self.period}"


def _stored(connection: Connection, period: str, level: str, measure: str) -> Release | None:
    r = store.privacy_releases.c
    row = connection.execute(
        sa.select(store.privacy_releases).where(
            r.period == period, r.level == level, r.measure == measure
        )
    ).first()
    if row is None:
        return None
    f = store.released_figures.c
    figures = connection.execute(
        sa.select(f.key, f.value).where(f.release_id == row.id).order_by(f.key)
    ).all()
    values = dict(row._mapping)
    return Release(
        **{name: values[name] for name in values if name != "id"},
        id=int(row.id),
        figures=pl.DataFrame(figures, schema={"key": pl.String, "value": pl.Int64}, orient="row"),
        spent=False,
    )


def budget_spent(connection: Connection, quarter: str) -> float:
    """Return the ε the ledger's releases have spent from ``quarter``'s budget."""
    r = store.privacy_releases.c
    spent = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(r.epsilon), 0.0)).where(r.quarter == quarter)
    ).scalar_one()
    return float(spent)


def ledger(workspace: Workspace) -> pl.DataFrame:
    """Return every release of the ledger (no figures), oldest first."""
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(store.privacy_releases).order_by(store.privacy_releases.c.id)
        ).all()
    columns = [c.name for c in store.privacy_releases.columns]
    return pl.DataFrame([tuple(row) for row in rows], schema=columns, orient="row")


def release(
    workspace: Workspace,
    period: str,
    level: str = DISTRICT,
    measure: str = "people",
    *,
    actor: Actor,
    today: dt.date | None = None,
    params: DisclosureParameters | None = None,
) -> Release:
    """Return the release of ``measure`` per group at ``level`` in ``period``, making it once.

    A release already in the ledger is returned as stored, spending nothing. Otherwise the true
    counts are bounded (:func:`bounded_counts`), passed through OpenDP's Laplace-threshold
    mechanism, stripped of every group whose true count is under k, and stored with their
    parameters, spending ε from the quarter holding the period; the audit log records it.

    Raises
    ------
    PrivacyBudgetError
        When the quarter's budget has no ε left for it (recorded as ``release_refused``).
    InvalidInputError
        For a period that is not a finished month or quarter, a level finer than resolution 6,
        an unknown measure, or a sensitive measure by cell.
    """
    params = params or DisclosureParameters.from_settings()
    if today is None:
        today = clock.today(workspace)
    chosen = releasable_period(period, today)
    level = parse_level(level, workspace.resolution)
    _check_measure(measure, level)
    quarter = quarter_of_period(chosen)
    with workspace.connect() as connection:
        stored = _stored(connection, chosen.label, level, measure)
        if stored is not None:
            return stored
        keys = group_keys(connection, level)
        visits = _visits(connection, chosen, measure)
    counts = bounded_counts(visits, level, max_groups=params.max_groups).filter(
        pl.col("key").is_in(keys["key"].implode())
    )
    threshold = release_threshold(params, keys.height)
    loss = privacy_loss(params, threshold, keys.height)
    noisy: dict[str, int] = measurement(params, threshold)(
        dict(zip(counts["key"].to_list(), counts["count"].to_list(), strict=True))
    )
    # the hard guarantee: nothing rests on fewer than k people (its δ cost is in `loss`)
    large = set(counts.filter(pl.col("count") >= params.min_count)["key"].to_list())
    figures = pl.DataFrame(
        [(key, int(value)) for key, value in sorted(noisy.items()) if key in large],
        schema={"key": pl.String, "value": pl.Int64},
        orient="row",
    )
    now = clock.utc_now().replace(tzinfo=None)
    # one release at a time: two first askings cannot both spend, nor overspend
    with workspace.begin(write=True) as connection:
        stored = _stored(connection, chosen.label, level, measure)
        if stored is not None:  # made meanwhile by someone else: theirs is the answer
            return stored
        spent = budget_spent(connection, quarter)
        what = _describe(measure, level, chosen.label)
        if spent + params.epsilon > params.epsilon_per_quarter + _EPSILON_SLACK:
            refusal = (
                f"the privacy budget of {quarter} is spent: its releases have used "
                f"ε = {spent:g} of {params.epsilon_per_quarter:g} "
                f"(OUTREACH_MAP_EPSILON_PER_QUARTER) and {what} needs ε = "
                f"{params.epsilon:g} more — ask again for a release already made (that is "
                "free) or use the next quarter's budget"
            )
            failure = refusal
        else:
            failure = ""
            recorded = {
                "period": chosen.label,
                "quarter": quarter,
                "level": level,
                "measure": measure,
                "epsilon": loss.epsilon,
                "delta": loss.delta,
                "scale": params.scale,
                "threshold": threshold,
                "min_count": params.min_count,
                "max_groups": params.max_groups,
                "max_contacts": params.max_contacts,
                "created_at": now,
                "created_by": actor.username[:64],
            }
            release_id = connection.execute(
                store.privacy_releases.insert().values(**recorded)
            ).inserted_primary_key[0]  # type: ignore[index]
            store.insert_frame(
                connection,
                store.released_figures,
                figures.select(pl.lit(release_id).alias("release_id"), "key", "value"),
            )
            made = Release(
                id=int(release_id),
                **recorded,  # type: ignore[arg-type]
                figures=figures,
                spent=True,
            )
            record(
                connection,
                actor,
                "release",
                f"{made.describe()}: {figures.height} of {keys.height} groups released, "
                f"threshold {threshold}",
                resolution=made.resolution,
                epsilon=loss.epsilon,
                delta=loss.delta,
            )
    if failure:
        with workspace.begin() as connection:
            record(
                connection,
                actor,
                "release_refused",
                f"{what}: budget of {quarter} spent",
                resolution=None if level == DISTRICT else int(level),
            )
        raise PrivacyBudgetError(failure)
    return made


def _describe(measure: str, level: str, period: str) -> str:
    where = "by district" if level == DISTRICT else f"by cell at resolution {level}"
    return f"{measure} {where}, {period}"


# --- what leaves: tables and files ---------------------------------------------------------------


def release_table(workspace: Workspace, made: Release) -> pl.DataFrame:
    """Return a release as a table: every group of the public set, then a total row.

    Columns ``period``, ``level``, ``measure``, ``key``, ``name``, ``value`` (empty where the
    group was not released: under the noisy threshold looks the same as empty). The last row
    (key ``_total``) adds up the released figures only, never a raw count.
    """
    with workspace.connect() as connection:
        keys = group_keys(connection, made.level)
    rows = keys.join(made.figures, on="key", how="left").select(
        "key", "name", pl.col("value").cast(pl.Int64)
    )
    total = pl.DataFrame(
        {
            "key": ["_total"],
            "name": ["sum of the released figures"],
            "value": [int(made.figures["value"].sum())],
        },
        schema={"key": pl.String, "name": pl.String, "value": pl.Int64},
    )
    return pl.concat([rows, total]).select(
        pl.lit(made.period).alias("period"),
        pl.lit(made.level).alias("level"),
        pl.lit(made.measure).alias("measure"),
        "key",
        "name",
        "value",
    )


#: The first column of an internal export, on every row, so that no extract loses the mark.
INTERNAL_MARK = (
    "INTERNAL - raw counts, not disclosure-controlled: never share outside the organisation"
)


def _record_export(
    workspace: Workspace,
    actor: Actor,
    detail: str,
    *,
    resolution: int | None,
    epsilon: float | None = None,
    delta: float | None = None,
) -> None:
    """Write an export's entry in the audit log, in a transaction of its own."""
    with workspace.begin() as connection:
        record(
            connection,
            actor,
            "export",
            detail,
            resolution=resolution,
            epsilon=epsilon,
            delta=delta,
        )


def export(
    workspace: Workspace,
    out: Path,
    *,
    role: str,
    period: str,
    level: str = DISTRICT,
    measure: str = "people",
    internal: bool = False,
    actor: Actor | None = None,
    today: dt.date | None = None,
    params: DisclosureParameters | None = None,
) -> pl.DataFrame:
    """Write a release (or, for a coordinator with ``internal``, raw aggregates) to ``out``.

    Funders and coordinators get the differentially private release (:func:`release`, stored
    once and then repeated); only a coordinator may ask for ``internal`` raw counts, written
    with :data:`INTERNAL_MARK` in a first ``classification`` column of every row. Every export
    is recorded in the audit log with what was asked and the ε, δ it spent (0 for a repeat).
    """
    actor = actor or Actor.command_line(role)
    params = params or DisclosureParameters.from_settings()
    if role not in ("funder", "coordinator"):
        raise InvalidInputError(f"role {role!r} cannot export — use funder or coordinator")
    if internal and role != "coordinator":
        raise InvalidInputError(
            "an internal export of raw counts is for the coordinator only — drop --internal"
        )
    if internal:
        if today is None:
            today = clock.today(workspace)
        chosen = releasable_period(period, today)
        counts = raw_counts(workspace, chosen, level, measure, params=params)
        level = parse_level(level, workspace.resolution)
        table = counts.select(
            pl.lit(INTERNAL_MARK).alias("classification"),
            pl.lit(chosen.label).alias("period"),
            pl.lit(level).alias("level"),
            pl.lit(measure).alias("measure"),
            "key",
            pl.col("count").alias("value"),
        )
        table.write_csv(out)
        _record_export(
            workspace,
            actor,
            f"INTERNAL raw {_describe(measure, level, chosen.label)}, not disclosure-controlled",
            resolution=None if level == DISTRICT else int(level),
        )
        return table
    made = release(workspace, period, level, measure, actor=actor, today=today, params=params)
    table = release_table(workspace, made)
    table.write_csv(out)
    _record_export(
        workspace,
        actor,
        f"{made.describe()} (release {made.id}, "
        + ("new" if made.spent else "stored answer repeated, nothing spent")
        + ")",
        resolution=made.resolution,
        epsilon=made.epsilon if made.spent else 0.0,
        delta=made.delta if made.spent else 0.0,
    )
    return table
