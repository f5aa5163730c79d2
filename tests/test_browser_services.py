"""The Services page in Chromium: map, legend, a filter, a service added by clicking the map."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h3
import numpy as np
import polars as pl
import pytest
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    record_traffic,
)
from helpers import query

from mapping.cells import cell_centres
from mapping.registries.services import read_services
from mapping.storage.workspace import open_workspace

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: Central Lima: the added service goes to the free cell nearest to it.
CENTRE = (-12.06, -77.03)


def candidate_cells(path: Path) -> list[str]:
    """Cells of the area at least 1.5 km from every service, nearest central Lima first.

    A click there lands on the map, not on a service's icon.
    """
    workspace = open_workspace(path)
    cells = [int(cell) for (cell,) in query(workspace, "SELECT cell FROM area_cells")]
    lat, lng = cell_centres(cells)
    services = read_services(workspace)
    s_lat, s_lng = cell_centres(services["cell"].to_list())
    km = 111.0 * np.hypot(
        lat[:, None] - s_lat[None, :], (lng[:, None] - s_lng[None, :]) * np.cos(np.radians(12))
    )
    free = km.min(axis=1) >= 1.5
    order = np.argsort(np.hypot(lat - CENTRE[0], lng - CENTRE[1]))
    return [h3.int_to_str(cells[i]) for i in order if free[i]][:40]


def wait_for_count(locator: Any, ok: Any, seconds: float = 60) -> int:
    """Wait until ``ok(count)`` holds for the locator's count; return the count."""
    deadline = time.monotonic() + seconds
    count = locator.count()
    while not ok(count) and time.monotonic() < deadline:
        time.sleep(0.25)
        count = locator.count()
    return int(count)


