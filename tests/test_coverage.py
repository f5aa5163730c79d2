"""Coverage analytics on a hand-made area: every figure checked against a value worked by hand.

The area is four square districts side by side (A, B, C, D from west to east, each 0.05° wide).
A and B have registered hotspots; C has only a population (so its estimate is the prior); D has
neither (so its coverage is unknown). Visits are imported through the real pipeline.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import h3
import pgserver
import polars as pl
import pytest
import shapely
import sqlalchemy as sa
from helpers import csv_text

from mapping.analysis.coverage import (
    NO_LOCATION,
    OUTSIDE_AREA,
    CoverageOptions,
    CoverageReport,
    coverage,
    districts_with_geometry,
)
from mapping.analysis.coverage_data import (
    VISITS,
    _frame,
    _postgres_arrow_visits,
    _visits_query,
    load_coverage_data,
)
from mapping.analysis.gaps import SignalOptions, cell_signals, hotspot_gaps
from mapping.analysis.reports import coverage_text, explain_district, find_district, render
from mapping.analysis.siting import suggest_sites
from mapping.analysis.tables import (
    coverage_words,
    district_cells_table,
    district_in_words,
    findings_table,
    ranking_table,
)
from mapping.errors import InvalidInputError
from mapping.i18n import translator
from mapping.ingest.area import init_area
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_file
from mapping.periods import parse_period
from mapping.settings import Settings
from mapping.storage.copying import copy_store
from mapping.storage.workspace import Workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

WEST = -77.10
WIDTH = 0.05
SOUTH, NORTH = -12.10, -12.05
LAT = -12.075
#: Points well inside A, B and C, a second place in A far from the first, and one east of D.
A_POINT = (LAT, -77.075)
A_FAR = (-12.095, -77.095)
B_POINT = (LAT, -77.025)
C_POINT = (LAT, -76.975)
OUTSIDE = (LAT, -76.80)
#: Only key types the test sets up, so that the access gap is easy to work out by hand.
OPTIONS = replace(CoverageOptions(), key_service_types=("hiv_testing", "sti_clinic"))


def cell(point: tuple[float, float]) -> str:
    """The resolution-8 cell of a point."""
    return str(h3.latlng_to_cell(point[0], point[1], 8))


def border_point() -> tuple[float, float]:
    """A point in district A whose cell has its centre in district B (the cell crosses)."""
    for step in range(200):
        point = (LAT + step * 0.0005, -77.0502)
        centre_lng = h3.cell_to_latlng(cell(point))[1]
        if centre_lng > -77.05:
            return point
    raise AssertionError("no crossing cell found")


BORDER = border_point()


def border_shares() -> tuple[float, float]:
    """Shares of the border cell's area in A and in B, worked out with shapely directly."""
    polygon = shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(cell(BORDER))])
    in_a = polygon.intersection(shapely.box(WEST, SOUTH, WEST + WIDTH, NORTH)).area
    in_b = polygon.intersection(shapely.box(WEST + WIDTH, SOUTH, WEST + 2 * WIDTH, NORTH)).area
    return in_a / (in_a + in_b), in_b / (in_a + in_b)


def border_district() -> str:
    """The district holding the border point itself, by point in polygon (shapely)."""
    point = shapely.Point(BORDER[1], BORDER[0])
    for index, name in enumerate("ABCD"):
        if shapely.box(WEST + index * WIDTH, SOUTH, WEST + (index + 1) * WIDTH, NORTH).contains(
            point
        ):
            return name
    raise AssertionError("the border point is in no district")


