"""One district per visit, hotspot and service, from its exact point: the acceptance of issue 16.

The areas are built here, not Lima: a Nairobi-like grid of wards around 36.80 E, 1.29 S with
irregular (zig-zag) borders and wards smaller than a resolution-8 cell (Kibera- and Mathare-like
300 m squares, one of 150 m), and a Manila-like area east of 90 E. Hotspots sit 50-150 m from
a ward border, visits cluster 20-60 m around them, some contacts are seen several times and some
visits are phone calls. Everything goes through the real command line (``init``, ``import``,
``coverage``, ``export``) and library. The truth is point in polygon on the raw points with
shapely, computed here without the code under test; per-ward visits, people and hotspots must
equal it exactly at resolutions 7, 8 and 9.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import polars as pl
import pytest
import shapely
import sqlalchemy as sa
from helpers import cell_polygon, share, sliver_target

from mapping.access.disclosure import raw_counts
from mapping.analysis.coverage import NO_LOCATION, coverage
from mapping.analysis.reports import explain_district
from mapping.cli.main import main
from mapping.errors import InvalidInputError
from mapping.i18n import translator
from mapping.ingest.attribution import SLIVER
from mapping.ingest.capture import VisitEntry, cell_at, district_of, log_visit, place_at
from mapping.registries.hotspots import HotspotDraft, save_hotspot
from mapping.registries.service_edits import add_service
from mapping.storage import store
from mapping.storage.workspace import Workspace, open_workspace

PERIOD = "2026-Q3"
QUARTER_START = dt.date(2026, 7, 1)
#: Metres per degree of latitude; of longitude, times the cosine of the latitude.
M_PER_DEG = 111_320.0


# --- the areas --------------------------------------------------------------------------------


@dataclass
class Area:
    """Wards (lon/lat polygons by id), and the programme's hotspots and visits as written."""

    name: str
    origin: tuple[float, float]
    wards: dict[str, shapely.Geometry]
    #: ids of the wards smaller than a resolution-8 cell
    small: tuple[str, ...]
    hotspots: list[dict[str, str]] = field(default_factory=list)
    visits: list[dict[str, str]] = field(default_factory=list)

    def metres(self, geometry: shapely.Geometry) -> shapely.Geometry:
        """The geometry in local metres (equirectangular at the area's latitude)."""
        lng0, lat0 = self.origin
        scale = math.cos(math.radians(lat0))
        return shapely.transform(
            geometry,
            lambda xy: np.column_stack(
                [(xy[:, 0] - lng0) * M_PER_DEG * scale, (xy[:, 1] - lat0) * M_PER_DEG]
            ),
        )

    def offset(self, lng: float, lat: float, east: float, north: float) -> tuple[float, float]:
        """The point ``east``/``north`` metres away from (lng, lat)."""
        scale = math.cos(math.radians(self.origin[1]))
        return lng + east / (M_PER_DEG * scale), lat + north / M_PER_DEG

    def ward_of(self, lng: float, lat: float) -> str | None:
        """The truth: the ward whose polygon holds the point (shapely, nothing else)."""
        point = shapely.Point(lng, lat)
        found = [ward for ward, polygon in self.wards.items() if polygon.contains(point)]
        assert len(found) <= 1, f"wards overlap at {lng}, {lat}"
        return found[0] if found else None