def wait_for_value(read: Any, ok: Any, seconds: float = 60) -> int:
    """Wait until ``ok(read())`` holds; return the last value read."""
    deadline = time.monotonic() + seconds
    value = read()
    while not ok(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = read()
    return int(value)


#: Reads, in a map's frame, the services it draws: the icons its cluster group holds (shown
#: or inside a cluster), and its dashed cells; -1 while the map is not drawn yet.
DRAWN_JS = """() => {
    const name = Object.keys(window).find((k) => k.startsWith("map_"));
    const map = window[name];
    if (!map || !window.L) { return -1; }
    let drawn = 0;
    map.eachLayer((layer) => {
        if (L.MarkerClusterGroup && layer instanceof L.MarkerClusterGroup) {
            drawn += layer.getLayers().length;
        }
    });
    return drawn + document.querySelectorAll(
        ".leaflet-overlay-pane path[stroke-dasharray]").length;
}"""


def drawn_services(page: Any) -> int:
    """Return how many services (icons and cells) the page's map draws, or -1 before it is."""
    from playwright.sync_api import Error

    try:
        frame = page.locator(IFRAME).first.element_handle(timeout=5_000).content_frame()
        return -1 if frame is None else int(frame.evaluate(DRAWN_JS))
    except Error:  # the frame reloads while the page reruns: read it again
        return -1


def click_free_place(page: Any, cells: list[str]) -> str:
    """Click the map at the centre of the first candidate cell clear of the controls."""
    handle = page.locator(IFRAME).first.element_handle()
    content = handle.content_frame()
    for cell in cells:
        lat, lng = h3.cell_to_latlng(cell)
        x, y, inside = content.evaluate(
            """([lat, lng]) => {
                const p = map.latLngToContainerPoint([lat, lng]);
                const box = map.getContainer().getBoundingClientRect();
                const blocked = [...document.querySelectorAll(
                    ".om-legend, .leaflet-control-zoom, .leaflet-control-scale, "
                    + ".leaflet-control-attribution, .om-service, .marker-cluster")].some((el) => {
                    const r = el.getBoundingClientRect();
                    return p.x >= r.left - 12 && p.x <= r.right + 12
                        && p.y >= r.top - 12 && p.y <= r.bottom + 12;
                });
                const inside = p.x > 20 && p.y > 20 && p.x < box.width - 20
                    && p.y < box.height - 20 && !blocked;
                return [p.x, p.y, inside];
            }""",
            [lat, lng],
        )
        if inside:
            page.frame_locator(IFRAME).first.locator(".leaflet-container").click(
                position={"x": x, "y": y}
            )
            return cell
    pytest.fail("no free place of the area is visible on the map")


@pytest.mark.browser
def test_services_page_in_chromium(served_copy: tuple[str, Path]) -> None:
    """Filter the map, add a sensitive service by clicking it, confirm, see it stored."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, path = served_copy
    cells = candidate_cells(path)
    requested: list[str] = []
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            record_traffic(context, requested, failed)
            page = context.new_page()
            page.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
            page.get_by_text("Unique contacts").first.wait_for(timeout=90_000)
            page.locator('[data-testid="stSidebar"] a', has_text="Services").click()
            page.get_by_text("Services shown", exact=True).wait_for(timeout=90_000)
            frame = page.frame_locator(IFRAME).first
            frame.locator(".leaflet-container").wait_for(timeout=90_000)
            legend = frame.locator(".om-legend")
            legend.wait_for(timeout=30_000)
            legend_text = legend.inner_text()
            every = wait_for_value(lambda: drawn_services(page), lambda n: n > 300)

            # a filter: only services open at night (most of them are cells, not icons)
            before = page.get_by_text("services shown.").inner_text()
            page.get_by_text("Open at night").click()
            page.get_by_text("services shown.").filter(has_not_text=before).wait_for()
            night = page.get_by_text("services shown.").inner_text()
            frame = page.frame_locator(IFRAME).first
            frame.locator(".om-legend").wait_for(timeout=30_000)
            night_drawn = wait_for_value(lambda: drawn_services(page), lambda n: 0 < n < every)

            # add a sensitive service where the map is clicked
            page.get_by_text("Sensitive: show only its cell").click()
            page.get_by_role("textbox", name="Name").fill("Consultorio de confianza (prueba)")
            page.get_by_role("textbox", name="Opening hours").fill("Fr-Sa 21:00-03:00")
            page.get_by_role("textbox", name="Opening hours").press("Enter")
            page.get_by_text("No place yet").first.wait_for(timeout=30_000)
            page.wait_for_timeout(1000)
            cell = click_free_place(page, cells)
            page.get_by_text(f"Place: cell {cell}; only the cell is stored.").wait_for(
                timeout=60_000
            )
            page.get_by_text("Saving adds service S-0001:").wait_for(timeout=30_000)
            picked = page.frame_locator(IFRAME).first.locator(
                '.leaflet-overlay-pane path[stroke="#000000"]'
            )
            outlined = wait_for_count(picked, lambda n: n == 1, 30)
            page.get_by_text("I checked these details").click()
            page.get_by_role("button", name="Save").click()
            page.get_by_text("Added service S-0001:").wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            shown = page.get_by_text("services shown.").inner_text()
            # Streamlit scrolls its main block, not the page: back to the top for the picture
            page.locator('[data-testid="stMain"]').evaluate("main => main.scrollTo(0, 0)")
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / "services.png"))

            phone = browser.new_context(viewport={"width": 390, "height": 844})
            phone.on("request", lambda request: requested.append(request.url))
            mobile = phone.new_page()
            mobile.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
            mobile.get_by_text("Unique contacts").first.wait_for(timeout=90_000)
            mobile.locator('[data-testid="stExpandSidebarButton"]').click()
            mobile.locator('[data-testid="stSidebar"] a', has_text="Services").click()
            mobile.get_by_text("Services shown", exact=True).wait_for(timeout=90_000)
            # on a phone the menu folds itself away once a page is chosen
            mobile.locator('[data-testid="stExpandSidebarButton"]').wait_for(timeout=30_000)
            mobile.frame_locator(IFRAME).first.locator(".om-legend").wait_for(timeout=90_000)
            mobile.wait_for_timeout(1500)
            mobile.screenshot(path=str(SCREENSHOTS / "services-phone.png"))
        finally:
            browser.close()

    assert "HIV testing" in legend_text and "cell only" in legend_text, legend_text
    assert before.endswith("services shown.") and night != before
    assert int(night.split()[0]) < int(before.split()[0]) and 0 < night_drawn < every
    assert outlined == 1
    total = len(read_services(open_workspace(path)))
    assert shown.endswith(f"of {total} services shown."), shown
    stored = query(
        open_workspace(path),
        "SELECT name, cell, location, sensitive, opening_hours FROM services WHERE id = 'S-0001'",
    )
    assert stored == [
        ("Consultorio de confianza (prueba)", h3.str_to_int(cell), None, 1, "Fr-Sa 21:00-03:00")
    ]
    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert not failed, f"failed requests: {failed}"


#: Reads, in a map's frame, the clusters and lone icons shown, the services the clusters hold
#: (their numbers), and the colours of a cluster's disc, its number and the map's ground.
CLUSTERS_JS = """() => {
    const clusters = [...document.querySelectorAll(".marker-cluster")];
    const disc = clusters.length ? getComputedStyle(clusters[0].querySelector("div")) : null;
    return {
        clusters: clusters.length,
        icons: document.querySelectorAll(".om-service").length,
        inside: clusters.reduce((sum, el) => sum + Number(el.textContent), 0),
        cells: document.querySelectorAll(".leaflet-overlay-pane path[stroke-dasharray]").length,
        disc: disc && disc.backgroundColor,
        number: disc && disc.color,
        ground: getComputedStyle(document.querySelector(".leaflet-container")).backgroundColor,
    };
}"""


def contrast(first: str, second: str) -> float:
    """Return the WCAG contrast ratio of two CSS ``rgb(...)`` colours."""

    def luminance(colour: str) -> float:
        channels = [float(c) / 255 for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def open_services(page: Any, url: str, *, phone: bool = False) -> Any:
    """Open the demo's Services page as its coordinator; return the map's frame once drawn."""
    page.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
    page.get_by_text("Unique contacts").first.wait_for(timeout=90_000)
    if phone:
        page.locator('[data-testid="stExpandSidebarButton"]').click()
    page.locator('[data-testid="stSidebar"] a', has_text="Services").click()
    page.get_by_text("Services shown", exact=True).wait_for(timeout=90_000)
    frame = page.frame_locator(IFRAME).first
    frame.locator(".marker-cluster").first.wait_for(timeout=90_000)
    frame.locator(".om-legend").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # the clusters' fade-in
    return frame


@pytest.mark.browser
def test_services_map_clusters_icons_with_files_from_the_app(
    served_app: str, demo_workspace: Path
) -> None:
    """Icons cluster, cells do not, the plugin comes from the app, the legend folds on a phone.

    Every public service with a point is either a lone icon or counted in a cluster's number,
    and far fewer marks are drawn than services; the sensitive services' cells are drawn as
    they are. Cluster numbers stay readable in light and dark mode. On a phone 390 px wide the
    legend is folded into its title and covers under a fifth of the map.
    """
    need_chromium()
    from playwright.sync_api import sync_playwright

    services = read_services(open_workspace(demo_workspace))
    points = services.filter(pl.col("latitude").is_not_null() & ~pl.col("sensitive")).height
    requested: list[str] = []
    failed: list[str] = []
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for scheme in ("light", "dark"):
                context = browser.new_context(
                    viewport={"width": 1400, "height": 1000}, color_scheme=scheme
                )
                record_traffic(context, requested, failed)
                page = context.new_page()
                frame = open_services(page, served_app)
                seen[scheme] = frame.locator("body").evaluate(CLUSTERS_JS)
                seen[f"{scheme}_open"] = frame.locator(".om-legend details").evaluate(
                    "box => box.open"
                )
                frame.locator(".leaflet-container").scroll_into_view_if_needed()
                page.wait_for_timeout(500)
                page.locator(IFRAME).first.screenshot(
                    path=str(SCREENSHOTS / f"services-clusters-{scheme}.png")
                )
                context.close()

            phone = browser.new_context(viewport={"width": 390, "height": 844})
            record_traffic(phone, requested, failed)
            mobile = phone.new_page()
            frame = open_services(mobile, served_app, phone=True)
            legend = frame.locator(".om-legend")
            whole = frame.locator(".leaflet-container").bounding_box()
            folded = legend.bounding_box()
            seen["phone_open"] = legend.locator("details").evaluate("box => box.open")
            frame.locator(".leaflet-container").scroll_into_view_if_needed()
            mobile.wait_for_timeout(500)
            mobile.screenshot(path=str(SCREENSHOTS / "services-clusters-phone.png"))
            legend.locator("summary").click()
            seen["phone_opened"] = legend.locator("details").evaluate("box => box.open")
            seen["phone_text"] = legend.inner_text()
        finally:
            browser.close()

    for scheme in ("light", "dark"):
        drawn = seen[scheme]
        assert drawn["clusters"] > 0, drawn
        assert drawn["icons"] + drawn["inside"] == points, (drawn, points)
        assert drawn["clusters"] + drawn["icons"] < points / 5, drawn
        assert drawn["cells"] > 0, drawn  # sensitive services: cells, never clustered
        assert contrast(drawn["disc"], drawn["number"]) >= 4.5, drawn
        assert contrast(drawn["disc"], drawn["ground"]) >= 3, drawn
        assert seen[f"{scheme}_open"] is True  # a desktop's legend opens unfolded
    assert seen["light"]["disc"] != seen["dark"]["disc"]
    assert seen["phone_open"] is False and seen["phone_opened"] is True
    assert folded["width"] * folded["height"] <= 0.2 * whole["width"] * whole["height"]
    assert folded["height"] >= 42, folded  # a finger's tap target
    assert "HIV testing" in seen["phone_text"], seen["phone_text"]
    vendored = [url for url in requested if "/vendor/leaflet.markercluster-1.5.3/" in url]
    assert {urlsplit(url).path.rsplit("/", 1)[1] for url in vendored} == {
        "leaflet.markercluster.js",
        "MarkerCluster.css",
    }
    assert all(urlsplit(url).hostname == "127.0.0.1" for url in vendored), vendored
    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert not failed, f"failed requests: {failed}"
