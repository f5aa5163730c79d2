"""Every page of every role, in Chromium on a desktop and on a phone: drawn, offline, pictured."""

from __future__ import annotations

import time
from typing import Any

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, outside_requests

from mapping.maps.coverage import SELECTED_COLOUR

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: Pages whose map is the app's own component (its text is inside the component's frame too).
FRAMES = {"log_visit": 'iframe[title="views.components.visit_form.visit_form"]'}
#: role -> (page path, sidebar link, text that shows the page is there, has a map)
PAGES: dict[str, list[tuple[str, str, str, bool]]] = {
    "coordinator": [
        ("", "Overview", "Unique contacts", True),
        ("coverage", "Coverage", "Districts ranked by gap", True),
        ("hotspots", "Hotspots", "Needs attention", True),
        ("services", "Services", "Services", True),
        ("sites", "Suggest sites", "Service type", True),
        ("import_data", "Import", "What does the file hold?", False),
    ],
    "peer": [
        ("", "My area", "Open now, friendly", True),
        ("log_visit", "Log a visit", "Tap the map where you met", True),
    ],
    "funder": [("", "Reach", "Reach", True)],
    "admin": [("", "Admin", "Audit log", False)],
}
#: Controls on a page smaller than 44 px in height (WCAG 2.5.5), leaving out heading anchors and
#: help icons, which nobody needs to tap to do the job.
SMALL_CONTROLS = """() => [...document.querySelectorAll(
    '[data-testid="stMain"] button, [data-testid="stMain"] input, [data-testid="stMain"] a,'
    + '[data-testid="stExpandSidebarButton"]')]
  .filter((e) => e.offsetParent !== null)
  .filter((e) => !/^(Link to heading|Help for)/.test(e.getAttribute("aria-label") || ""))
  .filter((e) => !(e.type === "file" || e.closest('[data-testid="stFileUploaderDropzone"]')))
  .map((e) => [e.getAttribute("aria-label") || e.innerText.slice(0, 30),
               Math.round(e.getBoundingClientRect().height)])
  .filter(([, height]) => height > 0 && height < 44)"""
#: Districts are outlined in grey on every map, the chosen one (coverage, reach) in orange.
DISTRICT_STROKES = ("#4a4a4a", SELECTED_COLOUR)


def _drawn(
    page: Any, marker: str, has_map: bool, iframe: str = IFRAME, *, every: bool = True
) -> int:
    """Wait for the page and its map; return how many district outlines the map holds.

    ``every``: the map draws every district (50), not only those around a team's cells.
    """
    if iframe == IFRAME:
        page.get_by_text(marker).first.wait_for(timeout=120_000)
    else:
        page.frame_locator(iframe).first.get_by_text(marker).first.wait_for(timeout=120_000)
    if not has_map:
        return 0
    frame = page.frame_locator(iframe).first
    frame.locator(".leaflet-container").wait_for(timeout=120_000)
    frame.locator(".om-legend").first.wait_for(timeout=120_000)
    outlines = frame.locator(
        ", ".join(f'.leaflet-overlay-pane path[stroke="{c}"]' for c in DISTRICT_STROKES)
    )
    deadline = time.monotonic() + 30
    while outlines.count() < (50 if every else 1) and time.monotonic() < deadline:
        time.sleep(0.25)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )
    page.wait_for_timeout(800)  # let the map settle before the picture
    return int(outlines.count())


def _pan_and_zoom(page: Any, iframe: str = IFRAME) -> None:
    """Drag the map and zoom it with the + button, as people do; wait as long as a rerun takes."""
    box = page.locator(iframe).first.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 80, steps=8)
    page.mouse.up()
    page.frame_locator(iframe).first.locator(".leaflet-control-zoom-in").click()
    page.wait_for_timeout(1500)


@pytest.mark.browser
def test_every_page_draws_its_map_offline_on_desktop_and_phone(served_app: str) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    outlines: dict[str, int] = {}
    reruns: dict[str, int] = {}
    small: dict[str, list[Any]] = {}
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for role, pages in PAGES.items():
                desktop = browser.new_context(viewport={"width": 1400, "height": 1000})
                desktop.on("request", lambda request: requested.append(request.url))
                page = desktop.new_page()
                sent: list[int] = []

                def watch(socket: Any, sent: list[int] = sent) -> None:
                    requested.append(socket.url)
                    socket.on("framesent", lambda payload: sent.append(len(payload)))

                page.on("websocket", watch)
                page.goto(f"{served_app}/?role={role}", wait_until="domcontentloaded")
                for path, link, marker, has_map in pages:
                    # through the sidebar, as people do (the links appear once a run ends)
                    page.locator('[data-testid="stSidebar"] a', has_text=link).first.click()
                    iframe = FRAMES.get(path, IFRAME)
                    every = link != "My area"  # (its map: the districts around the team)
                    outlines[f"{role}/{link}"] = _drawn(page, marker, has_map, iframe, every=every)
                    assert sent, "the page switch itself was seen on the websocket"
                    if has_map:  # panning and zooming the map does not rerun the page
                        before = len(sent)
                        _pan_and_zoom(page, iframe)
                        reruns[f"{role}/{link}"] = len(sent) - before
                    name = (path or pages[0][1]).lower().replace(" ", "-").replace("_", "-")
                    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
                desktop.close()
                phone = browser.new_context(viewport={"width": 390, "height": 844})
                phone.on("request", lambda request: requested.append(request.url))
                mobile = phone.new_page()
                for path, link, marker, has_map in pages:
                    mobile.goto(f"{served_app}/{path}?role={role}", wait_until="domcontentloaded")
                    iframe = FRAMES.get(path, IFRAME)
                    outlines[f"{role}/{link} (phone)"] = _drawn(
                        mobile, marker, has_map, iframe, every=link != "My area"
                    )
                    if role == "peer":  # the pages used on a phone at night
                        small[link] = mobile.evaluate(SMALL_CONTROLS)
                    name = (path or pages[0][1]).lower().replace(" ", "-").replace("_", "-")
                    mobile.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"))
                phone.close()
        finally:
            browser.close()
    mapped = {
        page: count
        for page, count in outlines.items()
        if not any(name in page for name in ("Import", "Admin"))  # the pages without a map
    }
    # every district, but on My area: the districts around the team's cells only
    assert all(
        count == 50 if "My area" not in page else 0 < count < 50 for page, count in mapped.items()
    ), sorted(mapped.items())
    assert not outside_requests(requested), sorted(set(outside_requests(requested)))
    assert reruns and not any(reruns.values()), reruns  # the browser sent nothing back
    assert small and not any(small.values()), small  # every control a thumb can hit
