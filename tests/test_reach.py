"""The funder's reach: differentially private figures per finished quarter, targets, the CSV.

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
from helpers import DISTRICTS_SOURCE, copy_workspace, csv_text
from streamlit.testing.v1 import AppTest

from mapping.access.disclosure import ledger
from mapping.access.funder_reach import (
    TARGETS_FILE,
    ReachOptions,
    ReachRelease,
    ReachSettings,
    count_text,
    partial_quarters,
    percent_arithmetic,
    quarter_name,
    reach_csv,
    reach_pdf,
    reach_release,
    reach_table,
    reach_trend,
)
from mapping.access.mechanism import DisclosureParameters
from mapping.analysis.coverage import NO_LOCATION, coverage
from mapping.errors import InvalidInputError
from mapping.i18n import translator
from mapping.ingest.registry_files import hotspots_from_file
from mapping.ingest.visits import visits_from_file
from mapping.maps.base import DEFAULT_ASSETS_URL, GESTURE_HANDLING_URL, district_layers
from mapping.maps.reach import HIDDEN_FILL, REACH_COLOURS, reach_layer, reach_legend, reach_map
from mapping.periods import parse_period
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace, open_workspace

#: Every workspace test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TODAY = dt.date(2026, 7, 15)  # 2026-Q2 has ended, 2026-Q3 has not
FUNDER = Actor("funder-1", "funder")
SAN_ISIDRO, LA_VICTORIA, SAN_BORJA, SAN_LUIS = "PE-150131", "PE-150115", "PE-150130", "PE-150134"
HEADER = ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code")
#: Unique contacts per district and quarter in the hand-made visits. With k = 11 and the
#: default budget the noisy threshold is 73 (docs/disclosure.md): the large ones are released
#: within a few people of the truth, the small ones never.
PLAN = {
    ("2026-Q1", SAN_ISIDRO): 130,
    ("2026-Q1", LA_VICTORIA): 11,
    ("2026-Q1", SAN_BORJA): 7,
    ("2026-Q1", NO_LOCATION): 14,
    ("2026-Q2", SAN_ISIDRO): 13,
    ("2026-Q2", LA_VICTORIA): 180,
    ("2026-Q2", SAN_BORJA): 12,
    ("2026-Q2", NO_LOCATION): 3,
    ("2026-Q3", SAN_BORJA): 200,
}
#: The noise is discrete Laplace with scale 3: |noise| > 30 has a chance of about e^-10.
NOISE = 30


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
    for (quarter, district), contacts in PLAN.items():
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
    return reach_release(area, actor=FUNDER, options=ReachOptions(), today=TODAY)


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
        for (planned_quarter, district), contacts in PLAN.items():
            if planned_quarter == quarter:
                assert counts[district] == contacts, (quarter, district)


def test_released_figures_are_noisy_and_never_under_the_threshold(
    area: Workspace, release: ReachRelease
) -> None:
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
    stored = ledger(area)
    assert stored["period"].to_list() == [q.label for q in release.quarters]
    threshold = stored["threshold"].unique().to_list()
    assert threshold == [73]
    for (quarter, district), contacts in PLAN.items():
        if quarter == "2026-Q3":
            continue  # the running quarter is not released
        reach = figure(release, quarter, district)["reach"]
        if contacts < 73 - NOISE:
            assert reach is None, (quarter, district)
        else:
            assert reach is not None and abs(reach - contacts) <= NOISE, (quarter, district)
    # every other district, visited or not, reads the same: not released
    others = release.figures.filter(
        ~pl.col("district_id").is_in([SAN_ISIDRO, LA_VICTORIA, SAN_BORJA, NO_LOCATION])
    )
    assert others.height == 6 * 47
    assert others["reach"].null_count() == others.height
    released = release.figures["reach"].drop_nulls()
    assert released.min() >= 73 and released.len() == 2


def test_asking_again_returns_the_stored_release(area: Workspace, release: ReachRelease) -> None:
    """The page's second view shows the same figures and spends nothing."""
    again = reach_release(area, actor=Actor("funder-2", "funder"), today=TODAY)
    assert again.figures.equals(release.figures)
    stored = ledger(area)
    assert stored.height == 6 and set(stored["created_by"]) == {"funder-1"}
    assert stored["epsilon"].to_list() == [1.0] * 6


