"""Coverage analytics on an area they were not written for: invented wards around Mombasa, Kenya.

The boundary file is a GeoPackage in a projected CRS (Arc 1960 / UTM zone 37S, metres), with
its own column names (``WARD_CODE``, ``WARD_NAME``, ``POP_2019``) and a ward made of two
separate parts: a mainland part and an island that lies closer to another ward than to its own
mainland. Every figure asserted below was worked out by hand from the rows written here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import h3
import polars as pl
import pytest
import shapely
from helpers import copy_workspace, query, write_csv
from pyproj import Transformer

from mapping.analysis.coverage import NO_LOCATION, OUTSIDE_AREA, CoverageReport, coverage
from mapping.ingest.area import districts_from_file, init_area
from mapping.ingest.batch import ImportResult
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_file
from mapping.storage.workspace import Workspace

#: Arc 1960 / UTM zone 37S: the CRS Kenyan survey data often comes in.
CRS = "EPSG:21037"
_TO_LONLAT = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)


def box(west: float, south: float, east: float, north: float) -> shapely.Polygon:
    """Return a rectangle in projected metres."""
    return shapely.box(west, south, east, north)


# Three invented wards, in metres (easting, northing), about 6 km across, near Mombasa.
# Ward 0602 is two separate parts: a mainland and an island 4 km south of ward 0601, much
# nearer to 0601 than to its own mainland, so only the real multipolygon places it in 0602.
WARDS = [
    ("0601", "Mji wa Kale", 24_320, box(570_000, 9_550_000, 576_000, 9_556_000)),
    (
        "0602",
        "Kisiwa cha Ndovu",
        18_650,
        shapely.MultiPolygon(
            [
                box(576_000, 9_550_000, 582_000, 9_556_000),
                box(571_000, 9_543_000, 574_000, 9_546_000),
            ]
        ),
    ),
    (
        "0603",
        "Ng'ombeni",
        15_760,
        shapely.Polygon(
            [
                (570_000, 9_556_000),
                (582_000, 9_556_000),
                (582_000, 9_561_000),
                (576_000, 9_563_000),
                (570_000, 9_561_000),
            ]
        ),
    ),
]

#: Points (easting, northing) at least 1 km inside their ward, so their cell is the ward's.
POINTS = {
    "old_town": (573_000, 9_553_000),  # 0601
    "old_town_west": (571_000, 9_551_000),  # 0601, another cell, 2.8 km from old_town
    "mainland": (579_000, 9_553_000),  # 0602, mainland part
    "island": (572_500, 9_544_500),  # 0602, island part
    "north": (576_000, 9_559_000),  # 0603
}


def lat_lon(name: str) -> tuple[str, str]:
    """Return a point's latitude and longitude as text, as a phone's GPS writes them."""
    lon, lat = _TO_LONLAT.transform(*POINTS[name])
    return f"{lat:.6f}", f"{lon:.6f}"


def cell_of(name: str, resolution: int = 8) -> int:
    """Return a point's H3 cell as the integer the store and the reports use."""
    lat, lon = lat_lon(name)
    return int(h3.str_to_int(h3.latlng_to_cell(float(lat), float(lon), resolution)))


VISITS_HEADER = (
    "date",
    "peer_educator",
    "team",
    "latitude",
    "longitude",
    "contact_code",
    "channel",
    "male_condoms",
)


def visit(
    date: str, worker: str, where: str | None, code: str, channel: str = "in_person"
) -> list[str]:
    """Return one visit row; ``where`` None is a visit without a location."""
    lat, lon = lat_lon(where) if where else ("", "")
    return [date, worker, "PWANI", lat, lon, code, channel, "5"]


VISITS = [
    # before 2026-Q3: only history, it makes KE-002 a returning contact
    visit("2026-05-20", "PE01", "old_town", "KE-002"),
    # ward 0601: 4 visits, contacts KE-001 (new) and KE-002 (returning)
    visit("2026-07-03", "PE01", "old_town", "KE-001"),
    visit("2026-07-10", "PE01", "old_town", "KE-001"),
    visit("2026-08-05", "PE02", "old_town_west", "KE-001"),
    visit("2026-08-05", "PE02", "old_town_west", "KE-002"),
    # ward 0602: 2 visits on the mainland, 2 on the island; contacts KE-001, KE-003, KE-004
    visit("2026-07-15", "PE03", "mainland", "KE-004"),
    visit("2026-07-15", "PE03", "mainland", "KE-001"),
    visit("2026-09-12", "PE03", "island", "KE-003"),
    visit("2026-09-19", "PE03", "island", "KE-003"),
    # ward 0603: one visit without a contact code
    visit("2026-08-30", "PE04", "north", ""),
    # phone contacts: counted, never placed
    visit("2026-08-20", "PE04", None, "KE-005", channel="phone"),
    visit("2026-09-01", "PE04", None, "KE-003", channel="phone"),
    # after 2026-Q3: not in the period
    visit("2026-10-05", "PE04", "north", "KE-006"),
]

