"""The attack on hotspot sizes: every number a peer educator sees, for hotspots of 2 to 150 people.

An invented area around Kisumu, Kenya (not Lima): two wards, a drop-in centre and four hotspots
of very different size estimates, all on team K1's route for tomorrow night. The route is forced
to one order that does not follow size (the first stop only works until 21:00, the rest is the
shortest loop), and the hotspot codes and the days since each was visited do not follow it either.

Then everything a peer educator of K1 can see is read the way an attacker would — the My area
page (AppTest: its texts, tables and the map's GeoJSON), the run sheet PDF and CSV in English
and Spanish, and in Chromium the page's Leaflet layers and the sheets downloaded from it — and
every number is put with the hotspot it belongs to. The test fails if any of them orders the
hotspots by size. And a second workspace, the same in everything but with the sizes swapped
between the places, must show a peer educator exactly the same: no number, no order, no word
may change when only the sizes do. The coordinator's own sheet fails the same check (its kits
follow size), which shows the check can fail.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, outside_requests, serving
from helpers import (
    TEST_PASSWORD,
    app_maps,
    ask,
    device_cookie,
    drawn_cells,
    english_fragments,
    write_csv,
)
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from mapping import clock
from mapping.access.accounts import add_account, find_account
from mapping.access.locks import set_pin
from mapping.i18n import catalogue
from mapping.ingest.area import districts_from_file, init_area
from mapping.ingest.registry_files import hotspots_from_file, services_from_file
from mapping.ingest.visits import visits_from_file
from mapping.planning.plans import PlanOptions, for_peer_educators, plan_routes, stored_plans
from mapping.planning.runsheet import runsheet_csv, runsheet_pdf
from mapping.planning.sheet_map import map_districts
from mapping.storage.audit import Actor
from mapping.storage.store import users
from mapping.storage.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: Kisumu, Kenya: the drop-in centre; places are km east and north of it.
ORIGIN = (-0.0917, 34.7680)
PLACES = {"P1": (0.0, 0.9), "P2": (1.8, 1.5), "P3": (3.3, 0.3), "P4": (1.5, -1.2)}
CODES = {"P1": "KSM-01", "P2": "KSM-03", "P3": "KSM-02", "P4": "KSM-04"}
TYPOLOGIES = {"P1": "street", "P2": "bar", "P3": "lodge", "P4": "street"}
#: P1 works only until 21:00, so it comes first; then the shortest loop is P2, P3, P4.
HOURS = {"P1": "20:00-21:00", "P2": "20:00-04:00", "P3": "20:00-04:00", "P4": "20:00-04:00"}
ROUTE = ["P1", "P2", "P3", "P4"]
#: Days since the team last went to each place (P3 is overdue).
DAYS_SINCE = {"P1": 10, "P2": 3, "P3": 40, "P4": 20}
#: The size estimates (the top of each range), and the same sizes swapped between places.
SIZES = {"P1": 40, "P2": 2, "P3": 150, "P4": 10}
SWAPPED = {"P1": 10, "P2": 150, "P3": 2, "P4": 40}
#: Identifiers: not quantities, and chosen not to follow size (checked below).
HHMM = re.compile(r"\b(\d{1,2}):(\d{2})\b")
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def at(east_km: float, north_km: float) -> tuple[float, float]:
    lat, lng = ORIGIN
    return lat + north_km / 111.2, lng + east_km / (111.2 * np.cos(np.radians(lat)))


def cell_of(place: str) -> int:
    return int(h3.str_to_int(h3.latlng_to_cell(*at(*PLACES[place]), 8)))


@dataclass
class Area:
    """A built workspace, the night planned, and the sizes it was given."""

    workspace: Workspace
    sizes: dict[str, int]
    night: dt.date

    def size_of(self, code: str) -> int:
        return next(self.sizes[p] for p, c in CODES.items() if c == code)


def build(folder: Path, sizes: dict[str, int]) -> Area:
    """Write the wards, registries and visits; plan team K1's next night; add a peer account."""
    lat, lng = ORIGIN
    km_lng = 1 / (111.2 * np.cos(np.radians(lat)))
    west = shapely.box(lng - 2 * km_lng, lat - 3 / 111.2, lng + 0.75 * km_lng, lat + 3 / 111.2)
    east = shapely.box(lng + 0.75 * km_lng, lat - 3 / 111.2, lng + 6 * km_lng, lat + 3 / 111.2)
    wards = gpd.GeoDataFrame(
        {"ward_id": ["K01", "K02"], "ward": ["Kondele", "Nyalenda"]},
        geometry=[west, east],
        crs="EPSG:4326",
    )
    wards.to_file(folder / "wards.geojson", driver="GeoJSON")
    districts = districts_from_file(
        folder / "wards.geojson", id_column="ward_id", name_column="ward"
    )
    workspace = init_area(folder / "workspace", districts, name="Kisumu", resolution=8)
    dic = h3.latlng_to_cell(*ORIGIN, 8)
    lab = h3.latlng_to_cell(*at(1.0, 0.3), 8)
    services = [
        ("DIC", "Kisumu drop-in centre", "drop_in_centre", dic, "yes", "24/7", "no"),
        ("LAB", "Night testing", "hiv_testing", lab, "yes", "18:00-06:00", "no"),
    ]
    header = ("id", "name", "type", "cell", "friendly", "opening_hours", "sensitive")
    assert (
        services_from_file(workspace, write_csv(folder / "s.csv", header, services)).rejected == 0
    )
    hotspots = [
        (
            CODES[place],
            h3.int_to_str(cell_of(place)),
            TYPOLOGIES[place],
            "Mo-Su",
            HOURS[place],
            max(1, round(0.6 * sizes[place])),
            sizes[place],
        )
        for place in PLACES
    ]
    header = ("id", "cell", "typology", "days", "opening_hours", "size_min", "size_max")
    assert (
        hotspots_from_file(workspace, write_csv(folder / "h.csv", header, hotspots)).rejected == 0
    )
    today = clock.today(workspace)
    visits = [
        (
            (today - dt.timedelta(days=DAYS_SINCE[place])).isoformat(),
            "K-PE1",
            "K1",
            "in_person",
            *(f"{v:.6f}" for v in at(*PLACES[place])),
            f"KSM-C{index:02d}",
        )
        for index, place in enumerate(PLACES)
    ]
    header = ("date", "peer_educator", "team", "channel", "latitude", "longitude", "contact_code")
    assert visits_from_file(workspace, write_csv(folder / "v.csv", header, visits)).rejected == 0
    night = today + dt.timedelta(days=1)
    (plan,) = plan_routes(
        workspace,
        teams=["K1"],
        day=night,
        start="DIC",
        hours="20:00-02:00",
        options=PlanOptions(search_seconds=0.5),
    )
    assert plan.stops["hotspot_id"].to_list() == [CODES[p] for p in ROUTE]
    with workspace.begin() as connection:
        add_account(
            connection, "peer", "peer", by=Actor("t", "admin"), password=TEST_PASSWORD, teams=["K1"]
        )
    return Area(workspace, sizes, night)


