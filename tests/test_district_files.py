"""Broken district files: each problem refused by feature and id with the fix, or repaired aloud.

Files are written by hand (GeoJSON as text, so that a ring can be left open) for a synthetic
Nairobi-like area of six 1 km² wards, and given to the real command line. A refusal exits 2 and
creates nothing; a repair prints one line per district with its area before and after, the
areas checked here in a local Lambert azimuthal equal-area projection.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyproj
import pytest
import shapely
from helpers import query

from mapping.cli.main import EXIT_OK, EXIT_UNUSABLE, main
from mapping.errors import UnusableFileError
from mapping.ingest.area import read_district_file
from mapping.storage.workspace import open_workspace

LAEA = "+proj=laea +lat_0=-1.3 +lon_0=36.8 +datum=WGS84 +units=m"
TO_LONLAT = pyproj.Transformer.from_crs(LAEA, "EPSG:4326", always_xy=True)
TO_LOCAL = pyproj.Transformer.from_crs("EPSG:4326", LAEA, always_xy=True)


def lonlat(points: list[tuple[float, float]]) -> list[list[float]]:
    """Metres east/north of 36.8°E, 1.3°S as [lon, lat] pairs, as a GeoJSON ring lists them."""
    return [[round(c, 9) for c in TO_LONLAT.transform(x, y)] for x, y in points]


def square(x: float, y: float, side: float = 1000.0) -> list[tuple[float, float]]:
    return [(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)]


def local_area(geometry: shapely.Geometry) -> float:
    return float(shapely.transform(geometry, TO_LOCAL.transform, interleaved=False).area)


#: Six 1 km² wards in two rows of three.
WARDS = [
    (f"KE-0{i + 1}", f"Ward {i + 1}", square(1000.0 * (i % 3), 1000.0 * (i // 3))) for i in range(6)
]


def polygon(ring: list[tuple[float, float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [lonlat(ring)]}


def feature(code: str | None, name: str, geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": geometry}


def write(path: Path, changes: dict[int, dict[str, Any]] | None = None, extra: int = 0) -> Path:
    """Write the six wards, feature i (1-based) replaced by ``changes[i]``."""
    features = [feature(code, name, polygon(ring)) for code, name, ring in WARDS]
    for number, replacement in (changes or {}).items():
        features[number - 1] = replacement
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def init(
    capsys: pytest.CaptureFixture[str], workspace: Path, districts: Path
) -> tuple[int, str, str]:
    code = main(
        [
            "init",
            "--workspace",
            str(workspace),
            "--districts",
            str(districts),
            "--district-id",
            "code",
            "--district-name",
            "name",
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code: int, err: str, workspace: Path) -> None:
    assert code == EXIT_UNUSABLE
    assert err.startswith("outreach-map: error: ")
    assert "so nothing was created — fix" in err
    assert not (workspace / "workspace.toml").exists()
    assert not workspace.exists() or not any(workspace.iterdir())


def km2(text: str) -> float:
    number = float(text.split()[0].replace(",", ""))
    return number if text.endswith("km²") else number / 1e6


# --- repaired -------------------------------------------------------------------------------


def test_the_unclosed_ring_of_the_issue_crashed_init_and_is_now_closed_aloud(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # feature 2: its ring stops one point short of where it began
    open_ring = {"type": "Polygon", "coordinates": [lonlat(WARDS[1][2][:-1])]}
    # feature 5: a MultiPolygon whose second part is open, feature 6: a hole left open
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[lonlat(WARDS[4][2])], [lonlat(square(5000, 0, 300)[:-1])]],
    }
    hole = [(2200, 1200), (2400, 1200), (2400, 1400), (2200, 1400)]
    holed = {"type": "Polygon", "coordinates": [lonlat(WARDS[5][2]), lonlat(hole)]}
    changes = {2: feature("KE-02", "Ward 2", open_ring)}
    changes[5] = feature("KE-05", "Ward 5", multi)
    changes[6] = feature("KE-06", "Ward 6", holed)
    districts = write(tmp_path / "wards.geojson", changes)
    # GDAL reads an open ring, shapely cannot: this was the traceback of the issue
    with pytest.raises(shapely.errors.GEOSException), pytest.warns(RuntimeWarning):
        gpd.read_file(districts)

    code, out, err = init(capsys, tmp_path / "ws", districts)

    assert code == EXIT_OK, err
    assert "6 districts, cells at resolution 8" in out
    lines = [line for line in err.splitlines() if line.startswith("warning: repaired")]
    assert lines == [
        "warning: repaired feature 2, district KE-02 (Ward 2): its ring was not closed: closed it;"
        " area 1 km² before and after",
        "warning: repaired feature 5, district KE-05 (Ward 5): its ring was not closed: closed it;"
        " area 1.09 km² before and after",
        "warning: repaired feature 6, district KE-06 (Ward 6): its ring was not closed: closed it;"
        " area 0.96 km² before and after",
    ]
    workspace = open_workspace(tmp_path / "ws")
    stored = {
        code: shapely.from_wkb(bytes(wkb))
        for code, wkb in query(workspace, "SELECT id, geometry FROM districts")
    }
    assert len(stored) == 6
    assert local_area(stored["KE-02"]) == pytest.approx(1e6, rel=1e-6)
    assert local_area(stored["KE-05"]) == pytest.approx(1e6 + 300**2, rel=1e-6)
    assert local_area(stored["KE-06"]) == pytest.approx(1e6 - 200**2, rel=1e-6)
    assert all(g.is_valid for g in stored.values())


def test_a_ward_crossing_itself_a_little_is_repaired_with_its_areas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ward 3's last edge overshoots its first corner: a 40 m loop crosses its first edge
    x, y = 2000.0, 0.0
    ring = [(x, y), (x + 1000, y), (x + 1000, y + 1000), (x, y + 1000), (x + 40, y - 40), (x, y)]
    districts = write(tmp_path / "wards.geojson", {3: feature("KE-03", "Ward 3", polygon(ring))})
    drawn = shapely.Polygon(ring)
    repaired = shapely.make_valid(drawn)
    assert not drawn.is_valid
    assert abs(repaired.area - drawn.area) / drawn.area < 0.01

    code, _, err = init(capsys, tmp_path / "ws", districts)

    assert code == EXIT_OK, err
    [line] = [line for line in err.splitlines() if line.startswith("warning: repaired")]
    found = re.fullmatch(
        r"warning: repaired feature 3, district KE-03 \(Ward 3\): its outline crosses itself: "
        r"repaired; area (.+) before, (.+) after",
        line,
    )
    assert found, line
    assert km2(found[1]) == pytest.approx(drawn.area / 1e6, abs=0.005)
    assert km2(found[2]) == pytest.approx(repaired.area / 1e6, abs=0.005)
    assert km2(found[1]) != km2(found[2])

    # the same outline in a GeoPackage, in a projected CRS: the same repair, same line
    gpkg = tmp_path / "wards.gpkg"
    frame = gpd.GeoDataFrame(
        {"code": [w[0] for w in WARDS], "name": [w[1] for w in WARDS]},
        geometry=[shapely.Polygon(ring if i == 2 else w[2]) for i, w in enumerate(WARDS)],
        crs=LAEA,
    )
    frame.to_file(gpkg, driver="GPKG")
    code, _, err2 = init(capsys, tmp_path / "ws2", gpkg)
    assert code == EXIT_OK
    assert line in err2


def test_a_ward_drawn_across_the_antimeridian_is_split_there(tmp_path: Path) -> None:
    across = {
        "type": "Polygon",
        "coordinates": [
            [[179.6, -16.9], [-179.8, -16.9], [-179.8, -16.7], [179.6, -16.7], [179.6, -16.9]]
        ],
    }
    beyond = {
        "type": "Polygon",
        "coordinates": [
            [[179.0, -17.5], [180.3, -17.5], [180.3, -17.2], [179.0, -17.2], [179.0, -17.5]]
        ],
    }
    west = {
        "type": "Polygon",
        "coordinates": [
            [[179.0, -16.9], [179.6, -16.9], [179.6, -16.7], [179.0, -16.7], [179.0, -16.9]]
        ],
    }
    path = tmp_path / "fiji.geojson"
    features = [feature("FJ-1", "Taveuni", across), feature("FJ-2", "Qamea", beyond)]
    features.append(feature("FJ-3", "Vanua Levu east", west))
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    read = read_district_file(path, id_column="code", name_column="name")

    geod = pyproj.Geod(ellps="WGS84")
    taveuni = shapely.MultiPolygon(
        [shapely.box(179.6, -16.9, 180, -16.7), shapely.box(-180, -16.9, -179.8, -16.7)]
    )
    qamea = shapely.MultiPolygon(
        [shapely.box(179.0, -17.5, 180, -17.2), shapely.box(-180, -17.5, -179.7, -17.2)]
    )
    stored = dict(zip(read.districts["id"], read.districts.geometry, strict=True))
    assert stored["FJ-1"].equals(taveuni)
    assert stored["FJ-2"].equals(qamea)
    assert stored["FJ-3"].equals(shapely.box(179.0, -16.9, 179.6, -16.7))
    assert [(r.feature, r.id, r.what) for r in read.repairs] == [
        (1, "FJ-1", "it crosses the antimeridian (180°): split it there"),
        (2, "FJ-2", "it crosses the antimeridian (180°): split it there"),
    ]
    for repair, truth in zip(read.repairs, (taveuni, qamea), strict=True):
        area = abs(geod.geometry_area_perimeter(shapely.segmentize(truth, 0.01))[0])
        assert repair.area_before_m2 == pytest.approx(area, rel=0.002)
        assert repair.area_after_m2 == pytest.approx(area, rel=0.002)
    assert str(read.repairs[0]) == (
        "feature 1, district FJ-1 (Taveuni): it crosses the antimeridian (180°): split it there;"
        " area 1,416 km² before and after"
    )


# --- refused --------------------------------------------------------------------------------


def test_a_ward_crossing_itself_a_lot_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # ward 4 drawn as a bow tie: which of its two halves was meant is a guess
    x, y = 0.0, 1000.0
    bowtie = [(x, y), (x + 1000, y + 1000), (x + 1000, y), (x, y + 1000), (x, y)]
    districts = write(tmp_path / "wards.geojson", {4: feature("KE-04", "Ward 4", polygon(bowtie))})
    workspace = tmp_path / "ws"
    workspace.mkdir()  # an empty folder given to init stays empty

    code, _, err = init(capsys, workspace, districts)

    assert_refused(code, err, workspace)
    assert (
        f"{districts}: 1 district cannot be used, so nothing was created — fix it in the file and "
        "run init again:\n  feature 4, district KE-04: its outline crosses itself, and repairing "
        "it would change its area from 0 m² to 0.5 km² (more than 1%) — fix its outline in a GIS "
        "(e.g. QGIS's Fix Geometries, then check the result) and export the file again\n"
    ) in err


def test_a_repair_over_the_limit_is_refused_and_the_limit_is_a_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a 200 m loop: the repair changes the area by about 4 %
    x, y = 2000.0, 0.0
    ring = [(x, y), (x + 1000, y), (x + 1000, y + 1000), (x, y + 1000), (x + 200, y - 200), (x, y)]
    drawn = shapely.Polygon(ring)
    change = abs(shapely.make_valid(drawn).area - drawn.area) / drawn.area
    assert 0.02 < change < 0.1
    districts = write(tmp_path / "wards.geojson", {3: feature("KE-03", "Ward 3", polygon(ring))})

    code, _, err = init(capsys, tmp_path / "ws", districts)
    assert_refused(code, err, tmp_path / "ws")
    assert (
        "feature 3, district KE-03: its outline crosses itself, and repairing it would change"
        in err
    )

    monkeypatch.setenv("OUTREACH_MAP_MAX_REPAIR_AREA_CHANGE", "0.1")
    code, _, err = init(capsys, tmp_path / "ws", districts)
    assert code == EXIT_OK
    assert "warning: repaired feature 3, district KE-03 (Ward 3): its outline crosses itself" in err


def test_empty_point_line_and_nameless_features_and_repeated_ids_are_refused_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changes = {
        1: feature("KE-01", "Ward 1", None),
        2: feature("KE-02", "Ward 2", {"type": "Polygon", "coordinates": []}),
        3: feature("KE-03", "Ward 3", {"type": "Point", "coordinates": lonlat([(2500, 500)])[0]}),
        4: feature("KE-04", "Ward 4", {"type": "LineString", "coordinates": lonlat(WARDS[3][2])}),
        5: feature("KE-06", "Ward 5", polygon(WARDS[4][2])),
        6: feature(None, "", polygon(WARDS[5][2])),
    }
    districts = write(tmp_path / "wards.geojson", changes)
    more = json.loads(districts.read_text())
    more["features"].append(feature("KE-06", "Ward 7", polygon(square(3000, 0))))
    more["features"].append(feature("KE-06", "Ward 8", polygon(square(3000, 1000))))
    districts.write_text(json.dumps(more))

    code, _, err = init(capsys, tmp_path / "ws", districts)

    assert_refused(code, err, tmp_path / "ws")
    assert err.count("\n") == 8
    assert (
        f"{districts}: 6 districts cannot be used, so nothing was created — fix them in the file "
        "and run init again:\n"
        "  feature 1, district KE-01: has no outline (it is empty) — draw the district, or delete "
        "the feature\n"
        "  feature 2, district KE-02: has no outline (it is empty) — draw the district, or delete "
        "the feature\n"
        "  feature 3, district KE-03: is a Point, not a polygon — give the district's outline as a "
        "polygon (a line drawn round it becomes one in a GIS, e.g. QGIS's Lines to Polygons)\n"
        "  feature 4, district KE-04: is a LineString, not a polygon — give the district's outline "
        "as a polygon (a line drawn round it becomes one in a GIS, e.g. QGIS's Lines to Polygons)\n"
        "  feature 5, district KE-06: its id 'KE-06' is also the id of features 7, 8 — give each "
        "district its own id\n"
        "  feature 6: has no id in column 'code' — give every district an id\n"
        "  feature 6: has no name in column 'name' — give every district a name\n"
    ) in err


def test_a_population_that_is_not_a_number_names_its_feature(tmp_path: Path) -> None:
    path = write(tmp_path / "wards.geojson")
    data = json.loads(path.read_text())
    for i, item in enumerate(data["features"]):
        item["properties"]["pop"] = ["12000", "many", None, "3000", "4000", "5000"][i]
    path.write_text(json.dumps(data))
    with pytest.raises(
        UnusableFileError,
        match=r"feature 2, district KE-02: its population 'many' \(column 'pop'\) is not a "
        r"number — fix or empty it",
    ):
        read_district_file(path, id_column="code", name_column="name", population_column="pop")


def test_many_problems_are_counted_past_the_first_25(tmp_path: Path) -> None:
    path = tmp_path / "points.geojson"
    features = [
        feature(f"P{i}", f"Point {i}", {"type": "Point", "coordinates": [36.8, -1.3]})
        for i in range(30)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(UnusableFileError) as raised:
        read_district_file(path, id_column="code", name_column="name")
    message = str(raised.value)
    assert "30 districts cannot be used" in message
    assert "  feature 25, district P24: is a Point" in message
    assert "feature 26," not in message
    assert message.endswith("\n  ... and 5 more")
