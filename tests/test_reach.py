"""The funder's reach: released figures checked by hand, the rule, targets, the CSV, an attack.

The area is the real Lima/Callao workspace (empty), with visits imported through the real
pipeline into three neighbouring districts (San Isidro, La Victoria, San Borja) at points whose
cells lie wholly inside them, so every count is a whole number worked out below.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re
from pathlib import Path

import geopandas as gpd
import h3
import polars as pl
import pytest
import shapely
from helpers import DISTRICTS_SOURCE, csv_text
from streamlit.testing.v1 import AppTest

from mapping.area import hotspots_from_file
from mapping.coverage import NO_LOCATION, coverage
from mapping.errors import InvalidInputError
from mapping.i18n import translator
from mapping.maps import DEFAULT_ASSETS_URL, district_layers
from mapping.reach import (
    HIDDEN_FILL,
    REACH_COLOURS,
    TARGETS_FILE,
    ReachOptions,
    ReachRelease,
    ReachSettings,
    SuppressAndRound,
    reach_csv,
    reach_layer,
    reach_legend,
    reach_map,
    reach_release,
    reach_table,
    reach_trend,
)
from mapping.visits import visits_from_file
from mapping.workspace import Workspace, open_workspace

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TODAY = dt.date(2026, 6, 15)  # 2026-Q2 has not ended
SAN_ISIDRO, LA_VICTORIA, SAN_BORJA, SAN_LUIS = "PE-150131", "PE-150115", "PE-150130", "PE-150134"
HEADER = ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code")
#: Unique contacts per district and quarter in the hand-made visits, and what is released
#: (k = 11: under 11 hidden, others to the nearest 5, never under 15).
PLAN = {
    ("2026-Q1", SAN_ISIDRO): (23, 25),
    ("2026-Q1", LA_VICTORIA): (11, 15),
    ("2026-Q1", SAN_BORJA): (7, None),
    ("2026-Q1", NO_LOCATION): (14, 15),
    ("2026-Q2", SAN_ISIDRO): (13, 15),
    ("2026-Q2", LA_VICTORIA): (18, 20),
    ("2026-Q2", SAN_BORJA): (12, 15),
    ("2026-Q2", NO_LOCATION): (3, None),
}


def inner_point(district_id: str) -> tuple[float, float]:
    """A point of the district whose resolution-8 cell lies wholly inside it (no split)."""
    districts = gpd.read_file(DISTRICTS_SOURCE)
    shape = districts.loc[districts["district_id"] == district_id, "geometry"].iloc[0]
    west, south, east, north = shape.bounds
    for i, j in itertools.product(range(1, 40), repeat=2):
        lat, lng = south + (north - south) * i / 40, west + (east - west) * j / 40
        cell = h3.latlng_to_cell(lat, lng, 8)
        polygon = shapely.Polygon([(x, y) for y, x in h3.cell_to_boundary(cell)])
        if shape.contains_properly(polygon):
            return lat, lng
    raise AssertionError(f"no whole cell inside {district_id}")


POINTS = {d: inner_point(d) for d in (SAN_ISIDRO, LA_VICTORIA, SAN_BORJA, SAN_LUIS)}


def visit_rows(quarter: str, district: str, contacts: int, prefix: str) -> list[tuple[object, ...]]:
    """One visit per contact (and a second for the first three), in the quarter's 2nd month."""
    year, number = int(quarter[:4]), int(quarter[-1])
    day = dt.date(year, 3 * number - 1, 10)
    lat, lng = ("", "") if district == NO_LOCATION else POINTS[district]
    channel = "phone" if district == NO_LOCATION else "in_person"
    rows = []
    for index in range(contacts):
        code = f"{prefix}-{index:03d}"
        rows.append((day.isoformat(), "PE1", "T1", channel, lat, lng, code))
        if index < 3:
            later = day + dt.timedelta(days=5)
            rows.append((later.isoformat(), "PE2", "T1", channel, lat, lng, code))
    return rows


