"""The Plan page in Chromium: plan a route, see it numbered on the map, download its sheet."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RECORD_TEXT,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    tables_not_fitting,
)
from pypdf import PdfReader

from mapping.storage import store
from mapping.storage.workspace import open_workspace

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
#: A coordinate (4 or more decimals) or a keyed hash of a contact code (64 hex digits).
COORDINATE = re.compile(r"-?\d{1,3}\.\d{4,}")
HASH = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.mark.browser
def test_plan_a_route_and_download_its_run_sheet(served_copy: tuple[str, Path]) -> None:
    need_chromium()
    served_app, workspace_path = served_copy
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    seen: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1366, "height": 1100}, accept_downloads=True
            )
            context.add_init_script(RECORD_TEXT)  # the tables' headers, as drawn
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto(f"{served_app}/plan?role=coordinator", wait_until="domcontentloaded")
            button = page.get_by_role("button", name="Plan the route")
            button.wait_for(timeout=90_000)
            button.click()
            # shown first, stored only on saving; the run sheets come with the saved plan
            save = page.get_by_role("button", name="Save these plans")
            save.wait_for(timeout=90_000)
            seen["before_save"] = page.get_by_role("button", name="Run sheet (PDF)").count()
            save.click()
            page.get_by_text("Saved.").wait_for(timeout=60_000)
            # the button goes once the page has run again with the plans saved
            save.wait_for(state="detached", timeout=60_000)
            seen["save_after"] = save.count()
            pdf_button = page.get_by_role("button", name="Run sheet (PDF)")
            pdf_button.wait_for(timeout=90_000)
            frame = page.frame_locator(IFRAME).first
            frame.locator(".om-stop").first.wait_for(timeout=60_000)
            seen["numbers"] = frame.locator(".om-stop").all_inner_texts()
            seen["heading"] = page.get_by_role("heading", name=re.compile("Team T1")).inner_text()
            page.wait_for_timeout(1000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "plan.png"), full_page=True)
            seen["wide"] = tables_not_fitting(page, "plan")  # the stops at 1366 px
            with page.expect_download() as info:
                pdf_button.click()
            seen["pdf_name"] = info.value.suggested_filename
            seen["pdf"] = Path(info.value.path()).read_bytes()
            with page.expect_download() as info:
                page.get_by_role("button", name="Run sheet (CSV)").click()
            seen["csv"] = Path(info.value.path()).read_bytes()
            page.wait_for_timeout(1000)
        finally:
            browser.close()

    workspace = open_workspace(workspace_path)
    with workspace.connect() as connection:
        plans = connection.execute(sa.select(store.plans.c.team, store.plans.c.id)).all()
        stops = connection.execute(
            sa.select(store.plan_stops.c.seq, store.plan_stops.c.cell).order_by(
                store.plan_stops.c.seq
            )
        ).all()
        exports = connection.execute(
            sa.select(store.audit_log.c.detail).where(
                store.audit_log.c.action == "export",
                store.audit_log.c.username == "demo-coordinator",
            )
        ).all()
        planned_by = connection.execute(
            sa.select(store.audit_log.c.username).where(store.audit_log.c.action == "plan")
        ).all()
    assert seen["before_save"] == 0 and seen["save_after"] == 0
    assert not seen["wide"], "\n".join(seen["wide"])
    assert planned_by == [("demo-coordinator",)]  # the account, though saved in a callback
    assert [team for team, _ in plans] == ["T1"]
    assert len(stops) >= 2
    # the map numbers the stops 1..n (stops sharing a cell share a badge, "2·3")
    numbers = sorted(int(n) for badge in seen["numbers"] for n in badge.split("·"))
    assert numbers == list(range(1, len(stops) + 1))
    assert "T1" in seen["heading"]

    assert seen["pdf_name"].startswith("plan-T1-") and seen["pdf_name"].endswith(".pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(seen["pdf"])).pages)
    rows = list(csv.reader(io.StringIO(seen["csv"].decode("utf-8"))))
    for sheet in (text, seen["csv"].decode("utf-8")):
        assert not COORDINATE.search(sheet), COORDINATE.search(sheet)
        assert not HASH.search(sheet)
        for _, cell in stops:
            assert f"{cell:x}" in sheet  # each stop by its cell id
            assert str(cell) not in sheet  # never the integer form
    assert len(rows) == len(stops) + 1
    assert any("run sheet (pdf)" in detail for (detail,) in exports)
    assert any("run sheet (csv)" in detail for (detail,) in exports)

    outside = outside_requests(requested)
    assert not outside, f"requests left the machine: {sorted(set(outside))}"
