"""Editing the hotspot registry in the app: cells only, checked fields, every change recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import h3
import pytest
import sqlalchemy as sa
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, outside_requests, tap_cell
from streamlit.testing.v1 import AppTest

from mapping.errors import InvalidInputError
from mapping.ingest.capture import cell_at
from mapping.ingest.registry_files import hotspots_from_file
from mapping.registries.hotspots import (
    HotspotDraft,
    hotspot_registry,
    retire_hotspot,
    save_hotspot,
    validate_hotspot,
)
from mapping.storage import store
from mapping.storage.workspace import Workspace, open_workspace

#: Every test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 20)
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'


@pytest.fixture
def cell(workspace: Workspace) -> int:
    return cell_at(workspace, -12.0464, -77.0428)


def _log(workspace: Workspace) -> list[tuple[str, str, int, int]]:
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(
                store.imports.c.kind,
                store.imports.c.source_name,
                store.imports.c.accepted,
                store.imports.c.updated,
            ).order_by(store.imports.c.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_add_validate_retire_and_edit_say_what_changed(workspace: Workspace, cell: int) -> None:
    draft = HotspotDraft(
        cell=cell, typology="street", days="Vi-Sa", hours="21:00-03:00", size_min=5, size_max=12
    )
    preview = save_hotspot(workspace, draft, today=TODAY, dry_run=True)
    assert hotspot_registry(workspace).height == 0  # a dry run writes nothing
    added = save_hotspot(workspace, draft, today=TODAY)
    assert added == preview
    assert added.action == "added" and added.hotspot_id == "HS-0001"
    assert added.changed["days"] == (None, "fr,sa")  # Spanish day names, stored canonically
    assert set(added.changed) == {
        "cell",
        "typology",
        "days",
        "hours",
        "size_min",
        "size_max",
        "active",
    }
    [row] = hotspot_registry(workspace).to_dicts()
    assert (row["cell"], row["district"], row["typology"], row["active"]) == (
        cell,
        "LIMA",
        "street",
        True,
    )
    checked = validate_hotspot(workspace, "HS-0001", today=TODAY)
    assert (checked.action, checked.changed) == ("validated", {"last_validated": (None, TODAY)})
    retired = retire_hotspot(workspace, "HS-0001")
    assert (retired.action, retired.changed) == ("retired", {"active": (True, False)})
    assert retire_hotspot(workspace, "HS-0001").action == "unchanged"
    edited = save_hotspot(
        workspace,
        HotspotDraft(
            cell=cell,
            typology="bar",
            days="fr,sa",
            hours="21:00-03:00",
            size_min=5,
            size_max=12,
            last_validated=TODAY,
            active=True,
        ),
        hotspot_id="HS-0001",
        today=TODAY,
    )
    assert edited.action == "updated"
    assert edited.changed == {"typology": ("street", "bar"), "active": (False, True)}
    assert "HS-0001" in edited.summary() and "street → bar" in edited.summary()
    # every change is in the import log, marked as made in the app
    assert [(kind, name) for kind, name, *_ in _log(workspace)] == [
        ("hotspots", "app: added hotspot HS-0001"),
        ("hotspots", "app: validated hotspot HS-0001"),
        ("hotspots", "app: retired hotspot HS-0001"),
        ("hotspots", "app: updated hotspot HS-0001"),
    ]


def test_an_edited_hotspot_reimported_unchanged_is_a_duplicate(
    workspace: Workspace, cell: int, tmp_path: Path
) -> None:
    """The app fingerprints a hotspot as the importer does: the same record is not new.

    Saved by its cell alone, the hotspot's district is the cell centre's, estimated; the file
    gives its point, so the first re-import corrects the district in place (an update, not a
    new hotspot) and the next one is a duplicate.
    """
    save_hotspot(
        workspace,
        HotspotDraft(
            cell=cell, typology="bar", days="fr", hours="22:00-02:00", size_min=3, size_max=8
        ),
        hotspot_id="H-9",
        today=TODAY,
    )
    assert _district(workspace, "H-9")[1] is True
    lat, lng = h3.cell_to_latlng(h3.int_to_str(cell))
    registry = tmp_path / "hotspots.csv"
    registry.write_text(
        "id,latitude,longitude,typology,days,hours,size_min,size_max\n"
        f"H-9,{lat},{lng},bar,fr,22:00-02:00,3,8\n",
        encoding="utf-8",
    )
    result = hotspots_from_file(workspace, registry)
    assert (result.accepted, result.updated, result.duplicates) == (1, 1, 0)
    assert _district(workspace, "H-9")[1] is False
    assert hotspot_registry(workspace).height == 1
    result = hotspots_from_file(workspace, registry)
    assert (result.accepted, result.duplicates) == (0, 1)


def _district(workspace: Workspace, hotspot_id: str) -> tuple[str | None, bool]:
    """A stored hotspot's district and whether it is estimated."""
    h = store.hotspots.c
    with workspace.connect() as connection:
        row = connection.execute(
            sa.select(h.district_id, h.district_estimated).where(h.id == hotspot_id)
        ).one()
    return row[0], bool(row[1])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"typology": "disco"}, "typology 'disco' is not known — use one of: street"),
        ({"safety": "dogs"}, "safety 'dogs' is not known — use one of: none"),
        ({"days": "someday"}, "someday"),
        ({"hours": "late"}, "hours 'late'"),
        ({"size_min": -1}, "size_min = -1 is not an estimate for one cell — give 0 to 5000"),
        ({"size_max": 90_000}, "size_max = 90000 is not an estimate for one cell"),
        ({"size_min": 9, "size_max": 3}, "size_min 9 is larger than size_max 3 — give the minimum"),
        ({"last_validated": dt.date(2027, 1, 1)}, "last_validated 2027-01-01 is in the future"),
        ({"cell": 0x888E62C0CDFFFFF ^ 0xFFFF000}, "outside the area's districts — pick a cell"),
    ],
)
def test_a_bad_hotspot_is_refused_with_the_fix(
    workspace: Workspace, cell: int, changes: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"cell": cell, "typology": "street"}
    values.update(changes)
    with pytest.raises(InvalidInputError, match=message):
        save_hotspot(workspace, HotspotDraft(**values), today=TODAY)  # type: ignore[arg-type]
    assert hotspot_registry(workspace).height == 0