@pytest.fixture
def area(tmp_path: Path, store_url: str | None) -> Workspace:
    """The four districts, with hotspots, services and visits imported."""
    districts = gpd.GeoDataFrame(
        {
            "id": ["A", "B", "C", "D"],
            "name": ["Alfa", "Bravo", "Charlie", "Delta"],
            "population": [100_000.0, 50_000.0, 20_000.0, None],
        },
        geometry=[
            shapely.box(WEST + i * WIDTH, SOUTH, WEST + (i + 1) * WIDTH, NORTH) for i in range(4)
        ],
        crs=4326,
    )
    workspace = init_area(
        tmp_path / "ws", districts, name="Test area", resolution=8, db_url=store_url
    )
    hotspots = tmp_path / "hotspots.csv"
    hotspots.write_text(
        csv_text(
            ("id", "cell", "typology", "days", "opening_hours", "size_min", "size_max"),
            [
                ("HA1", cell(A_POINT), "street", "Mo-Su", "20:00-04:00", 10, 20),
                ("HA2", cell(A_FAR), "bar", "Mo-Su", "20:00-04:00", 4, 6),
                ("HB1", cell(B_POINT), "bar", "Mo-Su", "20:00-04:00", 6, 10),
            ],
        ),
        encoding="utf-8",
    )
    assert hotspots_from_file(workspace, hotspots).accepted == 3
    services = tmp_path / "services.csv"
    services.write_text(
        csv_text(
            ("id", "name", "type", "cell", "friendly", "opening_hours", "active_until"),
            [
                # open in the evening, in HA1's own cell: serves HA1, too far for HA2
                ("S1", "Evening testing", "hiv_testing", cell(A_POINT), "yes", "18:00-23:00", ""),
                # the only current testing near HB1 is a daytime clinic; HB1 works at night
                ("S2", "Day clinic", "hiv_testing", cell(B_POINT), "yes", "Mo-Fr 08:00-16:00", ""),
                # a night service that closed before the period
                (
                    "S3",
                    "Closed unit",
                    "hiv_testing",
                    cell(B_POINT),
                    "yes",
                    "20:00-02:00",
                    "2026-06-30",
                ),
                # open at night but not friendly
                ("S4", "Public STI", "sti_clinic", cell(B_POINT), "no", "20:00-02:00", ""),
            ],
        ),
        encoding="utf-8",
    )
    assert services_from_file(workspace, services).accepted == 4
    visits = tmp_path / "visits.csv"
    visits.write_text(
        csv_text(
            (
                "date",
                "peer_educator",
                "team",
                "channel",
                "latitude",
                "longitude",
                "contact_code",
                "male_condoms",
                "referrals",
            ),
            [
                ("2026-05-10", "PE1", "T1", "in_person", *A_POINT, "AAA01", 4, ""),
                ("2026-07-05", "PE1", "T1", "in_person", *A_POINT, "AAA01", 10, "hiv_testing"),
                ("2026-07-06", "PE1", "T1", "in_person", *A_POINT, "BBB02", 5, ""),
                ("2026-07-20", "PE1", "T1", "in_person", *A_POINT, "BBB02", 5, "sti_clinic"),
                ("2026-09-20", "PE1", "T1", "in_person", *A_POINT, "BBB02", 0, ""),
                ("2026-08-01", "PE2", "T2", "in_person", *BORDER, "CCC03", 3, ""),
                ("2026-08-02", "PE2", "T2", "in_person", *B_POINT, "DDD04", 3, ""),
                ("2026-09-25", "PE2", "T2", "in_person", *B_POINT, "", 3, ""),
                ("2026-08-04", "PE2", "T2", "phone", "", "", "EEE05", 0, ""),
                ("2026-08-05", "PE2", "T2", "phone", "", "", "DDD04", 0, ""),
                ("2026-09-01", "PE2", "T2", "in_person", *C_POINT, "FFF06", 2, ""),
                ("2026-09-02", "PE3", "T3", "in_person", *OUTSIDE, "GGG07", 1, ""),
            ],
        ),
        encoding="utf-8",
    )
    result = visits_from_file(workspace, visits, allow_outside=True)
    assert (result.accepted, result.rejected) == (12, 0)
    return workspace


@pytest.fixture
def report(area: Workspace) -> CoverageReport:
    """Coverage of the hand-made area for 2026-Q3."""
    return coverage(area, "2026-Q3", options=OPTIONS)


def district(report: CoverageReport, district_id: str) -> dict[str, object]:
    """One row of the district table."""
    return report.districts.filter(pl.col("district_id") == district_id).row(0, named=True)


def test_cells(report: CoverageReport) -> None:
    """Per cell: visits, contacts new and returning, supplies, referrals, recency, hotspot."""
    cells = {row["cell_id"]: row for row in report.cells.iter_rows(named=True)}
    a = cells[cell(A_POINT)]
    assert (a["district_id"], a["visits"], a["contacts"]) == ("A", 4, 2)
    # AAA01 was first seen in May (returning); BBB02 first in July (new)
    assert (a["new_contacts"], a["returning_contacts"]) == (1, 1)
    assert a["male_condoms"] == 10 + 5 + 5 + 0  # the May visit is outside the period
    assert (a["referrals_hiv_testing"], a["referrals_sti_clinic"]) == (1, 1)
    assert (a["last_visit"], a["days_since_last_visit"]) == (dt.date(2026, 9, 20), 10)
    assert a["hotspot"] is True
    far = cells[cell(A_FAR)]
    assert (far["visits"], far["last_visit"], far["hotspot"]) == (0, None, True)
    b = cells[cell(B_POINT)]
    # a visit without a contact code counts as a visit, not as a contact
    assert (b["visits"], b["contacts"]) == (2, 1)