@pytest.fixture(scope="module")
def areas(tmp_path_factory: pytest.TempPathFactory) -> tuple[Area, Area]:
    first = build(tmp_path_factory.mktemp("kisumu"), SIZES)
    second = build(tmp_path_factory.mktemp("kisumu-swapped"), SWAPPED)
    return first, second


def test_the_fixture_does_not_order_anything_by_size_itself() -> None:
    """Route order, codes and recency were chosen so that none follows size on its own."""
    for sizes in (SIZES, SWAPPED):
        by_size = sorted(PLACES, key=sizes.__getitem__)
        for feature in (ROUTE.index, CODES.__getitem__, DAYS_SINCE.__getitem__):
            assert not monotone([feature(place) for place in by_size])


# --- reading numbers the way an attacker would ------------------------------------------------


def monotone(values: list[Any]) -> bool:
    """Whether values, listed by size, rise or fall with it (and are not all the same)."""
    return len(set(values)) > 1 and values in (sorted(values), sorted(values, reverse=True))


def numbers(text: str, identifiers: list[str]) -> list[float]:
    """Every number in a text, clock times as minutes after noon; identifiers left out."""
    for name in sorted(identifiers, key=len, reverse=True):
        text = text.replace(name, " ")
    found: list[float] = []

    def minutes(match: re.Match[str]) -> str:
        found.append((int(match[1]) * 60 + int(match[2]) - 720) % 1440)
        return " "

    text = HHMM.sub(minutes, text)
    return found + [float(n.replace(",", ".")) for n in NUMBER.findall(text)]


def identifiers(area: Area) -> list[str]:
    """What names a place, a day or a team rather than counting anything."""
    night = area.night
    return [
        *CODES.values(),
        *(h3.int_to_str(cell_of(place)) for place in PLACES),
        night.isoformat(),
        str(night.year),
        "K-PE1",
        "K1",
        "20:00-02:00",
    ]