HOTSPOTS_HEADER = (
    "id",
    "cell",
    "latitude",
    "longitude",
    "typology",
    "days",
    "hours",
    "size_min",
    "size_max",
)
HOTSPOTS = [
    # ward 0601: two sized hotspots, one given by its point, one by its H3 id
    ["H1", "", *lat_lon("old_town"), "street", "Fr-Su", "20:00-02:00", "10", "25"],
    [
        "H2",
        h3.int_to_str(cell_of("old_town_west")),
        "",
        "",
        "bar",
        "Mo-Sa",
        "18:00-23:00",
        "5",
        "15",
    ],
    # ward 0602: one hotspot on the island, size unknown, so the estimate is the prior
    ["H3", "", *lat_lon("island"), "lodge", "Th-Sa", "19:00-03:00", "", ""],
]

SERVICES_HEADER = ("id", "name", "type", "latitude", "longitude", "friendly", "opening_hours")
SERVICES = [
    # friendly testing by day: no hour in common with H1 (nights) or H2 (evenings)
    ["S1", "Day clinic", "vct", *lat_lon("old_town"), "yes", "Mo-Fr 08:00-17:00"],
    # friendly evening testing where H2 is: within reach of H2, 40+ minutes on foot from H1
    ["S3", "Evening testing", "hiv_testing", *lat_lon("old_town_west"), "yes", "Mo-Su 17:00-24:00"],
    # always open at H1, but not friendly: not recommended
    ["S4", "County hospital", "hiv_testing", *lat_lon("old_town"), "no", "24/7"],
    ["S2", "Drop-in", "drop_in", *lat_lon("mainland"), "yes", "Mo-Su 10:00-22:00"],
]


@dataclass
class Area:
    """The workspace built from the Kenyan file, what each import did, and one coverage run."""

    workspace: Workspace
    districts: gpd.GeoDataFrame
    imports: dict[str, ImportResult]
    report: CoverageReport


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Area:
    """Write the wards as a projected GeoPackage, build the workspace, import, run coverage."""
    folder = tmp_path_factory.mktemp("mombasa")
    wards = gpd.GeoDataFrame(
        {
            "WARD_CODE": [code for code, _, _, _ in WARDS],
            "WARD_NAME": [name for _, name, _, _ in WARDS],
            "POP_2019": [population for _, _, population, _ in WARDS],
            "SUBCOUNTY": ["Mvita", "Mvita", "Kisauni"],
        },
        geometry=[geometry for _, _, _, geometry in WARDS],
        crs=CRS,
    )
    boundaries = folder / "wards_arc1960.gpkg"
    wards.to_file(boundaries, driver="GPKG", layer="wards")
    districts = districts_from_file(
        boundaries, id_column="WARD_CODE", name_column="WARD_NAME", population_column="POP_2019"
    )
    workspace = init_area(folder / "workspace", districts, name="Mombasa", resolution=8)
    imports = {
        "visits": visits_from_file(
            workspace, write_csv(folder / "visits.csv", VISITS_HEADER, VISITS)
        ),
        "hotspots": hotspots_from_file(
            workspace, write_csv(folder / "hotspots.csv", HOTSPOTS_HEADER, HOTSPOTS)
        ),
        "services": services_from_file(
            workspace, write_csv(folder / "services.csv", SERVICES_HEADER, SERVICES)
        ),
    }
    report = coverage(workspace, "2026-Q3", today=dt.date(2026, 10, 15))
    return Area(workspace=workspace, districts=districts, imports=imports, report=report)


def rows_by_id(frame: pl.DataFrame, key: str = "district_id") -> dict[str, dict[str, object]]:
    """Return the rows of a frame as dictionaries keyed by one column."""
    return {row[key]: row for row in frame.iter_rows(named=True)}


def test_wards_are_read_from_a_projected_geopackage_with_other_columns(area: Area) -> None:
    """Ids, names and populations come from the named columns; polygons come back in lon/lat."""
    districts = area.districts
    assert districts.crs.to_epsg() == 4326
    assert list(districts["id"]) == ["0601", "0602", "0603"]
    assert list(districts["name"]) == ["Mji wa Kale", "Kisiwa cha Ndovu", "Ng'ombeni"]
    assert list(districts["population"]) == [24_320, 18_650, 15_760]
    island_ward = districts.geometry.iloc[1]
    assert island_ward.geom_type == "MultiPolygon"
    assert len(island_ward.geoms) == 2
    # near Mombasa (about 4°S, 39.6°E), not left in metres
    west, south, east, north = districts.total_bounds
    assert 39.5 < west < east < 39.8
    assert -4.2 < south < north < -3.9
    for name, (ward, part) in {
        "old_town": ("0601", None),
        "mainland": ("0602", 0),
        "island": ("0602", 1),
        "north": ("0603", None),
    }.items():
        lat, lon = (float(v) for v in lat_lon(name))
        point = shapely.Point(lon, lat)
        geometry = districts.set_index("id").geometry[ward]
        assert geometry.contains(point), name
        if part is not None:
            assert geometry.geoms[part].contains(point), name


