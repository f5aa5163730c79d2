"""The Streamlit app: a headless AppTest run, and the real page in Chromium, offline."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
import polars as pl
import pytest
import sqlalchemy as sa
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    need_chromium,
    outside_requests,
    record_traffic,
    serving,
)
from streamlit.testing.v1 import AppTest

from mapping.analysis.coverage import CoverageReport, coverage
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.gaps import hotspot_gaps
from mapping.analysis.siting import suggest_sites
from mapping.i18n import translator
from mapping.maps.base import (
    DEFAULT_ASSETS_URL,
    GESTURE_HANDLING_URL,
    LEAFLET_VERSION,
    GeoJSON,
    basemap_from_env,
    district_layers,
)
from mapping.maps.coverage import (
    GAP_COLOURS,
    RECENCY_COLOURS,
    SELECTED_COLOUR,
    cells_map,
    coverage_layer,
    coverage_map,
    findings_layer,
    hotspot_layer,
    recency_legend,
    site_numbers_layer,
    sites_layers,
    sites_legend,
)
from mapping.maps.overview import VISIT_COLOURS, OverviewLayers, overview_layers, overview_map
from mapping.storage import store
from mapping.storage.workspace import open_workspace

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SCREENSHOT = ROOT / "screenshots" / "overview.png"


@pytest.fixture(scope="module")
def demo_layers(demo_workspace: Path) -> OverviewLayers:
    return overview_layers(open_workspace(demo_workspace))


def test_vendored_leaflet_is_in_place() -> None:
    folder = ROOT / "static" / "vendor" / f"leaflet-{LEAFLET_VERSION}"
    for name in ("leaflet.js", "leaflet.css", "LICENSE", "images/layers.png"):
        assert (folder / name).is_file(), name
    assert (
        (folder / "leaflet.js")
        .read_text()
        .startswith(f"/* @preserve\n * Leaflet {LEAFLET_VERSION},")
    )
    assert DEFAULT_ASSETS_URL.endswith(f"/app/static/vendor/leaflet-{LEAFLET_VERSION}")


def test_overview_map_links_nothing_but_the_vendored_leaflet(demo_layers: OverviewLayers) -> None:
    page = overview_map(demo_layers, language="en").get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(links) == [
        f"{DEFAULT_ASSETS_URL}/leaflet.css",
        f"{DEFAULT_ASSETS_URL}/leaflet.js",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.css",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.js",
    ]
    assert not re.search(r"https?://", page)
    assert "L.tileLayer" not in page


def test_a_basemap_is_opt_in(demo_layers: OverviewLayers) -> None:
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    basemap = basemap_from_env({"OUTREACH_MAP_BASEMAP_URL": url})
    assert basemap == (url, "Tiles: tiles.example.org")
    page = overview_map(demo_layers, language="en", basemap=basemap).get_root().render()
    assert "L.tileLayer" in page
    assert url in page


def test_layers_hold_no_point_or_name_of_a_sensitive_service(
    demo_workspace: Path, demo_layers: OverviewLayers
) -> None:
    s = store.services.c
    with open_workspace(demo_workspace).connect() as connection:
        rows = connection.execute(sa.select(s.name, s.sensitive, s.location)).all()
        visited = connection.execute(
            sa.select(sa.func.count(sa.distinct(store.visits.c.cell)))
        ).scalar_one()
    sensitive = [name for name, is_sensitive, _ in rows if is_sensitive]
    placed = [name for name, is_sensitive, location in rows if location and not is_sensitive]
    assert sensitive
    text = repr(demo_layers)
    assert not [name for name in sensitive if name in text]
    assert len(demo_layers.service_points["features"]) == len(placed)
    assert {f["geometry"]["type"] for f in demo_layers.service_points["features"]} == {"Point"}
    assert len(demo_layers.service_cells["features"]) >= len(sensitive)
    for layer in (demo_layers.service_cells, demo_layers.visited_cells):
        assert {f["geometry"]["type"] for f in layer["features"]} == {"Polygon"}
    assert len(demo_layers.visited_cells["features"]) == visited
    assert len(demo_layers.districts["features"]) == 50


def test_app_runs_on_the_demo_workspace(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    assert at.title[0].value == "outreach-map"
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Districts"] == "50"
    assert set(metrics) == {
        "Districts",
        "Services",
        "Hotspots",
        "Visits",
        "Visits without location",
        "Unique contacts",
    }
    assert int(metrics["Visits"].replace(",", "")) > 0


@pytest.mark.parametrize("where", ["unset", "not a workspace"])
def test_app_explains_a_missing_workspace(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "unset":
        monkeypatch.delenv("OUTREACH_MAP_WORKSPACE", raising=False)
    else:
        monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(tmp_path))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    message = at.error[0].value
    assert "Cannot open a workspace" in message
    assert ("OUTREACH_MAP_WORKSPACE" if where == "unset" else "not a workspace") in message


@pytest.mark.browser
def test_overview_map_in_chromium_makes_no_outside_request(served_app: str) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            record_traffic(context, requested, failed)
            page = context.new_page()
            page.goto(f"{served_app}/?role=coordinator", wait_until="domcontentloaded")
            page.get_by_text("Unique contacts").first.wait_for(timeout=90_000)

            iframe = 'iframe[title="streamlit_folium.st_folium"]'
            page.locator(iframe).wait_for(timeout=90_000)
            frame = page.frame_locator(iframe)
            frame.locator(".leaflet-container").wait_for(timeout=90_000)
            frame.locator(".om-legend").wait_for(timeout=30_000)
            paths = frame.locator(".leaflet-overlay-pane path")
            deadline = time.monotonic() + 30
            while paths.count() <= 50 and time.monotonic() < deadline:
                time.sleep(0.25)
            districts = frame.locator('.leaflet-overlay-pane path[stroke="#4a4a4a"]').count()
            visited = sum(
                frame.locator(f'.leaflet-overlay-pane path[fill="{colour}"]').count()
                for colour in VISIT_COLOURS
            )
            leaflet = page.locator(iframe).element_handle()
            content = leaflet.content_frame() if leaflet else None
            version = content.evaluate("L.version") if content else None
            page.wait_for_timeout(1000)  # let the tooltip-free map settle before the picture
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            coverage_page = _coverage_page_in_chromium(page, iframe)
            phone = browser.new_context(viewport={"width": 390, "height": 844})
            phone.on("request", lambda request: requested.append(request.url))
            mobile = phone.new_page()
            mobile.goto(f"{served_app}/?role=peer", wait_until="domcontentloaded")
            mobile.get_by_text("Open now, friendly").wait_for(timeout=90_000)
            mobile.frame_locator(iframe).first.locator(".om-legend").wait_for(timeout=90_000)
            peer_cells = mobile.frame_locator(iframe).first.locator(".leaflet-overlay-pane path")
            peer_paths = peer_cells.count()
            mobile.wait_for_timeout(1000)
            mobile.screenshot(path=str(SCREENSHOT.with_name("my-area-phone.png")), full_page=True)
        finally:
            browser.close()

    assert paths_drawn(districts, visited)
    assert coverage_page["districts"] == 50
    assert coverage_page["before"].startswith("VILLA MARIA DEL TRIUNFO: rank 1 of 50")
    assert coverage_page["after"].split(":")[0] != "VILLA MARIA DEL TRIUNFO"
    assert "district=" in coverage_page["url"]
    assert coverage_page["Hotspots"] > 50 + 100  # district outlines and 111 hotspot cells
    assert coverage_page["Suggest sites"] > 50 + 3
    # the team's cells and the districts around them (My area leaves out the rest: a phone's
    # slow connection)
    assert 20 < peer_paths < 50 + 40, peer_paths
    assert version == LEAFLET_VERSION
    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert any("/app/static/vendor/leaflet-" in url for url in requested)
    assert not failed, f"failed requests: {failed}"


def _coverage_page_in_chromium(page: Any, iframe: str) -> dict[str, Any]:
    """Open the coverage page, click a mapped district, and return what the page showed."""
    # through the sidebar, as people do (a deep link makes Streamlit probe /coverage/_stcore/
    # for its base path first, which answers 404 before it falls back)
    page.locator('[data-testid="stSidebar"] a', has_text="Coverage").click()
    page.get_by_text("Districts ranked by gap").wait_for(timeout=90_000)
    page.wait_for_timeout(1000)
    frame = page.frame_locator(iframe).first
    frame.locator(".leaflet-container").wait_for(timeout=90_000)
    frame.locator(".om-legend").wait_for(timeout=30_000)
    paths = frame.locator(".leaflet-overlay-pane path")
    deadline = time.monotonic() + 30
    while paths.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.25)
    # the chosen district's heading: "NAME: rank 1 of 50 by gap score, …"
    heading = page.locator('[data-testid="stMain"] strong').filter(has_text=": rank ").first
    found = {"districts": paths.count(), "before": heading.inner_text()}
    # a district coloured in the 20-40 class (mapped, moderate gap)
    frame.locator(f'.leaflet-overlay-pane path[fill="{GAP_COLOURS[1]}"]').first.dispatch_event(
        "click"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found["after"] = heading.inner_text()
        if found["after"] != found["before"]:
            break
        time.sleep(0.5)
    found["url"] = page.url
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENSHOT.with_name("coverage.png")), full_page=True)
    for name, heading in (("Hotspots", "Needs attention"), ("Suggest sites", "Service type")):
        page.locator('[data-testid="stSidebar"] a', has_text=name).click()
        page.get_by_text(heading).first.wait_for(timeout=90_000)
        frame = page.frame_locator(iframe).first
        frame.locator(".om-legend").wait_for(timeout=90_000)
        found[name] = frame.locator(".leaflet-overlay-pane path").count()
        page.wait_for_timeout(1000)
        shot = SCREENSHOT.with_name(name.lower().replace(" ", "-") + ".png")
        page.screenshot(path=str(shot), full_page=True)
    return found


def paths_drawn(districts: int, visited: int) -> bool:
    """All 50 district outlines and dozens of visited cells are on the map."""
    assert districts == 50, f"{districts} district outlines drawn"
    assert visited > 50, f"{visited} visited cells drawn"
    return True


def test_serve_listens_on_this_machine_only_and_asks_no_outside_server(
    demo_workspace: Path, tmp_path: Path
) -> None:
    """`outreach-map serve` binds 127.0.0.1 and skips Streamlit's public-IP lookup."""
    log = tmp_path / "serve.log"
    with serving(demo_workspace, log) as url:
        port = urlsplit(url).port
    # stopping the command stopped the server too: nothing listens on the port any more
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    text = log.read_text(errors="replace")
    assert f"http://127.0.0.1:{port}" in text
    assert "external IP" not in text
    assert "External URL" not in text
    assert "Network URL" not in text


