"""The Reach page in Chromium: map, trend, CSV download, and no request leaving the machine."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, outside_requests

from mapping.access.disclosure import ledger
from mapping.access.funder_reach import reach_csv, reach_release, reach_table
from mapping.i18n import translator
from mapping.maps.reach import HIDDEN_FILL, REACH_COLOURS
from mapping.storage.audit import Actor
from mapping.storage.workspace import open_workspace

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
COLUMNS = 5


def watch(context: Any, requested: list[str], failed: list[str]) -> None:
    """Record every request of a browser context, and every answer that failed."""
    context.on("request", lambda request: requested.append(request.url))
    context.on(
        "response",
        lambda response: (
            failed.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )


def wait_for_map(page: Any) -> Any:
    """Wait until the Leaflet map in its iframe has its legend and 50 districts drawn."""
    frame = page.frame_locator(IFRAME).first
    frame.locator(".leaflet-container").wait_for(timeout=90_000)
    frame.locator(".om-legend").wait_for(timeout=30_000)
    paths = frame.locator(".leaflet-overlay-pane path")
    deadline = time.monotonic() + 30
    while paths.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.25)
    return frame


@pytest.mark.browser
def test_reach_page_in_chromium(served_copy: tuple[str, Path]) -> None:
    """The first view makes the releases, on a private copy of the demo."""
    need_chromium()
    served_app, demo_workspace = served_copy
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    failed: list[str] = []
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 1000}, accept_downloads=True
            )
            watch(context, requested, failed)
            page = context.new_page()
            page.on("websocket", lambda socket: requested.append(socket.url))
            page.goto(f"{served_app}/?role=funder", wait_until="domcontentloaded")
            page.get_by_text("Download this table (CSV)").wait_for(timeout=90_000)
            frame = wait_for_map(page)
            paths = frame.locator(".leaflet-overlay-pane path")
            seen["paths"] = paths.count()
            seen["hatched"] = frame.locator(f'path[fill="{HIDDEN_FILL}"]').count()
            seen["coloured"] = sum(
                frame.locator(f'path[fill="{colour}"]').count() for colour in REACH_COLOURS
            )
            seen["pattern"] = frame.locator("pattern#om-hatch").count()
            seen["legend"] = frame.locator(".om-legend").inner_text()
            chart = page.locator('[data-testid="stVegaLiteChart"]')
            chart.locator("canvas, svg").first.wait_for(timeout=30_000)
            seen["charts"] = chart.count()
            page.wait_for_timeout(1000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "reach.png"))
            grid = page.locator('[data-testid="stDataFrame"]')
            seen["cells"] = grid.locator("td").all_inner_texts()
            with page.expect_download() as info:
                page.get_by_role("button", name="Download this table (CSV)").click()
            download = info.value
            seen["csv"] = Path(download.path()).read_bytes()
            seen["file"] = download.suggested_filename
            seen["url"] = page.url
            # clicking a district on the map shows its trend
            trend_box = page.get_by_role("combobox", name="Trend for")
            seen["trend_before"] = trend_box.input_value()
            frame.locator(f'path[fill="{REACH_COLOURS[-1]}"]').first.dispatch_event("click")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                seen["trend_after"] = trend_box.input_value()
                if seen["trend_after"] != seen["trend_before"]:
                    break
                time.sleep(0.5)

            phone = browser.new_context(viewport={"width": 390, "height": 844})
            watch(phone, requested, failed)
            mobile = phone.new_page()
            mobile.goto(f"{served_app}/?role=funder&lang=es", wait_until="domcontentloaded")
            mobile.get_by_text("Descargar esta tabla (CSV)").wait_for(timeout=90_000)
            wait_for_map(mobile)
            mobile.wait_for_timeout(1000)
            mobile.screenshot(path=str(SCREENSHOTS / "reach-phone.png"))
        finally:
            browser.close()

    assert seen["paths"] == 50  # districts only: no cell, no point
    assert seen["hatched"] > 0 and seen["coloured"] > 0
    assert seen["hatched"] + seen["coloured"] == 50
    assert seen["pattern"] == 1
    assert "not shown: too few people" in seen["legend"]
    assert seen["charts"] == 1
    assert "Whole area" in seen["trend_before"] and "Whole area" not in seen["trend_after"]

    # the file is the table of the quarter on the page, to the byte
    quarter = parse_qs(urlsplit(seen["url"]).query)["quarter"][0]
    assert seen["file"] == f"reach-{quarter}.csv"
    # the page made one release per finished quarter; asking again returns them as stored
    stored = ledger(open_workspace(demo_workspace))
    assert set(stored["level"]) == {"district"} and set(stored["created_by"]) == {"demo-funder"}
    release = reach_release(open_workspace(demo_workspace), actor=Actor("check", "funder"))
    assert seen["csv"] == reach_csv(reach_table(release, quarter, translator("en")))
    rows = list(csv.reader(io.StringIO(seen["csv"].decode("utf-8-sig"))))
    assert rows[0] == ["Quarter", "District", "Reach", "Target", "% of target", "Note"]
    cells = seen["cells"]
    shown = [cells[i : i + COLUMNS] for i in range(0, len(cells) - COLUMNS + 1, COLUMNS)]
    assert len(shown) >= 5
    # what the grid draws is what the file holds; the quarter, in the heading, is the file's own
    # first column only
    assert shown == [row[1:] for row in rows[1 : 1 + len(shown)]]
    assert {row[0] for row in rows[1:]} == {quarter}
    reach = [int(row[2]) for row in rows[1:-2] if row[2]]  # the districts, not the two sums
    assert len(reach) >= 10 and min(reach) >= 11  # no released figure under k

    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert any("/app/static/vendor/leaflet-" in url for url in requested)
    assert not failed, f"failed requests: {failed}"
