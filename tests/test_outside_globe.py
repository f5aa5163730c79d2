"""Outside is outside, everywhere on Earth: the area check of imported visits over the globe.

Areas in each quadrant (both sides of ±90° longitude), near both poles and across the
antimeridian (Fiji, its ward split at ±180° as GeoJSON requires) are built here. Visits inside,
just outside, far away, with a one-digit typo and with latitude and longitude swapped are
imported, and each row's fate is checked against an oracle computed here, independently of the
library: inside the rectangle of districts (lon/lat), or farther from it than a cell can reach
(a local azimuthal equidistant projection and pyproj's geodesic distance).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import h3
import hypothesis.strategies as st
import pyproj
import pytest
import shapely
from helpers import copy_workspace, counts, problems_by_row, query, write_csv
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from mapping.cells import cells_covering
from mapping.ingest.area import districts_from_file, init_area
from mapping.ingest.visits import visits_from_file

RESOLUTION = 8
GEOD = pyproj.Geod(ellps="WGS84")
#: A point this far (m) from the area lies in a cell that cannot overlap it: a cell reaches at
#: most one edge length from its centre, and cells near the poles have longer edges.
MARGIN = 3 * h3.average_hexagon_edge_length(RESOLUTION, "m") + 100

OUTSIDE = "is outside every district of the area"
SWAPPED = "has latitude and longitude swapped (swapped, the point falls inside the area)"
RANGE = "is outside -90..90 latitude / -180..180 longitude"
HEADER = ("date", "peer_educator", "latitude", "longitude", "contact_code")


def wrap(lng: float) -> float:
    """A longitude in -180..180."""
    return (lng + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class Area:
    """A rectangle of districts side by side; ``east`` may pass 180 (then it is split there)."""

    name: str
    south: float
    north: float
    west: float
    east: float
    #: Longitudes where one district ends and the next begins.
    borders: tuple[float, ...]

    @property
    def centre(self) -> tuple[float, float]:
        return (self.south + self.north) / 2, wrap((self.west + self.east) / 2)

    def districts(self) -> list[tuple[str, shapely.Geometry]]:
        edges = [self.west, *self.borders, self.east]
        return [
            (f"{self.name[:2].upper()}-{i}", self._box(w, e))
            for i, (w, e) in enumerate(itertools.pairwise(edges), start=1)
        ]

    def _box(self, west: float, east: float) -> shapely.Geometry:
        s, n = self.south, self.north
        if east <= 180:
            return shapely.box(west, s, east, n)
        if west >= 180:
            return shapely.box(west - 360, s, east - 360, n)
        return shapely.MultiPolygon(
            [shapely.box(west, s, 180, n), shapely.box(-180, s, east - 360, n)]
        )

    def unwrap(self, lng: float) -> float:
        """``lng`` shifted by whole turns to lie nearest the area's middle."""
        middle = (self.west + self.east) / 2
        return lng + 360 * round((middle - lng) / 360)

    def contains(self, lat: float, lng: float) -> bool:
        return self.south < lat < self.north and self.west < self.unwrap(lng) < self.east

    def far_from(self, lat: float, lng: float) -> bool:
        """Whether the point is farther than MARGIN from the rectangle (so is its cell)."""
        if abs(lat) > 90 or abs(lng) > 180:
            return True
        c_lat, c_lng = self.centre
        _, _, to_centre = GEOD.inv(c_lng, c_lat, lng, lat)
        if to_centre - self._radius() > MARGIN:
            return True
        local = self._local()
        x, y = local.transform(lng, lat)
        return bool(self._outline().distance(shapely.Point(x, y)) > MARGIN)

    @cache  # noqa: B019 - a few areas, built once
    def _radius(self) -> float:
        c_lat, c_lng = self.centre
        corners = [(self.south, self.west), (self.south, self.east), (self.north, self.west)]
        corners.append((self.north, self.east))
        return max(GEOD.inv(c_lng, c_lat, wrap(x), y)[2] for y, x in corners)

    @cache  # noqa: B019
    def _local(self) -> pyproj.Transformer:
        lat, lng = self.centre
        crs = f"+proj=aeqd +lat_0={lat} +lon_0={lng} +datum=WGS84 +units=m"
        return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)

    @cache  # noqa: B019
    def _outline(self) -> shapely.Geometry:
        rectangle = shapely.segmentize(
            shapely.box(self.west, self.south, self.east, self.north), 0.002
        )
        return shapely.transform(rectangle, self._local().transform, interleaved=False)