@pytest.fixture(scope="module")
def demo_coverage(demo_workspace: Path) -> tuple[CoverageReport, GeoJSON, GeoJSON]:
    """The demo's coverage report and its district outlines and labels."""
    workspace = open_workspace(demo_workspace)
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
    return coverage(workspace), outlines, labels


def test_coverage_map_is_offline_and_holds_districts_only(
    demo_coverage: tuple[CoverageReport, GeoJSON, GeoJSON],
) -> None:
    """One polygon per district coloured by gap, a legend, no outside link, no cell or point."""
    report, outlines, labels = demo_coverage
    t = translator("en")
    layer = coverage_layer(report, outlines, t, selected="PE-150125")
    assert len(layer["features"]) == 50
    assert {f["geometry"]["type"] for f in layer["features"]} <= {"Polygon", "MultiPolygon"}
    assert all(set(f["properties"]) == {"id", "name", "tip", "style"} for f in layer["features"])
    puente = next(f for f in layer["features"] if f["properties"]["id"] == "PE-150125")
    assert puente["properties"]["style"]["color"] == SELECTED_COLOUR
    assert "PUENTE PIEDRA\nrank " in puente["properties"]["tip"]
    unmapped = [f for f in layer["features"] if f["properties"]["style"]["fillColor"] == "#d9d9d9"]
    assert len(unmapped) == (report.districts["estimate_source"] == "population prior").sum()
    page = coverage_map(layer, labels, t, language="en").get_root().render()
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(links) == [
        f"{DEFAULT_ASSETS_URL}/leaflet.css",
        f"{DEFAULT_ASSETS_URL}/leaflet.js",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.css",
        f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.js",
    ]
    assert not re.search(r"https?://", page)
    assert "Gap score" in page and "not mapped" in page
    es = translator("es")
    spanish = (
        coverage_map(coverage_layer(report, outlines, es), labels, es, language="es")
        .get_root()
        .render()
    )
    assert "Brecha" in spanish and "sin mapear" in spanish


