"""A district file too large for its cells to fit in memory is refused before any work.

The number of cells is estimated from the area (equal-area projection) over the area of a cell
there; the truth here is the geodesic area (pyproj's ``Geod``, edges densified so they follow
the parallels) and the cells h3 really lists.
"""

from __future__ import annotations

import json
import math
import re
import resource
import tracemalloc
from pathlib import Path

import geopandas as gpd
import h3
import pyproj
import pytest
import shapely

from mapping.cells import cells_covering
from mapping.cli.main import EXIT_OK, EXIT_UNUSABLE, main
from mapping.errors import AreaTooLargeError
from mapping.ingest.area import districts_from_file, estimated_cells, init_area

GEOD = pyproj.Geod(ellps="WGS84")


def geodesic_area(polygon: shapely.Geometry) -> float:
    """Area in m² on the WGS 84 ellipsoid, the edges first densified along lon/lat lines."""
    area, _ = GEOD.geometry_area_perimeter(shapely.segmentize(polygon, 0.05))
    return abs(area)


def write_districts(path: Path, polygons: list[shapely.Geometry]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"id": f"D{i}", "name": f"District {i}"},
            "geometry": shapely.geometry.mapping(polygon),
        }
        for i, polygon in enumerate(polygons, start=1)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def init(path: Path, districts: Path, *more: str) -> list[str]:
    return [
        "init",
        "--workspace",
        str(path),
        "--districts",
        str(districts),
        "--district-id",
        "id",
        "--district-name",
        "name",
        *more,
    ]


@pytest.mark.timeout(20)
def test_a_90_degree_wide_district_is_refused_at_once_with_the_number_of_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wide = shapely.box(-30.0, -40.0, 60.0, 40.0)
    districts = write_districts(tmp_path / "wide.geojson", [wide])
    # over the area of the cell at its middle (cells near the equator are a tenth larger)
    expected = geodesic_area(wide) / h3.cell_area(h3.latlng_to_cell(0.0, 15.0, 8), "m^2")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    try:
        code = main(init(tmp_path / "ws", districts))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    _, err = capsys.readouterr()

    assert code == EXIT_UNUSABLE
    assert not (tmp_path / "ws").exists()
    found = re.search(r"about ([\d,]+) cells at resolution 8, more than the 2,000,000", err)
    assert found, err
    assert int(found[1].replace(",", "")) == pytest.approx(expected, rel=0.002)
    area = re.search(r"the districts cover about ([\d,]+) km²", err)
    assert area, err
    assert int(area[1].replace(",", "")) == pytest.approx(geodesic_area(wide) / 1e6, rel=0.002)
    assert "(OUTREACH_MAP_MAX_AREA_CELLS) — keep only the districts the programme works in" in err
    assert "check the file's coordinate reference system" in err
    # even resolution 6 cells (49 times larger) would be about 2.3 million: none is suggested
    assert geodesic_area(wide) / h3.average_hexagon_area(6, "m^2") > 2_000_000
    assert "--resolution" not in err
    assert err.count("\n") == 1
    # a sanity bound, not a benchmark: computing its cells took 15 GB
    assert peak < 50 * 2**20
    assert rss_growth_mb < 300


def test_the_limit_is_a_setting_and_a_coarser_resolution_that_fits_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a 0.1 degree square in Nairobi: about 123 km², 152 resolution-8 cells, 22 at 7
    square = shapely.box(36.75, -1.35, 36.85, -1.25)
    districts = write_districts(tmp_path / "square.geojson", [square])
    at = {
        r: math.ceil(geodesic_area(square) / h3.cell_area(h3.latlng_to_cell(-1.3, 36.8, r), "m^2"))
        for r in (6, 7, 8)
    }
    monkeypatch.setenv("OUTREACH_MAP_MAX_AREA_CELLS", "100")

    code = main(init(tmp_path / "ws", districts))
    _, err = capsys.readouterr()
    assert code == EXIT_UNUSABLE
    assert f"about {at[8]:,} cells at resolution 8, more than the 100 an area may have" in err
    assert f"or use --resolution 7 (about {at[7]:,} cells). Nothing was created." in err
    assert not (tmp_path / "ws").exists()

    code = main(init(tmp_path / "ws", districts, "--resolution", "7"))
    out, err = capsys.readouterr()
    assert code == EXIT_OK, err
    assert "1 districts, cells at resolution 7" in out

    # none fits: no coarser resolution is suggested
    monkeypatch.setenv("OUTREACH_MAP_MAX_AREA_CELLS", "2")
    code = main(init(tmp_path / "ws2", districts, "--resolution", "7"))
    _, err = capsys.readouterr()
    assert code == EXIT_UNUSABLE
    assert f"about {at[7]:,} cells at resolution 7, more than the 2 an area may have" in err
    assert "--resolution" not in err
    assert not (tmp_path / "ws2").exists()

    # through the library: the same error, before the folder is made
    frame = districts_from_file(districts, id_column="id", name_column="name")
    with pytest.raises(AreaTooLargeError, match=r"more than the 2 an area may have"):
        init_area(tmp_path / "ws3", frame, name="x", resolution=7)
    assert not (tmp_path / "ws3").exists()


@pytest.mark.parametrize(
    ("where", "polygons", "resolution"),
    [
        ("Nairobi", [shapely.box(36.6, -1.45, 37.1, -1.15)], 8),
        ("Oslo, 60°N", [shapely.box(10.5, 59.8, 11.0, 60.0)], 8),
        ("Lima", [shapely.box(-77.2, -12.3, -76.8, -11.9)], 7),
        (
            "Fiji, split at 180°",
            [
                shapely.MultiPolygon(
                    [
                        shapely.box(179.0, -17.0, 180.0, -16.0),
                        shapely.box(-180.0, -17.0, -179.5, -16.0),
                    ]
                )
            ],
            7,
        ),
    ],
)
def test_the_estimate_is_near_the_cells_h3_lists(
    where: str, polygons: list[shapely.Geometry], resolution: int
) -> None:
    frame = gpd.GeoDataFrame(geometry=polygons, crs=4326)
    listed = len({c for p in polygons for c in cells_covering(p, resolution)})
    # the cells overlapping the border come on top: the estimate is within a fifth of the count
    assert estimated_cells(frame, resolution) == pytest.approx(listed, rel=0.2), where