def test_area_cells_follow_every_part_of_a_multipolygon(area: Area) -> None:
    """The island's cells belong to its own ward although another ward is nearer."""
    stored = dict(query(area.workspace, "SELECT cell, district_id FROM area_cells"))
    assert stored[cell_of("island")] == "0602"
    assert stored[cell_of("mainland")] == "0602"
    assert stored[cell_of("old_town")] == "0601"
    assert stored[cell_of("old_town_west")] == "0601"
    assert stored[cell_of("north")] == "0603"
    assert set(stored.values()) == {"0601", "0602", "0603"}


def test_every_row_of_every_file_is_accepted_without_warnings(area: Area) -> None:
    """The English headers are recognised and nothing is rejected, dropped or ignored."""
    expected = {"visits": len(VISITS), "hotspots": len(HOTSPOTS), "services": len(SERVICES)}
    for kind, result in area.imports.items():
        assert (result.rows_read, result.accepted, result.duplicates, result.rejected) == (
            expected[kind],
            expected[kind],
            0,
            0,
        ), result.summary()
        assert result.warnings == [], kind


def test_every_ward_appears_with_its_name_and_reach(area: Area) -> None:
    """Visits, contacts and new contacts per ward, the island's visits counted for its ward."""
    districts = area.report.districts
    rows = rows_by_id(districts)
    assert set(rows) == {"0601", "0602", "0603", NO_LOCATION}
    assert OUTSIDE_AREA not in rows
    assert {k: rows[k]["district"] for k in ("0601", "0602", "0603")} == {
        "0601": "Mji wa Kale",
        "0602": "Kisiwa cha Ndovu",
        "0603": "Ng'ombeni",
    }
    reach = {k: (row["visits"], row["contacts"], row["new_contacts"]) for k, row in rows.items()}
    assert reach == {
        # KE-001 first seen in the period (new), KE-002 first seen in May (returning)
        "0601": (4, 2, 1),
        # KE-004 and KE-001 on the mainland, KE-003 twice on the island
        "0602": (4, 3, 3),
        # a visit without a contact code; October's visit is after the period
        "0603": (1, 0, 0),
        # the two phone contacts
        NO_LOCATION: (2, 2, 2),
    }
    assert rows[NO_LOCATION]["rank"] is None
    assert rows[NO_LOCATION]["district"] == "(no location: phone, SMS, online)"


def test_estimates_come_from_hotspots_or_from_the_population_prior(area: Area) -> None:
    """Sized hotspots give the estimate; without them population x 1-3 per 1000, rounded."""
    rows = rows_by_id(area.report.districts)
    estimates = {
        k: (
            rows[k]["estimate_source"],
            rows[k]["hotspots"],
            rows[k]["hotspots_with_size"],
            rows[k]["estimate_min"],
            rows[k]["estimate_max"],
        )
        for k in ("0601", "0602", "0603")
    }
    assert estimates == {
        # H1 10-25 plus H2 5-15
        "0601": ("hotspots", 2, 2, 15.0, 40.0),
        # one hotspot (on the island) of unknown size: 18,650 x 1/1000 = 18.65, x 3 = 55.95
        "0602": ("population prior", 1, 0, 19.0, 56.0),
        # no hotspot: 15,760 x 1/1000 = 15.76, x 3 = 47.28
        "0603": ("population prior", 0, 0, 16.0, 47.0),
    }
    coverage_range = {
        k: (rows[k]["coverage_low"], rows[k]["coverage_high"]) for k in ("0601", "0602", "0603")
    }
    assert coverage_range == {
        "0601": (pytest.approx(2 / 40), pytest.approx(2 / 15)),
        "0602": (pytest.approx(3 / 56), pytest.approx(3 / 19)),
        "0603": (0.0, 0.0),
    }
    # the ward the programme has mapped comes first in the ranking
    ranked = area.report.ranked()
    assert ranked["district_id"].to_list()[0] == "0601"
    assert sorted(ranked["rank"].drop_nulls().to_list()) == [1, 2, 3]