AREAS = [
    Area("bangkok NE", 13.70, 13.78, 100.48, 100.58, (100.53,)),
    Area("mexico NW", 19.38, 19.46, -99.20, -99.10, (-99.15,)),
    Area("nairobi SE", -1.32, -1.26, 36.76, 36.86, (36.81,)),
    Area("brisbane SE", -27.50, -27.44, 152.98, 153.08, (153.03,)),
    Area("sao paulo SW", -23.58, -23.52, -46.68, -46.58, (-46.63,)),
    Area("svalbard 80N", 80.00, 80.05, 19.5, 20.0, (19.75,)),
    Area("ellesmere 80N W", 80.00, 80.05, -86.0, -85.5, (-85.75,)),
    Area("dome c 75S", -75.05, -75.00, 123.0, 123.5, (123.25,)),
    # beyond 80°S no UTM zone is defined: init once failed there choosing one
    Area("ross 82S W", -82.05, -82.00, -160.6, -160.0, (-160.3,)),
    Area("lima 12S W", -12.10, -12.04, -77.06, -76.98, (-77.02,)),
    # Taveuni, Fiji: one ward west of 180°, one across it (a MultiPolygon split at ±180)
    Area("fiji 180", -16.90, -16.70, 179.70, 180.20, (179.95,)),
]
IDS = [area.name for area in AREAS]