def orders_by_size(per_hotspot: dict[str, list[float]], area: Area) -> list[str]:
    """Return each number position (and the count) that rises or falls with size."""
    assert set(per_hotspot) == set(CODES.values()), per_hotspot
    codes = sorted(per_hotspot, key=area.size_of)
    found = []
    counts = [len(per_hotspot[code]) for code in codes]
    if monotone(counts):
        found.append(f"how many numbers: {counts}")
    for position in range(min(counts)):
        values = [per_hotspot[code][position] for code in codes]
        if monotone(values):
            found.append(f"number {position}: {values}")
    return found


def csv_by_hotspot(data: bytes, area: Area) -> dict[str, list[float]]:
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    column = header.index("Hotspot") if "Hotspot" in header else header.index("Punto")
    return {row[column]: numbers(" | ".join(row), identifiers(area)) for row in rows}


def pdf_pages(data: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


def pdf_by_hotspot(data: bytes, area: Area, language: str = "en") -> dict[str, list[float]]:
    """The stops table of page one, cut into rows: each from its order number to the next."""
    text = pdf_pages(data)[0]
    text = text[: text.index(catalogue(language)["runsheet.safety"])]  # the page's foot
    rows = sorted(
        (re.search(rf"\d+ {code}\b", text).start(), code)  # type: ignore[union-attr]
        for code in CODES.values()
    )
    ends = [start for start, _ in rows[1:]] + [len(text)]
    return {
        code: numbers(text[start:end], identifiers(area))
        for (start, code), end in zip(rows, ends, strict=True)
    }


def geojson_features(html: str) -> list[dict[str, Any]]:
    """Every feature of the GeoJSON layers a folium map's HTML hands to Leaflet."""
    features = []
    for block in re.findall(r"_add\((\{.*?\})\);\n", html, re.S):
        features += json.loads(block).get("features", [])
    return features


def feature_cell(feature: dict[str, Any]) -> int | None:
    geometry = feature.get("geometry") or {}
    if geometry.get("type") != "Polygon":
        return None
    ring = [(lat, lng) for lng, lat in geometry["coordinates"][0]]
    cells = drawn_cells([ring])
    return next(iter(cells), None)


def tips_by_hotspot(features: list[dict[str, Any]], area: Area) -> dict[str, list[float]]:
    """The numbers of every tooltip and property of the features on a hotspot's cell."""
    code_of = {cell_of(place): code for place, code in CODES.items()}
    found: dict[str, list[float]] = {code: [] for code in CODES.values()}
    for feature in features:
        cell = feature_cell(feature)
        props = {k: v for k, v in (feature.get("properties") or {}).items() if k != "style"}
        text = json.dumps(props, ensure_ascii=False, sort_keys=True)
        for code in CODES.values():  # a stop's tooltip names its hotspot
            if code in text:
                found[code] += numbers(text, identifiers(area))
        if cell in code_of and not any(code in text for code in CODES.values()):
            found[code_of[cell]] += numbers(text, identifiers(area))  # e.g. days since a visit
    return found


# --- the run sheets --------------------------------------------------------------------------


def team_sheets(area: Area, language: str) -> tuple[bytes, bytes]:
    (plan,) = stored_plans(area.workspace, teams=["K1"])
    districts = map_districts(area.workspace, plan)
    copy = for_peer_educators(plan)
    return (
        runsheet_pdf(copy, language=language, districts=districts),
        runsheet_csv(copy, language=language),
    )


@pytest.mark.parametrize("language", ["en", "es"])
def test_no_number_on_a_teams_run_sheet_orders_hotspots_by_size(
    areas: tuple[Area, Area], language: str
) -> None:
    for area in areas:
        pdf, sheet = team_sheets(area, language)
        assert not orders_by_size(csv_by_hotspot(sheet, area), area)
        assert not orders_by_size(pdf_by_hotspot(pdf, area, language), area)
    # the same sheets whatever the sizes: not one character moves
    (pdf_a, csv_a), (pdf_b, csv_b) = (team_sheets(area, language) for area in areas)
    assert csv_a == csv_b
    assert pdf_pages(pdf_a) == pdf_pages(pdf_b)


def test_the_check_catches_the_coordinators_kits(areas: tuple[Area, Area]) -> None:
    """The coordinator's sheet counts kits from size: the same check finds them."""
    area = areas[0]
    (plan,) = stored_plans(area.workspace, teams=["K1"])
    found = orders_by_size(csv_by_hotspot(runsheet_csv(plan), area), area)
    assert found, "the check would not notice a number that follows size"
    pdf = runsheet_pdf(plan, districts=map_districts(area.workspace, plan))
    assert orders_by_size(pdf_by_hotspot(pdf, area), area)


# --- the My area page, as AppTest draws it ---------------------------------------------------


def my_area(area: Area, language: str) -> dict[str, Any]:
    """Sign in as K1's peer educator; return everything My area drew."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OUTREACH_MAP_WORKSPACE", str(area.workspace.path))
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.query_params["lang"] = language
        at.run()
        at.text_input[0].input("peer")
        at.text_input[1].input(TEST_PASSWORD)
        at.button[0].click().run()
        at.button(key="pin-not-now").click().run()  # the PIN offered after the password
        assert not at.exception, at.exception
        texts = [
            element.value
            for kind in ("title", "subheader", "markdown", "caption", "info", "warning")
            for element in getattr(at, kind)
        ]
        tables = [frame.value for frame in at.dataframe]
        maps = app_maps(at)
        buttons = [button.label for button in at.get("download_button")]
    return {"texts": texts, "tables": tables, "maps": maps, "buttons": buttons}


@pytest.mark.parametrize("language", ["en", "es"])
def test_my_area_shows_no_number_that_orders_hotspots_by_size(
    areas: tuple[Area, Area], language: str
) -> None:
    seen = [my_area(area, language) for area in areas]
    for area, page in zip(areas, seen, strict=True):
        (stops,) = page["tables"]
        code = "Hotspot" if language == "en" else "Punto"
        assert stops[code].tolist() == [CODES[p] for p in ROUTE]
        per_hotspot = {
            row[code]: numbers(" | ".join(str(v) for v in row.values()), identifiers(area))
            for row in stops.to_dict("records")
        }
        assert not orders_by_size(per_hotspot, area)
        features = [f for html in page["maps"] for f in geojson_features(html)]
        assert not orders_by_size(tips_by_hotspot(features, area), area)
        # nothing on the page names a count of people, nor a kit per stop
        words = " ".join(page["texts"]) + " ".join(stops.columns)
        for figure in ("Estimated people", "Kits to bring", "Personas estimadas", "Kits a llevar"):
            assert figure not in words
        assert len(page["buttons"]) == 2  # the team's PDF and CSV, no coordinator's copy
    # the page is the same when only the sizes differ
    first, second = seen
    assert first["texts"] == second["texts"]
    assert first["tables"][0].equals(second["tables"][0])
    # the maps' features (a map's own element ids are new on every run)
    assert [geojson_features(html) for html in first["maps"]] == [
        geojson_features(html) for html in second["maps"]
    ]


# --- in Chromium, on a phone at night --------------------------------------------------------

#: Every feature's properties in the page's Leaflet maps, with the cell it is drawn on.
LEAFLET_FEATURES = """() => {
  const name = Object.keys(window).find((k) => k.startsWith("map_"));
  const found = [];
  window[name].eachLayer((layer) => {
    if (layer.feature) found.push(layer.feature);
  });
  return found;
}"""


@pytest.fixture(scope="module")
def served(areas: tuple[Area, Area], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("served") / "streamlit.log"
    with serving(areas[0].workspace.path, log) as url:
        yield url


def peer_page(browser: Any, url: str, language: str) -> tuple[Any, Any, list[str]]:
    """Open My area on a phone in dark mode, signed in as K1's peer educator."""
    requested: list[str] = []
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        color_scheme="dark",
        accept_downloads=True,
        has_touch=True,
        is_mobile=True,
    )
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    words = catalogue(language)
    page.goto(f"{url}/?lang={language}", wait_until="domcontentloaded")
    page.get_by_role("textbox", name=words["access.username"]).fill("peer", timeout=90_000)
    page.get_by_role("textbox", name=words["access.password"]).fill(TEST_PASSWORD)
    page.get_by_role("button", name=words["access.sign_in"]).click()
    page.get_by_role("button", name=words["lock.not_now"]).click(timeout=90_000)  # no PIN
    page.get_by_role("button", name=words["plan.download_pdf"]).wait_for(timeout=120_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )
    return context, page, requested


