"""Points to H3 cells (vectorised, in memory), cell validity, parents, cells covering an area."""

from __future__ import annotations

import h3
import numpy as np
import polars as pl
import polars_h3 as plh3
import shapely
from shapely.geometry.base import BaseGeometry

from mapping.errors import ResolutionError
from mapping.settings import get_settings


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if a workspace may store cells at it, else raise.

    Examples
    --------
    >>> check_resolution(8)
    8
    >>> check_resolution(11)
    Traceback (most recent call last):
    ...
    mapping.errors.ResolutionError: resolution 11 is finer than 9 ...
    """
    settings = get_settings()
    if resolution > settings.max_resolution:
        raise ResolutionError(
            f"resolution {resolution} is finer than {settings.max_resolution} "
            f"(cells of about {h3.average_hexagon_area(resolution, 'km^2') * 1e6:,.0f} m² "
            "name a single venue, which is what a raid needs) — use 8, about a few blocks"
        )
    if resolution < settings.min_resolution:
        raise ResolutionError(
            f"resolution {resolution} is coarser than {settings.min_resolution} "
            "(cells too large to plan outreach with) — use a value from "
            f"{settings.min_resolution} to {settings.max_resolution}, usually 8"
        )
    return resolution


def cells_from_points(lat: pl.Series, lng: pl.Series, resolution: int) -> pl.Series:
    """Return the H3 cell (as ``UInt64``) of each point; null where a coordinate is null.

    The coordinates are only read, in memory; callers drop them right after this call.
    Coordinates must already be checked to lie in -90..90 and -180..180.

    Examples
    --------
    >>> cells = cells_from_points(pl.Series([-12.0464]), pl.Series([-77.0428]), 8)
    >>> h3.int_to_str(cells[0])
    '888e62c01bfffff'
    """
    check_resolution(resolution)
    frame = pl.DataFrame({"lat": lat.cast(pl.Float64), "lng": lng.cast(pl.Float64)})
    return frame.select(plh3.latlng_to_cell("lat", "lng", resolution).alias("cell"))["cell"]


def is_valid_cell(cell: object) -> bool:
    """Return whether ``cell`` (an int or a hex string) is a valid H3 cell; never raises.

    Examples
    --------
    >>> is_valid_cell("888e62c01bfffff"), is_valid_cell("not a cell"), is_valid_cell(None)
    (True, False, False)
    """
    try:
        if isinstance(cell, str):
            return bool(h3.is_valid_cell(cell))
        if isinstance(cell, int | np.integer):
            return bool(h3.is_valid_cell(h3.int_to_str(int(cell))))
    except (ValueError, TypeError, OverflowError):
        return False
    return False


def cell_to_int(cell: str) -> int:
    """Return the integer form of a hex cell id (the form the store keeps)."""
    return int(h3.str_to_int(cell.strip().lower()))


def cell_to_str(cell: int) -> str:
    """Return the hex form of an integer cell id (the form people and files use)."""
    return str(h3.int_to_str(int(cell)))


def cells_covering(geometry: BaseGeometry, resolution: int) -> list[int]:
    """Return every cell at ``resolution`` that overlaps ``geometry`` (lon/lat polygons).

    Overlap, not centre containment, so that no point inside the geometry falls in a cell that
    is missing from the list.
    """
    cells: list[int] = []
    for part in getattr(geometry, "geoms", [geometry]):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        shape = h3.geo_to_h3shape(shapely.geometry.mapping(part))
        cells.extend(
            h3.str_to_int(c)
            for c in h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap")
        )
    return sorted(set(cells))


def cell_polygons(cells: list[int]) -> list[shapely.Polygon]:
    """Return the boundary of each cell as a lon/lat shapely polygon (vectorised).

    Examples
    --------
    >>> polygon = cell_polygons([cell_to_int("888e62c01bfffff")])[0]
    >>> polygon.contains(shapely.Point(-77.0428, -12.0464))
    True
    """
    if not cells:
        return []
    vertices = (
        pl.DataFrame({"cell": pl.Series(cells, dtype=pl.UInt64)})
        .select(plh3.cell_to_boundary("cell").alias("vertex"))
        .with_row_index("polygon")
        .explode("vertex")
    )
    lat = vertices["vertex"].list.get(0).to_numpy()
    lng = vertices["vertex"].list.get(1).to_numpy()
    rings = shapely.linearrings(np.column_stack([lng, lat]), indices=vertices["polygon"].to_numpy())
    return list(shapely.polygons(rings))


def cell_centres(cells: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Return the centres of ``cells`` as arrays of latitudes and longitudes."""
    centres = np.array([h3.cell_to_latlng(cell_to_str(c)) for c in cells], dtype=float)
    if len(centres) == 0:
        return np.empty(0), np.empty(0)
    return centres[:, 0], centres[:, 1]


def parent_cells(cells: pl.Series, resolution: int) -> pl.Series:
    """Return the parent of each cell at the coarser ``resolution`` (vectorised)."""
    return pl.DataFrame({"cell": cells.cast(pl.UInt64)}).select(
        plh3.cell_to_parent("cell", resolution)
    )["cell"]


def hex_ids(cells: pl.Expr) -> pl.Expr:
    """Return the hex form of integer cell ids as a polars expression (vectorised).

    Examples
    --------
    >>> pl.DataFrame({"c": [cell_to_int("888e62c01bfffff")]}).select(hex_ids(pl.col("c")))["c"][0]
    '888e62c01bfffff'
    """
    expr: pl.Expr = plh3.int_to_str(cells.cast(pl.UInt64))
    return expr
