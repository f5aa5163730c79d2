"""Hotspots are listed, found overdue, planned and sited in their stored district, not their cell's.

The wards of tests/test_gaps.py (around Nairobi and around Manila): hotspot HW stands at a venue
in ward W whose cell's centre lies in ward E, and HS in ward S, 300 m across, smaller than a cell.
The ward each consumer names is checked against shapely's point in polygon on the raw points.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h3
import polars as pl
import pytest
import shapely
from helpers import csv_text
from test_gaps import CENTRES, RESOLUTION, Area, build_area, import_visits, register

from mapping.analysis.coverage import CoverageOptions, coverage_from_data, hotspot_access
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.gaps import hotspot_gaps
from mapping.analysis.siting import suggest_sites
from mapping.ingest.registry_files import services_from_file
from mapping.periods import parse_period
from mapping.planning.plans import PlanOptions, plan_routes
from mapping.planning.runsheet import runsheet_csv
from mapping.registries.hotspots import hotspot_registry

#: A Saturday night to plan, the moment it is planned, and the day figures are measured at.
NIGHT = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 27, 12, 0)
TODAY = dt.date(2026, 11, 27)
FAST = PlanOptions(search_seconds=0.3)
NAMES = {"W": "Magharibi", "E": "Mashariki", "S": "Kidogo"}


@pytest.fixture(params=sorted(CENTRES))
def wards(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Area, dict[str, tuple[float, float]]]:
    """The wards with three hotspots (HW, HE, HS), a drop-in centre in E, and November visits."""
    area = build_area(tmp_path / "ws", CENTRES[request.param])
    lat, lng = area.centre(area.x)
    small = area.wards["S"].centroid
    hotspots = {
        "HW": area.venue_w,
        "HE": (lat - 0.006, lng + 0.006),
        "HS": (small.y, small.x),
    }
    # HS's cell has its centre outside S: S is smaller than a cell and may own no cell centre
    assert area.ward_of(area.centre(h3.latlng_to_cell(*hotspots["HS"], RESOLUTION))) != "S"
    register(area, tmp_path, hotspots)
    services = tmp_path / "services.csv"
    services.write_text(
        csv_text(
            ("id", "name", "type", "latitude", "longitude", "friendly", "opening_hours"),
            [("DIC", "Drop-in centre", "drop_in_centre", lat, lng + 0.002, "yes", "24/7")],
        ),
        encoding="utf-8",
    )
    assert services_from_file(area.workspace, services).accepted == 1
    days = [dt.date(2026, 11, d) for d in (3, 10, 17)]
    # HW is never visited (overdue); HE and HS were visited this month
    import_visits(area, tmp_path, [(hotspots[h], d) for h in ("HE", "HS") for d in days], "nov")
    return area, hotspots


def test_the_registry_lists_each_hotspot_in_its_own_ward(wards: tuple[Area, dict]) -> None:
    area, hotspots = wards
    listed = dict(hotspot_registry(area.workspace).select("id", "district").rows())
    assert listed == {h: NAMES[area.ward_of(p)] for h, p in hotspots.items()}
    assert listed["HW"] == "Magharibi" and listed["HS"] == "Kidogo"


def test_gaps_and_coverage_find_a_hotspot_in_its_own_ward(wards: tuple[Area, dict]) -> None:
    area, hotspots = wards
    data = load_coverage_data(area.workspace, parse_period("2026-11"), today=TODAY)
    access = hotspot_access(data, CoverageOptions())
    truth = {h: area.ward_of(p) for h, p in hotspots.items()}
    assert dict(access.select("id", "district_id").rows()) == truth
    report = coverage_from_data(data, CoverageOptions())
    gaps = hotspot_gaps(report, data)
    overdue = gaps.filter(pl.col("kind") == "overdue")
    assert overdue.select("hotspot_id", "district_id", "district").rows() == [
        ("HW", "W", "Magharibi")
    ]
    assert (
        hotspot_gaps(report, data, district_id="E").filter(pl.col("kind") == "overdue").is_empty()
    )
    # the coverage table counts each ward's hotspots in the same ward
    counted = dict(report.districts.select("district_id", "hotspots").drop_nulls().rows())
    assert {d: counted[d] for d in NAMES} == {"W": 1, "E": 1, "S": 1}


def test_a_plan_names_each_stops_own_ward(wards: tuple[Area, dict]) -> None:
    area, hotspots = wards
    (plan,) = plan_routes(
        area.workspace,
        teams=["T1"],
        day=NIGHT,
        start="DIC",
        hours="20:00-02:00",
        options=FAST,
        now=NOW,
    )
    stops = dict(plan.stops.select("hotspot_id", "district").rows())
    assert stops == {h: NAMES[area.ward_of(hotspots[h])] for h in stops}
    assert set(stops) == {"HW", "HE", "HS"}
    sheet = runsheet_csv(plan).decode("utf-8")
    assert "Magharibi" in sheet and "Kidogo" in sheet


def test_a_suggested_site_is_in_the_ward_of_its_cells_centre(wards: tuple[Area, dict]) -> None:
    """A site is a cell, not a point: its ward is the one holding the cell's centre."""
    area, _ = wards
    data = load_coverage_data(area.workspace, parse_period("2026-11"), today=TODAY)
    sites = suggest_sites(data, CoverageOptions(), service_type="hiv_testing", count=2)
    assert sites.height >= 1
    for row in sites.iter_rows(named=True):
        lat, lng = h3.cell_to_latlng(row["cell_id"])
        (ward,) = [w for w, g in area.wards.items() if g.covers(shapely.Point(lng, lat))]
        assert (row["district_id"], row["district"]) == (ward, NAMES[ward])
