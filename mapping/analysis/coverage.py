"""Coverage per cell and per district: reach, size estimates, outreach, service access, workload.

Everything is computed from what the store holds (cells, hashed contacts, the registries) for
one period, with vectorised polars and numpy: visits are grouped by cell first, and cells are
matched to districts once per distinct cell, never per visit. Formulas and defaults are in
docs/coverage.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import polars as pl
import polars_h3 as plh3
import shapely
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from mapping import clock
from mapping.cells import cell_centres, cell_polygons, hex_ids
from mapping.errors import InvalidInputError
from mapping.hours import SLOT_MINUTES, WEEK_SLOTS, opening_masks, working_mask
from mapping.periods import Period, parse_period
from mapping.settings import Settings, get_settings
from mapping.storage import store
from mapping.storage.workspace import Workspace, sqlite_file
from mapping.travel import StraightLineTravel, TravelModel, travel_model
from mapping.vocab import SERVICE_TYPES, SUPPLIES

#: Rows of the district table that are not districts, so that nothing is silently dropped.
NO_LOCATION = "_no_location"
OUTSIDE_AREA = "_outside_area"
#: Weights of the four gaps in the gap score (they sum to 1; see docs/coverage.md).
GAP_WEIGHTS: dict[str, float] = {"reach": 0.3, "outreach": 0.2, "access": 0.3, "workload": 0.2}
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class CoverageOptions:
    """The knobs of the coverage analytics; defaults come from :mod:`mapping.settings`."""

    recent_days: int = 30
    overdue_weeks: int = 5
    workload_norm: int = 90
    reach_minutes: float = 30.0
    min_overlap_minutes: int = 60
    prior_per_1000: tuple[float, float] = (1.0, 3.0)
    key_service_types: tuple[str, ...] = ("hiv_testing", "sti_clinic", "prep_pep", "drop_in_centre")
    require_friendly: bool = True
    gap_weights: dict[str, float] = field(default_factory=lambda: dict(GAP_WEIGHTS))
    travel: TravelModel = field(default_factory=StraightLineTravel)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> CoverageOptions:
        """Return the options a deployment configured (``OUTREACH_MAP_*`` overrides applied)."""
        settings = settings or get_settings()
        key_types = tuple(t.strip() for t in settings.key_service_types.split(",") if t.strip())
        unknown = [t for t in key_types if t not in SERVICE_TYPES]
        if unknown:
            raise InvalidInputError(
                f"key service types {', '.join(unknown)} are not service types — "
                f"choose from {', '.join(SERVICE_TYPES)}"
            )
        if settings.overdue_weeks * 7 < settings.recent_days:
            raise InvalidInputError(
                f"OUTREACH_MAP_OVERDUE_WEEKS={settings.overdue_weeks} ({settings.overdue_weeks * 7}"
                f" days) is shorter than OUTREACH_MAP_RECENT_DAYS={settings.recent_days}: a "
                "hotspot would be both recently visited and overdue — make the overdue time at "
                "least as long"
            )
        return cls(
            recent_days=settings.recent_days,
            overdue_weeks=settings.overdue_weeks,
            workload_norm=settings.workload_norm,
            reach_minutes=float(settings.reach_minutes),
            min_overlap_minutes=settings.min_overlap_minutes,
            prior_per_1000=(settings.prior_per_1000_min, settings.prior_per_1000_max),
            key_service_types=key_types,
            travel=travel_model(settings),
        )


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
    #: For each cell visited or holding a hotspot inside the area: the districts it lies in
    #: and the share of its area in each (1.0 for the many cells inside one district).
    shares: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"cell": pl.Int64, "district_id": pl.String, "share": pl.Float64}
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


@dataclass
class CoverageReport:
    """The results of one coverage run: per cell, per hotspot, per district, and the totals."""

    period: Period
    options: CoverageOptions
    cells: pl.DataFrame
    hotspots: pl.DataFrame
    districts: pl.DataFrame
    totals: dict[str, Any]

    def ranked(self) -> pl.DataFrame:
        """Return the districts ranked by gap score, then the rows for unplaced visits."""
        return pl.concat(
            [
                self.districts.filter(pl.col("rank").is_not_null()).sort("rank"),
                self.districts.filter(pl.col("rank").is_null()),
            ]
        )


def epoch_day(day: dt.date) -> int:
    """Return ``day`` as days since 1970-01-01, the form dates take inside the analytics."""
    return (day - _EPOCH).days


def _epoch_days_sql(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    if dialect == "sqlite":
        return sa.cast(sa.func.julianday(column) - 2440587.5, sa.Integer)
    return sa.cast(column - sa.literal(_EPOCH, sa.Date), sa.Integer)


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
    no other connection at the time may turn it on (the command line's analytics do, and
    :func:`load_coverage_data` first closes the connections the process keeps in its pool); the
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
    today = today or clock.today()
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
}


def _visits_query(period: Period, dialect: sa.Dialect) -> sa.Select[Any]:
    v = store.visits.c
    return sa.select(
        v.cell,
        v.contact_id,
        _epoch_days_sql(v.visit_date, dialect.name),
        v.peer_educator_id,
        v.profile_id,
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
                sa.select(h.id, h.cell, h.typology, h.days, h.hours, h.size_min, h.size_max)
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
        },
        orient="row",
    )
    wanted = (
        pl.concat([visits.select("cell").drop_nulls(), hotspots.select("cell")])
        .unique()
        .join(area_cells, on="cell", how="inner")
    )
    shares = cell_shares(wanted, districts, resolution)
    span = (None, None)
    if visits.height == 0:
        # nothing up to the period's end: say what the store does hold (a rare, cheap case)
        span = connection.execute(
            sa.select(sa.func.min(v.visit_date), sa.func.max(v.visit_date))
        ).one()
    return CoverageData(
        period=period,
        resolution=resolution,
        as_of=min(period.end, today or clock.today()),
        visits=visits,
        profiles=profiles,
        area_cells=area_cells,
        districts=districts.drop("geometry"),
        hotspots=hotspots,
        services=services,
        shares=shares,
        store_span=(_as_date(span[0]), _as_date(span[1])) if visits.height == 0 else None,
    )


#: A district's share of a cell below this is dropped (and the others scaled up to 1): a sliver
#: of a few percent changes a district figure by less than rounding.
MIN_SHARE = 0.05


def cell_shares(cells: pl.DataFrame, districts: pl.DataFrame, resolution: int) -> pl.DataFrame:
    """Return the share of each cell's area in each district it overlaps.

    ``cells`` has ``cell`` and ``district_id`` (the district holding its centre, from the area
    set-up); ``districts`` has ``district_id`` and WKB ``geometry``. A cell wholly inside
    the district of its centre has share 1 there; for the others the share is the fraction of
    the cell's 49 grandchild centres (``resolution`` + 2) that fall in each district, counting
    only those inside some district (a part at sea does not count). Shares under
    :data:`MIN_SHARE` are dropped and the rest rescaled to sum to 1; a cell with no sample
    point in any district (the area set-up gave it to the nearest) keeps its district whole.
    """
    if cells.height == 0:
        return pl.DataFrame(
            schema={"cell": pl.Int64, "district_id": pl.String, "share": pl.Float64}
        )
    geometries = shapely.from_wkb(districts["geometry"].to_numpy())
    shapely.prepare(geometries)
    district_ids = districts["district_id"].to_numpy()
    position = {district: index for index, district in enumerate(district_ids)}
    home = np.array([position.get(d, -1) for d in cells["district_id"].to_list()])
    polygons = np.array(cell_polygons(cells["cell"].to_list()), dtype=object)
    # most cells lie wholly inside the district holding their centre: no intersection needed
    inside = np.zeros(len(polygons), dtype=bool)
    known = home >= 0
    inside[known] = shapely.contains_properly(geometries[home[known]], polygons[known])
    crossing = pl.Series("cell", cells["cell"].to_numpy()[~inside]).cast(pl.UInt64)
    # The share of a crossing cell in each district is measured on the 49 centres of its
    # grandchildren (two resolutions finer), a regular sample of the cell: accurate to about
    # 2 %, and far faster than intersecting cells with detailed district outlines.
    sample = (
        pl.DataFrame({"cell": crossing})
        .with_columns(plh3.cell_to_children("cell", min(resolution + 2, 15)).alias("child"))
        .explode("child")
        .with_columns(
            plh3.cell_to_lat("child").alias("lat"), plh3.cell_to_lng("child").alias("lng")
        )
    )
    points = shapely.points(np.column_stack([sample["lng"].to_numpy(), sample["lat"].to_numpy()]))
    # querying with the (prepared) districts against a tree of points is the fast direction
    district_index, point_index = shapely.STRtree(points).query(geometries, predicate="covers")
    pieces = (
        pl.DataFrame(
            {
                "cell": sample["cell"].cast(pl.Int64).to_numpy()[point_index],
                "district_id": district_ids[district_index],
            },
            schema={"cell": pl.Int64, "district_id": pl.String},
        )
        .group_by("cell", "district_id")
        .agg(pl.len().alias("points"))
        .with_columns((pl.col("points") / pl.col("points").sum().over("cell")).alias("share"))
        .filter(pl.col("share") >= MIN_SHARE)
        .with_columns((pl.col("share") / pl.col("share").sum().over("cell")).alias("share"))
        .select("cell", "district_id", "share")
    )
    whole = (
        cells.join(pieces.select("cell").unique(), on="cell", how="anti")
        .select("cell", "district_id")
        .with_columns(pl.lit(1.0).alias("share"))
    )
    return pl.concat([pieces, whole]).sort("cell", "district_id")


def _profile_columns(profiles: pl.DataFrame) -> pl.DataFrame:
    """Each profile's supplies, and its referrals as one 0/1 column per service type."""
    return profiles.select(
        "profile_id",
        *SUPPLIES,
        *(
            ((pl.col("referrals") & (1 << index)) != 0).cast(pl.Int32).alias(f"referrals_{name}")
            for index, name in enumerate(SERVICE_TYPES)
        ),
    )