def test_a_workspace_without_visits_releases_nothing(workspace: Workspace) -> None:
    release = reach_release(workspace, actor=FUNDER, today=TODAY)
    assert release.quarters == () and release.figures.is_empty()
    assert release.totals().is_empty()
    assert ledger(workspace).is_empty()


def test_quarters_are_the_last_six_finished_ones(release: ReachRelease) -> None:
    """The 2024 visit is more than six quarters back; quarters without visits are kept; the
    running quarter (2026-Q3) is not offered."""
    labels = [q.label for q in release.quarters]
    assert labels == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1", "2026-Q2"]
    assert all(release.is_complete(label) for label in labels)
    assert set(release.figures["quarter"]) == set(labels)
    # every district and the no-location row in every quarter
    assert release.figures.group_by("quarter").len()["len"].to_list() == [51] * 6


def test_totals_add_up_the_released_figures_only(release: ReachRelease) -> None:
    totals = {row["quarter"]: row for row in release.totals().iter_rows(named=True)}
    q1 = figure(release, "2026-Q1", SAN_ISIDRO)["reach"]
    q2 = figure(release, "2026-Q2", LA_VICTORIA)["reach"]
    assert totals["2026-Q1"]["reach"] == q1  # San Borja's 7 are not in it
    assert totals["2026-Q2"]["reach"] == q2  # nor the 3 phone contacts
    assert totals["2025-Q3"]["reach"] == 0
    for quarter, row in totals.items():
        shown = release.figures.filter(pl.col("quarter") == quarter)["reach"].sum()
        assert row["reach"] == shown
    trend = reach_trend(release, translator("en"))
    assert trend["Reach"].to_list() == [0, 0, 0, 0, q1, q2]
    borja = reach_trend(release, translator("en"), district_id=SAN_BORJA)
    assert borja["Reach"].to_list() == [None] * 6


def test_a_spent_budget_is_said_plainly(area: Workspace) -> None:
    """Three other releases of 2026-Q2 spend its budget: the page's release is refused."""
    from mapping.access.disclosure import release as make_release

    for level in ("6", "5", "4"):
        make_release(area, "2026-Q2", level, actor=FUNDER, today=TODAY)
    refused = reach_release(area, actor=FUNDER, today=TODAY)
    message = refused.refusal("2026-Q2")
    assert message is not None and message.startswith("the privacy budget of 2026-Q2 is spent")
    assert refused.figures.filter(pl.col("quarter") == "2026-Q2")["reach"].null_count() == 51
    assert refused.refusal("2026-Q1") is None


def test_targets_from_the_size_estimate(release: ReachRelease) -> None:
    """80 % of the hotspot estimate's midpoint, to 5; none from a small estimate or a prior."""
    san_isidro = figure(release, "2026-Q1", SAN_ISIDRO)
    assert (san_isidro["target"], san_isidro["target_source"]) == (30, "estimate")
    assert san_isidro["percent"] == round(100 * san_isidro["reach"] / 30)
    assert figure(release, "2026-Q2", SAN_ISIDRO)["percent"] is None  # 13 people: not shown
    assert figure(release, "2026-Q1", LA_VICTORIA)["target"] is None  # estimate 4-8 < k
    assert figure(release, "2026-Q1", SAN_BORJA)["target"] is None  # population prior only
    assert release.figures["target"].drop_nulls().unique().to_list() == [30]
    q1 = release.totals().filter(pl.col("quarter") == "2026-Q1").row(0, named=True)
    assert (q1["target"], q1["percent"]) == (30, san_isidro["percent"])


def test_targets_file_overrides_the_estimate(area: Workspace) -> None:
    (area.path / TARGETS_FILE).write_text(
        f"district_id,quarter,target\n{SAN_BORJA},2026-Q2,20\n{SAN_ISIDRO},2026q1,50\n",
        encoding="utf-8",
    )
    release = reach_release(area, actor=FUNDER, today=TODAY)
    borja = figure(release, "2026-Q2", SAN_BORJA)
    # 12 people: not shown, so no percentage either
    assert (borja["target"], borja["target_source"], borja["percent"]) == (20, TARGETS_FILE, None)
    san_isidro = figure(release, "2026-Q1", SAN_ISIDRO)
    assert san_isidro["target"] == 50
    assert san_isidro["percent"] == round(100 * san_isidro["reach"] / 50)
    assert figure(release, "2026-Q2", SAN_ISIDRO)["target_source"] == "estimate"
    q2 = release.totals().filter(pl.col("quarter") == "2026-Q2").row(0, named=True)
    # like for like: the reach of the districts with a target over their targets
    assert (q2["target"], q2["percent"]) == (30 + 20, 0)


