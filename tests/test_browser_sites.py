"""The Suggest sites page in Chromium: each site's rank on the map, as the table beside it says."""

from __future__ import annotations

from typing import Any

import h3
import pytest
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    record_traffic,
)

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: Reads, in the map's frame, each number label in drawing order: its text and where it is.
LABELS_JS = """() => {
    const name = Object.keys(window).find((k) => k.startsWith("map_"));
    const labels = [];
    window[name].eachLayer((layer) => {
        const icon = layer instanceof L.Marker && layer.options.icon;
        if (icon && icon.options.className === "om-stop-icon") {
            const at = layer.getLatLng();
            labels.push([layer.getElement().textContent, at.lat, at.lng]);
        }
    });
    return labels;
}"""


def table_rows(page: Any) -> list[list[str]]:
    """Return the texts of the page's table, row by row (the header row left out)."""
    rows = page.locator('[data-testid="stDataFrame"] tr')
    texts = [row.locator("td").all_inner_texts() for row in rows.all()]
    return [[text.strip() for text in row] for row in texts if row]


@pytest.mark.browser
def test_suggested_sites_carry_their_rank_on_the_map(served_app: str) -> None:
    """Labels 1..N sit on the sites' cells, in rank order, as the table orders the cells."""
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
            page.locator('[data-testid="stSidebar"] a', has_text="Suggest sites").click()
            page.get_by_text("How many sites").first.wait_for(timeout=90_000)
            # the table's accessible copy (hidden: its picture is a canvas) holds its texts
            page.locator('[data-testid="stDataFrame"] td').first.wait_for(
                state="attached", timeout=90_000
            )
            # the cell is a column on demand: show them all (rank, cell, district, …)
            page.get_by_text("Show all columns").first.click()
            page.wait_for_function(
                """() => [...document.querySelectorAll('[data-testid="stDataFrame"] tr')]
                    .some((row) => row.querySelectorAll('td').length === 6)""",
                timeout=90_000,
            )
            frame = page.frame_locator(IFRAME).first
            frame.locator(".om-stop").first.wait_for(timeout=90_000)
            page.wait_for_timeout(500)
            shown = frame.locator(".om-stop").all_inner_texts()
            labels = frame.locator("body").evaluate(LABELS_JS)
            rows = table_rows(page)
            frame.locator(".leaflet-container").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(SCREENSHOTS / "sites.png"))
        finally:
            browser.close()

    assert len(rows) == 3, rows  # the page suggests three sites unless asked otherwise
    ranks = [row[0] for row in rows]
    assert ranks == ["1", "2", "3"], rows
    assert shown == ranks  # drawn in rank order
    assert [text for text, _, _ in labels] == ranks
    for (text, lat, lng), row in zip(labels, rows, strict=True):
        cell = row[1]
        assert h3.latlng_to_cell(lat, lng, h3.get_resolution(cell)) == cell, (text, row)
    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
    assert not failed, f"failed requests: {failed}"