def expected(area: Area, lat_text: str, lng_text: str) -> str | None:
    """What the import must do with this location: stored, outside, swapped, range; or None.

    None: a point outside every district but near enough for its cell to overlap one (the
    cell rule and the exact-point rule may differ there; not asserted here).
    """
    lat, lng = float(lat_text), float(lng_text)
    swappable = abs(lng) <= 90 and abs(lat) <= 180
    if abs(lat) > 90 or abs(lng) > 180:
        if swappable and area.contains(lng, lat):
            return "swapped"
        return "range" if not swappable or area.far_from(lng, lat) else None
    if lat == 0 and lng == 0:
        return None
    if area.contains(lat, lng):
        return "stored"
    if not area.far_from(lat, lng):
        return None
    if swappable and area.contains(lng, lat):
        return "swapped"
    return "outside" if not swappable or area.far_from(lng, lat) else None


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One workspace per area, built from a hand-written GeoJSON file."""
    built = {}
    for area in AREAS:
        folder = tmp_path_factory.mktemp(area.name.replace(" ", "_"))
        features = [
            {
                "type": "Feature",
                "properties": {"code": code, "name": f"{area.name} {code}"},
                "geometry": shapely.geometry.mapping(geometry),
            }
            for code, geometry in area.districts()
        ]
        path = folder / "districts.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        districts = districts_from_file(path, id_column="code", name_column="name")
        init_area(folder / "ws", districts, name=area.name, resolution=RESOLUTION)
        built[area.name] = folder / "ws"
    return built


def check_import(template: Path, folder: Path, area: Area, points: list[tuple[str, str]]) -> None:
    """Import the points as visits; assert each row's fate is the oracle's."""
    workspace = copy_workspace(template, folder / "ws")
    rows = [["2025-06-01", "PE01", lat, lng, f"C{i:04d}"] for i, (lat, lng) in enumerate(points)]
    result = visits_from_file(workspace, write_csv(folder / "visits.csv", HEADER, rows))
    problems = problems_by_row(result) if result.rejected else {}
    fates = {"outside": OUTSIDE, "swapped": SWAPPED, "range": RANGE}
    stored_cells = set()
    for i, (lat, lng) in enumerate(points):
        fate = expected(area, lat, lng)
        found = problems.get(i + 2, [])
        if fate == "stored":
            assert found == [], (lat, lng, found)
            stored_cells.add(h3.str_to_int(h3.latlng_to_cell(float(lat), float(lng), RESOLUTION)))
        elif fate is not None:
            assert found == [("location", fates[fate])], (lat, lng, fate, found)
    assert result.accepted == counts(workspace)["visits"]
    assert result.accepted == sum(expected(area, *p) == "stored" for p in points) + sum(
        expected(area, *p) is None and i + 2 not in problems for i, p in enumerate(points)
    )
    cells = {c for (c,) in query(workspace, "SELECT cell FROM visits")}
    # each stored point is in its own cell, or, where its district holds a sliver of that cell,
    # in a neighbour (the sliver rule, docs/privacy.md): never farther
    for cell in stored_cells:
        disk = {h3.str_to_int(c) for c in h3.grid_disk(h3.int_to_str(cell), 1)}
        assert cell in cells or disk & cells, h3.int_to_str(cell)


def text(value: float) -> str:
    return f"{value:.6f}"


def typo(value: str) -> str:
    """A one-digit typo in the whole degrees: 36.8 → 136.8, 178.4 → 78.4, -99.1 → -199.1."""
    sign, digits = ("-", value[1:]) if value.startswith("-") else ("", value)
    whole = digits.split(".")[0]
    return sign + (digits[1:] if len(whole) == 3 else "1" + digits)


@pytest.mark.parametrize("area", AREAS, ids=IDS)
def test_inside_near_far_typo_and_swapped_points(
    area: Area, templates: dict[str, Path], tmp_path: Path
) -> None:
    inside = []
    for _, geometry in area.districts():
        for part in getattr(geometry, "geoms", [geometry]):
            point = part.representative_point()
            inside.append((text(point.y), text(point.x)))
    # just outside: a little more than MARGIN beyond the middle of each side
    c_lat, c_lng = area.centre
    step_lat = 1.2 * MARGIN / 111_000
    near = [(text(area.north + step_lat), text(c_lng)), (text(area.south - step_lat), text(c_lng))]
    for side, lat in ((area.west, c_lat), (area.east, c_lat)):
        step_lng = 1.2 * MARGIN / (111_000 * math.cos(math.radians(lat)))
        sign = -1 if side == area.west else 1
        near.append((text(lat), text(wrap(side + sign * step_lng))))
    far = [(text(-c_lat / 2), text(wrap(c_lng + 120))), ("51.5074", "-0.1278")]
    typos = [(lat, typo(lng)) for lat, lng in inside] + [(typo(lat), lng) for lat, lng in inside]
    swapped = [(lng, lat) for lat, lng in inside]
    points = inside + near + far + typos + swapped

    fates = [expected(area, *p) for p in points]
    assert fates[: len(inside)] == ["stored"] * len(inside)
    assert fates[len(inside) : len(inside) + len(near) + len(far)] == ["outside"] * 6
    assert fates[-len(swapped) :] == ["swapped"] * len(swapped)
    assert set(fates[len(inside) + 6 : -len(swapped)]) <= {"outside", "range", "swapped"}
    check_import(templates[area.name], tmp_path, area, points)


def test_the_typos_of_the_issue_are_refused(templates: dict[str, Path], tmp_path: Path) -> None:
    nairobi = next(a for a in AREAS if a.name.startswith("nairobi"))
    fiji = next(a for a in AREAS if a.name.startswith("fiji"))
    assert expected(nairobi, "-1.29", "136.8") == "outside"
    assert expected(fiji, "-16.8", "79.8") == "outside"
    # 49 points in Queensland imported into Nairobi
    queensland = [(text(-20 - i * 0.2), text(140 + i * 0.25)) for i in range(49)]
    check_import(
        templates[nairobi.name],
        tmp_path / "nairobi",
        nairobi,
        [("-1.29", "36.80"), ("-1.29", "136.80"), *queensland],
    )
    check_import(
        templates[fiji.name], tmp_path / "fiji", fiji, [("-16.8", "179.8"), ("-16.8", "79.8")]
    )


def _point_in(area: Area, fx: float, fy: float) -> tuple[str, str]:
    return text(area.south + fy * (area.north - area.south)), text(
        wrap(area.west + fx * (area.east - area.west))
    )


@st.composite
def located_points(draw: st.DrawFn) -> tuple[Area, list[tuple[str, str]]]:
    area = draw(st.sampled_from(AREAS))
    fraction = st.floats(0.01, 0.99)
    points = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["inside", "near", "far", "typo", "swapped"]))
        if kind == "far":
            points.append((text(draw(st.floats(-89, 89))), text(draw(st.floats(-180, 179.999)))))
            continue
        lat, lng = _point_in(area, draw(fraction), draw(fraction))
        if kind == "near":
            bearing = draw(st.floats(0, 360))
            distance = draw(st.floats(0.0, 4 * MARGIN))
            c_lat, c_lng = area.centre
            # from the centre, past the edge: the oracle keeps only those clearly outside
            reach = area._radius() + distance
            lng_f, lat_f, _ = GEOD.fwd(c_lng, c_lat, bearing, reach)
            lat, lng = text(lat_f), text(lng_f)
        elif kind == "typo":
            lat, lng = (lat, typo(lng)) if draw(st.booleans()) else (typo(lat), lng)
        elif kind == "swapped":
            lat, lng = lng, lat
        points.append((lat, lng))
    return area, points


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=located_points())
def test_every_point_on_the_globe_meets_its_fate(
    templates: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[Area, list[tuple[str, str]]],
) -> None:
    area, points = case
    check_import(templates[area.name], tmp_path_factory.mktemp("globe"), area, points)


@pytest.mark.parametrize("resolution", [6, 7, 8])
def test_cells_covering_an_area_across_the_antimeridian(resolution: int) -> None:
    """Every point of a ward split at ±180°, or drawn across it, lies in a covering cell."""
    split = shapely.MultiPolygon(
        [shapely.box(179.6, -16.9, 180.0, -16.7), shapely.box(-180.0, -16.9, -179.8, -16.7)]
    )
    across = shapely.Polygon([(179.6, -16.9), (-179.8, -16.9), (-179.8, -16.7), (179.6, -16.7)])
    cells = set(cells_covering(split, resolution))
    assert set(cells_covering(across, resolution)) == cells
    lats = [-16.9 + 0.2 * (i + 0.5) / 40 for i in range(40)]
    lngs = [179.6 + 0.6 * (j + 0.5) / 60 for j in range(60)]
    lngs += [179.99999, 180.0, -180.0, -179.99999]
    for lat in lats:
        for lng in lngs:
            cell = h3.str_to_int(h3.latlng_to_cell(lat, wrap(lng), resolution))
            assert cell in cells, (lat, lng)
    # and no cell far from the ward: each covering cell's centre is within a cell of it
    edge = h3.average_hexagon_edge_length(resolution, "m")
    for cell in cells:
        lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
        unwrapped = lng + 360 if lng < 0 else lng
        assert 179.6 - 2 * edge / 106_000 < unwrapped < 180.2 + 2 * edge / 106_000
        assert -16.9 - 2 * edge / 110_000 < lat < -16.7 + 2 * edge / 110_000


@pytest.mark.parametrize("area", AREAS, ids=IDS)
def test_each_area_cell_goes_to_the_district_holding_or_nearest_its_centre(
    area: Area, templates: dict[str, Path]
) -> None:
    """Districts side by side: the nearest is the one whose longitudes hold the centre's."""
    workspace = copy_workspace(templates[area.name], templates[area.name].parent / "owners")
    edges = [area.west, *area.borders, area.east]
    owners = query(workspace, "SELECT cell, district_id FROM area_cells")
    assert owners
    checked = 0
    for cell, district in owners:
        lat, lng = h3.cell_to_latlng(h3.int_to_str(int(str(cell))))
        clamped = min(max(area.unwrap(lng), area.west), area.east)
        if min(abs(clamped - edge) for edge in area.borders) < 0.002:
            continue  # as near one district as the other
        index = next(i for i, (w, e) in enumerate(itertools.pairwise(edges)) if w <= clamped <= e)
        assert district == area.districts()[index][0], (lat, lng)
        checked += 1
    assert checked > 0.8 * len(owners)
