"""Area setup: districts from a polygon file, and the workspace made of them.

The service and hotspot registries are imported by :mod:`mapping.ingest.registry_files`.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import polars as pl
import pyogrio
import shapely

from mapping.cells import cell_centres, cells_covering
from mapping.errors import UnusableFileError
from mapping.storage import store
from mapping.storage.workspace import Workspace, create_workspace


def districts_from_file(
    path: Path, *, id_column: str, name_column: str, population_column: str | None = None
) -> gpd.GeoDataFrame:
    """Read district polygons (any format and CRS) as EPSG:4326 with id, name and population.

    Invalid geometries are repaired with ``make_valid``; ones that cannot be repaired into a
    polygon are reported by id in the error.
    """
    try:
        gdf = gpd.read_file(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise UnusableFileError(
            f"{path} could not be read as a polygon file ({exc}) — "
            "give a GeoJSON, GeoPackage or Shapefile"
        ) from exc
    if gdf.empty:
        raise UnusableFileError(f"{path} holds no districts — check the file")
    missing = [c for c in (id_column, name_column, population_column) if c and c not in gdf.columns]
    if missing:
        raise UnusableFileError(
            f"{path} has no column {', '.join(map(repr, missing))} — columns are: "
            + ", ".join(c for c in gdf.columns if c != gdf.geometry.name)
        )
    if gdf.crs is None:
        minx, miny, maxx, maxy = gdf.total_bounds
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise UnusableFileError(
                f"{path} has no CRS and its coordinates are not longitude/latitude — "
                "save it with its coordinate reference system (a .prj file for a Shapefile)"
            )
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    ids = gdf[id_column].astype(str).str.strip()
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise UnusableFileError(
            f"{path}: district ids repeat: {', '.join(duplicated[:10])} — ids must be unique"
        )
    geometry = gdf.geometry.make_valid()
    geometry = geometry.apply(
        lambda g: (
            shapely.MultiPolygon([p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"])
            if g is not None and g.geom_type == "GeometryCollection"
            else g
        )
    )
    bad = ~geometry.geom_type.isin(["Polygon", "MultiPolygon"]) | geometry.is_empty
    if bad.any():
        raise UnusableFileError(
            f"{path}: districts {', '.join(ids[bad].head(10))} have no usable polygon "
            "(empty, or lines/points) — fix them in a GIS and export again"
        )
    population = None
    if population_column:
        population = pd.to_numeric(gdf[population_column], errors="coerce")
        unusable = population.isna() & gdf[population_column].notna()
        if unusable.any():
            raise UnusableFileError(
                f"{path}: population {gdf.loc[unusable, population_column].iloc[0]!r} of district "
                f"{ids[unusable].iloc[0]} is not a number — fix or empty it"
            )
    return gpd.GeoDataFrame(
        {"id": ids, "name": gdf[name_column].astype(str).str.strip(), "population": population},
        geometry=geometry.values,
        crs=4326,
    )


def init_area(
    path: Path,
    districts: gpd.GeoDataFrame,
    *,
    name: str,
    resolution: int,
    db_url: str | None = None,
) -> Workspace:
    """Create a workspace at ``path`` for the area made of ``districts``."""
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


def _district_cells(districts: gpd.GeoDataFrame, resolution: int) -> pl.DataFrame:
    """Every cell overlapping the area, with the district holding its centre (else the nearest)."""
    cells = sorted(
        {c for geometry in districts.geometry for c in cells_covering(geometry, resolution)}
    )
    lat, lng = cell_centres(cells)
    centres = gpd.GeoDataFrame({"cell": cells}, geometry=gpd.points_from_xy(lng, lat), crs=4326)
    local = centres.estimate_utm_crs()
    joined = gpd.sjoin_nearest(
        centres.to_crs(local), districts[["id", "geometry"]].to_crs(local), how="left"
    ).drop_duplicates("cell")
    return pl.DataFrame(
        {"cell": joined["cell"].astype("int64").to_numpy(), "district_id": joined["id"].to_numpy()}
    )