def _zigzag(
    a: tuple[float, float], b: tuple[float, float], amplitude: float, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Two points between a and b, pushed sideways: an irregular shared border."""
    (ax, ay), (bx, by) = a, b
    length = math.hypot(bx - ax, by - ay)
    nx, ny = -(by - ay) / length, (bx - ax) / length
    return [
        (ax + t * (bx - ax) + s * nx, ay + t * (by - ay) + s * ny)
        for t, s in (
            (1 / 3, rng.uniform(-amplitude, amplitude)),
            (2 / 3, rng.uniform(-amplitude, amplitude)),
        )
    ]


def build_area(
    name: str,
    origin: tuple[float, float],
    grid: tuple[int, int],
    step: float,
    small: list[tuple[str, float, float, float, float]],
    seed: int,
) -> Area:
    """A grid of irregular wards with small square wards cut out of them.

    ``small`` holds (id, x, y in grid steps from the origin, width, height in metres).
    """
    rng = np.random.default_rng(seed)
    cols, rows = grid
    lng0, lat0 = origin
    corner = {}
    for i in range(cols + 1):
        for j in range(rows + 1):
            inner = 0 < i < cols and 0 < j < rows
            jitter = rng.uniform(-0.15, 0.15, 2) * step if inner else np.zeros(2)
            corner[(i, j)] = (lng0 + i * step + jitter[0], lat0 + j * step + jitter[1])
    edges: dict[tuple[tuple[int, int], tuple[int, int]], list[tuple[float, float]]] = {}

    def edge(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[float, float]]:
        key = (min(a, b), max(a, b))
        if key not in edges:
            outer = (a[0] == b[0] and a[0] in (0, cols)) or (a[1] == b[1] and a[1] in (0, rows))
            edges[key] = _zigzag(corner[key[0]], corner[key[1]], 0 if outer else 0.08 * step, rng)
        points = edges[key]
        return points if key == (a, b) else points[::-1]

    area = Area(name, origin, {}, tuple(s[0] for s in small))
    for j in range(rows):
        for i in range(cols):
            ring: list[tuple[float, float]] = []
            for a, b in (
                ((i, j), (i + 1, j)),
                ((i + 1, j), (i + 1, j + 1)),
                ((i + 1, j + 1), (i, j + 1)),
                ((i, j + 1), (i, j)),
            ):
                ring += [corner[a], *edge(a, b)]
            polygon = shapely.Polygon(ring)
            assert polygon.is_valid
            area.wards[f"{name[:3].upper()}-{j}{i}"] = polygon
    for ward, x, y, width, height in small:
        lng, lat = lng0 + x * step, lat0 + y * step
        west, south = area.offset(lng, lat, -width / 2, -height / 2)
        east, north = area.offset(lng, lat, width / 2, height / 2)
        square = shapely.box(west, south, east, north)
        for other, polygon in list(area.wards.items()):
            if polygon.intersects(square):
                area.wards[other] = polygon.difference(square)
        area.wards[ward] = square
    return area


def place_programme(area: Area, *, general: int, seed: int) -> None:
    """Hotspots 50-150 m from a ward border (25-75 m in the tiny ward), visits around them."""
    rng = np.random.default_rng(seed)
    outer = shapely.union_all(list(area.wards.values()))
    borders = shapely.union_all([w.boundary for w in area.wards.values()]).difference(
        outer.boundary.buffer(1e-7)
    )
    borders_m = area.metres(borders)
    inner = outer.buffer(-0.004)  # ~440 m from the outside, so no jitter leaves the area
    west, south, east, north = inner.bounds
    wanted: list[tuple[str | None, int, float, float]] = [(None, general, 50, 150)]
    for ward in area.small:
        side = area.metres(area.wards[ward]).bounds
        tiny = min(side[2] - side[0], side[3] - side[1]) < 200
        wanted.append((ward, 2, 25 if tiny else 50, 75 if tiny else 150))
    points: list[tuple[float, float]] = []
    for ward, count, low, high in wanted:
        box = area.wards[ward].bounds if ward else (west, south, east, north)
        found = 0
        while found < count:
            lng, lat = rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])
            point = shapely.Point(lng, lat)
            if not inner.contains(point) or (ward and not area.wards[ward].contains(point)):
                continue
            if low <= area.metres(point).distance(borders_m) <= high:
                points.append((round(lng, 6), round(lat, 6)))
                found += 1
    prefix = area.name[:3].upper()
    shared: list[str] = []
    for index, (lng, lat) in enumerate(points):
        area.hotspots.append(
            {
                "id": f"{prefix}-H{index:03d}",
                "latitude": f"{lat:.6f}",
                "longitude": f"{lng:.6f}",
                "typology": ["bar", "street", "lodge"][index % 3],
                "size_min": str(5 + index % 7),
                "size_max": str(12 + index % 9),
            }
        )
        pool = [f"{prefix}{index:03d}K{k}" for k in range(int(rng.integers(2, 6)))]
        if index % 6 == 5 and shared:
            pool.append(shared.pop())  # someone also met at an earlier hotspot
        elif index % 6 == 2:
            shared.append(pool[0])
        for visit in range(int(rng.integers(3, 13))):
            radius, angle = rng.uniform(20, 60), rng.uniform(0, 2 * math.pi)
            v_lng, v_lat = area.offset(lng, lat, radius * math.cos(angle), radius * math.sin(angle))
            code = "" if rng.random() < 0.1 else str(rng.choice(pool))
            area.visits.append(_visit(index, visit, rng, code, round(v_lat, 6), round(v_lng, 6)))
    for call in range(8):  # phone contacts: counted, in no ward
        area.visits.append(_visit(call, 99, rng, f"{prefix}{call:03d}K0", None, None))


def _visit(
    hotspot: int,
    number: int,
    rng: np.random.Generator,
    code: str,
    lat: float | None,
    lng: float | None,
) -> dict[str, str]:
    # one visit a day at each hotspot: the same contact met twice on one day at one place is
    # one visit to the importer (its fingerprint), so the file never holds such a pair
    day = QUARTER_START + dt.timedelta(
        days=(hotspot * 7 + number * 5 + int(rng.integers(0, 4))) % 92
    )
    return {
        "date": day.isoformat(),
        "time": f"{20 + number % 4}:30",
        "peer_educator": f"PE{hotspot % 9:02d}",
        "team": f"T{hotspot % 3}",
        "channel": "in_person" if lat is not None else "phone",
        "latitude": "" if lat is None else f"{lat:.6f}",
        "longitude": "" if lng is None else f"{lng:.6f}",
        "contact_code": code,
    }


def nairobi() -> Area:
    """Nairobi-like wards: 4 x 3, 2.2 km apart, and four wards smaller than a res-8 cell."""
    area = build_area(
        "Nairobi",
        (36.77, -1.31),
        (4, 3),
        0.02,
        [
            # two Kibera-like 300 m squares side by side, a Mathare-like 600 x 500 m ward and
            # a 150 m one (smaller than a seventh of a resolution-8 cell: a "tiny" district)
            ("KIB-1", 1.5, 0.6, 300, 300),
            (
                "KIB-2",
                1.5 + 300 / (M_PER_DEG * math.cos(math.radians(-1.31)) * 0.02),
                0.6,
                300,
                300,
            ),
            ("MAT-1", 2.6, 2.4, 600, 500),
            ("MAT-2", 3.4, 1.5, 150, 150),
        ],
        seed=16,
    )
    place_programme(area, general=34, seed=1)
    return area


def manila() -> Area:
    """Manila-like barangays east of 90 E (north of the equator): 3 x 2 and a 300 m one."""
    area = build_area("Manila", (120.98, 14.58), (3, 2), 0.015, [("BRGY-1", 1.4, 1.3, 300, 300)], 7)
    place_programme(area, general=14, seed=2)
    return area


# --- files and the command line ----------------------------------------------------------------


def write_area(area: Area, folder: Path) -> dict[str, Path]:
    """Write the wards (GeoJSON), hotspots and visits (CSV) as a programme would."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("wards.geojson", "hotspots.csv", "visits.csv")}
    gpd.GeoDataFrame(
        {"ward_id": list(area.wards), "ward": [f"Ward {w}" for w in area.wards]},
        geometry=list(area.wards.values()),
        crs=4326,
    ).to_file(paths["wards.geojson"], driver="GeoJSON")
    for name, rows in (("hotspots.csv", area.hotspots), ("visits.csv", area.visits)):
        with paths[name].open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return paths


def init_and_import(paths: dict[str, Path], folder: Path, resolution: int) -> Workspace:
    """``outreach-map init`` then ``import hotspots`` and ``import visits``, as a person would."""
    argv = ["init", "--workspace", str(folder), "--districts", str(paths["wards.geojson"])]
    argv += ["--district-id", "ward_id", "--district-name", "ward"]
    assert main([*argv, "--resolution", str(resolution)]) == 0
    for kind, name in (("hotspots", "hotspots.csv"), ("visits", "visits.csv")):
        assert main(["import", kind, str(paths[name]), "--workspace", str(folder)]) == 0
    return open_workspace(folder)


@dataclass
class Truth:
    """Per ward, worked out here from the raw points with shapely."""

    visits: dict[str, int]
    people: dict[str, int]
    hotspots: dict[str, int]
    phone_visits: int


def truth_of(area: Area) -> Truth:
    """Point in polygon on the raw points of every visit and hotspot."""
    visits: dict[str, int] = defaultdict(int)
    people: dict[str, set[str]] = defaultdict(set)
    hotspots: dict[str, int] = defaultdict(int)
    phone = 0
    for row in area.visits:
        if not row["latitude"]:
            phone += 1
            continue
        ward = area.ward_of(float(row["longitude"]), float(row["latitude"]))
        assert ward is not None, "every located visit lies in a ward"
        visits[ward] += 1
        if row["contact_code"]:
            people[ward].add(row["contact_code"])
    for row in area.hotspots:
        ward = area.ward_of(float(row["longitude"]), float(row["latitude"]))
        assert ward is not None
        hotspots[ward] += 1
    # the release keeps a person in 3 groups at most: the truth must not need more
    wards_of: dict[str, int] = defaultdict(int)
    for members in people.values():
        for person in members:
            wards_of[person] += 1
    assert max(wards_of.values()) <= 3
    return Truth(
        {w: visits.get(w, 0) for w in area.wards},
        {w: len(people.get(w, ())) for w in area.wards},
        {w: hotspots.get(w, 0) for w in area.wards},
        phone,
    )


def stored_pairs(workspace: Workspace) -> set[tuple[int, str]]:
    """Every distinct (cell, district) the store holds for visits and hotspots."""
    pairs: set[tuple[int, str]] = set()
    with workspace.connect() as connection:
        for table in (store.visits, store.hotspots):
            rows = connection.execute(
                sa.select(table.c.cell, table.c.district_id)
                .where(table.c.cell.is_not(None))
                .distinct()
            )
            pairs |= {(int(cell), str(district)) for cell, district in rows}
    return pairs


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nairobi_area() -> Area:
    """The Nairobi-like area and its programme."""
    return nairobi()


@pytest.fixture(scope="module")
def nairobi_files(nairobi_area: Area, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Its files, written once."""
    return write_area(nairobi_area, tmp_path_factory.mktemp("nairobi-files"))


@pytest.fixture(scope="module", params=[7, 8, 9])
def nairobi_at(
    request: pytest.FixtureRequest,
    nairobi_files: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Workspace:
    """A workspace at resolution 7, 8 or 9, filled through the command line."""
    folder = tmp_path_factory.mktemp(f"nairobi-{request.param}") / "ws"
    return init_and_import(nairobi_files, folder, request.param)


# --- the acceptance ----------------------------------------------------------------------------


def check_figures_equal_the_truth(
    area: Area, workspace: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Coverage (command line, JSON and CSV), the internal export and the release's true counts."""
    truth = truth_of(area)
    # coverage, through the command line
    capsys.readouterr()
    command = ["coverage", "--workspace", str(workspace.path), "--period", PERIOD]
    assert main([*command, "--format", "json"]) == 0
    rows = {r["district_id"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    for ward in area.wards:
        row = rows[ward]
        got = (row["visits"], row["contacts"], row["hotspots"])
        assert got == (truth.visits[ward], truth.people[ward], truth.hotspots[ward]), ward
        for name in ("visits", "contacts", "new_contacts", "hotspots"):
            assert isinstance(row[name], int), (name, row[name])  # never a fraction of a person
    assert rows[NO_LOCATION]["visits"] == truth.phone_visits
    assert main([*command, "--format", "csv"]) == 0
    table = pl.read_csv(io.StringIO(capsys.readouterr().out))
    by_ward = {r["district_id"]: r for r in table.iter_rows(named=True)}
    for ward in area.wards:
        assert (by_ward[ward]["visits"], by_ward[ward]["contacts"]) == (
            truth.visits[ward],
            truth.people[ward],
        )
    assert table["visits"].dtype == pl.Int64 and table["contacts"].dtype == pl.Int64
    # the coordinator's internal export (raw counts), through the command line
    out = tmp_path / f"internal-{workspace.resolution}.csv"
    argv = ["export", "--role", "coordinator", "--period", PERIOD, "--internal"]
    assert main([*argv, "--out", str(out), "--workspace", str(workspace.path)]) == 0
    exported = dict(pl.read_csv(out).select("key", "value").iter_rows())
    for ward in area.wards:
        assert exported.get(ward, 0) == truth.people[ward], ward
    # the funder release's true counts, before noise
    true_counts = dict(raw_counts(workspace, PERIOD).iter_rows())
    for ward in area.wards:
        assert true_counts.get(ward, 0) == truth.people[ward], ward
    # and the published release: whole numbers only
    out = tmp_path / f"release-{workspace.resolution}.csv"
    argv = ["export", "--role", "funder", "--period", PERIOD]
    assert main([*argv, "--out", str(out), "--workspace", str(workspace.path)]) == 0
    released = pl.read_csv(out)
    assert released["value"].dtype == pl.Int64 or released["value"].is_null().all()
    capsys.readouterr()


def test_nairobi_figures_equal_point_in_polygon_at_resolutions_7_8_9(
    nairobi_area: Area,
    nairobi_at: Workspace,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """Per ward: visits, people and hotspots equal the truth in every figure, at 7, 8 and 9."""
    # the small wards matter: each holds hotspots and visits, and none owns a cell at res 7
    truth = truth_of(nairobi_area)
    for ward in nairobi_area.small:
        assert truth.hotspots[ward] >= 2 and truth.visits[ward] > 0
    check_figures_equal_the_truth(nairobi_area, nairobi_at, capsys, tmp_path)


def test_manila_east_of_90_degrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same exactness east of 90 E, north of the equator, at resolution 8."""
    area = manila()
    paths = write_area(area, tmp_path / "files")
    workspace = init_and_import(paths, tmp_path / "ws", 8)
    check_figures_equal_the_truth(area, workspace, capsys, tmp_path)


def test_no_stored_pair_names_a_sliver_of_a_cell(nairobi_area: Area, nairobi_at: Workspace) -> None:
    """Every stored (cell, district) names at least 1/7 of the cell, or the district is tiny
    and the cell holds its largest piece among the cell and its neighbours."""
    assert SLIVER * 7 == 1
    pairs = stored_pairs(nairobi_at)
    assert pairs
    exceptions = 0
    for cell, ward in pairs:
        polygon = nairobi_area.wards[ward]
        own = share(cell, polygon)
        if own >= 1 / 7 - 1e-9:
            continue
        exceptions += 1
        disk = [int(h3.str_to_int(c)) for c in h3.grid_disk(h3.int_to_str(cell), 1)]
        assert max(share(c, polygon) for c in disk) < 1 / 7, (cell, ward)
        assert own >= max(share(c, polygon) for c in disk) - 1e-9, (cell, ward)
    if nairobi_at.resolution <= 8:
        assert exceptions > 0  # the small wards are smaller than a seventh of the cells


@pytest.fixture
def nairobi_8(nairobi_files: dict[str, Path], tmp_path: Path) -> Workspace:
    """A fresh resolution-8 workspace with the Nairobi wards only (nothing imported)."""
    argv = ["init", "--workspace", str(tmp_path / "ws")]
    argv += ["--districts", str(nairobi_files["wards.geojson"])]
    argv += ["--district-id", "ward_id", "--district-name", "ward", "--resolution", "8"]
    assert main(argv) == 0
    return open_workspace(tmp_path / "ws")


def _find_sliver(area: Area, resolution: int) -> tuple[int, str, shapely.Point]:
    """A (cell, ward) whose piece is under 1/7 of the cell, in a ward that is not tiny, and
    a point inside that piece."""
    for ward, polygon in area.wards.items():
        if ward in area.small:
            continue
        for x, y in polygon.exterior.coords:
            cell = int(h3.str_to_int(h3.latlng_to_cell(y, x, resolution)))
            for candidate in h3.grid_disk(h3.int_to_str(cell), 1):
                cell_int = int(h3.str_to_int(candidate))
                piece = cell_polygon(cell_int).intersection(polygon)
                if (
                    0.02 < piece.area / cell_polygon(cell_int).area < 1 / 7
                    and piece.geom_type == "Polygon"
                ):
                    point = piece.representative_point()
                    if h3.latlng_to_cell(point.y, point.x, resolution) == candidate:
                        return cell_int, ward, point
    raise AssertionError("no sliver in the area")


def test_a_point_in_a_sliver_is_stored_in_the_neighbouring_cell_with_its_district(
    nairobi_area: Area, nairobi_8: Workspace, tmp_path: Path
) -> None:
    """The district's piece of the point's cell is under 1/7: the visit goes to the cell of the
    disk holding most of that district; the district stays exact."""
    cell, ward, point = _find_sliver(nairobi_area, 8)
    expected = sliver_target(cell, nairobi_area.wards[ward])
    assert expected != cell and share(expected, nairobi_area.wards[ward]) >= 1 / 7
    assert nairobi_area.ward_of(point.x, point.y) == ward
    path = tmp_path / "sliver.csv"
    path.write_text(
        "date,peer_educator,team,latitude,longitude,contact_code\n"
        f"2026-08-01,PE01,T1,{point.y:.7f},{point.x:.7f},SLIV001\n",
        encoding="utf-8",
    )
    assert main(["import", "visits", str(path), "--workspace", str(nairobi_8.path)]) == 0
    with nairobi_8.connect() as connection:
        stored = connection.execute(
            sa.select(
                store.visits.c.cell, store.visits.c.district_id, store.visits.c.district_estimated
            )
        ).one()
    assert (stored.cell, stored.district_id, stored.district_estimated) == (expected, ward, False)
    # the app's tap there says the same
    place = place_at(nairobi_8, point.y, point.x)
    assert (place.cell, place.district_id) == (expected, ward)


def _tap_near_a_border(area: Area, resolution: int) -> tuple[float, float, str, str]:
    """A point 20 m inside ward X whose cell's centre lies in another ward Y."""
    for ward, polygon in area.wards.items():
        if ward in area.small:
            continue
        inside = area.metres(polygon).buffer(-20).exterior
        for fraction in np.linspace(0, 1, 400, endpoint=False):
            x_m, y_m = inside.interpolate(fraction, normalized=True).coords[0]
            scale = math.cos(math.radians(area.origin[1]))
            lng = area.origin[0] + x_m / (M_PER_DEG * scale)
            lat = area.origin[1] + y_m / M_PER_DEG
            if area.ward_of(lng, lat) != ward:
                continue
            centre_lat, centre_lng = h3.cell_to_latlng(h3.latlng_to_cell(lat, lng, resolution))
            other = area.ward_of(centre_lng, centre_lat)
            cell = int(h3.str_to_int(h3.latlng_to_cell(lat, lng, resolution)))
            if other not in (None, ward) and share(cell, polygon) >= 1 / 7:
                return lat, lng, ward, other
    raise AssertionError("no tap near a border")


def test_a_tap_in_the_app_gets_the_tapped_points_district(
    nairobi_area: Area, nairobi_8: Workspace
) -> None:
    """Near a border, the tapped point's ward, not the ward of its cell's centre."""
    lat, lng, ward, centre_ward = _tap_near_a_border(nairobi_area, 8)
    place = place_at(nairobi_8, lat, lng)
    assert place.district_id == ward != centre_ward
    assert (
        place.cell
        == cell_at(nairobi_8, lat, lng)
        == int(h3.str_to_int(h3.latlng_to_cell(lat, lng, 8)))
    )
    assert district_of(nairobi_8, place.cell, place.district_id) == f"Ward {ward}"
    assert district_of(nairobi_8, place.cell) == f"Ward {centre_ward}"
    when = dt.datetime(2026, 8, 1, 21, 30)
    entry = VisitEntry(
        peer_educator="PE01",
        team="T1",
        when=when,
        cell=place.cell,
        district_id=place.district_id,
        contact_code="TAP0001",
    )
    assert log_visit(nairobi_8, entry).accepted == 1
    # a cell given without its tapped point: the centre's ward, marked estimated
    alone = VisitEntry(peer_educator="PE01", team="T1", when=when, cell=place.cell)
    assert log_visit(nairobi_8, alone).accepted == 1
    with nairobi_8.connect() as connection:
        rows = set(
            connection.execute(
                sa.select(
                    store.visits.c.cell,
                    store.visits.c.district_id,
                    store.visits.c.district_estimated,
                )
            ).all()
        )
    assert rows == {(place.cell, ward, False), (place.cell, centre_ward, True)}
    far = _ward_away_from(nairobi_area, place.cell)
    wrong = VisitEntry(peer_educator="PE01", team="T1", when=when, cell=place.cell, district_id=far)
    message = rf"district '{far}' is not where cell {place.cell:x} lies — tap the map again"
    with pytest.raises(InvalidInputError, match=message):
        log_visit(nairobi_8, wrong)


def _ward_away_from(area: Area, cell: int) -> str:
    """A ward that does not touch the cell."""
    polygon = cell_polygon(cell)
    return next(w for w, p in area.wards.items() if not p.intersects(polygon))


def test_a_hotspot_given_by_cell_id_has_an_estimated_district(
    nairobi_area: Area, nairobi_8: Workspace, tmp_path: Path
) -> None:
    """A cell id has no point: the district holding the cell's centre, marked estimated; a
    point, or a tap, gives the exact one."""
    lat, lng, ward, centre_ward = _tap_near_a_border(nairobi_area, 8)
    cell = h3.latlng_to_cell(lat, lng, 8)
    path = tmp_path / "hotspots.csv"
    path.write_text(
        "id,cell,latitude,longitude,typology\n"
        f"BY-CELL,{cell},,,bar\n"
        f"BY-POINT,,{lat:.6f},{lng:.6f},bar\n",
        encoding="utf-8",
    )
    assert main(["import", "hotspots", str(path), "--workspace", str(nairobi_8.path)]) == 0
    # in the app: a cell picked by a tap carries the tapped ward; a cell alone, the estimate
    place = place_at(nairobi_8, lat, lng)
    today = dt.date(2026, 12, 1)
    save_hotspot(
        nairobi_8,
        HotspotDraft(cell=place.cell, typology="street", district_id=ward),
        hotspot_id="APP-TAP",
        today=today,
    )
    save_hotspot(
        nairobi_8,
        HotspotDraft(cell=place.cell, typology="street"),
        hotspot_id="APP-CELL",
        today=today,
    )
    far = _ward_away_from(nairobi_area, place.cell)
    message = rf"district '{far}' is not where cell {place.cell:x} lies — pick the place"
    with pytest.raises(InvalidInputError, match=message):
        save_hotspot(
            nairobi_8,
            HotspotDraft(cell=place.cell, typology="bar", district_id=far),
            hotspot_id="APP-BAD",
            today=today,
        )
    # a service placed by its point, and one by its cell alone
    add_service(
        nairobi_8, name="Clinic", service_type="hiv_testing", point=(lat, lng), service_id="S-P"
    )
    add_service(
        nairobi_8,
        name="Home clinic",
        service_type="hiv_testing",
        cell=cell,
        sensitive=True,
        service_id="S-C",
    )
    with nairobi_8.connect() as connection:
        hotspots = {
            r.id: (r.district_id, r.district_estimated)
            for r in connection.execute(sa.select(store.hotspots))
        }
        services = {
            r.id: (r.district_id, r.district_estimated)
            for r in connection.execute(sa.select(store.services))
        }
        owner = connection.execute(
            sa.select(store.area_cells.c.district_id).where(
                store.area_cells.c.cell == int(h3.str_to_int(cell))
            )
        ).scalar_one()
    assert owner == centre_ward
    assert hotspots == {
        "BY-CELL": (centre_ward, True),
        "BY-POINT": (ward, False),
        "APP-TAP": (ward, False),
        "APP-CELL": (centre_ward, True),
    }
    assert services == {"S-P": (ward, False), "S-C": (centre_ward, True)}


def test_a_point_beside_the_area_gets_the_nearest_ward_one_far_away_none(
    nairobi_area: Area, nairobi_8: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GPS drift just outside the outer boundary (its cell overlaps the area): the nearest
    ward, exact. A point kilometres away, kept with --allow-outside: no ward."""
    west = min(p.bounds[0] for p in nairobi_area.wards.values())
    with nairobi_8.connect() as connection:
        area_cells = set(connection.execute(sa.select(store.area_cells.c.cell)).scalars())
    lat = nairobi_area.origin[1] + 0.03
    drift_lng, _ = nairobi_area.offset(west, lat, -15, 0)
    while int(h3.str_to_int(h3.latlng_to_cell(lat, drift_lng, 8))) not in area_cells:
        lat += 0.0005  # a cell that overlaps the area
        drift_lng, _ = nairobi_area.offset(west, lat, -15, 0)
    far_lng, _ = nairobi_area.offset(west, lat, -5_000, 0)
    outline = shapely.union_all(list(nairobi_area.wards.values()))
    assert not outline.contains(shapely.Point(drift_lng, lat))
    drift = shapely.Point(drift_lng, lat)
    nearest = min(nairobi_area.wards, key=lambda w: nairobi_area.wards[w].distance(drift))
    path = tmp_path / "drift.csv"
    path.write_text(
        "date,peer_educator,team,latitude,longitude,contact_code\n"
        f"2026-08-01,PE01,T1,{lat:.6f},{drift_lng:.6f},DRIFT01\n"
        f"2026-08-02,PE01,T1,{lat:.6f},{far_lng:.6f},FAR0001\n",
        encoding="utf-8",
    )
    argv = ["import", "visits", str(path), "--workspace", str(nairobi_8.path)]
    assert main(argv) == 0
    assert "1 accepted" in capsys.readouterr().out  # the far one is refused
    assert main([*argv, "--allow-outside"]) == 0
    with nairobi_8.connect() as connection:
        rows = sorted(
            connection.execute(
                sa.select(store.visits.c.district_id, store.visits.c.district_estimated)
            ).all(),
            key=str,
        )
    assert rows == sorted([(nearest, False), (None, False)], key=str)


def test_rows_stored_before_show_as_estimated_in_explain(
    nairobi_area: Area,
    nairobi_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Migration 0007 gives old rows their cell's centre's district, estimated: --explain says
    how many, in English and Spanish; importing the file again makes them exact."""
    from test_migrations import _downgrade

    workspace = init_and_import(nairobi_files, tmp_path / "ws", 8)
    _downgrade(workspace, "0006")
    assert main(["migrate", "--workspace", str(workspace.path)]) == 0
    report = coverage(workspace, PERIOD)
    row = (
        report.districts.filter(pl.col("district_id").is_in(list(nairobi_area.wards)))
        .sort("visits", "district_id", descending=[True, False])
        .row(0, named=True)
    )
    ward = row["district_id"]
    assert row["visits_estimated"] == row["visits"] > 0
    assert row["hotspots_estimated"] == row["hotspots"]
    capsys.readouterr()
    argv = ["coverage", "--workspace", str(workspace.path), "--period", PERIOD]
    assert main([*argv, "--explain", ward]) == 0
    text = capsys.readouterr().out
    assert (
        f"estimated: {row['visits']} of {row['visits']} visits and {row['hotspots']} of "
        f"{row['hotspots']} hotspots had their district from their cell's centre"
    ) in text
    assert main(argv) == 0
    assert (
        "have the district of their cell's centre, not of their exact point"
        in capsys.readouterr().out
    )
    spanish = explain_district(report, ward, translator("es"))
    assert f"estimado: {row['visits']} de {row['visits']} visitas" in spanish
    # the files again: every district from its point, nothing added, the truth restored
    assert (
        main(
            [
                "import",
                "visits",
                str(nairobi_files["visits.csv"]),
                "--workspace",
                str(workspace.path),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "import",
                "hotspots",
                str(nairobi_files["hotspots.csv"]),
                "--workspace",
                str(workspace.path),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main([*argv, "--explain", ward]) == 0
    assert "estimated:" not in capsys.readouterr().out
    check_figures_equal_the_truth(nairobi_area, workspace, capsys, tmp_path)


def test_no_coordinate_is_written_anywhere(
    nairobi_area: Area, nairobi_at: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store, its write-ahead log, reports and exports hold no raw coordinate."""
    check_figures_equal_the_truth(nairobi_area, nairobi_at, capsys, tmp_path)
    points = [(h["latitude"], h["longitude"]) for h in nairobi_area.hotspots]
    points += [(v["latitude"], v["longitude"]) for v in nairobi_area.visits[::4] if v["latitude"]]
    needles: dict[str, bytes] = {}
    for point in points:
        for text in point:
            whole, decimals = text.lstrip("-").split(".")
            for places in (5, 6):
                short = f"{whole}.{decimals[:places]}"
                needles[f"text {short}"] = short.encode()
                for fmt in ("<d", ">d"):
                    needles[f"{fmt} {short}"] = struct.pack(
                        fmt, float(text[: len(text) - 6 + places])
                    )
    files = [p for p in nairobi_at.path.rglob("*") if p.is_file() and p.name != "secret.key"]
    files += list(tmp_path.glob("*.csv"))
    assert files
    found = [
        f"{label} in {path.name}"
        for path in files
        for label, needle in needles.items()
        if needle in path.read_bytes()
    ]
    assert found == []