def test_a_visit_in_a_cell_crossing_a_border_counts_in_the_district_of_its_point(
    report: CoverageReport,
) -> None:
    """The border cell's centre is in B, but the visit's point is in A: the visit and its
    contact count, whole, in A (no figure is a share of a person)."""
    border = report.cells.filter(pl.col("cell_id") == cell(BORDER)).row(0, named=True)
    assert border["district_id"] == "B"  # a cell is listed under the district of its centre
    assert border_district() == "A"
    # A's piece of the cell is not a sliver, so the visit stays in its own cell
    share_a, share_b = border_shares()
    assert 1 / 7 <= share_a < 0.5 < share_b
    assert border["visits"] == 1
    a, b = district(report, "A"), district(report, "B")
    assert (a["visits"], b["visits"]) == (4 + 1, 2)
    # CCC03 was seen once, at the border point: a new contact of A
    assert (a["contacts"], b["contacts"]) == (2 + 1, 1)
    assert (a["new_contacts"], b["new_contacts"]) == (1 + 1, 1)
    for name in ("visits", "contacts", "new_contacts"):
        assert report.districts[name].dtype == pl.Int64
    # visits come with their points; HA1 and HA2 were given by cell id: estimated districts
    assert (a["visits_estimated"], a["hotspots_estimated"]) == (0, 2)


def test_phone_contacts_count_for_reach_but_not_for_any_cell(report: CoverageReport) -> None:
    """The two phone contacts are in the no-location row and the totals, in no cell."""
    no_location = district(report, NO_LOCATION)
    assert (no_location["visits"], no_location["contacts"]) == (2, 2)
    assert no_location["rank"] is None
    assert report.cells["visits"].sum() == 12 - 1 - 2  # in period, located (May excluded)
    assert report.totals["visits"] == 11
    assert report.totals["contacts"] == 7  # AAA01 BBB02 CCC03 DDD04 EEE05 FFF06 GGG07
    assert report.totals["visits_without_location"] == 2


def test_cells_outside_every_district_are_reported(report: CoverageReport) -> None:
    """The visit east of D is kept, in a row of its own, never in a district."""
    outside = district(report, OUTSIDE_AREA)
    assert (outside["visits"], outside["contacts"]) == (1, 1)
    assert report.totals["cells_outside_area"] == 1
    assert report.cells.filter(pl.col("cell_id") == cell(OUTSIDE))["district_id"][0] is None


def test_reach_estimate_and_coverage_interval(report: CoverageReport) -> None:
    """Estimates from hotspot ranges, else the population prior, else unknown."""
    a, b, c, d = (district(report, x) for x in "ABCD")
    assert (a["estimate_source"], a["estimate_min"], a["estimate_max"]) == ("hotspots", 14, 26)
    assert a["coverage_low"] == pytest.approx(3 / 26)
    assert a["coverage_high"] == pytest.approx(3 / 14)
    assert (b["estimate_min"], b["estimate_max"]) == (6, 10)
    assert b["coverage_high"] == pytest.approx(1 / 6)
    assert (c["estimate_source"], c["estimate_min"], c["estimate_max"]) == (
        "population prior",
        20,
        60,
    )
    assert (c["coverage_low"], c["coverage_high"]) == (pytest.approx(1 / 60), pytest.approx(1 / 20))
    assert d["estimate_source"] == "unknown"
    assert (d["coverage_low"], d["coverage_high"], d["gap_reach"]) == (None, None, None)
    assert "unknown" in coverage_text(report)


def test_outreach_recency_and_overdue(report: CoverageReport) -> None:
    """HA1 was visited 10 days before the period's end; HA2 never; HB1 5 days before."""
    hotspots = {row["id"]: row for row in report.hotspots.iter_rows(named=True)}
    assert (hotspots["HA1"]["visited_recently"], hotspots["HA1"]["overdue"]) == (True, False)
    assert (hotspots["HA2"]["days_since_last_visit"], hotspots["HA2"]["overdue"]) == (None, True)
    assert hotspots["HB1"]["days_since_last_visit"] == 5
    a = district(report, "A")
    assert (a["hotspots"], a["hotspots_visited_recently"], a["hotspots_overdue"]) == (2, 1, 1)
    assert a["gap_outreach"] == pytest.approx(5 / (15 + 5))  # weighted by size midpoints
    assert district(report, "C")["candidate_cells"] == 1  # FFF06's cell is not registered


