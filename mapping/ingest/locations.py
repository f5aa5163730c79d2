"""Locations to cells: the one place coordinates are read, checked against the area, and dropped."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

from mapping.cells import cells_from_points
from mapping.ingest.attribution import area_districts, attribute_points
from mapping.ingest.batch import Problems
from mapping.ingest.readers import GEOMETRY_PROBLEM
from mapping.ingest.values import REDACTED, as_number
from mapping.storage import store
from mapping.storage.workspace import Workspace


def locate_rows(
    work: pl.DataFrame,
    problems: Problems,
    workspace: Workspace,
    *,
    allow_outside: bool,
) -> pl.DataFrame:
    """Turn each row's location into a cell and a district; drop the coordinates.

    Reads columns ``latitude``/``longitude`` and/or a geopoint text ``location`` ("lat lon alt
    accuracy"); adds ``cell`` (at the storage resolution, null where there is no usable
    location), ``district_id`` (the district holding the exact point, decided here with the
    cell: :mod:`mapping.ingest.attribution`; null outside the area) and ``point_cell`` (the
    point's own cell, which the sliver rule may have replaced in ``cell``: kept in memory only,
    so that a row stored before the rule is found again; never stored), and records a problem
    for every unusable location. No coordinate leaves this function.
    """
    columns = work.columns
    lat_text: pl.Expr = pl.col("latitude") if "latitude" in columns else pl.lit(None, pl.String)
    lng_text: pl.Expr = pl.col("longitude") if "longitude" in columns else pl.lit(None, pl.String)
    if "location" in columns:
        parts = pl.col("location").str.strip_chars().str.split(" ")
        lat_text = pl.coalesce(lat_text, parts.list.get(0, null_on_oob=True))
        lng_text = pl.coalesce(lng_text, parts.list.get(1, null_on_oob=True))
    work = work.with_columns(lat_text.alias("__lat_text"), lng_text.alias("__lng_text"))
    work = work.with_columns(
        as_number(pl.col("__lat_text")).alias("__lat"),
        as_number(pl.col("__lng_text")).alias("__lng"),
    ).drop([c for c in ("latitude", "longitude", "location") if c in columns])
    lat, lng = pl.col("__lat"), pl.col("__lng")
    fix_number = "write decimal degrees, e.g. -12.5 (the value is hidden to keep locations private)"
    if GEOMETRY_PROBLEM in work.columns:
        problems.add(
            work,
            pl.col(GEOMETRY_PROBLEM).is_not_null(),
            field_name="geometry",
            value=pl.col(GEOMETRY_PROBLEM),
            problem="is not a point",
            code="not_point",
            fix="give each visit as a point; areas and lines are not visits",
        )
    for name, text, number in (("latitude", "__lat_text", lat), ("longitude", "__lng_text", lng)):
        problems.add(
            work,
            pl.col(text).is_not_null() & number.is_null(),
            field_name=name,
            value=REDACTED,
            problem="is not a number",
            code="not_number",
            fix=fix_number,
        )
    problems.add(
        work,
        lat.is_null() != lng.is_null(),
        field_name="location",
        value=REDACTED,
        problem="has a latitude or a longitude but not both",
        code="half_location",
        fix="give both, or leave both empty for a visit without location",
    )
    problems.add(
        work,
        (lat == 0) & (lng == 0),
        field_name="location",
        value=REDACTED,
        problem="is 0,0 (the GPS had no fix)",
        code="no_gps_fix",
        fix="leave the location empty if it is unknown; the visit is then counted but not mapped",
    )
    in_range = (lat.abs() <= 90) & (lng.abs() <= 180)
    usable = lat.is_not_null() & lng.is_not_null() & in_range & ~((lat == 0) & (lng == 0))
    work = work.with_columns(
        pl.when(usable).then(lat).alias("__lat_ok"),
        pl.when(usable).then(lng).alias("__lng_ok"),
    )
    resolution = workspace.resolution
    districts = area_districts(workspace)
    area = districts.area["cell"]
    work = work.with_columns(
        cells_from_points(work["__lat_ok"], work["__lng_ok"], resolution).alias("cell")
    )
    # a null cell is never inside (is_in gives null for it, and a null condition matches no row)
    inside = pl.col("cell").is_in(area.implode()).fill_null(False)
    # only points that are not already inside the area are tried the other way round
    swappable = (
        lat.is_not_null()
        & lng.is_not_null()
        & (lng.abs() <= 90)
        & (lat.abs() <= 180)
        & ~(pl.col("cell").is_not_null() & inside)
    )
    suspects = work.select(swappable.alias("s")).to_series()
    swapped = pl.Series("__swapped_cell", [None] * work.height, dtype=pl.UInt64)
    if suspects.any():
        rows = suspects.arg_true()
        subset = work.select(lat.alias("lat"), lng.alias("lng")).filter(suspects)
        swapped = swapped.scatter(rows, cells_from_points(subset["lng"], subset["lat"], resolution))
    work = work.with_columns(swapped)
    swapped_inside = pl.col("__swapped_cell").is_in(area.implode()).fill_null(False)
    out_of_range = lat.is_not_null() & lng.is_not_null() & ~in_range
    swap_fix = "swap the latitude and longitude columns (or map them the right way round)"
    problems.add(
        work,
        out_of_range & swapped_inside,
        field_name="location",
        value=REDACTED,
        problem="has latitude and longitude swapped (swapped, the point falls inside the area)",
        code="swapped",
        fix=swap_fix,
        cell=pl.col("__swapped_cell"),
    )
    problems.add(
        work,
        out_of_range & ~swapped_inside,
        field_name="location",
        value=REDACTED,
        problem="is outside -90..90 latitude / -180..180 longitude",
        code="out_of_range",
        fix="check the coordinates; write decimal degrees, e.g. latitude -12.5, longitude -77.0",
    )
    outside = pl.col("cell").is_not_null() & ~inside
    problems.add(
        work,
        outside & swapped_inside,
        field_name="location",
        value=REDACTED,
        problem="has latitude and longitude swapped (swapped, the point falls inside the area)",
        code="swapped",
        fix=swap_fix,
        cell=pl.col("__swapped_cell"),
    )
    if not allow_outside:
        problems.add(
            work,
            outside & ~swapped_inside,
            field_name="location",
            value=REDACTED,
            problem="is outside every district of the area",
            code="outside_area",
            fix="check the point; import with --allow-outside to keep points outside the area",
            cell=pl.col("cell"),
        )
    # the district from the exact point, in the same step as the cell; then the point goes
    placed = attribute_points(
        districts, work["__lat_ok"].to_numpy(), work["__lng_ok"].to_numpy(), work["cell"]
    )
    work = work.with_columns(
        pl.col("cell").alias("point_cell"),
        placed.cell.alias("cell"),
        placed.district_id.alias("district_id"),
    )
    drop = [c for c in work.columns if c.startswith(("__lat", "__lng")) or c == "__swapped_cell"]
    return work.drop(drop)


def area_cells(workspace: Workspace) -> pl.Series:
    """Return every cell at the storage resolution that overlaps a district of the area."""
    with workspace.connect() as connection:
        cells = connection.execute(sa.select(store.area_cells.c.cell)).scalars().all()
    return pl.Series("cell", cells, dtype=pl.UInt64)