def test_coverage_page_in_english_and_spanish(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The coordinator's coverage page runs, ranks 50 districts and explains one."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.switch_page("views/coverage.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Coverage"
    ranking = at.dataframe[0].value
    assert len(ranking) == 50 and list(ranking.columns)[:2] == ["Rank", "District"]
    assert "score    = 100 x (" in at.code[0].value
    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Cobertura"
    assert list(at.dataframe[0].value.columns)[:2] == ["Puesto", "Distrito"]
    assert "puntaje  = 100 x (" in at.code[0].value  # the explanation is translated too


@pytest.mark.parametrize(
    ("page", "english", "spanish"),
    [
        ("views/hotspots.py", "Hotspots", "Puntos de trabajo"),
        ("views/sites.py", "Suggest sites", "Sugerir sitios"),
    ],
)
def test_coordinator_pages_run_in_english_and_spanish(
    page: str, english: str, spanish: str, demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each page runs without an error and shows its table, in both languages."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == english
    assert len(at.dataframe[0].value) > 0
    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == spanish


def test_hotspot_and_site_maps_hold_cells_only_and_stay_offline(
    demo_workspace: Path, demo_coverage: tuple[CoverageReport, GeoJSON, GeoJSON]
) -> None:
    """Hotspots as cells coloured by recency; sites and the hotspots they serve as cells."""
    report, outlines, labels = demo_coverage
    t = translator("en")
    workspace = open_workspace(demo_workspace)
    data = load_coverage_data(workspace, report.period)
    findings = hotspot_gaps(report, data)
    hotspots = hotspot_layer(report, t)
    assert len(hotspots["features"]) == report.hotspots.height == 111
    colours = {f["properties"]["style"]["fillColor"] for f in hotspots["features"]}
    assert RECENCY_COLOURS["week"] in colours and RECENCY_COLOURS["overdue"] in colours
    emerging = findings_layer(findings, t)
    # one outline per cell: a border cell emerging in two districts is two findings
    emerging_cells = findings.filter(pl.col("kind") == "emerging")["cell_id"].n_unique()
    assert len(emerging["features"]) == emerging_cells > 0
    sites = suggest_sites(data, report.options, service_type="hiv_testing", count=3)
    uncovered = report.hotspots.filter(~pl.col("reach_hiv_testing")).select("id", "cell")
    site_layer, lacking = sites_layers(sites, uncovered, t)
    assert len(site_layer["features"]) == 3 and len(lacking["features"]) == uncovered.height
    for layers, legend in (
        ([("hotspots", hotspots), ("emerging", emerging)], recency_legend(t, 30)),
        ([("lacking", lacking), ("sites", site_layer)], sites_legend(t)),
    ):
        for _, layer in layers:
            assert {f["geometry"]["type"] for f in layer["features"]} == {"Polygon"}
            # a cell's outline: six (or five) corners, never a point
            assert all(len(f["geometry"]["coordinates"][0]) in (6, 7) for f in layer["features"])
        page = cells_map(outlines, labels, layers, legend, language="en").get_root().render()
        assert not re.search(r"https?://", page)
        assert sorted(re.findall(r'(?:src|href)="([^"]+)"', page)) == [
            f"{DEFAULT_ASSETS_URL}/leaflet.css",
            f"{DEFAULT_ASSETS_URL}/leaflet.js",
            f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.css",
            f"{GESTURE_HANDLING_URL}/leaflet-gesture-handling.min.js",
        ]


def test_site_numbers_are_the_ranks_at_the_centres_of_the_sites_cells() -> None:
    """Each suggested site's rank, as the table shows it, sits at its cell's centre, best first."""
    cells = [h3.latlng_to_cell(-12.06 - i / 100, -77.03, 8) for i in range(3)]
    sites = pl.DataFrame({"rank": [3, 1, 2], "cell_id": cells, "district": ["A", "B", "C"]})
    layer = site_numbers_layer(sites)
    names = [f["properties"]["name"] for f in layer["features"]]
    assert names == ["1", "2", "3"]
    for feature, cell in zip(layer["features"], [cells[1], cells[2], cells[0]], strict=True):
        lng, lat = feature["geometry"]["coordinates"]
        assert h3.latlng_to_cell(lat, lng, 8) == cell
        assert feature["properties"]["colour"].startswith("#")
    assert site_numbers_layer(sites.clear())["features"] == []


def test_peer_page_shows_places_and_services_but_no_counts(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo role switch shows the peer educator's page only: no table of figures."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "peer"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "My area"
    assert not at.dataframe and not at.metric
    assert "Demo workspace" in " ".join(c.value for c in at.sidebar.caption)
    assert next(m.value for m in at.markdown if m.value.startswith("**")) == "**HIV testing**"
    at.query_params["lang"] = "es"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Mi zona"


def test_choices_take_effect_and_survive_page_switches(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Language, period and district picked in the boxes apply, and stay across pages."""
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.sidebar.selectbox(key="language__box").set_value("es").run()
    assert not at.exception, at.exception
    assert at.query_params["lang"] in ("es", ["es"])
    at.switch_page("views/coverage.py")
    at.run()
    assert at.title[0].value == "Cobertura"  # still Spanish on the next page
    at.selectbox(key="district__box").set_value("PE-150125").run()
    assert at.code[0].value.startswith("PUENTE PIEDRA (PE-150125)")
    quarter = next(p for p in at.selectbox(key="period__box").options if "-Q" in p)
    at.selectbox(key="period__box").set_value(quarter).run()
    at.switch_page("views/hotspots.py")
    at.run()
    assert at.selectbox(key="period__box").value == quarter
    at.switch_page("views/coverage.py")
    at.run()
    assert at.code[0].value.startswith("PUENTE PIEDRA (PE-150125)")
    assert at.title[0].value == "Cobertura"
    at.sidebar.selectbox(key="role__box").set_value("peer").run()
    assert at.title[0].value == "Mi zona"