@pytest.mark.browser
def test_a_peer_educator_on_a_phone_sees_no_size(areas: tuple[Area, Area], served: str) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    area = areas[0]
    seen: dict[str, dict[str, Any]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for language in ("en", "es"):
                context, page, requested = peer_page(browser, served, language)
                words = catalogue(language)
                features = []
                for index in range(page.locator(IFRAME).count()):
                    frame = page.frame_locator(IFRAME).nth(index)
                    frame.locator(".leaflet-interactive").first.wait_for(timeout=60_000)
                    handle = page.locator(IFRAME).nth(index).element_handle()
                    features += handle.content_frame().evaluate(LEAFLET_FEATURES)
                page.get_by_role("heading", name=re.compile("K1")).scroll_into_view_if_needed()
                page.wait_for_timeout(800)
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / f"peer-plan-{language}.png"))
                text = page.inner_text("body")
                with page.expect_download() as info:
                    page.get_by_role("button", name=words["plan.download_pdf"]).click()
                pdf = Path(info.value.path()).read_bytes()
                with page.expect_download() as info:
                    page.get_by_role("button", name=words["plan.download_csv"]).click()
                sheet = Path(info.value.path()).read_bytes()
                context.close()
                seen[language] = {
                    "features": features,
                    "pdf": pdf,
                    "csv": sheet,
                    "text": text,
                    "outside": outside_requests(requested),
                }
        finally:
            browser.close()

    for language, got in seen.items():
        assert not got["outside"], got["outside"]
        assert not orders_by_size(tips_by_hotspot(got["features"], area), area)
        assert not orders_by_size(csv_by_hotspot(got["csv"], area), area)
        assert not orders_by_size(pdf_by_hotspot(got["pdf"], area, language), area)
        # what the page handed over is the team's copy, exactly
        pdf, sheet = team_sheets(area, language)
        assert got["csv"] == sheet
        assert pdf_pages(got["pdf"]) == pdf_pages(pdf)
        for figure in ("Estimated people", "Kits to bring", "Personas estimadas"):
            assert figure not in got["text"]
    spanish = " ".join(pdf_pages(seen["es"]["pdf"]))
    english = sorted(fragment for fragment in english_fragments() if fragment in spanish)
    assert not english, english


