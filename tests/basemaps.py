"""Small PMTiles basemaps the tests make themselves, and a small workspace for them to cover.

Raster (PNG drawn with Pillow) and vector (MVT) files are written with the ``pmtiles``
package's writer, over invented streets on a grid of fixed longitudes and latitudes, so a
tile's pixels can be recomputed from its z/x/y alone. The area is three invented districts in
Kampala, Uganda: north of the equator and east of Greenwich, far from the Lima demo.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import shapely
from PIL import Image, ImageDraw
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

from mapping.access.accounts import create_demo_accounts
from mapping.ingest.area import init_area
from mapping.ingest.visits import visits_from_file
from mapping.storage.workspace import Workspace, record_timezone

#: Kampala, Uganda (north of the equator, east of Greenwich): far from the Lima demo.
AREA = (32.55, 0.30, 32.64, 0.33)
#: The basemap's bounds: the area and a margin (min lon, min lat, max lon, max lat).
BOUNDS = (32.53, 0.28, 32.66, 0.35)
#: Invented streets: a line every STREET degrees of longitude and of latitude.
STREET = 0.004
GROUND = (242, 239, 233)
ROAD = (200, 60, 40)
WATER = (120, 170, 220)
#: A lake, in degrees: drawn blue on the raster tiles, ``water`` in the vector tiles.
LAKE = shapely.box(32.585, 0.313, 32.595, 0.321)
TILE = 256


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Return a web-mercator tile's (west, south, east, north) in degrees."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def tiles_over(bounds: tuple[float, float, float, float], zoom: int) -> Iterator[tuple[int, int]]:
    """Yield the (x, y) of the tiles at ``zoom`` that touch ``bounds``."""
    n = 2**zoom

    def column(lon: float) -> int:
        return min(n - 1, int((lon + 180) / 360 * n))

    def row(lat: float) -> int:
        rad = math.radians(lat)
        return min(n - 1, int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n))

    west, south, east, north = bounds
    for x in range(column(west), column(east) + 1):
        for y in range(row(north), row(south) + 1):
            yield x, y


def _pixel(z: int, x: int, y: int, lon: float, lat: float, size: float) -> tuple[float, float]:
    """Return where (lon, lat) falls in tile z/x/y drawn ``size`` units across (y down)."""
    n = 2**z
    px = ((lon + 180) / 360 * n - x) * size
    py = ((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n - y) * size
    return px, py


def _grid(z: int, x: int, y: int) -> tuple[list[float], list[float]]:
    """Return the street longitudes and latitudes that cross tile z/x/y."""
    west, south, east, north = tile_bounds(z, x, y)
    lons = [k * STREET for k in range(math.floor(west / STREET), math.ceil(east / STREET) + 1)]
    lats = [k * STREET for k in range(math.floor(south / STREET), math.ceil(north / STREET) + 1)]
    return lons, lats


def raster_tile(z: int, x: int, y: int) -> bytes:
    """Return tile z/x/y as PNG: ground, a blue lake and red streets (wider when zoomed in)."""
    image = Image.new("RGB", (TILE, TILE), GROUND)
    draw = ImageDraw.Draw(image)
    lake = [_pixel(z, x, y, lon, lat, TILE) for lon, lat in LAKE.exterior.coords]
    draw.polygon(lake, fill=WATER)
    width = max(1, z - 11)
    lons, lats = _grid(z, x, y)
    for lon in lons:
        top = _pixel(z, x, y, lon, 85, TILE)[0]
        draw.line([(top, 0), (top, TILE)], fill=ROAD, width=width)
    for lat in lats:
        left = _pixel(z, x, y, 0, lat, TILE)[1]
        draw.line([(0, left), (TILE, left)], fill=ROAD, width=width)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def vector_tile(z: int, x: int, y: int) -> bytes:
    """Return tile z/x/y as a gzipped MVT with the Protomaps layers earth, water and roads."""
    extent = 4096

    def local(lon: float, lat: float) -> tuple[float, float]:
        return _pixel(z, x, y, lon, lat, extent)

    earth = shapely.box(-64, -64, extent + 64, extent + 64)
    lake = shapely.Polygon([local(lon, lat) for lon, lat in LAKE.exterior.coords])
    lons, lats = _grid(z, x, y)
    roads = [
        {
            "geometry": shapely.LineString([(local(lon, 0)[0], -64), (local(lon, 0)[0], 4160)]),
            "properties": {"kind": "major_road", "name": f"Avenue {i}"},
        }
        for i, lon in enumerate(lons)
    ] + [
        {
            "geometry": shapely.LineString([(-64, local(0, lat)[1]), (4160, local(0, lat)[1])]),
            "properties": {"kind": "minor_road", "name": f"Street {i}"},
        }
        for i, lat in enumerate(lats)
    ]
    layers = [
        {"name": "earth", "features": [{"geometry": earth, "properties": {"kind": "earth"}}]},
        {"name": "water", "features": [{"geometry": lake, "properties": {"kind": "lake"}}]},
        {"name": "roads", "features": roads},
    ]
    data = mapbox_vector_tile.encode(
        layers, default_options={"y_coord_down": True, "extents": extent}
    )
    return gzip.compress(data, mtime=0)


def write_basemap(
    path: Path,
    *,
    vector: bool = False,
    zooms: range = range(8, 16),
    bounds: tuple[float, float, float, float] = BOUNDS,
    attribution: str = "Test streets (invented)",
) -> Path:
    """Write a PMTiles basemap of ``bounds`` at ``zooms``: raster PNG tiles, or vector ones."""
    tiles = sorted(
        (zxy_to_tileid(z, x, y), z, x, y) for z in zooms for x, y in tiles_over(bounds, z)
    )
    west, south, east, north = bounds
    with write(str(path)) as writer:
        for tile_id, z, x, y in tiles:
            writer.write_tile(tile_id, vector_tile(z, x, y) if vector else raster_tile(z, x, y))
        writer.finalize(
            {
                "tile_type": TileType.MVT if vector else TileType.PNG,
                "tile_compression": Compression.GZIP if vector else Compression.NONE,
                "min_lon_e7": round(west * 1e7),
                "min_lat_e7": round(south * 1e7),
                "max_lon_e7": round(east * 1e7),
                "max_lat_e7": round(north * 1e7),
                "center_zoom": zooms.start + 2,
            },
            {
                "name": "outreach-map test basemap",
                "attribution": attribution,
                "vector_layers": [{"id": name} for name in ("earth", "water", "roads")]
                if vector
                else [],
            },
        )
    return path


#: Three districts side by side across AREA: (id, name, west, east).
DISTRICTS = [
    ("KLA-1", "Nakawa Test", 32.55, 32.58),
    ("KLA-2", "Central Test", 32.58, 32.61),
    ("KLA-3", "Kawempe Test", 32.61, 32.64),
]
#: Where team T1's visits were made: two blocks of the middle district, by the lake.
VISIT_PLACES = [(0.318, 32.598), (0.322, 32.601), (0.309, 32.592)]


def kampala_workspace(path: Path, today: dt.date) -> Workspace:
    """Build a workspace over DISTRICTS, with team T1's visits and the demo's accounts.

    The demo accounts let a test enter as any role with ``?role=`` (no password).
    """
    south, north = AREA[1], AREA[3]
    districts = gpd.GeoDataFrame(
        {
            "id": [d[0] for d in DISTRICTS],
            "name": [d[1] for d in DISTRICTS],
            "population": [41_000.0, 56_000.0, 38_000.0],
        },
        geometry=[shapely.box(w, south, e, north) for _, _, w, e in DISTRICTS],
        crs="EPSG:4326",
    )
    workspace = init_area(path, districts, name="Kampala (basemap test)", resolution=8)
    workspace = record_timezone(workspace, "Africa/Kampala")
    rows = ["date,peer_educator,team,contact_code,gender,channel,latitude,longitude,condoms"]
    for days in range(0, 40, 3):
        lat, lng = VISIT_PLACES[days % len(VISIT_PLACES)]
        day = (today - dt.timedelta(days=days)).isoformat()
        rows.append(f"{day},PE-1,T1,KAMP{days:02d},female,in_person,{lat},{lng},6")
    visits = path / "visits.csv"
    visits.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = visits_from_file(workspace, visits)
    visits.unlink()
    assert result.accepted == len(rows) - 1, result.summary()
    with workspace.begin() as connection:
        create_demo_accounts(connection, ["T1"])
    return workspace
