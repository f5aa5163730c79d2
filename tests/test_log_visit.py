"""Logging a visit from the app: a cell chosen on the phone is checked, stored once, nothing finer.

The browser side (the tap and "use my location" turned into a cell on the phone, every message
the page sends, the taps of a visit, a dropped signal) is in ``test_browser_log_visit.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

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
from mapping.i18n import translator
from mapping.ingest.capture import (
    MAX_WAIT,
    VisitEntry,
    cell_at,
    district_of,
    entry_from_form,
    log_visit,
    place_at,
    place_cell,
)
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


#: A field the page's form leaves out.
DROP = object()
#: The district holding TAP (Cercado de Lima) and one far from it (Ventanilla).
LIMA_ID, FAR_ID = "PE-150101", "PE-070106"


def _form(workspace: Workspace, **changes: object) -> dict[str, object]:
    """What the Log a visit form sends for a visit at TAP (made on the phone, no point)."""
    values: dict[str, object] = {
        "submission_id": "6f1c1a52-6d0b-4c1e-9d57-0b3f3f6f2a10",
        "seq": 1,
        "channel": "in_person",
        "cell": h3.latlng_to_cell(*TAP, workspace.resolution),
        "district_id": LIMA_ID,
        "supplies": {"male_condoms": 10, "lubricant": 10, "female_condoms": 1},
        "referrals": ["hiv_testing"],
        "contact_code": "LIM-0042",
        "waited_seconds": 0,
    }
    return values | changes


def test_a_cell_chosen_on_the_phone_is_placed_as_the_tap_was(workspace: Workspace) -> None:
    """The phone's cell and district give what the server's own tap gives; a cell without a
    district gets the district of its centre, marked estimated."""
    tapped = place_at(workspace, *TAP)
    phone = place_cell(workspace, h3.latlng_to_cell(*TAP, workspace.resolution), LIMA_ID)
    assert (phone.cell, phone.district_id, phone.estimated) == (tapped.cell, LIMA_ID, False)
    assert place_cell(workspace, tapped.cell, LIMA_ID) == phone  # the integer form too
    alone = place_cell(workspace, h3.latlng_to_cell(*TAP, workspace.resolution), None)
    assert (alone.cell, alone.district_id, alone.estimated) == (tapped.cell, LIMA_ID, True)


@pytest.mark.parametrize(
    ("cell", "district", "message"),
    [
        ("zz", None, r"cell 'zz' is not an H3 cell id — tap the map again where you met"),
        (True, None, r"cell 'True' is not an H3 cell id — tap the map again"),
        (
            h3.latlng_to_cell(*TAP, 9),
            None,
            rf"cell {h3.latlng_to_cell(*TAP, 9)} is at resolution 9, not the workspace's 8 — "
            "reload the page and tap the map again",
        ),
        (
            h3.latlng_to_cell(-13.5320, -71.9675, 8),
            None,
            r"cell 88\w+ is outside the area's districts — tap inside a district outline",
        ),
        (
            h3.latlng_to_cell(*TAP, 8),
            "PE-999999",
            r"district 'PE-999999' is not one of the area's — reload the page and tap the map",
        ),
        (
            h3.latlng_to_cell(*TAP, 8),
            FAR_ID,
            rf"district '{FAR_ID}' is not where cell {h3.latlng_to_cell(*TAP, 8)} lies — tap",
        ),
    ],
)
def test_a_cell_the_phone_cannot_have_chosen_is_refused(
    workspace: Workspace, cell: object, district: str | None, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        place_cell(workspace, cell, district)  # type: ignore[arg-type]


def test_the_forms_visit_is_dated_when_it_was_saved_on_the_phone(workspace: Workspace) -> None:
    """A visit that waited 30 minutes for a signal is dated 30 minutes back; its place is the
    phone's cell and district, checked."""
    who = {"peer_educator": "PE-01", "team": "T1", "now": WHEN}
    waited = entry_from_form(workspace, _form(workspace, waited_seconds=1800.5), **who)
    assert waited.when == WHEN - dt.timedelta(seconds=1800.5)
    assert (waited.cell, waited.district_id) == (cell_at(workspace, *TAP), LIMA_ID)
    assert (waited.supplies, waited.referrals) == (
        {"male_condoms": 10, "lubricant": 10, "female_condoms": 1},
        ("hiv_testing",),
    )
    too_long = MAX_WAIT.total_seconds() + 1
    assert entry_from_form(workspace, _form(workspace, waited_seconds=too_long), **who).when == WHEN
    phone = entry_from_form(workspace, _form(workspace, channel="phone"), **who)
    assert (phone.cell, phone.district_id) == (None, None)
    drift = entry_from_form(workspace, _form(workspace, district_id=None), **who)
    assert (drift.cell, drift.district_id) == (cell_at(workspace, *TAP), None)  # estimated
    assert log_visit(workspace, waited).accepted == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ("a visit", r"cannot read \(not an object\) — reload the page and log the visit again"),
        (
            {"submission_id": DROP},
            r"the page sent a visit this app cannot read \(no submission_id\)",
        ),
        ({"cell": 5}, r"cannot read \(cell is of type int\)"),
        ({"waited_seconds": "soon"}, r"cannot read \(waited_seconds is of type str\)"),
        ({"supplies": {"male_condoms": "ten"}}, r"\(supplies are not whole numbers\)"),
        ({"supplies": {"male_condoms": True}}, r"\(supplies are not whole numbers\)"),
        ({"referrals": [3]}, r"\(referrals are not service types\)"),
        (
            {"submission_id": "visit-1"},
            r"submission id 'visit-1' is not a UUID — reload the page and log the visit again",
        ),
    ],
)
def test_a_form_this_app_did_not_send_is_refused(
    workspace: Workspace, form: object, message: str
) -> None:
    sent = form
    if isinstance(form, dict):  # a change of the form the page sends
        sent = {k: v for k, v in _form(workspace, **form).items() if v is not DROP}
    with pytest.raises(InvalidInputError, match=message):
        entry_from_form(workspace, sent, peer_educator="PE-01", team="T1", now=WHEN)