def test_a_targets_file_with_problems_is_refused_whole(area: Workspace) -> None:
    (area.path / TARGETS_FILE).write_text(
        "district_id,quarter,target\n"
        f"{SAN_BORJA},2026-Q2,20\n"
        "PE-999999,2026-Q2,10\n"
        f"{SAN_BORJA},2026-07,ten\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInputError) as caught:
        reach_release(area, actor=FUNDER, today=TODAY)
    message = str(caught.value)
    assert "3 problem(s), no target used" in message
    assert "row 3: district PE-999999 is not a district of this area" in message
    assert "row 4: quarter 2026-07 is not a quarter — write 2026-Q3" in message
    assert "row 4: target ten is not a whole number of people" in message


@pytest.mark.parametrize("k", [0, 4])
def test_a_minimum_count_under_5_is_refused(k: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInputError, match=rf"minimum count k = {k} is below 5: .* set "):
        DisclosureParameters(min_count=k)
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", str(k))
    with pytest.raises(InvalidInputError, match=r"OUTREACH_MAP_MIN_COUNT to 5 or more"):
        ReachOptions.from_settings()


def test_k_is_a_setting(area: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A larger k is kept in the ledger, and a figure under it is never released."""
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", "150")
    release = reach_release(area, actor=FUNDER, today=TODAY)
    assert release.min_count == 150
    assert figure(release, "2026-Q1", SAN_ISIDRO)["reach"] is None  # 130 people
    assert set(ledger(area)["min_count"]) == {150}
    monkeypatch.setenv("OUTREACH_MAP_MIN_COUNT", "eleven")
    with pytest.raises(ValueError, match="OUTREACH_MAP_MIN_COUNT='eleven' is not a whole number"):
        ReachSettings.from_env()


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
    assert set(table["Quarter"]) == {"2026-Q2"}
    victoria = table.filter(pl.col("District") == "LA VICTORIA").row(0, named=True)
    reach = figure(release, "2026-Q2", LA_VICTORIA)["reach"]
    assert (victoria["Reach"], victoria["Note"]) == (reach, "")
    phone = table.filter(pl.col("District") == "No location (phone, SMS, online)").row(0)
    assert phone[2:] == (None, None, None, "not shown: too few people")
    # San Isidro has the only target (30) and is not shown: 0 of 30 reached, 0 %
    with_target = ("2026-Q2", "Districts with a target", 0, 30, 0)
    assert table.row(-2)[:5] == with_target
    # the area total has no percentage: it would divide people without a target by targets
    total = ("2026-Q2", "Area total", reach, 30, None, "sum of the figures shown")
    assert table.row(-1) == total
    # no released figure under k anywhere in the table (the two sums add up what is shown)
    assert (table["Reach"].head(-2).drop_nulls() >= 11).all()
    spanish = reach_csv(reach_table(release, "2026-Q2", translator("es"))).decode("utf-8-sig")
    assert '"Sin ubicación (teléfono, SMS, en línea)",,,,no se muestra: muy pocas personas\n' in (
        spanish
    )
    assert spanish.startswith("Trimestre,Distrito,Alcance,Meta,% de la meta,Nota\n")


def test_the_map_holds_districts_only_and_stays_offline(
    area: Workspace, release: ReachRelease
) -> None:
    t = translator("en")
    with area.connect() as connection:
        outlines, labels = district_layers(connection)
    layer = reach_layer(release, "2026-Q1", outlines, t, selected=SAN_BORJA)
    features = layer["features"]
    assert len(features) == 50
    assert all(set(f["properties"]) == {"id", "name", "tip", "style"} for f in features)
    fills = {
        f["properties"]["id"]: f["properties"]["style"]["fillColor"] for f in layer["features"]
    }
    assert fills[SAN_BORJA] == HIDDEN_FILL and fills[SAN_ISIDRO] in REACH_COLOURS
    assert sum(fill == HIDDEN_FILL for fill in fills.values()) == 49
    borja = next(f for f in layer["features"] if f["properties"]["id"] == SAN_BORJA)
    assert borja["properties"]["tip"] == "SAN BORJA\nReach: not shown: too few people"
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
    assert "Reach, 2026-Q1" in legend and "not shown: too few people" in legend
    page = reach_map(layer, labels, legend, language="en").get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(links) == [
        f"{DEFAULT_ASSETS_URL}/leaflet.css",
        f"{DEFAULT_ASSETS_URL}/leaflet.js",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.css",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.js",
    ]
    assert not re.search(r"https?://", page)
    assert "om-hatch" in page and "L.tileLayer" not in page


def test_reach_page_in_english_and_spanish(
    demo_workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The funder sees the Reach page only, a table with no figure under 11, and a download.

    The first view makes the releases (a copy of the demo, so the shared one stays as built).
    """
    demo = copy_workspace(demo_workspace, tmp_path / "demo").path
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "funder"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Reach"
    assert len(at.dataframe) == 1
    shown = at.dataframe[0].value
    assert list(shown.columns) == ["Quarter", "District", "Reach", "Target", "% of target", "Note"]
    reach = shown["Reach"].dropna()
    assert len(reach) >= 10 and (reach >= 11).all()
    hidden = shown["Note"] == "not shown: too few people"
    assert shown["Reach"].isna().sum() == hidden.sum() > 0
    assert len(shown) == 50 + 3  # districts, no location, districts with a target, total
    assert at.get("download_button")[0].label == "Download this table (CSV)"
    # the table is the library's, for the quarter picked
    quarter = at.selectbox(key="reach_quarter__box").value
    # the releases are stored: asking again returns what the page showed
    release = reach_release(open_workspace(demo), actor=FUNDER)
    assert set(ledger(open_workspace(demo))["created_by"]) == {"demo-funder"}
    expected = reach_table(release, quarter, translator("en")).to_pandas()
    assert shown.fillna(-1).astype(str).equals(expected.fillna(-1).astype(str))
    # the percentage's sum is on the page, in numbers a funder finds in the table
    subtotal = shown[shown["District"] == "Districts with a target"].iloc[0]
    total = shown[shown["District"] == "Area total"].iloc[0]
    reached, target = int(subtotal["Reach"]), int(subtotal["Target"])
    percent = (200 * reached + target) // (2 * target)  # halves up, as by hand
    assert int(subtotal["% of target"]) == percent
    other = int(total["Reach"]) - reached
    texts = [m.value for m in at.markdown]
    assert f"% of target: {reached:,} ÷ {target:,} = {percent}%." in " ".join(texts)
    assert f"the {int(total['Reach']):,} reached minus {other:,} reached where" in " ".join(texts)
    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Alcance"
    shown = at.dataframe[0].value
    assert list(shown.columns)[:3] == ["Trimestre", "Distrito", "Alcance"]
    assert (shown["Alcance"].dropna() >= 11).all()
    assert at.get("download_button")[0].label == "Descargar esta tabla (CSV)"

    def spanish(number: int) -> str:
        return f"{number:,}".replace(",", "\u00a0")

    texts = [m.value for m in at.markdown]
    assert f"% de la meta: {spanish(reached)} ÷ {spanish(target)} = {percent}\u00a0%." in " ".join(
        texts
    )
    assert f"son las {spanish(int(total['Reach']))} personas alcanzadas menos {spanish(other)}" in (
        " ".join(texts)
    )
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Alcanzadas"] == spanish(int(total["Reach"]))
    assert metrics["De la meta (distritos con meta)"] == f"{percent}\u00a0%"


def test_the_pdf_holds_the_table_shown_and_nothing_else(release: ReachRelease) -> None:
    from pypdf import PdfReader

    t = translator("es")
    table = reach_table(release, "2026-Q2", t)
    title = "Personas alcanzadas, Lima, 2026-Q2"
    data = reach_pdf(table, title=title, notes=[t("reach.rule", k=11)])
    assert data.startswith(b"%PDF-")
    pages = PdfReader(io.BytesIO(data)).pages
    text = " ".join(" ".join(page.extract_text().split()) for page in pages)
    assert title in text
    assert "Sin ubicación (teléfono, SMS, en línea)" in text  # accents, from a local font
    assert "no se muestra: muy pocas personas" in text
    numbers = {int(n.replace(",", "")) for n in re.findall(r"(?<![\d.-])\d[\d,]*(?![\d.])", text)}
    reach, target, percent = (table.to_series(i).drop_nulls() for i in (2, 3, 4))
    assert set(reach) <= numbers
    # every number in the report is a released figure, a target, a percentage, k or a date
    allowed = {*reach, *target, *percent, 11, 2026, 2}
    assert numbers <= allowed, numbers - allowed


#: One quarter worked out by hand. Districts a and d have a target and a figure, b a target
#: but no figure shown, c a figure but no target; the phone contacts have neither target nor
#: district.
#:
#: - reach: 90 + 80 + 40 + 15 = 225; of the districts with a target (a, b, d): 90 + 0 + 15 = 105
#: - targets: 60 + 30 + 120 = 210, so % of target = 105 / 210 = 50 %
#: - left out of the percentage: 225 - 105 = 120 (c's 80 and the 40 phone contacts)
#: - d alone: 15 / 120 = 12.5 %, which a person rounds to 13 % (halves up)
#:
#: 2026-Q2: a hidden (target 60), d 15 of 60, and 1,000 phone contacts: 15 / 120 = 12.5 -> 13 %.
HAND = pl.DataFrame(
    {
        "quarter": ["2026-Q1"] * 5 + ["2026-Q2"] * 3,
        "district_id": ["a", "b", "c", "d", NO_LOCATION, "a", "d", NO_LOCATION],
        "district": ["A", "B", "C", "D", "", "A", "D", ""],
        "reach": [90, None, 80, 15, 40, None, 15, 1000],
        "target": [60, 30, None, 120, None, 60, 60, None],
        "target_source": ["estimate"] * 8,
        "percent": [150, None, None, 13, None, None, 25, None],
    }
)


def hand_release(partial: tuple[str, ...] = ()) -> ReachRelease:
    quarters = tuple(parse_period(q) for q in ("2026-Q1", "2026-Q2"))
    return ReachRelease(quarters, TODAY, 11, 0.8, HAND, partial=partial)


def test_the_percentage_is_the_reach_of_districts_with_a_target_over_their_targets() -> None:
    totals = {row["quarter"]: row for row in hand_release().totals().iter_rows(named=True)}
    q1 = totals["2026-Q1"]
    assert (q1["reach"], q1["target"], q1["percent"]) == (225, 210, 50)
    assert (q1["reach_with_target"], q1["reach_without_target"]) == (105, 120)
    assert (q1["with_target"], q1["hidden_with_target"]) == (3, 1)
    q2 = totals["2026-Q2"]
    # 15 of 120 is 12.5 %: 13 as a person rounds it, not 12 as rounding to even would
    assert (q2["reach"], q2["target"], q2["reach_with_target"], q2["percent"]) == (
        1015,
        120,
        15,
        13,
    )


def test_the_page_shows_the_sum_behind_the_percentage() -> None:
    """Every number of the sentence is on the page: a funder can redo it."""
    release = hand_release()
    assert percent_arithmetic(release, "2026-Q1", translator("en")) == (
        "% of target: 105 ÷ 210 = 50%. 105 is the 225 reached minus 120 reached where there is "
        "no target (no location, districts without a target), and 210 is the sum of the targets "
        "of the 3 districts that have one. Districts among them with no figure shown count 0: "
        "1 of 3."
    )
    spanish = percent_arithmetic(release, "2026-Q2", translator("es"))
    assert spanish.startswith("% de la meta: 15 ÷ 120 = 13\u00a0%. 15 son las 1\u00a0015 personas")
    assert "menos 1\u00a0000 alcanzadas donde no hay meta" in spanish
    french = percent_arithmetic(release, "2026-Q2", translator("fr"))
    assert french.startswith(
        "% de la cible\u00a0: 15 ÷ 120 = 13\u00a0%. 15, ce sont les 1\u202f015"
    )
    # the table puts the percentage next to the two figures it divides
    table = reach_table(release, "2026-Q1", translator("en"))
    assert table.row(-2)[1:5] == ("Districts with a target", 105, 210, 50)
    assert table.row(-1)[1:5] == ("Area total", 225, 210, None)
    no_target = hand_release().figures.with_columns(pl.lit(None, pl.Int64).alias("target"))
    bare = ReachRelease(hand_release().quarters, TODAY, 11, 0.8, no_target)
    assert percent_arithmetic(bare, "2026-Q1", translator("en")) == (
        "No district has a target in 2026-Q1: there is no percentage."
    )
    # without targets there is no row of districts with a target, and no percentage
    assert reach_table(bare, "2026-Q1", translator("en")).row(-1)[1:5] == (
        "Area total",
        225,
        None,
        None,
    )


def test_every_count_shown_is_a_whole_number(release: ReachRelease) -> None:
    """People are counted whole: in the table, the totals, the trend and the sentence."""
    hand = hand_release()
    for made in (release, hand):
        for frame in (
            made.figures.select("reach", "target", "percent"),
            made.totals().drop("quarter"),
        ):
            assert all(dtype == pl.Int64 for dtype in frame.dtypes), frame.schema
        t = translator("en")
        for quarter in (q.label for q in made.quarters):
            table = reach_table(made, quarter, t)
            assert all(table[c].dtype == pl.Int64 for c in ("Reach", "Target", "% of target"))
            assert all(dtype == pl.Int64 for dtype in reach_trend(made, t).drop("Quarter").dtypes)
            sentence = percent_arithmetic(made, quarter, t)
            for number in re.findall(r"\d[\d,.]*\d|\d", sentence.rstrip(".")):
                assert re.fullmatch(r"\d{1,3}(,\d{3})*", number), (number, sentence)
    assert count_text(1015, translator("es")) == "1\u00a0015"
    assert count_text(2512, translator("fr")) == "2\u202f512"


def test_a_quarter_the_programme_started_in_is_partial() -> None:
    """Partial: the first visit falls inside the quarter, after its first day."""
    quarters = [parse_period(q) for q in ("2025-Q4", "2026-Q1", "2026-Q2")]
    assert partial_quarters(quarters, dt.date(2025, 12, 8)) == ("2025-Q4",)
    assert partial_quarters(quarters, dt.date(2025, 10, 2)) == ("2025-Q4",)
    assert partial_quarters(quarters, dt.date(2025, 10, 1)) == ()  # started on its first day
    assert partial_quarters(quarters, dt.date(2025, 12, 31)) == ("2025-Q4",)
    assert partial_quarters(quarters, dt.date(2024, 8, 1)) == ()  # before every quarter offered
    assert partial_quarters(quarters, None) == ()
    release = hand_release(partial=("2026-Q1",))
    t = translator("en")
    assert release.is_partial("2026-Q1") and not release.is_partial("2026-Q2")
    assert quarter_name(release, "2026-Q1", t) == "2026-Q1 (partial quarter)"
    assert quarter_name(release, "2026-Q2", t) == "2026-Q2"
    notes = reach_table(release, "2026-Q1", t)["Note"].to_list()
    assert notes[-1] == "sum of the figures shown; partial quarter: the programme started during it"
    assert "partial" not in " ".join(reach_table(release, "2026-Q2", t)["Note"].to_list())
    assert quarter_name(release, "2026-Q1", translator("es")) == "2026-Q1 (trimestre parcial)"


def test_the_release_marks_the_first_quarter_partial(workspace: Workspace) -> None:
    """Visits from 10 February 2026: 2026-Q1 is partial, 2026-Q2 whole; the day is not kept."""
    rows = visit_rows("2026-Q1", SAN_ISIDRO, 12, "A") + visit_rows("2026-Q2", SAN_ISIDRO, 12, "B")
    import_visits(workspace, rows, "visits")
    release = reach_release(workspace, actor=FUNDER, today=TODAY)
    assert [q.label for q in release.quarters] == ["2026-Q1", "2026-Q2"]
    assert release.partial == ("2026-Q1",)
    assert "2026-02" not in repr(release.partial)


def test_the_area_fixture_has_no_partial_quarter(release: ReachRelease) -> None:
    """Its first visit (2024) is before every quarter offered: none of them is partial."""
    assert release.partial == ()
