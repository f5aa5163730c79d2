"""Logging a visit from the app: a tap becomes a cell, the visit is stored once, nothing finer."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import h3
import pytest
import sqlalchemy as sa
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    tap_cell,
)
from streamlit.testing.v1 import AppTest

from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.peers import peer_educators, team_cells, team_peer_educator_ids
from mapping.errors import InvalidInputError
from mapping.ingest.capture import VisitEntry, cell_at, district_of, log_visit
from mapping.periods import parse_period
from mapping.storage import store
from mapping.storage.workspace import Workspace, open_workspace

#: Every workspace test here runs on SQLite and on a real PostgreSQL server.
pytestmark = pytest.mark.engines

ROOT = Path(__file__).resolve().parent.parent
#: A tap in central Lima (Cercado), with more decimals than any stored value could carry.
TAP = (-12.0463731, -77.0427934)
WHEN = dt.datetime(2026, 11, 20, 22, 40)


def _entry(workspace: Workspace, **changes: object) -> VisitEntry:
    values: dict[str, object] = {
        "peer_educator": "PE-01",
        "team": "T1",
        "when": WHEN,
        "cell": cell_at(workspace, *TAP),
        "supplies": {"male_condoms": 12, "lubricant": 3},
        "referrals": ("hiv_testing",),
        "contact_code": "LIM-0042",
        "submission_id": "6f1c1a52-6d0b-4c1e-9d57-0b3f3f6f2a10",
    }
    values.update(changes)
    return VisitEntry(**values)  # type: ignore[arg-type]


def _visits(workspace: Workspace) -> list[tuple[object, ...]]:
    with workspace.connect() as connection:
        rows = connection.execute(
            sa.select(
                store.visit_details.c.visit_date,
                store.visit_details.c.cell,
                store.visit_details.c.channel,
                store.visit_details.c.male_condoms,
                store.visit_details.c.lubricant,
                store.visit_details.c.referrals,
                store.visit_details.c.contact_id,
            )
        ).all()
    return [tuple(row) for row in rows]


def test_a_tap_becomes_the_cell_holding_it(workspace: Workspace) -> None:
    cell = cell_at(workspace, *TAP)
    assert cell == h3.str_to_int(h3.latlng_to_cell(*TAP, workspace.resolution))
    assert district_of(workspace, cell) == "LIMA"


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ((-13.5320, -71.9675), "outside the area's districts — tap inside a district outline"),
        ((float("nan"), -77.0), "not on the map — tap the map again"),
        ((-12.0, 200.0), "not on the map — tap the map again"),
    ],
)
def test_a_tap_off_the_area_is_refused(
    workspace: Workspace, where: tuple[float, float], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        cell_at(workspace, *where)


def test_a_logged_visit_is_stored_once_in_its_cell(workspace: Workspace) -> None:
    entry = _entry(workspace)
    first = log_visit(workspace, entry)
    assert (first.accepted, first.duplicates, first.rejected) == (1, 0, 0)
    [(day, cell, _channel, condoms, lube, referrals, contact)] = _visits(workspace)
    assert (day, cell, condoms, lube) == (WHEN.date(), entry.cell, 12, 3)
    assert referrals == 1 << 1  # hiv_testing is service type 1
    assert contact is not None
    again = log_visit(workspace, entry)  # "save" pressed twice: the same submission id
    assert (again.accepted, again.duplicates) == (0, 1)
    assert len(_visits(workspace)) == 1
    other = log_visit(
        workspace, _entry(workspace, submission_id="a" * 8 + "-0000-4000-8000-" + "0" * 12)
    )
    assert other.accepted == 1  # the same person met again: a second visit
    assert len(_visits(workspace)) == 2


def test_a_phone_contact_has_no_place(workspace: Workspace) -> None:
    log_visit(workspace, _entry(workspace, channel="phone"))
    [(_, cell, *_)] = _visits(workspace)
    assert cell is None


def test_no_tapped_coordinate_and_no_contact_code_is_written(workspace: Workspace) -> None:
    log_visit(workspace, _entry(workspace))
    for path in workspace.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for text in ("12.04637", "77.04279", "LIM-0042"):
                assert text.encode() not in data, (path, text)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cell": None}, "no place chosen — tap the map where you met"),
        ({"channel": "carrier pigeon"}, "channel 'carrier pigeon' is not known — use one of"),
        ({"supplies": {"condoms": 1}}, "supply 'condoms' is not known — use one of"),
        ({"supplies": {"lubricant": 501}}, "lubricant = 501 is not a count for one visit"),
        ({"referrals": ("tarot",)}, "referral 'tarot' is not a service type — use one of"),
        ({"peer_educator": "Maria Lopez"}, "the visit was not saved: peer_educator looks like"),
    ],
)
def test_a_bad_visit_is_refused_with_the_fix(
    workspace: Workspace, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        log_visit(workspace, _entry(workspace, **changes))
    assert _visits(workspace) == []


def test_peer_educators_of_a_team(demo_workspace: Path) -> None:
    assert peer_educators(open_workspace(demo_workspace), "T1") == [
        "PE-T1-1",
        "PE-T1-2",
        "PE-T1-3",
        "PE-T1-4",
    ]


def test_log_page_runs_in_english_and_spanish(
    demo_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(demo_workspace))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["role"] = "peer"
    at.run()
    at.switch_page("views/log_visit.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Log a visit"
    assert at.selectbox(key="log_me").value == "PE-T1-1"
    assert at.button[0].label == "Save visit"
    at.button[0].click().run()  # no place tapped yet: asked to tap, nothing saved
    assert "Tap the map where you met first." in at.error[0].value
    at.query_params["lang"] = "es"
    at.run()
    assert at.title[0].value == "Registrar visita"


@pytest.mark.browser
def test_a_visit_logged_on_a_phone_shows_its_cell(served_copy: tuple[str, Path]) -> None:
    """Tap the map, hand out condoms, refer, save: the visit is stored and its cell drawn."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, path = served_copy
    workspace = open_workspace(path)
    new_cell = _cell_next_to_the_team(workspace, "T2")
    before = _visits(workspace)
    requested: list[str] = []
    iframe = 'iframe[title="streamlit_folium.st_folium"]'
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
            phone.on("request", lambda request: requested.append(request.url))
            page = phone.new_page()
            page.goto(f"{url}/log_visit?role=peer&team=T2", wait_until="domcontentloaded")
            page.get_by_text("Tap the map where you met").wait_for(timeout=90_000)
            frame = page.frame_locator(iframe).first
            frame.locator(".om-legend").wait_for(timeout=90_000)
            cells = frame.locator(".leaflet-overlay-pane path")
            drawn = cells.count()
            started = time.monotonic()
            tap_cell(page, iframe, new_cell)
            page.get_by_text("Place chosen").wait_for(timeout=30_000)
            condoms = page.get_by_label("Condoms", exact=True)
            condoms.fill("12")
            condoms.press("Enter")
            page.get_by_role("button", name="HIV testing").click()
            page.get_by_role("button", name="Save visit").click()
            page.get_by_role("button", name="Yes, save").click()
            page.get_by_text("Visit saved").wait_for(timeout=30_000)
            taken = time.monotonic() - started
            deadline = time.monotonic() + 30
            while cells.count() <= drawn and time.monotonic() < deadline:
                time.sleep(0.25)
            after = cells.count()
            page.get_by_text("Log a visit").first.scroll_into_view_if_needed()
            page.wait_for_timeout(1000)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "log-visit-phone.png"), full_page=True)
        finally:
            browser.close()
    print(f"tap to saved: {taken:.1f} s (one visit, 3 taps and a number)")
    assert after == drawn + 1  # the new cell is on the map
    visits = _visits(workspace)
    assert len(visits) == len(before) + 1
    in_cell = [v for v in visits if v[1] == new_cell]
    assert len(in_cell) == len([v for v in before if v[1] == new_cell]) + 1
    assert not outside_requests(requested)


def _cell_next_to_the_team(workspace: Workspace, team: str) -> int:
    """Return a cell of the area near the team's cells that the team did not visit lately."""
    data = load_coverage_data(workspace, parse_period(None, today=dt.date.today()))
    visited = set(team_cells(data, team_peer_educator_ids(workspace, team))["cell"].to_list())
    with workspace.connect() as connection:
        area = set(connection.execute(sa.select(store.area_cells.c.cell)).scalars())
    for cell in sorted(visited):
        for near in h3.grid_ring(h3.int_to_str(cell), 2):
            candidate = h3.str_to_int(near)
            if candidate in area and candidate not in visited:
                return int(candidate)
    raise AssertionError(f"no free cell near team {team}")


def test_a_name_typed_as_the_contact_code_is_refused(workspace: Workspace) -> None:
    """Its keyed hash would let anyone holding the key test a list of names: never stored."""
    with pytest.raises(InvalidInputError, match="contact_code looks like a person's name"):
        log_visit(workspace, _entry(workspace, contact_code="Maria Lopez"))
    assert _visits(workspace) == []
