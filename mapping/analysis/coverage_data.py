"""What coverage reads from a store for one period: visits, registries, districts.

Every visit, hotspot and service carries the district of its exact point, decided at import or
capture (:mod:`mapping.ingest.attribution`); coverage counts by it.

The visits are read through the driver's cursor, or through ConnectorX where that is safe
(:func:`allow_arrow_reads`); the arithmetic on what is read is in
:mod:`mapping.analysis.coverage`.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import shapely
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.errors import InvalidInputError
from mapping.periods import Period
from mapping.storage import store
from mapping.storage.workspace import Workspace, sqlite_file
from mapping.vocab import SUPPLIES

#: The day that dates inside the analytics count from (see :func:`epoch_day`).
EPOCH = dt.date(1970, 1, 1)


@dataclass
class CoverageData:
    """What the analytics read from a store, loaded once per period.

    ``visits`` holds every visit up to the period's end (not only the period's), because new
    versus returning contacts and days since the last visit look back through the whole history.
    Dates are days since 1970-01-01 (``Int32``) so that grouping stays cheap.
    """

    period: Period
    resolution: int
    #: The day the figures are measured at: the period's end, or today if it has not ended.
    as_of: dt.date
    visits: pl.DataFrame
    profiles: pl.DataFrame
    area_cells: pl.DataFrame
    districts: pl.DataFrame
    hotspots: pl.DataFrame
    services: pl.DataFrame
    #: Per district, the visits of the period whose district is estimated from their cell's
    #: centre (stored before districts were taken from points: migration 0007).
    estimated: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"district_id": pl.String, "visits_estimated": pl.Int64}
        )
    )

    #: The first and last visit in the store, when none falls up to the period's end.
    store_span: tuple[dt.date | None, dt.date | None] | None = None

    @functools.cached_property
    def pairs(self) -> pl.DataFrame:
        """Visits grouped by cell and contact (either may be null).

        ``n`` counts the visits in the period; ``first_day`` and ``last_day`` span the whole
        history to the period's end. Most figures derive from this one pass over the visits.
        """
        start = epoch_day(self.period.start)
        return self.visits.group_by("cell", "contact_id").agg(
            (pl.col("day") >= start).sum().cast(pl.Int64).alias("n"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
        )

    @functools.cached_property
    def first_seen(self) -> pl.DataFrame:
        """The day each contact was first seen, anywhere, up to the period's end."""
        return (
            self.pairs.filter(pl.col("contact_id").is_not_null())
            .group_by("contact_id")
            .agg(pl.col("first_day").min())
        )

    @functools.cached_property
    def last_visits(self) -> pl.DataFrame:
        """The day of the last visit to each cell up to the period's end."""
        return (
            self.pairs.filter(pl.col("cell").is_not_null())
            .group_by("cell")
            .agg(pl.col("last_day").max())
        )


def epoch_day(day: dt.date) -> int:
    """Return ``day`` as days since 1970-01-01, the form dates take inside the analytics."""
    return (day - EPOCH).days