def test_the_form_is_answered_saved_already_or_refused(workspace: Workspace) -> None:
    """Sent again (the signal came back), a visit is stored once; a refusal says the fix."""
    from views.components.visit_form import save_sent_visit

    t = translator("en")
    who = {"peer_educator": "PE-01", "team": "T1", "t": t}
    form = _form(workspace)
    first = save_sent_visit(workspace, form, **who)  # type: ignore[arg-type]
    assert first == {
        "submission_id": form["submission_id"],
        "status": "saved",
        "message": "Visit saved. Its cell now shows as visited this week.",
    }
    again = save_sent_visit(workspace, {**form, "seq": 2}, **who)  # type: ignore[arg-type]
    assert (again["status"], again["message"]) == ("already", t("log.already"))
    other = "0d9e3b4a-1c2f-4e5a-8b6c-7d8e9f0a1b2c"
    named = _form(workspace, submission_id=other, contact_code="Maria Lopez")
    refused = save_sent_visit(workspace, named, **who)  # type: ignore[arg-type]
    assert (refused["submission_id"], refused["status"]) == (other, "refused")
    assert "contact_code looks like a person's name" in refused["message"]
    assert "Maria" not in refused["message"]
    assert len(_visits(workspace)) == 1


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
    form = _form_args(at)
    assert (form["labels"]["review"], form["labels"]["save"]) == ("Save visit", "Yes, save")
    assert form["labels"]["no_place"] == "Tap the map where you met (or use your location) first."
    assert form["kit"] == {"male_condoms": 10, "lubricant": 10, "female_condoms": 1}
    assert (form["resolution"], form["ready"], form["acknowledged"]) == (8, True, None)
    assert form["basemap_url"] is None
    # the outlines the phone places with: each district near the team, closer than the drawn ones
    placing = {f["properties"]["id"] for f in form["placing"]["features"]}
    drawn = {f["properties"]["id"] for f in form["outlines"]["features"]}
    assert placing and placing <= drawn
    at.query_params["lang"] = "es"
    at.run()
    assert at.title[0].value == "Registrar visita"
    labels = _form_args(at)["labels"]
    assert (labels["review"], labels["kit"]) == ("Guardar visita", "Kit estándar")
    assert labels["pending"].startswith("Aún no se guardó")


def _form_args(at: AppTest) -> dict[str, Any]:
    """The arguments the page gave the Log a visit form (one form on the page)."""
    (form,) = [
        json.loads(element.proto.json_args)
        for element in at.get("component_instance")
        if element.proto.component_name == "views.components.visit_form.visit_form"
    ]
    return dict(form)


@pytest.mark.browser
def test_a_visit_logged_on_a_phone_shows_its_cell(served_copy: tuple[str, Path]) -> None:
    """Tap the map, standard kit, one more condom, refer, save: stored, and its cell drawn."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, path = served_copy
    workspace = open_workspace(path)
    new_cell = _cell_next_to_the_team(workspace, "T2")
    before = _visits(workspace)
    requested: list[str] = []
    iframe = 'iframe[title="views.components.visit_form.visit_form"]'
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
            phone.on("request", lambda request: requested.append(request.url))
            page = phone.new_page()
            page.goto(f"{url}/log_visit?role=peer&team=T2", wait_until="domcontentloaded")
            page.locator(iframe).first.wait_for(timeout=90_000)
            frame = page.frame_locator(iframe).first
            frame.locator(".om-legend").wait_for(timeout=90_000)
            cells = frame.locator(".leaflet-overlay-pane path")
            drawn = cells.count()
            started = time.monotonic()
            tap_cell(page, iframe, new_cell)
            frame.get_by_text("Place chosen").wait_for(timeout=30_000)
            chosen = cells.count()  # the chosen cell is drawn on the phone, as a hexagon
            frame.get_by_role("button", name="Standard kit", exact=True).click()
            frame.get_by_role("button", name="One more: Condoms").click()
            frame.get_by_role("button", name="HIV testing").click()
            frame.get_by_role("button", name="Save visit").click()
            frame.get_by_text("Save this visit? Handed out: 11 Condoms, 10 Lube").wait_for()
            frame.get_by_role("button", name="Yes, save").click()
            frame.get_by_text("Visit saved").wait_for(timeout=30_000)
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
    print(f"tap to saved: {taken:.1f} s (one visit, 6 taps)")
    assert chosen == drawn + 1
    assert after == drawn + 1  # the new cell is on the map (the chosen one cleared)
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