def cell_coverage(data: CoverageData, options: CoverageOptions) -> pl.DataFrame:
    """Return one row per cell visited up to the period's end or holding a registered hotspot.

    Columns: the cell (as an integer and as its hex id), its district (null outside the area),
    visits, unique contacts, new and returning contacts, supplies and referrals by service
    type in the period, the last visit and days since it (at the period's end, or today if it
    has not ended: ``CoverageData.as_of``), and whether the
    cell holds a registered, active hotspot. Visits without a location are not in any cell.
    """
    start, end = epoch_day(data.period.start), epoch_day(data.as_of)
    in_period = data.visits.filter((pl.col("day") >= start) & pl.col("cell").is_not_null())
    # supplies and referrals: each visit's profile, summed per cell
    by_profile = (
        in_period.lazy()
        .select("cell", "profile_id")
        .join(_profile_columns(data.profiles).lazy(), on="profile_id", how="left")
        .group_by("cell")
        .agg(pl.len().alias("visits"), pl.all().exclude("profile_id").sum())
        .collect()
    )
    contacts = (
        data.pairs.filter(
            pl.col("cell").is_not_null() & pl.col("contact_id").is_not_null() & (pl.col("n") > 0)
        )
        .select("cell", "contact_id")
        .join(data.first_seen, on="contact_id", how="left")
        .group_by("cell")
        .agg(
            pl.len().alias("contacts"),
            (pl.col("first_day") >= start).sum().alias("new_contacts"),
            (pl.col("first_day") < start).sum().alias("returning_contacts"),
        )
    )
    last = data.last_visits
    hotspot_cells = data.hotspots.select("cell").unique().with_columns(hotspot=pl.lit(True))
    cells = (
        pl.concat([last.select("cell"), hotspot_cells.select("cell")])
        .unique()
        .join(last, on="cell", how="left")
        .join(by_profile, on="cell", how="left")
        .join(contacts, on="cell", how="left")
        .join(hotspot_cells, on="cell", how="left")
        .join(data.area_cells, on="cell", how="left")
    )
    counts = ["visits", "contacts", "new_contacts", "returning_contacts", *SUPPLIES]
    counts += [f"referrals_{name}" for name in SERVICE_TYPES]
    return (
        cells.with_columns(
            *(pl.col(name).fill_null(0).cast(pl.Int64) for name in counts),
            pl.col("hotspot").fill_null(False),
            (pl.lit(end) - pl.col("last_day")).alias("days_since_last_visit"),
            (pl.col("last_day").cast(pl.Date)).alias("last_visit"),
            hex_ids(pl.col("cell")).alias("cell_id"),
        )
        .drop("last_day")
        .select(
            "cell",
            "cell_id",
            "district_id",
            *counts,
            "last_visit",
            "days_since_last_visit",
            "hotspot",
        )
        .sort("cell")
    )