def test_service_access_needs_a_friendly_service_open_at_the_hotspots_hours(
    area: Workspace, report: CoverageReport
) -> None:
    """HB1 (night) has a friendly daytime clinic, a closed night unit and an unfriendly one."""
    hotspots = {row["id"]: row for row in report.hotspots.iter_rows(named=True)}
    assert hotspots["HA1"]["reach_hiv_testing"] is True
    assert hotspots["HA1"]["minutes_hiv_testing"] == 0.0
    # HA2's cell centre is km away from S1's cell centre: x 1.3 at 4.5 km/h, over 30 minutes
    km = h3.great_circle_distance(
        h3.cell_to_latlng(cell(A_FAR)), h3.cell_to_latlng(cell(A_POINT)), unit="km"
    )
    assert hotspots["HA2"]["reach_hiv_testing"] is False
    assert hotspots["HA2"]["minutes_hiv_testing"] == pytest.approx(km * 1.3 / 4.5 * 60, abs=0.1)
    assert hotspots["HA2"]["minutes_hiv_testing"] > 30
    # the nearest testing open at HB1's hours is S1, far off in A
    assert hotspots["HB1"]["reach_hiv_testing"] is False
    assert hotspots["HB1"]["minutes_hiv_testing"] > 60
    assert hotspots["HB1"]["reach_sti_clinic"] is False
    assert district(report, "A")["access_hiv_testing"] == pytest.approx(15 / 20)
    assert district(report, "B")["access_hiv_testing"] == 0.0
    assert district(report, "C")["access_hiv_testing"] is None  # no hotspot: unknown

    # controls: the same data with each condition lifted gives access
    any_hours = coverage(area, "2026-Q3", options=replace(OPTIONS, min_overlap_minutes=0))
    assert district(any_hours, "B")["access_hiv_testing"] == 1.0  # the day clinic
    before_closing = coverage(area, "2026-Q2", options=OPTIONS)
    assert district(before_closing, "B")["access_hiv_testing"] == 1.0  # the closed unit
    unfriendly = coverage(area, "2026-Q3", options=replace(OPTIONS, require_friendly=False))
    assert district(unfriendly, "B")["access_sti_clinic"] == 1.0


def test_workload_and_gap_score(report: CoverageReport) -> None:
    """Peer educators split by their share of visits; the score follows docs/coverage.md."""
    a, b, c, d = (district(report, x) for x in "ABCD")
    # PE1: four visits in A. PE2: the border point (in A), two in B, one in C.
    assert a["peer_educators"] == pytest.approx(1 + 1 / 4)
    assert b["peer_educators"] == pytest.approx(2 / 4)
    assert c["peer_educators"] == 0.25
    assert b["workload_low"] == pytest.approx(6 / b["peer_educators"])
    reach_a = 1 - 3 / 20
    assert a["gap_reach"] == pytest.approx(reach_a)
    assert a["gap_access"] == pytest.approx(1 - (0.75 + 0) / 2)
    assert a["gap_workload"] == 0.0
    expected_a = 100 * (0.3 * reach_a + 0.2 * 0.25 + 0.3 * 0.625)
    assert a["gap_score"] == pytest.approx(expected_a, abs=0.05)
    expected_b = 100 * (0.3 * (1 - 1 / 8) + 0.3 * 1.0)
    assert b["gap_score"] == pytest.approx(expected_b, abs=0.05)
    # C: only the prior, no hotspot: reach and workload gaps only, half the weight known
    assert c["gap_workload"] == pytest.approx(1 - 0.25 * 90 / 40)
    assert c["gap_score"] == pytest.approx(100 * (0.3 * (1 - 1 / 40) + 0.2 * 0.4375), abs=0.051)
    assert c["known_weight"] == pytest.approx(0.5)
    assert d["gap_score"] == 0.0
    # districts with registered hotspots first, by score; then the prior; then unknown
    ranked = report.ranked()
    assert ranked["district_id"].to_list() == ["B", "A", "C", "D", NO_LOCATION, OUTSIDE_AREA]
    assert ranked["rank"].to_list()[:4] == [1, 2, 3, 4]