def test_cells_hold_located_visits_only_and_totals_hold_all(area: Area) -> None:
    """The island cell is in its ward; phone contacts are in the totals but in no cell."""
    cells = rows_by_id(area.report.cells, key="cell")
    figures = {
        cell: (row["district_id"], row["visits"], row["contacts"], row["new_contacts"])
        for cell, row in cells.items()
    }
    assert figures == {
        cell_of("old_town"): ("0601", 2, 1, 1),
        cell_of("old_town_west"): ("0601", 2, 2, 1),
        cell_of("mainland"): ("0602", 2, 2, 2),
        cell_of("island"): ("0602", 2, 1, 1),
        cell_of("north"): ("0603", 1, 0, 0),
    }
    island = cells[cell_of("island")]
    assert island["cell_id"] == h3.int_to_str(cell_of("island"))
    assert island["last_visit"] == dt.date(2026, 9, 19)
    assert island["days_since_last_visit"] == 11
    assert island["hotspot"] is True
    assert cells[cell_of("old_town")]["returning_contacts"] == 0
    assert cells[cell_of("old_town_west")]["returning_contacts"] == 1
    assert cells[cell_of("north")]["last_visit"] == dt.date(2026, 8, 30)
    assert sum(row["visits"] for row in cells.values()) == 9
    assert sum(row["male_condoms"] for row in cells.values()) == 9 * 5

    totals = area.report.totals
    assert {k: totals[k] for k in ("period", "start", "end")} == {
        "period": "2026-Q3",
        "start": "2026-07-01",
        "end": "2026-09-30",
    }
    assert (totals["visits"], totals["contacts"], totals["visits_without_location"]) == (11, 5, 2)
    assert totals["cells_outside_area"] == 0


def test_hotspots_reach_friendly_services_open_during_their_hours(area: Area) -> None:
    """Each hotspot is in its ward (the island's too); access counts only usable services."""
    hotspots = rows_by_id(area.report.hotspots, key="id")
    assert {k: row["district_id"] for k, row in hotspots.items()} == {
        "H1": "0601",
        "H2": "0601",
        "H3": "0602",
    }
    # H1 works Fr-Su 20:00-02:00: the day clinic is closed then and the hospital is not
    # friendly, so its nearest testing is the evening service 2.8 km away (x 1.3 at 4.5 km/h)
    assert 30 < hotspots["H1"]["minutes_hiv_testing"] < 60
    assert hotspots["H1"]["reach_hiv_testing"] is False
    assert hotspots["H2"]["minutes_hiv_testing"] < 10
    assert hotspots["H2"]["reach_hiv_testing"] is True
    # the island is 9 km from the nearest friendly testing
    assert hotspots["H3"]["reach_hiv_testing"] is False
    assert hotspots["H3"]["weight"] == pytest.approx((17.5 + 10) / 2)
    rows = rows_by_id(area.report.districts)
    # H1 weighs (10+25)/2 = 17.5 and H2 (5+15)/2 = 10; only H2 reaches testing
    assert rows["0601"]["access_hiv_testing"] == pytest.approx(10 / 27.5)
    assert rows["0602"]["access_hiv_testing"] == 0.0
    assert rows["0603"]["access_hiv_testing"] is None


def test_hotspots_with_unknown_days_or_hours_work_at_any_such_time(
    area: Area, tmp_path: Path
) -> None:
    """Missing hours mean the whole day and missing days every day (see hours.working_mask)."""
    workspace = copy_workspace(area.workspace.path, tmp_path / "copy")
    more = [
        # neither days nor hours: any time, so the evening testing in its cell is usable
        ["H4", "", *lat_lon("old_town_west"), "street", "", "", "", ""],
        # weekdays, hours unknown: the whole day, so the day clinic in its cell is usable
        ["H5", "", *lat_lon("old_town"), "bar", "Mo-Fr", "", "", ""],
        # evenings, days unknown: every day, so the drop-in (to 22:00) in its cell is usable
        ["H6", "", *lat_lon("mainland"), "street", "", "20:00-23:00", "", ""],
    ]
    result = hotspots_from_file(workspace, write_csv(tmp_path / "more.csv", HOTSPOTS_HEADER, more))
    assert (result.accepted, result.rejected, result.warnings) == (3, 0, [])

    report = coverage(workspace, "2026-Q3")

    hotspots = rows_by_id(report.hotspots, key="id")
    assert hotspots["H4"]["reach_hiv_testing"] is True
    assert hotspots["H4"]["minutes_hiv_testing"] < 10
    assert hotspots["H5"]["reach_hiv_testing"] is True
    assert hotspots["H5"]["minutes_hiv_testing"] < 10
    assert hotspots["H6"]["reach_drop_in_centre"] is True
    assert hotspots["H6"]["minutes_drop_in_centre"] < 10