# --- My area, quick (api/quick/area), over real HTTP -----------------------------------------

QUICK_PIN = "480516"


def visible_text(page: str) -> str:
    """The words a quick page shows: without its scripts, styles and tags."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def stops_by_hotspot(page: str, area: Area) -> dict[str, list[float]]:
    """The numbers of each stop of tonight's plan, as the quick page lists them."""
    found: dict[str, list[float]] = {}
    for item in re.findall(r"<li>(.*?)</li>", page, re.S):
        text = html.unescape(item)
        code = next(code for code in CODES.values() if code in text)
        found[code] = numbers(text, identifiers(area))
    return found


def test_the_quick_page_shows_no_number_that_orders_hotspots_by_size(
    areas: tuple[Area, Area], tmp_path: Path
) -> None:
    """The page outside Streamlit, opened with a PIN: the same attack on its plan and its map."""
    seen = []
    for index, area in enumerate(areas):
        with area.workspace.begin() as connection:
            account = find_account(connection, "peer")
            assert account is not None
            set_pin(connection, account, QUICK_PIN)
        try:
            with serving(area.workspace.path, tmp_path / f"quick-{index}.log") as url:
                cookie = device_cookie(url, area.workspace, "peer")
                pages = {}
                for language in ("en", "es"):
                    address = f"{url}/api/quick/area?lang={language}&team=K1"
                    status, _, page = ask(
                        address, method="POST", body=f"pin={QUICK_PIN}", cookie=cookie
                    )
                    assert status == 200 and "FeatureCollection" in page
                    pages[language] = page
        finally:  # the other tests sign this account in without a PIN
            with area.workspace.begin() as connection:
                connection.execute(
                    users.update().where(users.c.username == "peer").values(pin_hash=None)
                )
        for language, page in pages.items():
            stops = stops_by_hotspot(page, area)
            assert list(stops) == [CODES[p] for p in ROUTE], language
            assert not orders_by_size(stops, area)
            assert not orders_by_size(tips_by_hotspot(geojson_features(page), area), area)
            text = visible_text(page)
            for figure in ("Estimated people", "Kits to bring", "Personas estimadas", "Kits a"):
                assert figure not in text
        seen.append(pages)
    # the same pages when only the sizes differ: every word and every feature
    for language in ("en", "es"):
        first, second = (pages[language] for pages in seen)
        assert visible_text(first) == visible_text(second)
        assert geojson_features(first) == geojson_features(second)