def test_explain_traces_each_figure_to_its_inputs(report: CoverageReport) -> None:
    """The explanation shows the inputs and the arithmetic of the row."""
    b = district(report, "B")
    text = explain_district(report, "bravo")
    assert "Bravo (B), period 2026-Q3, rank 1 of 4" in text
    assert f"reach: {b['contacts']:g} unique contacts ({b['new_contacts']:g} new)" in text
    assert "sum of the size ranges of 1 registered hotspots" in text
    assert f"coverage: {b['contacts']:g} / 10 to {b['contacts']:g} / 6 = " in text
    # the estimate's middle as its arithmetic on whole people: (6 + 10) / 2, no "8.0"
    assert f"reach    = 1 - min(1, {b['contacts']} / ((6 + 10) / 2)) = {b['gap_reach']:.3f}" in text
    assert f"= {b['gap_score']:.1f}" in text
    assert "population 20,000 x 1-3 per 1,000" in explain_district(report, "C")
    # HB1 was registered by its cell id: its district is the cell centre's, and that is said
    assert (
        "estimated: 0 of 2 visits and 1 of 1 hotspots had their district from their cell's "
        "centre" in text
    )
    assert "estimated:" not in explain_district(report, "C")
    with pytest.raises(InvalidInputError, match=r"district 'Echo' is not in this workspace"):
        explain_district(report, "Echo")


def test_json_output_has_no_nan_and_keeps_unplaced_rows(report: CoverageReport) -> None:
    """JSON is strict (no NaN) and lists the no-location and outside rows."""
    text = render(report.ranked(), "json", meta=report.totals)
    assert NO_LOCATION in text and OUTSIDE_AREA in text
    with pytest.raises(InvalidInputError, match="format 'xml' is not one of"):
        render(report.ranked(), "xml")


def test_fading_and_emerging_hotspots(area: Workspace, tmp_path: Path) -> None:
    """A registered cell whose visits stop is fading; a busy unregistered cluster is emerging."""
    rows = []
    # Q2: HB1 busy; Q3: nothing at HB1, a new cluster in C with a neighbour
    for day in range(1, 9):
        rows.append((f"2026-05-{day:02d}", "PE2", "T2", *B_POINT, f"Q2B{day}"))
    c_cell = cell(C_POINT)
    neighbour = sorted(h3.grid_ring(c_cell, 1))[0]
    n_lat, n_lng = h3.cell_to_latlng(neighbour)
    for day in range(1, 13):
        rows.append((f"2026-08-{day:02d}", "PE2", "T2", *C_POINT, f"Q3C{day}"))
    for day in range(1, 5):
        rows.append((f"2026-08-{day:02d}", "PE2", "T2", n_lat, n_lng, f"Q3N{day}"))
    path = tmp_path / "more.csv"
    path.write_text(
        csv_text(("date", "peer_educator", "team", "latitude", "longitude", "contact_code"), rows),
        encoding="utf-8",
    )
    assert visits_from_file(area, path).rejected == 0
    period = parse_period("2026-Q3")
    data = load_coverage_data(area, period)
    report = coverage(area, period, options=OPTIONS)
    signals = cell_signals(data, SignalOptions())
    c_row = signals.filter(pl.col("cell") == h3.str_to_int(c_cell)).row(0, named=True)
    assert (c_row["visits"], c_row["previous_visits"], c_row["registered"]) == (13, 0, False)
    assert c_row["z_score"] > 3 and c_row["p_value"] < 0.01
    gaps = hotspot_gaps(report, data)
    kinds = {(row["kind"], row["cell_id"]) for row in gaps.iter_rows(named=True)}
    assert ("emerging", c_cell) in kinds
    assert ("fading", cell(B_POINT)) in kinds  # 8 visits in Q2 (plus none before), 2 in Q3
    assert ("overdue", cell(A_FAR)) in kinds
    assert ("uncovered", cell(B_POINT)) in kinds
    assert ("fading", cell(A_POINT)) not in kinds
    only_c = hotspot_gaps(report, data, district_id="C")
    assert set(only_c["kind"]) == {"emerging"}


def test_suggest_sites(area: Workspace) -> None:
    """Testing is missing for HB1 and HA2: one new site cannot reach both, two can."""
    data = load_coverage_data(area, parse_period("2026-Q3"))
    one = suggest_sites(data, OPTIONS, service_type="hiv_testing", count=1)
    assert one.height == 1
    # HB1 (midpoint 8) weighs more than HA2 (midpoint 5)
    assert (one["hotspots_gained"][0], one["weight_gained"][0]) == (1, 8.0)
    assert (one["sex_workers_min"][0], one["sex_workers_max"][0]) == (6, 10)
    two = suggest_sites(data, OPTIONS, service_type="hiv_testing", count=5)
    assert two.height == 2  # a third site would add nothing
    assert two["cumulative_share"].to_list() == [pytest.approx(8 / 13, abs=1e-3), 1.0]
    assert set(two["district_id"]) <= {"A", "B"}
    with pytest.raises(InvalidInputError, match="service type 'clinic' is not one of"):
        suggest_sites(data, OPTIONS, service_type="clinic", count=1)
    with pytest.raises(InvalidInputError, match="count 0 is not a number of sites"):
        suggest_sites(data, OPTIONS, service_type="hiv_testing", count=0)