def _epoch_days_sql(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    if dialect == "sqlite":
        return sa.cast(sa.func.julianday(column) - 2440587.5, sa.Integer)
    return sa.cast(column - sa.literal(EPOCH, sa.Date), sa.Integer)


#: Whether a command may read visits straight into Arrow columns through ConnectorX (see
#: :func:`allow_arrow_reads`). Off unless a single-threaded command turns it on; never in the app.
_ARROW_READS = False


def allow_arrow_reads(allowed: bool = True) -> None:
    """Let this process read visits from a SQLite file through ConnectorX (about 4x faster).

    ConnectorX carries its own copy of SQLite. When it closes the database file, the operating
    system drops every lock this process holds on that file (POSIX locks belong to the
    process, not the connection), so a connection of Python's own SQLite that is open at that
    moment loses its locks: the next one then fails with "disk I/O error", and a write in
    progress could be overrun by another process. So only a single-threaded command that holds
    no other connection at the time may turn it on (the command line's analytics do); the
    app, where sessions and the audit log keep connections open in other threads, never does.
    A PostgreSQL store needs no such care (a server holds the locks, not this process): its
    visits are read through ConnectorX in the app and the command line alike, whatever this says.
    """
    global _ARROW_READS
    _ARROW_READS = allowed


def _frame(connection: Connection, query: sa.Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """Run ``query`` on the caller's connection and return its rows as a DataFrame.

    Through the driver's own cursor, which makes a Python object per value (about 3 s for a
    million visits; :func:`_arrow_visits` and :func:`_postgres_arrow_visits` are the fast paths).
    """
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(str(compiled))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pl.DataFrame(rows, schema=schema, orient="row")


def load_coverage_data(
    workspace: Workspace, period: Period, *, today: dt.date | None = None
) -> CoverageData:
    """Read what the analytics need for ``period`` from the workspace's store.

    A period that has not started yet is refused; one that has not ended is measured at
    ``today`` (recency, overdue hotspots, active services).
    """
    today = today or clock.today(workspace)
    if period.start > today:
        raise InvalidInputError(
            f"period {period.label} starts on {period.start}, after today ({today}) — "
            "choose a period that has started"
        )
    visits = None
    if _ARROW_READS and sqlite_file(workspace.db_url) is not None:
        # no connection of Python's own SQLite may be open meanwhile (allow_arrow_reads says
        # why): close the ones this process keeps in its pool for the store
        store.dispose_engines(workspace.db_url)
        visits = _arrow_visits(workspace, period)
    with workspace.connect() as connection:
        if visits is None and connection.dialect.name == "postgresql":
            visits = _postgres_arrow_visits(connection, period)
        if visits is None:
            visits = _frame(connection, _visits_query(period, connection.dialect), VISITS)
        return _load(connection, period, workspace.resolution, today, visits)


#: Columns of the visits the analytics read.
VISITS = {
    "cell": pl.Int64,
    "contact_id": pl.Int64,
    "day": pl.Int32,
    "peer_educator_id": pl.Int32,
    "profile_id": pl.Int32,
    "district_id": pl.String,
}


def _visits_query(period: Period, dialect: sa.Dialect) -> sa.Select[Any]:
    v = store.visits.c
    return sa.select(
        v.cell,
        v.contact_id,
        _epoch_days_sql(v.visit_date, dialect.name),
        v.peer_educator_id,
        v.profile_id,
        v.district_id,
    ).where(v.visit_date <= period.end)


#: Column a SQLite query adds so that ConnectorX reads it in parallel ranges of rowid.
_ROWID = "__rowid"


def _arrow_visits(workspace: Workspace, period: Period) -> pl.DataFrame | None:
    """Read the visits through ConnectorX, in rowid ranges side by side; None if not SQLite."""
    url = sa.engine.make_url(workspace.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    dialect = sqlite.dialect()
    query = _visits_query(period, dialect).add_columns(sa.literal_column("rowid").label(_ROWID))
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    frame = pl.read_database_uri(
        sql,
        f"sqlite://{Path(url.database).resolve().as_posix()}",
        engine="connectorx",
        partition_on=_ROWID,
        partition_num=max(2, min(os.cpu_count() or 2, 8)),
    ).drop(_ROWID)
    return frame.rename(dict(zip(frame.columns, VISITS, strict=True))).cast(VISITS)  # type: ignore[arg-type]


def _postgres_arrow_visits(connection: Connection, period: Period) -> pl.DataFrame | None:
    """Read the visits from PostgreSQL through ConnectorX; None where the cursor must do it.

    About 3x faster than the driver's cursor on a million visits (docs/performance.md). The
    connection settings are those libpq resolved for ``connection`` (password file and
    ``PGPASSWORD`` included), since ConnectorX's own client reads neither. It is used only
    over plain TCP: over a Unix socket or TLS, where its client may not connect as libpq
    did (and would retry for 30 s before failing), the cursor reads instead.
    """
    driver = connection.connection.driver_connection
    info = getattr(driver, "info", None)
    if info is None or not info.host or info.host.startswith("/") or driver.pgconn.ssl_in_use:  # type: ignore[union-attr]
        return None
    url = sa.engine.URL.create(
        "postgresql",
        username=info.user,
        password=info.password or None,
        host=info.host,
        port=info.port,
        database=info.dbname,
    ).render_as_string(hide_password=False)
    compiled = _visits_query(period, connection.dialect).compile(
        dialect=connection.dialect, compile_kwargs={"literal_binds": True}
    )
    try:
        frame = pl.read_database_uri(str(compiled), url, engine="connectorx")
    except RuntimeError:
        # ConnectorX could not connect or read as the driver did: the cursor runs the same
        # query, so a real error in it surfaces there, with the driver's message
        return None
    return frame.rename(dict(zip(frame.columns, VISITS, strict=True))).cast(VISITS)  # type: ignore[arg-type]


def _load(
    connection: Connection, period: Period, resolution: int, today: dt.date, visits: pl.DataFrame
) -> CoverageData:
    v = store.visits.c
    p = store.visit_profiles.c
    profiles = _frame(
        connection,
        sa.select(p.id, p.referrals, *(p[name] for name in SUPPLIES)),
        {"profile_id": pl.Int32, "referrals": pl.Int64, **{name: pl.Int64 for name in SUPPLIES}},
    )
    area_cells = _frame(
        connection,
        sa.select(store.area_cells.c.cell, store.area_cells.c.district_id),
        {"cell": pl.Int64, "district_id": pl.String},
    )
    d = store.districts.c
    districts = _frame(
        connection,
        sa.select(d.id, d.name, d.population, d.geometry).order_by(d.id),
        {
            "district_id": pl.String,
            "district": pl.String,
            "population": pl.Float64,
            "geometry": pl.Binary,
        },
    )
    h = store.hotspots.c
    hotspots = pl.DataFrame(
        [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(
                    h.id,
                    h.cell,
                    h.typology,
                    h.days,
                    h.hours,
                    h.size_min,
                    h.size_max,
                    h.district_id,
                    h.district_estimated,
                )
                .where(h.active)
                .order_by(h.id)
            )
        ],
        schema={
            "id": pl.String,
            "cell": pl.Int64,
            "typology": pl.Int16,
            "days": pl.String,
            "hours": pl.String,
            "size_min": pl.Int64,
            "size_max": pl.Int64,
            "district_id": pl.String,
            "district_estimated": pl.Boolean,
        },
        orient="row",
    ).with_columns(
        # a range given by one bound only is taken as that single number
        pl.coalesce("size_min", "size_max").alias("size_min"),
        pl.coalesce("size_max", "size_min").alias("size_max"),
    )
    s = store.services.c
    services = pl.DataFrame(
        [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(
                    s.id,
                    s.name,
                    s.service_type,
                    s.cell,
                    s.location,
                    s.sensitive,
                    s.friendly,
                    s.opening_hours,
                    s.active_from,
                    s.active_until,
                    s.district_id,
                ).order_by(s.id)
            )
        ],
        schema={
            "id": pl.String,
            "name": pl.String,
            "service_type": pl.Int16,
            "cell": pl.Int64,
            "location": pl.Binary,
            "sensitive": pl.Boolean,
            "friendly": pl.Boolean,
            "opening_hours": pl.String,
            "active_from": pl.Date,
            "active_until": pl.Date,
            "district_id": pl.String,
        },
        orient="row",
    )
    estimated = _frame(
        connection,
        sa.select(v.district_id, sa.func.count())
        .where(v.district_estimated, v.visit_date.between(period.start, period.end))
        .group_by(v.district_id),
        {"district_id": pl.String, "visits_estimated": pl.Int64},
    )
    span = (None, None)
    if visits.height == 0:
        # nothing up to the period's end: say what the store does hold (a rare, cheap case)
        span = connection.execute(
            sa.select(sa.func.min(v.visit_date), sa.func.max(v.visit_date))
        ).one()
    return CoverageData(
        period=period,
        resolution=resolution,
        as_of=min(period.end, today),
        visits=visits,
        profiles=profiles,
        area_cells=area_cells,
        districts=districts.drop("geometry"),
        hotspots=hotspots,
        services=services,
        estimated=estimated,
        store_span=(_as_date(span[0]), _as_date(span[1])) if visits.height == 0 else None,
    )


def _as_date(value: object) -> dt.date | None:
    """Return a date from a driver's date or ISO text (SQLite returns text for raw queries)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def district_shapes(workspace: Workspace) -> dict[str, shapely.Geometry]:
    """Return each district's outline (EPSG:4326) by district id, as the store holds it."""
    with workspace.connect() as connection:
        return {
            row.id: shapely.from_wkb(row.geometry)
            for row in connection.execute(
                sa.select(store.districts.c.id, store.districts.c.geometry)
            )
        }