def import_visits(workspace: Workspace, rows: list[tuple[object, ...]], name: str) -> None:
    path = workspace.path.parent / f"{name}.csv"
    path.write_text(csv_text(HEADER, rows), encoding="utf-8")
    result = visits_from_file(workspace, path)
    assert (result.accepted, result.rejected) == (len(rows), 0), result


@pytest.fixture
def area(workspace: Workspace) -> Workspace:
    """The Lima workspace with the visits of :data:`PLAN`, one old visit, and hotspots."""
    rows: list[tuple[object, ...]] = []
    for (quarter, district), (contacts, _) in PLAN.items():
        # Q2's contacts in San Isidro are Q1's people again: each quarter counts on its own
        prefix = f"{district}-Q1" if (quarter, district) == ("2026-Q2", SAN_ISIDRO) else None
        rows += visit_rows(quarter, district, contacts, prefix or f"{district}-{quarter}")
    rows.append(("2024-08-01", "PE1", "T1", "in_person", *POINTS[SAN_ISIDRO], "OLD-001"))
    import_visits(workspace, rows, "visits")
    hotspots = workspace.path.parent / "hotspots.csv"
    cell = {d: h3.latlng_to_cell(*POINTS[d], 8) for d in POINTS}
    hotspots.write_text(
        csv_text(
            ("id", "cell", "typology", "size_min", "size_max"),
            [
                # San Isidro: 30-50 sex workers, midpoint 40, target 80 % = 32 -> 30
                ("HS1", cell[SAN_ISIDRO], "street", 20, 30),
                ("HS2", cell[SAN_ISIDRO], "bar", 10, 20),
                # La Victoria: 4-8, under k: no target from so small an estimate
                ("HV1", cell[LA_VICTORIA], "bar", 4, 8),
            ],
        ),
        encoding="utf-8",
    )
    assert hotspots_from_file(workspace, hotspots).accepted == 3
    return workspace


@pytest.fixture
def release(area: Workspace) -> ReachRelease:
    return reach_release(area, options=ReachOptions(), today=TODAY)


def figure(release: ReachRelease, quarter: str, district_id: str) -> dict[str, object]:
    rows = release.figures.filter(
        (pl.col("quarter") == quarter) & (pl.col("district_id") == district_id)
    )
    assert rows.height == 1, (quarter, district_id, rows)
    return rows.row(0, named=True)


def test_raw_counts_are_the_hand_made_ones(area: Workspace) -> None:
    """The coverage analytics count the planned people (so the release below starts right)."""
    for quarter in ("2026-Q1", "2026-Q2"):
        districts = coverage(area, quarter, today=TODAY).districts
        counts = dict(zip(districts["district_id"], districts["contacts"], strict=True))
        for (planned_quarter, district), (contacts, _) in PLAN.items():
            if planned_quarter == quarter:
                assert counts[district] == contacts, (quarter, district)


def test_released_figures_are_hidden_under_k_and_rounded_to_5(release: ReachRelease) -> None:
    # the release holds released figures only: no raw count travels with it
    assert release.figures.columns == [
        "quarter",
        "district_id",
        "district",
        "reach",
        "target",
        "target_source",
        "percent",
    ]
    for (quarter, district), (_, released) in PLAN.items():
        assert figure(release, quarter, district)["reach"] == released, (quarter, district)
    # every other district, visited or not, reads the same: hidden
    others = release.figures.filter(
        ~pl.col("district_id").is_in([SAN_ISIDRO, LA_VICTORIA, SAN_BORJA, NO_LOCATION])
    )
    assert others.height == 6 * 47
    assert others["reach"].null_count() == others.height
    released = release.figures["reach"].drop_nulls()
    assert (released % 5 == 0).all() and released.min() == 15


def test_a_workspace_without_visits_releases_nothing(workspace: Workspace) -> None:
    release = reach_release(workspace, today=TODAY)
    assert release.quarters == () and release.figures.is_empty()
    assert release.totals().is_empty()