def test_periods() -> None:
    """Quarters, months and the last N days, and the period before each."""
    assert parse_period("2026-q1").previous() == parse_period("2025-Q4")
    assert parse_period("2026-03").days == 31
    last = parse_period(None, today=dt.date(2026, 12, 1))
    assert (last.start, last.end, last.days) == (dt.date(2026, 9, 3), dt.date(2026, 12, 1), 90)
    assert last.previous().end == dt.date(2026, 9, 2)
    with pytest.raises(InvalidInputError, match="there is no month 13"):
        parse_period("2026-13")
    with pytest.raises(InvalidInputError, match="'last-0-days' has no days"):
        parse_period("last-0-days")


def test_options_from_settings() -> None:
    """Deployments change defaults by environment; bad values are refused with the fix."""
    settings = Settings.from_env(
        {"OUTREACH_MAP_TRAVEL_SPEED_KMH": "15", "OUTREACH_MAP_KEY_SERVICE_TYPES": "prep_pep"}
    )
    options = CoverageOptions.from_settings(settings)
    assert options.key_service_types == ("prep_pep",)
    assert "15 km/h" in options.travel.describe()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="OUTREACH_MAP_DETOUR_FACTOR='lots' is not a number"):
        Settings.from_env({"OUTREACH_MAP_DETOUR_FACTOR": "lots"})
    bad = Settings.from_env({"OUTREACH_MAP_KEY_SERVICE_TYPES": "hiv_testing,clinic"})
    with pytest.raises(InvalidInputError, match="key service types clinic are not service types"):
        CoverageOptions.from_settings(bad)


def test_coverage_with_a_street_network(area: Workspace, tmp_path: Path) -> None:
    """The analytics run unchanged on a road network model (tests/test_travel.py checks it)."""
    from test_travel import river_town

    from mapping.travel import RoadNetworkTravel

    network = RoadNetworkTravel.from_file(river_town(tmp_path / "town.osm"))
    report = coverage(area, "2026-Q3", options=replace(OPTIONS, travel=network))
    hotspots = {row["id"]: row for row in report.hotspots.iter_rows(named=True)}
    assert hotspots["HA1"]["reach_hiv_testing"] is True  # S1 is in the same cell
    assert report.totals["travel"] == "street network town.osm at 4.5 km/h"
    assert report.ranked().height == 6


def test_a_period_not_ended_is_measured_today(area: Workspace) -> None:
    """Recency and overdue count from today, not from the period's future last day."""
    today = dt.date(2026, 9, 26)
    report = coverage(area, "2026-Q3", options=OPTIONS, today=today)
    assert report.totals["as_of"] == "2026-09-26"
    hotspots = {row["id"]: row for row in report.hotspots.iter_rows(named=True)}
    assert hotspots["HA1"]["days_since_last_visit"] == 6  # 2026-09-20
    assert "figures are as of today, 2026-09-26" in coverage_text(report)
    with pytest.raises(InvalidInputError, match="starts on 2026-10-01, after today"):
        coverage(area, "2026-Q4", options=OPTIONS, today=today)