def test_a_hotspot_id_must_be_a_code_and_must_exist(workspace: Workspace, cell: int) -> None:
    draft = HotspotDraft(cell=cell, typology="street")
    with pytest.raises(InvalidInputError, match="'Bar La Rosa' is not a hotspot code — use a"):
        save_hotspot(workspace, draft, hotspot_id="Bar La Rosa", today=TODAY)
    with pytest.raises(InvalidInputError, match="hotspot 'HS-7' does not exist — pick one"):
        retire_hotspot(workspace, "HS-7")


def test_hotspots_page_runs_with_its_editor(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["role"] = "coordinator"
    at.run()
    at.switch_page("views/hotspots.py")
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader][-1] == "Edit the registry"
    assert "Click a cell on the map" in at.info[-1].value
    at.selectbox(key="hs_pick").set_value("H01-01").run()  # a registered hotspot opens
    labels = [b.label for b in at.button]
    assert "Checked today: still there" in labels
    at.query_params["lang"] = "es"
    at.run()
    assert [s.value for s in at.subheader][-1] == "Editar el registro"


@pytest.mark.browser
def test_a_hotspot_is_added_by_clicking_a_cell(served_copy: tuple[str, Path]) -> None:
    """Click an empty cell, describe the hotspot, confirm: it is in the registry and on the map."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, path = served_copy
    workspace = open_workspace(path)
    registry = hotspot_registry(workspace)
    taken = set(registry["cell"].to_list())
    first = int(registry["cell"][0])
    empty = next(
        h3.str_to_int(c)
        for c in h3.grid_ring(h3.int_to_str(first), 3)
        if h3.str_to_int(c) not in taken
    )
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
            page.locator('[data-testid="stSidebar"] a', has_text="Hotspots").click()
            page.get_by_text("Edit the registry").wait_for(timeout=90_000)
            page.frame_locator(IFRAME).first.locator(".om-legend").wait_for(timeout=90_000)
            # zoom the map in on the cell so a click lands in it, as a person would
            content = page.locator(IFRAME).first.element_handle().content_frame()
            lat, lng = h3.cell_to_latlng(h3.int_to_str(empty))
            content.evaluate(
                """([lat, lng]) => {
                    const name = Object.keys(window).find((k) => k.startsWith("map_"));
                    window[name].setView([lat, lng], 15, {animate: false});
                }""",
                [lat, lng],
            )
            tap_cell(page, IFRAME, empty)
            page.get_by_text(f"Cell {empty:x}").wait_for(timeout=30_000)
            page.get_by_label("Working hours").fill("21:00-03:00")
            page.get_by_role("button", name="Save", exact=True).click()
            page.get_by_text("Please confirm.").wait_for(timeout=30_000)
            page.get_by_role("button", name="Yes, do it").click()
            page.get_by_text("Saved. Added hotspot HS-0112.").wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "hotspots-edit.png"), full_page=True)
        finally:
            browser.close()
    added = hotspot_registry(workspace).filter(hotspot_registry(workspace)["id"] == "HS-0112")
    assert added["cell"].to_list() == [empty]
    assert added["hours"].to_list() == ["21:00-03:00"]
    assert not outside_requests(requested)


def _map_zoom(page: Any) -> float:
    """The zoom of the hotspots map now on the page (a click draws a new one)."""
    content = page.locator(IFRAME).first.element_handle().content_frame()
    return float(
        content.evaluate(
            """() => {
                const name = Object.keys(window).find((k) => k.startsWith("map_"));
                return window[name].getZoom();
            }"""
        )
    )


@pytest.mark.browser
def test_a_click_keeps_the_maps_view_and_brings_the_form_into_view(
    served_copy: tuple[str, Path],
) -> None:
    """Zoomed in, a tap on a cell opens the form in view, and the map opens on that cell."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, path = served_copy
    registry = hotspot_registry(open_workspace(path))
    first = int(registry["cell"][0])
    target = next(
        h3.str_to_int(c)
        for c in h3.grid_ring(h3.int_to_str(first), 2)
        if h3.str_to_int(c) not in set(registry["cell"].to_list())
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{url}/?role=coordinator", wait_until="domcontentloaded")
            page.locator('[data-testid="stSidebar"] a', has_text="Hotspots").click()
            page.get_by_text("Edit the registry").wait_for(timeout=90_000)
            page.frame_locator(IFRAME).first.locator(".om-legend").wait_for(timeout=90_000)
            whole_area = _map_zoom(page)
            content = page.locator(IFRAME).first.element_handle().content_frame()
            lat, lng = h3.cell_to_latlng(h3.int_to_str(target))
            content.evaluate(
                """([lat, lng]) => {
                    const name = Object.keys(window).find((k) => k.startsWith("map_"));
                    window[name].setView([lat, lng], 14, {animate: false});
                }""",
                [lat, lng],
            )
            page.wait_for_timeout(1000)
            before = _map_zoom(page)
            tap_cell(page, IFRAME, target)
            page.get_by_text(f"Cell {target:x}").wait_for(timeout=30_000)
            page.frame_locator(IFRAME).first.locator(".om-legend").wait_for(timeout=90_000)
            page.wait_for_timeout(2000)  # the new map opens, then takes the view it had
            after = _map_zoom(page)
            form = page.locator('[data-testid="stForm"]').first.bounding_box()
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "hotspots-click.png"))
        finally:
            browser.close()
    assert before == 14 != whole_area
    assert after == 15  # views.hotspot_editor.CLICK_ZOOM: on the picked cell, not the area
    assert form is not None and 0 <= form["y"] < 900