def test_quarters_are_the_last_six_up_to_the_latest_visit(release: ReachRelease) -> None:
    """The 2024 visit is more than six quarters back; quarters without visits are kept."""
    labels = [q.label for q in release.quarters]
    assert labels == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert not release.is_complete("2026-Q2") and release.is_complete("2026-Q1")
    assert set(release.figures["quarter"]) == set(labels)
    # every district and the no-location row in every quarter
    assert release.figures.group_by("quarter").len()["len"].to_list() == [51] * 6


def test_totals_add_up_the_released_figures_only(release: ReachRelease) -> None:
    totals = {row["quarter"]: row for row in release.totals().iter_rows(named=True)}
    assert totals["2026-Q1"]["reach"] == 25 + 15 + 15  # San Borja's 7 are not in it
    assert totals["2026-Q2"]["reach"] == 15 + 20 + 15  # nor the 3 phone contacts
    assert totals["2025-Q3"]["reach"] == 0
    for quarter, row in totals.items():
        shown = release.figures.filter(pl.col("quarter") == quarter)["reach"].sum()
        assert row["reach"] == shown
    trend = reach_trend(release, translator("en"))
    assert trend["Reach"].to_list() == [0, 0, 0, 0, 55, 50]
    borja = reach_trend(release, translator("en"), district_id=SAN_BORJA)
    assert borja["Reach"].to_list() == [None, None, None, None, None, 15]


def test_targets_from_the_size_estimate(release: ReachRelease) -> None:
    """80 % of the hotspot estimate's midpoint, to 5; none from a small estimate or a prior."""
    san_isidro = figure(release, "2026-Q1", SAN_ISIDRO)
    assert (san_isidro["target"], san_isidro["target_source"]) == (30, "estimate")
    assert san_isidro["percent"] == round(100 * 25 / 30)
    assert figure(release, "2026-Q2", SAN_ISIDRO)["percent"] == 50
    assert figure(release, "2026-Q1", LA_VICTORIA)["target"] is None  # estimate 4-8 < k
    assert figure(release, "2026-Q1", SAN_BORJA)["target"] is None  # population prior only
    assert release.figures["target"].drop_nulls().unique().to_list() == [30]
    q1 = release.totals().filter(pl.col("quarter") == "2026-Q1").row(0, named=True)
    assert (q1["target"], q1["percent"]) == (30, 83)


def test_targets_file_overrides_the_estimate(area: Workspace) -> None:
    (area.path / TARGETS_FILE).write_text(
        f"district_id,quarter,target\n{SAN_BORJA},2026-Q2,20\n{SAN_ISIDRO},2026q1,50\n",
        encoding="utf-8",
    )
    release = reach_release(area, today=TODAY)
    borja = figure(release, "2026-Q2", SAN_BORJA)
    assert (borja["target"], borja["target_source"], borja["percent"]) == (20, TARGETS_FILE, 75)
    assert figure(release, "2026-Q1", SAN_ISIDRO)["target"] == 50
    assert figure(release, "2026-Q2", SAN_ISIDRO)["target_source"] == "estimate"
    q2 = release.totals().filter(pl.col("quarter") == "2026-Q2").row(0, named=True)
    # like for like: the reach of the districts with a target over their targets
    assert (q2["target"], q2["percent"]) == (30 + 20, round(100 * (15 + 15) / 50))