def service_points(services: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return each service's latitude and longitude: its point if public, else its cell centre."""
    lat, lng = cell_centres(services["cell"].to_list())
    lat, lng = lat.copy(), lng.copy()
    for index, blob in enumerate(services["location"].to_list()):
        if blob is not None:
            point = shapely.from_wkb(blob)
            lat[index], lng[index] = point.y, point.x
    return lat, lng


def servable(services: pl.DataFrame, day: dt.date, *, friendly_only: bool) -> pl.DataFrame:
    """Return the services active on ``day`` (and friendly, if asked; unknown counts as not)."""
    active = (pl.col("active_from").is_null() | (pl.col("active_from") <= day)) & (
        pl.col("active_until").is_null() | (pl.col("active_until") >= day)
    )
    if friendly_only:
        active &= pl.col("friendly").fill_null(False)
    return services.filter(active)


def estimated_sizes(hotspots: pl.DataFrame) -> pl.Series:
    """Return each hotspot's estimated number of sex workers: the weight of hotspot figures.

    The midpoint of its ``size_min``..``size_max`` range (a range given by one bound only is
    that single number); a hotspot with no estimate gets the median of the known ones, or 1
    when none is known. Coverage weighs hotspots by it, and :mod:`mapping.planning.assignments`
    counts a
    peer educator's workload with it.

    Examples
    --------
    >>> frame = pl.DataFrame({"size_min": [4, None, 10], "size_max": [8, None, None]})
    >>> estimated_sizes(frame).to_list()
    [6.0, 8.0, 10.0]
    """
    low = pl.coalesce("size_min", "size_max")
    high = pl.coalesce("size_max", "size_min")
    middle = (low + high) / 2
    known = hotspots.select(middle.drop_nulls().median()).item() if hotspots.height else None
    return hotspots.select(
        middle.cast(pl.Float64).fill_null(known if known is not None else 1.0).alias("weight")
    )["weight"]


def hotspot_access(data: CoverageData, options: CoverageOptions) -> pl.DataFrame:
    """Return, per active hotspot, its district, recency and access to each service type.

    For every service type: ``minutes_<type>`` to the nearest service of that type that is
    active on the period's last day, friendly (unless the options say otherwise) and open for
    at least ``min_overlap_minutes`` a week during the hotspot's working hours; null when there
    is none. ``reach_<type>`` says whether that is within ``reach_minutes``.
    """
    end = data.as_of
    hotspots = data.hotspots.join(data.area_cells, on="cell", how="left")
    hotspots = hotspots.join(data.last_visits, on="cell", how="left").with_columns(
        (pl.lit(epoch_day(end)) - pl.col("last_day")).alias("days_since_last_visit")
    )
    services = servable(data.services, end, friendly_only=options.require_friendly)
    columns: dict[str, Any] = {}
    if hotspots.height:
        h_lat, h_lng = cell_centres(hotspots["cell"].to_list())
        # a hotspot's working time: a missing day or hour means any (see working_mask)
        keys = list(zip(hotspots["days"].to_list(), hotspots["hours"].to_list(), strict=True))
        by_key = {key: working_mask(key[0] or None, key[1] or None) for key in set(keys)}
        working = np.array([by_key[key] for key in keys], dtype=bool).reshape(-1, WEEK_SLOTS)
        s_lat, s_lng = service_points(services)
        opening = opening_masks(services["opening_hours"].to_list())
        overlap = working.astype(np.int32) @ opening.T.astype(np.int32)
        usable = overlap * SLOT_MINUTES >= options.min_overlap_minutes
        minutes = options.travel.minutes(h_lat, h_lng, s_lat, s_lng)
        minutes = np.where(usable, minutes, np.inf)
        kinds = services["service_type"].to_numpy()
        for code, name in enumerate(SERVICE_TYPES, start=1):
            of_type = kinds == code
            nearest = (
                minutes[:, of_type].min(axis=1)
                if of_type.any()
                else np.full(hotspots.height, np.inf)
            )
            columns[f"minutes_{name}"] = np.where(
                np.isfinite(nearest), np.round(nearest, 1), np.nan
            )
            columns[f"reach_{name}"] = nearest <= options.reach_minutes
    else:
        for name in SERVICE_TYPES:
            columns[f"minutes_{name}"] = []
            columns[f"reach_{name}"] = []
    return hotspots.with_columns(
        estimated_sizes(hotspots).alias("weight"),
        (pl.col("days_since_last_visit") <= options.recent_days)
        .fill_null(False)
        .alias("visited_recently"),
        (pl.col("days_since_last_visit") > options.overdue_weeks * 7)
        .fill_null(True)
        .alias("overdue"),
        hex_ids(pl.col("cell")).alias("cell_id"),
        *(
            (
                pl.Series(name, values, dtype=pl.Float64).fill_nan(None)
                if name.startswith("min")
                else pl.Series(name, values, dtype=pl.Boolean)
            )
            for name, values in columns.items()
        ),
    ).drop("last_day")


def _workload(data: CoverageData) -> pl.DataFrame:
    """Active peer educators per district, each split by the share of their visits there."""
    start = epoch_day(data.period.start)
    located = data.visits.filter((pl.col("day") >= start) & pl.col("cell").is_not_null())
    per_peer_educator = (
        located.group_by("peer_educator_id", "cell")
        .agg(pl.len().alias("n"))
        .join(data.shares, on="cell", how="inner")
        .group_by("peer_educator_id", "district_id")
        .agg((pl.col("n") * pl.col("share")).sum().alias("n"))
        .with_columns((pl.col("n") / pl.col("n").sum().over("peer_educator_id")).alias("share"))
    )
    return per_peer_educator.group_by("district_id").agg(
        pl.col("share").sum().alias("peer_educators"),
        pl.col("peer_educator_id").n_unique().alias("peer_educators_seen"),
    )


def district_coverage(
    data: CoverageData,
    options: CoverageOptions,
    cells: pl.DataFrame,
    hotspots: pl.DataFrame,
) -> pl.DataFrame:
    """Return one row per district with every figure of the gap ranking and its inputs.

    Also two rows that are not districts, ``_no_location`` (phone, SMS and online contacts,
    which count for reach but are in no cell) and ``_outside_area`` (cells outside every
    district), so that no visit is dropped; they are not ranked.
    """
    start = epoch_day(data.period.start)
    first_seen = data.first_seen
    in_period = data.pairs.filter(pl.col("n") > 0).select("cell", "contact_id", "n")
    # visits per cell and contact, split over the districts each cell lies in
    inside = in_period.join(data.shares, on="cell", how="inner")
    visits_in = inside.group_by("district_id").agg(
        (pl.col("n") * pl.col("share")).sum().alias("visits")
    )
    # a contact seen n times in a cell with share s of it in a district was seen in that
    # district with probability 1 - (1 - s)^n; summed over contacts this is the expected
    # number of distinct contacts (exact, and whole, when no cell crosses a boundary).
    # Most cells lie in one district (s = 1, probability 1): those pairs are just counted,
    # and only pairs seen nowhere but in crossing cells are worked out.
    with_code = inside.filter(pl.col("contact_id").is_not_null())
    certain = (
        with_code.filter(pl.col("share") == 1.0)
        .select("contact_id", "district_id")
        .unique()
        .with_columns(pl.lit(1.0).alias("p"))
    )
    uncertain = (
        with_code.filter(pl.col("share") < 1.0)
        .join(certain, on=["contact_id", "district_id"], how="anti")
        .group_by("contact_id", "district_id")
        .agg((1 - (pl.col("n") * (1 - pl.col("share")).log()).sum().exp()).alias("p"))
    )
    contacts_in = (
        pl.concat([certain, uncertain])
        .join(first_seen, on="contact_id", how="left")
        .group_by("district_id")
        .agg(
            pl.col("p").sum().alias("contacts"),
            pl.col("p").filter(pl.col("first_day") >= start).sum().alias("new_contacts"),
        )
    )
    unplaced = (
        in_period.join(data.shares.select("cell").unique(), on="cell", how="anti")
        .with_columns(
            pl.when(pl.col("cell").is_null())
            .then(pl.lit(NO_LOCATION))
            .otherwise(pl.lit(OUTSIDE_AREA))
            .alias("district_id")
        )
        .join(first_seen, on="contact_id", how="left")
    )
    unplaced_reach = unplaced.group_by("district_id").agg(
        pl.col("n").sum().cast(pl.Float64).alias("visits"),
        pl.col("contact_id").drop_nulls().n_unique().cast(pl.Float64).alias("contacts"),
        pl.col("contact_id")
        .filter(pl.col("first_day") >= start)
        .drop_nulls()
        .n_unique()
        .cast(pl.Float64)
        .alias("new_contacts"),
    )
    reach = visits_in.join(contacts_in, on="district_id", how="left")
    candidates = (
        cells.filter((pl.col("visits") > 0) & ~pl.col("hotspot"))
        .group_by("district_id")
        .agg(pl.len().alias("candidate_cells"))
    )
    outreach = hotspots.group_by("district_id").agg(
        pl.len().alias("hotspots"),
        pl.col("size_min").is_not_null().sum().alias("hotspots_with_size"),
        pl.col("size_min").sum().cast(pl.Float64).alias("hotspot_size_min"),
        pl.col("size_max").sum().cast(pl.Float64).alias("hotspot_size_max"),
        pl.col("visited_recently").sum().alias("hotspots_visited_recently"),
        pl.col("overdue").sum().alias("hotspots_overdue"),
        (
            (pl.col("overdue").cast(pl.Float64) * pl.col("weight")).sum() / pl.col("weight").sum()
        ).alias("gap_outreach"),
        *(
            (
                (pl.col(f"reach_{name}").cast(pl.Float64) * pl.col("weight")).sum()
                / pl.col("weight").sum()
            ).alias(f"access_{name}")
            for name in SERVICE_TYPES
        ),
    )
    low, high = options.prior_per_1000
    frame = (
        data.districts.join(reach, on="district_id", how="left")
        .join(candidates, on="district_id", how="left")
        .join(outreach, on="district_id", how="left")
        .join(_workload(data), on="district_id", how="left")
        .with_columns(
            *(
                pl.col(name).fill_null(0)
                for name in (
                    "visits",
                    "contacts",
                    "new_contacts",
                    "candidate_cells",
                    "hotspots",
                    "hotspots_with_size",
                    "hotspots_visited_recently",
                    "hotspots_overdue",
                    "peer_educators_seen",
                )
            ),
            pl.col("peer_educators").fill_null(0.0).round(2),
        )
        .with_columns(pl.col("visits", "contacts", "new_contacts").round(1))
    )
    from_hotspots = pl.col("hotspots_with_size") > 0
    from_prior = pl.col("population").is_not_null() & (pl.col("population") > 0)
    frame = frame.with_columns(
        pl.when(from_hotspots)
        .then(pl.lit("hotspots"))
        .when(from_prior)
        .then(pl.lit("population prior"))
        .otherwise(pl.lit("unknown"))
        .alias("estimate_source"),
        pl.when(from_hotspots)
        .then(pl.col("hotspot_size_min").cast(pl.Float64))
        .when(from_prior)
        .then((pl.col("population") * low / 1000).round(0))
        .alias("estimate_min"),
        pl.when(from_hotspots)
        .then(pl.col("hotspot_size_max").cast(pl.Float64))
        .when(from_prior)
        .then((pl.col("population") * high / 1000).round(0))
        .alias("estimate_max"),
    ).drop("hotspot_size_min", "hotspot_size_max")
    mid = (pl.col("estimate_min") + pl.col("estimate_max")) / 2
    key = [f"access_{name}" for name in options.key_service_types]
    frame = frame.with_columns(
        pl.when(pl.col("estimate_max") > 0)
        .then(pl.col("contacts") / pl.col("estimate_max"))
        .alias("coverage_low"),
        pl.when(pl.col("estimate_min") > 0)
        .then(pl.col("contacts") / pl.col("estimate_min"))
        .alias("coverage_high"),
        # more people reached than the estimate allows: the estimate (or the registry) is short
        (pl.col("contacts") > pl.col("estimate_max")).fill_null(False).alias("estimate_too_low"),
        pl.when(pl.col("peer_educators") > 0)
        .then(pl.col("estimate_min") / pl.col("peer_educators"))
        .alias("workload_low"),
        pl.when(pl.col("peer_educators") > 0)
        .then(pl.col("estimate_max") / pl.col("peer_educators"))
        .alias("workload_high"),
        pl.mean_horizontal(*key).alias("access_key") if key else pl.lit(None, pl.Float64),
        pl.when(mid > 0)
        .then(1 - (pl.col("contacts") / mid).clip(upper_bound=1.0))
        .alias("gap_reach"),
        pl.when(mid > 0)
        .then(1 - (pl.col("peer_educators") * options.workload_norm / mid).clip(upper_bound=1.0))
        .alias("gap_workload"),
    ).with_columns((1 - pl.col("access_key")).alias("gap_access"))
    weights = options.gap_weights
    gaps = [f"gap_{name}" for name in weights]
    frame = frame.with_columns(
        (100 * pl.sum_horizontal(*(pl.col(g).fill_null(0) * weights[g[4:]] for g in gaps)))
        .round(1)
        .alias("gap_score"),
        pl.sum_horizontal(
            *(pl.col(g).is_not_null().cast(pl.Float64) * weights[g[4:]] for g in gaps)
        ).alias("known_weight"),
    )
    # Districts whose need rests on the programme's own hotspot registry come first; those
    # with only a population prior (unmapped) or no estimate follow, so that the top of the
    # ranking is about places the programme knows sex workers work (docs/coverage.md).
    basis = (
        pl.col("estimate_source")
        .replace_strict({"hotspots": 0, "population prior": 1, "unknown": 2}, return_dtype=pl.Int8)
        .alias("__basis")
    )
    frame = (
        frame.with_columns(
            basis,
            (-pl.col("gap_score")).alias("__score"),
            (-pl.col("estimate_max").fill_null(0)).alias("__size"),
        )
        .sort(["__basis", "__score", "__size", "district_id"], nulls_last=True)
        .drop("__basis", "__score", "__size")
        .with_columns(pl.int_range(1, pl.len() + 1).alias("rank"))
    )
    extra = unplaced_reach.sort("district_id").with_columns(
        pl.col("district_id")
        .replace(
            {
                NO_LOCATION: "(no location: phone, SMS, online)",
                OUTSIDE_AREA: "(outside every district)",
            }
        )
        .alias("district")
    )
    return pl.concat([frame, extra], how="diagonal_relaxed")


def coverage(
    workspace: Workspace,
    period: Period | str | None = None,
    *,
    options: CoverageOptions | None = None,
    today: dt.date | None = None,
) -> CoverageReport:
    """Compute coverage for ``period`` (default: the last 90 days) on a workspace."""
    options = options or CoverageOptions.from_settings()
    if not isinstance(period, Period):
        period = parse_period(period, today=today, default_days=get_settings().default_period_days)
    data = load_coverage_data(workspace, period, today=today)
    return coverage_from_data(data, options)


def coverage_from_data(data: CoverageData, options: CoverageOptions) -> CoverageReport:
    """Compute coverage from already-loaded data (what :func:`coverage` does after loading)."""
    cells = cell_coverage(data, options)
    hotspots = hotspot_access(data, options)
    districts = district_coverage(data, options, cells, hotspots)
    start = epoch_day(data.period.start)
    in_period = data.visits.filter(pl.col("day") >= start)
    totals = {
        "period": data.period.label,
        "start": data.period.start.isoformat(),
        "end": data.period.end.isoformat(),
        "as_of": data.as_of.isoformat(),
        "services_without_hours": _services_without_hours(data, options),
        "hotspots": data.hotspots.height,
        "first_visit": (
            _day_text(data.visits["day"].min())
            if data.store_span is None
            else _iso(data.store_span[0])
        ),
        "last_visit": (
            _day_text(data.visits["day"].max())
            if data.store_span is None
            else _iso(data.store_span[1])
        ),
        "visits": in_period.height,
        "contacts": in_period["contact_id"].drop_nulls().n_unique(),
        "visits_without_location": in_period["cell"].null_count(),
        "cells_outside_area": cells.filter(
            pl.col("district_id").is_null() & (pl.col("visits") > 0)
        ).height,
        "travel": getattr(options.travel, "describe", lambda: type(options.travel).__name__)(),
    }
    return CoverageReport(
        period=data.period,
        options=options,
        cells=cells,
        hotspots=hotspots,
        districts=districts,
        totals=totals,
    )


def _day_text(day: object) -> str | None:
    """Return a day number as ``YYYY-MM-DD`` (``None`` for no day)."""
    return None if day is None else (_EPOCH + dt.timedelta(days=int(day))).isoformat()  # type: ignore[call-overload]


def _services_without_hours(data: CoverageData, options: CoverageOptions) -> int:
    """Count active (and friendly, if required) services left out for unknown opening hours."""
    services = servable(data.services, data.as_of, friendly_only=options.require_friendly)
    return int(services["opening_hours"].null_count())


def _as_date(value: object) -> dt.date | None:
    """Return a date from a driver's date or ISO text (SQLite returns text for raw queries)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def districts_with_geometry(workspace: Workspace, report: CoverageReport) -> gpd.GeoDataFrame:
    """Return the report's district rows as a GeoDataFrame (EPSG:4326), for maps.

    The rows that are not districts (no location, outside the area) have no geometry and are
    left out; their figures stay in ``report.totals`` and ``report.districts``.
    """
    with workspace.connect() as connection:
        shapes = {
            row.id: shapely.from_wkb(row.geometry)
            for row in connection.execute(
                sa.select(store.districts.c.id, store.districts.c.geometry)
            )
        }
    rows = report.districts.filter(pl.col("district_id").is_in(list(shapes)))
    return gpd.GeoDataFrame(
        rows.to_pandas(),
        geometry=[shapes[d] for d in rows["district_id"].to_list()],
        crs=4326,
    )