def test_postgresql_reads_visits_through_connectorx_as_the_cursor_does(
    area: Workspace, postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the fast read gives the cursor's rows; if it cannot, the cursor reads."""
    name = f"connectorx_{os.getpid()}"
    url = pgserver.create_database(postgres_server, name)
    try:
        copy_store(area.db_url, url)
        on_server = replace(area, db_url=url)
        period = parse_period("2026-Q3")
        with on_server.connect() as connection:
            slow = _frame(connection, _visits_query(period, connection.dialect), VISITS)
            fast = _postgres_arrow_visits(connection, period)
        assert fast is not None
        assert fast.height == slow.height > 0
        assert fast.sort(fast.columns).equals(slow.sort(slow.columns))

        expected = coverage(area, "2026-Q3", options=OPTIONS)
        assert coverage(on_server, "2026-Q3", options=OPTIONS).districts.equals(expected.districts)

        def refuse(*_: object, **__: object) -> None:
            raise RuntimeError("error connecting to server")

        monkeypatch.setattr(pl, "read_database_uri", refuse)
        assert coverage(on_server, "2026-Q3", options=OPTIONS).districts.equals(expected.districts)
    finally:
        pgserver.drop_database(postgres_server, name)


def test_notes_for_missing_data(workspace: Workspace, area: Workspace) -> None:
    """An empty workspace, a period before the data, services without hours: each is said."""
    empty = coverage(workspace, "2026-Q3", options=OPTIONS)
    text = coverage_text(empty)
    assert "note: no visits imported yet — outreach-map import visits FILE" in text
    assert "note: no active hotspot registered" in text
    assert empty.ranked().filter(pl.col("rank").is_not_null()).height == 50
    data = load_coverage_data(workspace, parse_period("2026-Q3"))
    assert suggest_sites(data, OPTIONS, service_type="hiv_testing", count=3).height == 0
    early = coverage_text(coverage(area, "2025-Q1", options=OPTIONS))
    assert "no visits in this period; the store holds visits from 2026-05-10 to" in early
    with area.begin() as connection:
        connection.execute(sa.text("UPDATE services SET opening_hours = NULL WHERE id = 'S1'"))
    text = coverage_text(coverage(area, "2026-Q3", options=OPTIONS))
    assert "note: 1 active friendly services have no opening hours" in text


def test_more_reached_than_estimated_is_flagged(area: Workspace) -> None:
    """Reach above the estimate's maximum marks the estimate as too low."""
    report = coverage(area, "2026-Q3", options=OPTIONS)
    c = district(report, "C")
    assert c["estimate_too_low"] is False
    small = replace(OPTIONS, prior_per_1000=(0.01, 0.02))  # C: 0.2-0.4 sex workers
    c = district(coverage(area, "2026-Q3", options=small), "C")
    assert c["estimate_too_low"] is True
    assert "the estimate is too low" in explain_district(
        coverage(area, "2026-Q3", options=small), "C"
    )


def test_districts_are_found_by_id_or_name_in_any_spelling(report: CoverageReport) -> None:
    """Case, accents and spaces do not matter; a near miss gets a suggestion."""
    assert find_district(report.districts, " b ")["district"] == "Bravo"
    assert find_district(report.districts, "CHÁRLIE")["district_id"] == "C"
    with pytest.raises(InvalidInputError, match=r"district 'Brovo' .* did you mean 'Bravo'\?"):
        find_district(report.districts, "Brovo")
    with pytest.raises(InvalidInputError, match="lists the ids and names"):
        find_district(report.districts, "zzzz")
    with pytest.raises(InvalidInputError, match="'_no_location' is not in this workspace"):
        find_district(report.districts, NO_LOCATION)


def test_bad_periods_and_settings_are_refused() -> None:
    """Years far off, very long periods, and an overdue time shorter than 'recent'."""
    with pytest.raises(InvalidInputError, match="the year 0000 is outside 2000-2100"):
        parse_period("0000-Q1")
    with pytest.raises(InvalidInputError, match="the year 9999 is outside"):
        parse_period("9999-12")
    with pytest.raises(InvalidInputError, match="longer than ten years"):
        parse_period("last-5000-days")
    settings = Settings.from_env({"OUTREACH_MAP_OVERDUE_WEEKS": "3"})
    with pytest.raises(InvalidInputError, match=r"\(21 days\) is shorter than .*RECENT_DAYS=30"):
        CoverageOptions.from_settings(settings)


def test_districts_as_a_geodataframe(area: Workspace, report: CoverageReport) -> None:
    """The app draws the ranking on a map: the four districts with their squares."""
    frame = districts_with_geometry(area, report)
    assert sorted(frame["district_id"]) == ["A", "B", "C", "D"]
    assert frame.crs.to_epsg() == 4326
    a = frame[frame["district_id"] == "A"].iloc[0]
    assert a.geometry.equals(shapely.box(WEST, SOUTH, WEST + WIDTH, NORTH))
    assert a["gap_score"] == district(report, "A")["gap_score"]


def test_ranking_table_shows_whole_people_with_their_arithmetic(report: CoverageReport) -> None:
    """Five columns by default; reached of estimated, and coverage from those whole figures."""
    en = translator("en")
    table = ranking_table(report, en)
    assert table.columns == ["Rank", "District", "Gap score", "Reached of estimated", "Coverage"]
    rows = {row["District"]: row for row in table.iter_rows(named=True)}
    # A: 3 reached of 14-26: 3/26 = 11.5 % -> 12, 3/14 = 21.4 % -> 21
    assert (rows["Alfa"]["Reached of estimated"], rows["Alfa"]["Coverage"]) == (
        "3 of 14–26",
        "12–21 %",
    )
    # B: 1 of 6-10: 1/10 = 10 %, 1/6 = 16.7 % -> 17
    assert (rows["Bravo"]["Reached of estimated"], rows["Bravo"]["Coverage"]) == (
        "1 of 6–10",
        "10–17 %",
    )
    # C: the population prior, 20,000 x 1-3 per 1,000, says "about": 1/60 = 1.7 % -> 2, 1/20 = 5 %
    assert (rows["Charlie"]["Reached of estimated"], rows["Charlie"]["Coverage"]) == (
        "1 of about 20–60",
        "2–5 %",
    )
    assert rows["Delta"]["Coverage"] == "unknown"
    full = ranking_table(report, translator("es"), all_columns=True)
    spanish = {row["Distrito"]: row for row in full.iter_rows(named=True)}
    # peer educators: the people who worked there, and their time (1 + 1/4 in A: 125 %)
    assert (spanish["Alfa"]["Educadoras pares"], spanish["Alfa"]["Tiempo de educadoras"]) == (
        2,
        "125 %",
    )
    assert spanish["Bravo"]["Tiempo de educadoras"] == "50 %"
    assert spanish["Charlie"]["Estimadas"] == "unas 20–60"


def test_coverage_above_the_estimate_is_capped_with_its_reason(area: Workspace) -> None:
    """C with a tiny prior: 1 reached of 0 estimated shows 100 %, and says the estimate is low."""
    small = replace(OPTIONS, prior_per_1000=(0.01, 0.02))  # C: 0.2-0.4, rounded to 0-0
    report = coverage(area, "2026-Q3", options=small)
    en = translator("en")
    assert coverage_words(1, 0, 0, en) == "100 % (more than estimated)"
    assert coverage_words(130, 105, 177, en) == "73–100 %"  # 130/105 = 124 % stops at 100 %
    words = district_in_words(report, "C", en)
    assert "Coverage: 1 of about 0 estimated, 100 % (more than estimated)." in words
    assert any(
        line.startswith("More people were reached (1) than the whole estimate") for line in words
    )
    assert "shown as 100 %" in explain_district(report, "C")


def test_district_in_words_has_no_fraction_of_a_person(report: CoverageReport) -> None:
    """A's sentences: whole counts, the peer educators' time as a share of one person's."""
    words = district_in_words(report, "A", translator("en"))
    score = round(district(report, "A")["gap_score"])  # type: ignore[call-overload]
    assert words[0] == f"Alfa: rank 2 of 4 by gap score, {score} of 100 (0 is no gap)."
    assert "Coverage: 3 of 14–26 estimated, 12–21 %." in words
    peers = next(line for line in words if line.startswith("Peer educators"))
    # 2 people, 1.25 of one person's time; 14/1.25 = 11.2 and 26/1.25 = 20.8: about 11-21 each
    assert peers == (
        "Peer educators who worked here: 2; counted by the share of their visits made here, "
        "their time adds up to 125 % of one full-time peer educator. That is about 11–21 sex "
        "workers per full-time peer educator, against a norm of 90."
    )
    assert not any(re.search(r"\d\.\d", line) for line in words)
    french = district_in_words(report, "A", translator("fr"))
    assert "Couverture\u00a0: 3 sur 14–26 estimés, 12–21\u00a0%." in french


def test_cells_and_findings_tables_name_places_before_ids(
    report: CoverageReport, area: Workspace
) -> None:
    """Hotspot id and typology first, the cell id last; dates in words, days with plurals."""
    en = translator("en")
    cells = district_cells_table(report, "A", en)
    assert cells.columns == [
        "Registered hotspot",
        "Visits",
        "Unique contacts",
        "New contacts",
        "Last visit",
        "Cell",
    ]
    assert cells["Registered hotspot"][0] == "HA1 · Street"
    assert "00:00:00" not in " ".join(cells["Last visit"])
    # HA1 was last visited 10 days before the period's end (2026-09-30)
    assert cells.filter(pl.col("Registered hotspot") == "HA1 · Street")["Last visit"][0] == (
        "20 Sep 2026 (10 days ago)"
    )
    data = load_coverage_data(area, report.period)
    findings = hotspot_gaps(report, data)
    table = findings_table(report, findings, translator("es"))
    assert table.columns == ["Qué", "Punto de trabajo", "Distrito", "Detalle"]
    overdue = table.filter(pl.col("Qué") == "Atrasado")
    assert overdue["Punto de trabajo"].to_list() == ["HA2 · Bar o discoteca"]
    assert overdue["Detalle"].to_list() == ["nunca visitado"]
    assert "Celda" in findings_table(report, findings, translator("es"), all_columns=True).columns
