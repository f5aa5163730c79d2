"""Districts smaller than a cell, or holding no cell's centre, are named by ``init``.

The area is synthetic and Nairobi-like (around 36.8°E, 1.3°S): two large wards with small
wards cut out of them, the way parts of Kibera and Mathare sit inside larger wards. The truth
is computed here independently of the library: areas in a local Lambert azimuthal equal-area
projection with shapely, against ``h3.average_hexagon_area``; centres by testing the centre of
every cell near a ward (``h3.cell_to_latlng``) with shapely's ``contains``.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import h3
import pyproj
import pytest
import shapely

from mapping.cli.main import EXIT_OK, main
from mapping.ingest.area import districts_from_file, small_districts, small_districts_warning

LOCAL = pyproj.Transformer.from_crs(
    "EPSG:4326", "+proj=laea +lat_0=-1.3 +lon_0=36.8 +datum=WGS84 +units=m", always_xy=True
)
TO_LONLAT = pyproj.Transformer.from_crs(
    "+proj=laea +lat_0=-1.3 +lon_0=36.8 +datum=WGS84 +units=m", "EPSG:4326", always_xy=True
)


def to_local(geometry: shapely.Geometry) -> shapely.Geometry:
    """A lon/lat geometry in metres of the local equal-area projection."""
    return shapely.transform(geometry, LOCAL.transform, interleaved=False)


def to_lonlat(geometry: shapely.Geometry) -> shapely.Geometry:
    """A geometry in metres of the local projection, back in lon/lat."""
    return shapely.transform(geometry, TO_LONLAT.transform, interleaved=False)


def metres_box(x: float, y: float, width: float, height: float) -> shapely.Polygon:
    """A lon/lat polygon drawn in metres east/north of 36.8°E, 1.3°S."""
    return to_lonlat(shapely.box(x, y, x + width, y + height))


#: Small wards (id, name, polygon), each cut out of the large ward it lies in.
SMALL = [
    ("KE-0101", "Makina", metres_box(-3000, -1000, 250, 320)),  # 0.08 km²
    ("KE-0102", "Kianda", metres_box(-1800, 600, 550, 545)),  # 0.30 km²
    ("KE-0201", "Mabatini", metres_box(1000, -1500, 770, 780)),  # 0.60 km²
    ("KE-0202", "Mlango Kubwa", metres_box(2500, 200, 1400, 1430)),  # 2.0 km²
    # a strip along a river, 0.125 km²: larger than a resolution-9 cell, yet no cell's centre
    ("KE-0203", "Riverbank", metres_box(1000, 1700, 2500, 50)),
]
WEST = metres_box(-4500, -3300, 4500, 6600)
EAST = metres_box(0, -3300, 4500, 6600)
WARDS = [
    ("KE-0100", "Kibera West", WEST.difference(shapely.union_all([g for *_, g in SMALL[:2]]))),
    ("KE-0200", "Mathare East", EAST.difference(shapely.union_all([g for *_, g in SMALL[2:]]))),
    *SMALL,
]


def local_area(polygon: shapely.Geometry) -> float:
    """Area in m² in a local equal-area projection."""
    return float(to_local(polygon).area)


def centres_inside(polygon: shapely.Geometry, resolution: int) -> int:
    """Count the cells near ``polygon`` whose centre lies inside it."""
    centre = polygon.centroid
    minx, miny, maxx, maxy = to_local(polygon).bounds
    reach = math.hypot(maxx - minx, maxy - miny)
    k = math.ceil(reach / h3.average_hexagon_edge_length(resolution, "m")) + 2
    cells = h3.grid_disk(h3.latlng_to_cell(centre.y, centre.x, resolution), k)
    points = [shapely.Point(lng, lat) for lat, lng in (h3.cell_to_latlng(c) for c in cells)]
    return sum(bool(polygon.contains(point)) for point in points)


@pytest.fixture(scope="module")
def wards_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nairobi") / "wards.geojson"
    gpd.GeoDataFrame(
        {"ward_code": [w[0] for w in WARDS], "ward_name": [w[1] for w in WARDS]},
        geometry=[w[2] for w in WARDS],
        crs=4326,
    ).to_file(path, driver="GeoJSON")
    return path


def test_the_synthetic_wards_are_what_they_claim() -> None:
    assert local_area(SMALL[0][2]) == pytest.approx(80_000, rel=0.01)
    assert local_area(SMALL[3][2]) == pytest.approx(2_000_000, rel=0.01)
    assert not shapely.union_all([w[2] for w in WARDS]).difference(WEST.union(EAST)).area
    assert shapely.union_all([w[2] for w in WARDS]).area == pytest.approx(WEST.union(EAST).area)


@pytest.mark.parametrize("resolution", [7, 8, 9])
def test_small_districts_are_those_smaller_than_a_cell_or_holding_no_centre(
    wards_file: Path, resolution: int
) -> None:
    districts = districts_from_file(wards_file, id_column="ward_code", name_column="ward_name")
    cell_area = h3.average_hexagon_area(resolution, "m^2")
    truth = {}
    for code, _, polygon in WARDS:
        area, centres = local_area(polygon), centres_inside(polygon, resolution)
        if area < cell_area or centres == 0:
            truth[code] = (area, centres)

    found = small_districts(districts, resolution)

    assert {d.id for d in found} == set(truth)
    for district in found:
        area, centres = truth[district.id]
        assert district.area_m2 == pytest.approx(area, rel=0.005)
        assert district.cell_centres == centres
        assert district.cell_area_m2 == pytest.approx(cell_area)
        assert district.resolution == resolution
    assert [d.area_m2 for d in found] == sorted(d.area_m2 for d in found)
    # the area is built to hold each case: every small ward at 7; the 2 km² ward owns a cell
    # centre at 8; at 9 the 0.08 km² ward is smaller than a cell and the strip holds no centre
    expected = {
        7: {"KE-0101", "KE-0102", "KE-0201", "KE-0202", "KE-0203"},
        8: {"KE-0101", "KE-0102", "KE-0201", "KE-0203"},
        9: {"KE-0101", "KE-0203"},
    }
    assert set(truth) == expected[resolution]


def test_init_names_each_small_district_with_what_it_means_and_the_fix(
    wards_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    columns = ["--district-id", "ward_code", "--district-name", "ward_name"]
    code = main(["init", "--workspace", str(tmp_path / "ws8"), "--districts", str(wards_file)])
    capsys.readouterr()
    assert code != EXIT_OK  # the columns are required

    code = main(
        ["init", "--workspace", str(tmp_path / "ws8"), "--districts", str(wards_file), *columns]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert "7 districts, cells at resolution 8" in out
    cell_area = h3.average_hexagon_area(8, "m^2")
    small8 = {c for c, _, g in WARDS if local_area(g) < cell_area or not centres_inside(g, 8)}
    assert err.startswith(
        f"warning: {len(small8)} districts are smaller than a resolution-8 cell "
        "(0.737 km² on average) or hold no cell's centre:\n"
    )
    assert "  KE-0101 (Makina): 0.08 km², 0.11 of a cell; " in err
    assert "  KE-0102 (Kianda): 0.3 km², 0.41 of a cell; " in err
    assert "KE-0202" not in err
    for code_ in small8:
        assert f"  {code_} (" in err
    assert (
        "Their visits, hotspots and services are still counted in them, taken from their exact "
        "points; on cell maps each shares its cells with its neighbours; their figures name a "
        "place smaller than a cell, so the funder's minimum counts matter more there." in err
    )
    assert (
        "To give each its own cells: a finer resolution (e.g. --resolution 9), or merge it "
        "with a neighbour in the district file." in err
    )

    # at the finest resolution allowed there is no finer one to suggest
    code = main(
        [
            "init",
            "--workspace",
            str(tmp_path / "ws9"),
            "--districts",
            str(wards_file),
            *columns,
            "--resolution",
            "9",
        ]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert "warning: 2 districts are smaller than a resolution-9 cell (0.105 km² on average)" in err
    assert "  KE-0101 (Makina): 0.08 km², 0.76 of a cell; 1 cell centre in it\n" in err
    assert "  KE-0203 (Riverbank): 0.125 km², 1.2 cells' area; no cell's centre lies in it\n" in err
    assert "To give each its own cells: merge it with a neighbour in the district file." in err

    # a large area with no small district says nothing about them
    code = main(
        [
            "init",
            "--workspace",
            str(tmp_path / "ws7"),
            "--districts",
            str(wards_file),
            *columns,
            "--resolution",
            "7",
        ]
    )
    out, err = capsys.readouterr()
    assert code == EXIT_OK
    assert "warning: 5 districts are smaller than a resolution-7 cell" in err


def test_the_warning_speaks_of_one_district_in_the_singular() -> None:
    # one ward of 200 m x 200 m beside a large one, in the Nairobi-like frame of this file
    big = to_lonlat(shapely.box(0, 0, 3000, 3000))
    tiny = to_lonlat(shapely.box(3000, 0, 3200, 200))
    districts = gpd.GeoDataFrame(
        {"id": ["UG-1", "UG-2"], "name": ["Large", "Tiny"], "population": [None, None]},
        geometry=[big, tiny],
        crs=4326,
    )
    small = small_districts(districts, 8)
    assert [d.id for d in small] == ["UG-2"]
    assert small_districts_warning(small, max_resolution=9).startswith(
        "1 district is smaller than a resolution-8 cell (0.737 km² on average) or holds no "
        "cell's centre:\n  UG-2 (Tiny): "
    )
