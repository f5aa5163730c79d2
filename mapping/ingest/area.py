"""Area setup: districts from a polygon file, and the workspace made of them.

District files are read and checked by :mod:`mapping.ingest.district_files` (re-exported
here); the service and hotspot registries are imported by
:mod:`mapping.ingest.registry_files`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import polars as pl
import shapely

from mapping.cells import cell_centres, cells_covering, check_resolution
from mapping.errors import AreaTooLargeError
from mapping.ingest.district_files import (
    DistrictFile,
    DistrictRepair,
    area_text,
    district_areas,
    districts_from_file,
    read_district_file,
)
from mapping.settings import get_settings
from mapping.storage import store
from mapping.storage.workspace import Workspace, create_workspace

__all__ = [
    "DistrictFile",
    "DistrictRepair",
    "SmallDistrict",
    "area_text",
    "check_area_size",
    "district_areas",
    "districts_from_file",
    "estimated_cells",
    "init_area",
    "read_district_file",
    "small_districts",
    "small_districts_warning",
]


def init_area(
    path: Path,
    districts: gpd.GeoDataFrame,
    *,
    name: str,
    resolution: int,
    db_url: str | None = None,
) -> Workspace:
    """Create a workspace at ``path`` for the area made of ``districts``.

    An area whose cells at ``resolution`` would be more than the ``max_area_cells`` setting is
    refused before anything is computed or created (:func:`check_area_size`).
    """
    check_resolution(resolution)
    check_area_size(districts, resolution)
    workspace = create_workspace(path, name=name, resolution=resolution, db_url=db_url)
    cells = _district_cells(districts, resolution)
    with workspace.begin() as connection:
        connection.execute(
            store.districts.insert(),
            [
                {
                    "id": row.id,
                    "name": row.name,
                    "population": None if pd.isna(row.population) else float(row.population),
                    "geometry": shapely.to_wkb(row.geometry),
                }
                for row in districts.itertuples()
            ],
        )
        store.insert_rows(connection, store.area_cells, ["cell", "district_id"], cells.iter_rows())
    return workspace


def estimated_cells(districts: gpd.GeoDataFrame, resolution: int) -> int:
    """Return about how many cells at ``resolution`` the districts need, without computing any.

    Each district's area (equal-area projection) over the area of the cell at a point inside
    it (cells vary by a third in area over the globe): cheap for an area of any size, so it is
    checked before any cell is computed.

    Examples
    --------
    >>> one_degree = gpd.GeoDataFrame(geometry=[shapely.box(36.0, -2.0, 37.0, -1.0)], crs=4326)
    >>> estimated_cells(one_degree, 8)  # 12,305 km² over about 0.81 km² (15,476 cells overlap)
    15116
    """
    if districts.empty:
        return 0
    inside = districts.geometry.representative_point()
    cell_areas = np.array(
        [h3.cell_area(h3.latlng_to_cell(point.y, point.x, resolution), "m^2") for point in inside]
    )
    return int(np.ceil((district_areas(districts.geometry) / cell_areas).sum()))


def check_area_size(districts: gpd.GeoDataFrame, resolution: int) -> int:
    """Return the estimated number of cells of the area, or raise if it is over the limit.

    Raises
    ------
    AreaTooLargeError
        The area would need more cells than the ``max_area_cells`` setting: the message gives
        the number, the area, and a coarser resolution that would fit, if there is one.
    """
    settings = get_settings()
    cells = estimated_cells(districts, resolution)
    if cells <= settings.max_area_cells:
        return cells
    area = float(district_areas(districts.geometry).sum())
    coarser = [
        (r, estimated_cells(districts, r))
        for r in range(resolution - 1, settings.min_resolution - 1, -1)
    ]
    fits = next(((r, n) for r, n in coarser if n <= settings.max_area_cells), None)
    coarser_fix = (
        f"; or use --resolution {fits[0]} (about {fits[1]:,} cells)" if fits is not None else ""
    )
    raise AreaTooLargeError(
        f"the districts cover about {area_text(area)}: about {cells:,} cells at resolution "
        f"{resolution}, more than the {settings.max_area_cells:,} an area may have "
        "(OUTREACH_MAP_MAX_AREA_CELLS) — keep only the districts the programme works in, and "
        "check the file's coordinate reference system (read in the wrong one, a city can cover "
        f"a continent){coarser_fix}. Nothing was created."
    )


def _local_crs(lat: np.ndarray, lng: np.ndarray) -> str:
    """Return an azimuthal equidistant projection centred on the points, for nearest districts.

    Centred on the mean of the points as unit vectors, so that an area across the
    antimeridian or near a pole gets a centre inside it (a UTM zone chosen from the mean
    longitude would lie half the globe away from Fiji).
    """
    phi, lam = np.radians(lat), np.radians(lng)
    x, y, z = (
        (np.cos(phi) * np.cos(lam)).mean(),
        (np.cos(phi) * np.sin(lam)).mean(),
        np.sin(phi).mean(),
    )
    lat_0 = float(np.degrees(np.arctan2(z, np.hypot(x, y))))
    lon_0 = float(np.degrees(np.arctan2(y, x)))
    return f"+proj=aeqd +lat_0={lat_0:.6f} +lon_0={lon_0:.6f} +datum=WGS84 +units=m +no_defs"


def _district_cells(districts: gpd.GeoDataFrame, resolution: int) -> pl.DataFrame:
    """Every cell overlapping the area, with the district holding its centre (else the nearest)."""
    cells = sorted(
        {c for geometry in districts.geometry for c in cells_covering(geometry, resolution)}
    )
    lat, lng = cell_centres(cells)
    centres = gpd.GeoDataFrame({"cell": cells}, geometry=gpd.points_from_xy(lng, lat), crs=4326)
    local = _local_crs(lat, lng)
    joined = gpd.sjoin_nearest(
        centres.to_crs(local), districts[["id", "geometry"]].to_crs(local), how="left"
    ).drop_duplicates("cell")
    return pl.DataFrame(
        {"cell": joined["cell"].astype("int64").to_numpy(), "district_id": joined["id"].to_numpy()}
    )


@dataclass(frozen=True)
class SmallDistrict:
    """A district smaller than one cell at the storage resolution, or holding no cell's centre.

    Its visits, hotspots and services are still its own (taken from their exact points); on
    cell maps it shares its cells with its neighbours.
    """

    #: The district's id and name, as stored.
    id: str
    name: str
    #: Its area in m² (equal-area projection).
    area_m2: float
    #: The storage resolution and the average area of a cell at it, in m².
    resolution: int
    cell_area_m2: float
    #: How many cells at the resolution have their centre inside the district.
    cell_centres: int

    def __str__(self) -> str:
        share = self.area_m2 / self.cell_area_m2
        size = f"{share:.2g} of a cell" if share < 1 else f"{share:.2g} cells' area"
        centres = (
            "no cell's centre lies in it"
            if self.cell_centres == 0
            else f"{self.cell_centres} cell centre{'s' if self.cell_centres > 1 else ''} in it"
        )
        return f"{self.id} ({self.name}): {area_text(self.area_m2)}, {size}; {centres}"


def small_districts(districts: gpd.GeoDataFrame, resolution: int) -> list[SmallDistrict]:
    """Return the districts smaller than a cell at ``resolution`` or holding no cell's centre.

    "Smaller than a cell" compares the district's area with the average area of a cell at the
    resolution (``h3.average_hexagon_area``); a district holds a cell's centre when a cell at
    the resolution has its centre inside it. Ordered by area, smallest first.
    """
    cell_area = float(h3.average_hexagon_area(resolution, "m^2"))
    areas = district_areas(districts.geometry)
    found = []
    for row, area in zip(districts.itertuples(), areas, strict=True):
        centres = _cell_centres_inside(row.geometry, resolution)
        if area < cell_area or centres == 0:
            found.append(
                SmallDistrict(
                    id=str(row.id),
                    name=str(row.name),
                    area_m2=float(area),
                    resolution=resolution,
                    cell_area_m2=cell_area,
                    cell_centres=centres,
                )
            )
    return sorted(found, key=lambda small: (small.area_m2, small.id))


def small_districts_warning(small: list[SmallDistrict], *, max_resolution: int) -> str:
    """Return what ``init`` prints about small districts: each of them, the meaning, the fix."""
    if not small:
        return ""
    resolution = small[0].resolution
    many = len(small) > 1
    count = f"{len(small)} district{'s are' if many else ' is'}"
    hold = "hold" if many else "holds"
    finer = (
        f"a finer resolution (e.g. --resolution {resolution + 1}), or "
        if resolution < max_resolution
        else ""
    )
    return "\n".join(
        [
            f"{count} smaller than a resolution-{resolution} cell "
            f"({area_text(small[0].cell_area_m2)} on average) or {hold} no cell's centre:",
            *(f"  {district}" for district in small),
            "  Their visits, hotspots and services are still counted in them, taken from their "
            "exact points; on cell maps each shares its cells with its neighbours; their figures "
            "name a place smaller than a cell, so the funder's minimum counts matter more there.",
            f"  To give each its own cells: {finer}merge it with a neighbour in the district file.",
        ]
    )


def _cell_centres_inside(geometry: shapely.Geometry, resolution: int) -> int:
    """Return how many cells at ``resolution`` have their centre inside ``geometry``."""
    return sum(
        len(h3.h3shape_to_cells(h3.geo_to_h3shape(shapely.geometry.mapping(part)), resolution))
        for part in getattr(geometry, "geoms", [geometry])
        if part.geom_type == "Polygon" and not part.is_empty
    )