def test_a_targets_file_with_problems_is_refused_whole(area: Workspace) -> None:
    (area.path / TARGETS_FILE).write_text(
        "district_id,quarter,target\n"
        f"{SAN_BORJA},2026-Q2,20\n"
        "PE-999999,2026-Q2,10\n"
        f"{SAN_BORJA},2026-07,ten\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError) as caught:
        reach_release(area, today=TODAY)
    message = str(caught.value)
    assert "3 problem(s), no target used" in message
    assert "row 3: district PE-999999 is not a district of this area" in message
    assert "row 4: quarter 2026-07 is not a quarter — write 2026-Q3" in message
    assert "row 4: target ten is not a whole number of people" in message


@pytest.mark.parametrize("k", [0, 4])
def test_a_minimum_count_under_5_is_refused(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match=rf"minimum count k = {k} is below 5: .* set "):
        SuppressAndRound(min_count=k)
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", str(k))
    with pytest.raises(InvalidInputError, match=r"OUTREACH_MAP_MIN_COUNT to 5 or more"):
        ReachOptions.from_settings()


def test_k_is_a_setting(area: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", "5")
    release = reach_release(area, today=TODAY)
    assert figure(release, "2026-Q1", SAN_BORJA)["reach"] == 5  # 7 people, to the nearest 5
    assert figure(release, "2026-Q2", NO_LOCATION)["reach"] is None  # 3 people
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", "eleven")
    with pytest.raises(ValueError, match="OUTREACH_MAP_MIN_COUNT='eleven' is not a whole number"):
        ReachSettings.from_env()


@pytest.mark.parametrize(
    ("count", "released"),
    [(0, None), (10.99, None), (11, 15), (12.4, 15), (17.4, 15), (17.5, 20), (22.5, 25)],
)
def test_rounding(count: float, released: int | None) -> None:
    assert SuppressAndRound(min_count=11).release(pl.Series([count])).to_list() == [released]


def test_the_csv_is_the_table_shown(area: Workspace, release: ReachRelease) -> None:
    for language in ("en", "es"):
        t = translator(language)
        for quarter in ("2026-Q1", "2026-Q2"):
            table = reach_table(release, quarter, t)
            data = reach_csv(table)
            assert data.startswith("\ufeff".encode())
            back = pl.read_csv(io.BytesIO(data), schema=table.schema)
            assert back.equals(table)
            assert data.decode("utf-8-sig").splitlines()[0] == ",".join(table.columns)
    table = reach_table(release, "2026-Q2", translator("en"))
    assert table.columns == ["Quarter", "District", "Reach", "Target", "% of target", "Note"]
    assert set(table["Quarter"]) == {"2026-Q2 (to 2026-06-15)"}
    borja = table.filter(pl.col("District") == "SAN BORJA").row(0, named=True)
    assert (borja["Reach"], borja["Note"]) == (15, "")
    phone = table.filter(pl.col("District") == "No location (phone, SMS, online)").row(0)
    assert phone[2:] == (None, None, None, "fewer than 11")
    total = ("2026-Q2 (to 2026-06-15)", "Area total", 50, 30, 50, "sum of the figures shown")
    assert table.row(-1) == total
    spanish = reach_csv(reach_table(release, "2026-Q2", translator("es"))).decode("utf-8-sig")
    assert '"Sin ubicación (teléfono, SMS, en línea)",,,,menos de 11\n' in spanish
    assert spanish.startswith("Trimestre,Distrito,Alcance,Meta,% de la meta,Nota\n")


def released_numbers(release: ReachRelease) -> list[int]:
    """Every count published: district and no-location figures and totals, all quarters."""
    return [*release.figures["reach"].drop_nulls(), *release.totals()["reach"].drop_nulls()]


def test_attack_a_small_district_next_to_large_ones_cannot_be_recovered(area: Workspace) -> None:
    """Plant 1 to 10 people in San Luis (beside La Victoria and San Borja) in
    2026-Q1: the release never changes, so no figure, total or difference gives them away."""
    before = reach_release(area, today=TODAY)
    for planted in range(1, 11):
        day = dt.date(2026, 2, 1) + dt.timedelta(days=planted)
        row = (day.isoformat(), "PE3", "T2", "in_person", *POINTS[SAN_LUIS], f"JM-{planted}")
        import_visits(area, [row], f"planted-{planted}")
        # the raw figure holds them: a careless total would show them by subtraction
        raw = coverage(area, "2026-Q1", today=TODAY).districts
        assert raw.filter(pl.col("district_id") == SAN_LUIS)["contacts"][0] == planted
        after = reach_release(area, today=TODAY)
        assert after.figures.equals(before.figures)
        assert after.totals().equals(before.totals())
        numbers = released_numbers(after)
        assert planted not in numbers
        if planted % 5:
            # released counts are multiples of 5, and so is every difference of two of them;
            # for 5 and 10 a difference can match by chance, which the unchanged release
            # above shows to say nothing about the planted people
            differences = {abs(a - b) for a, b in itertools.combinations(numbers, 2)}
            assert planted not in differences


def test_the_map_holds_districts_only_and_stays_offline(
    area: Workspace, release: ReachRelease
) -> None:
    t = translator("en")
    engine = area.engine()
    try:
        with engine.connect() as connection:
            outlines, labels = district_layers(connection)
    finally:
        engine.dispose()
    layer = reach_layer(release, "2026-Q1", outlines, t, selected=SAN_BORJA)
    features = layer["features"]
    assert len(features) == 50
    assert all(set(f["properties"]) == {"id", "name", "tip", "style"} for f in features)
    fills = {
        f["properties"]["id"]: f["properties"]["style"]["fillColor"] for f in layer["features"]
    }
    assert fills[SAN_BORJA] == HIDDEN_FILL and fills[SAN_ISIDRO] in REACH_COLOURS
    assert sum(fill == HIDDEN_FILL for fill in fills.values()) == 48
    borja = next(f for f in layer["features"] if f["properties"]["id"] == SAN_BORJA)
    assert borja["properties"]["tip"] == "SAN BORJA\nReach: fewer than 11"
    for feature in layer["features"]:
        geometry = shapely.geometry.shape(feature["geometry"])
        assert geometry.geom_type in ("Polygon", "MultiPolygon")
        parts = geometry.geoms if geometry.geom_type == "MultiPolygon" else [geometry]
        for part in parts:
            ring = {(round(x, 5), round(y, 5)) for x, y in part.exterior.coords}
            centre = part.representative_point()
            for resolution in range(6, 10):
                cell = h3.latlng_to_cell(centre.y, centre.x, resolution)
                corners = {(round(x, 5), round(y, 5)) for y, x in h3.cell_to_boundary(cell)}
                assert ring != corners, f"an H3 cell at resolution {resolution}"
    legend = reach_legend(release, "2026-Q1", t)
    assert "Reach, 2026-Q1" in legend and "fewer than 11" in legend
    page = reach_map(layer, labels, legend).get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(links) == [
        f"{DEFAULT_ASSETS_URL}/leaflet.css",
        f"{DEFAULT_ASSETS_URL}/leaflet.js",
    ]
    assert not re.search(r"https?://", page)
    assert "om-hatch" in page and "L.tileLayer" not in page


def test_reach_page_in_english_and_spanish(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The funder sees the Reach page only, a table with no figure under 11, and a download."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "funder"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Reach"
    assert len(at.dataframe) == 1
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["Quarter", "District", "Reach", "Target", "% of target", "Note"]
    reach = shown["Reach"].dropna()
    assert len(reach) > 10 and (reach >= 11).all() and (reach % 5 == 0).all()
    assert shown["Reach"].isna().sum() == (shown["Note"] == "fewer than 11").sum() > 0
    assert len(shown) == 50 + 2  # districts, no location, total
    assert at.get("download_button")[0].label == "Download this table (CSV)"
    # the table is the library's, for the quarter picked
    quarter = at.selectbox(key="reach_quarter__box").value
    release = reach_release(open_workspace(demo_workspace))
    expected = reach_table(release, quarter, translator("en")).to_pandas()
    assert shown.fillna(-1).astype(str).equals(expected.fillna(-1).astype(str))
    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Alcance"
    shown = at.dataframe[0].value
    assert list(shown.columns)[:3] == ["Trimestre", "Distrito", "Alcance"]
    assert (shown["Alcance"].dropna() >= 11).all()
    assert at.get("download_button")[0].label == "Descargar esta tabla (CSV)"
