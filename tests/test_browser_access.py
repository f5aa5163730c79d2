"""Signing in, in Chromium, to a served workspace that is not the demo: each role, every page.

Each role signs in through the form, opens every page through the sidebar, and the test reads
every polygon the Leaflet maps hold to find the H3 cells drawn: the finest resolution a role
gets, and for a peer educator, only their own team's cells. Without a PIN, reloading the page
asks for the password again, and after signing out the back button shows nothing but the form.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, outside_requests, serving
from helpers import TEST_PASSWORD, copy_workspace, drawn_cells
from playwright.sync_api import expect

from mapping.access.accounts import DEMO_KEY, add_account
from mapping.storage.audit import Actor
from mapping.storage.store import meta, peer_educators, services, users, visits
from mapping.storage.workspace import Workspace

pytestmark = pytest.mark.browser
#: The maps: folium's, and the Log a visit form's own (its map is named ``map_visit``).
IFRAME = (
    'iframe[title="streamlit_folium.st_folium"], '
    'iframe[title="views.components.visit_form.visit_form"]'
)
#: role -> sidebar links, each with a text that shows the page is there
PAGES = {
    "coordinator": [
        ("Overview", "Unique contacts"),
        ("Coverage", "Districts ranked by gap"),
        ("Hotspots", "Needs attention"),
        ("Plan", "Plan the route"),
        ("Services", "Open now"),
        ("Suggest sites", "Service type"),
        ("Import", "What does the file hold?"),
    ],
    "peer": [("My area", "Open now, friendly"), ("Log a visit", "Your phone turns the place")],
    "funder": [("Reach", "District")],
    "admin": [("Admin", "Audit log")],
}
#: Every polygon ring of a Leaflet map, as [lat, lng] pairs (Leaflet nests rings in arrays).
RINGS = """() => {
  const name = Object.keys(window).find((k) => k.startsWith("map_"));
  const rings = [];
  const walk = (items) => {
    if (items.length && items[0].lat !== undefined) rings.push(items.map((p) => [p.lat, p.lng]));
    else items.forEach(walk);
  };
  window[name].eachLayer((layer) => { if (layer.getLatLngs) walk(layer.getLatLngs()); });
  return rings;
}"""


@pytest.fixture
def programme(demo_workspace: Path, tmp_path: Path) -> Iterator[tuple[str, Workspace]]:
    """The demo's data served as a real deployment: one account per role, no demo accounts."""
    workspace = copy_workspace(demo_workspace, tmp_path / "programme")
    with workspace.begin() as connection:
        connection.execute(meta.delete().where(meta.c.key == DEMO_KEY))
        connection.execute(users.delete().where(users.c.username.like("demo-%")))
        for role in PAGES:
            add_account(
                connection,
                role,
                role,
                by=Actor("t", "admin"),
                password=TEST_PASSWORD,
                teams=["T1"] if role == "peer" else [],
            )
    with serving(workspace.path, tmp_path / "streamlit.log") as url:
        yield url, workspace


def sign_in(page: Any, url: str, role: str) -> None:
    """Sign in with the password, declining the PIN offer (tests/test_browser_lock.py sets one)."""
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("textbox", name="Username").fill(role, timeout=90_000)
    page.get_by_role("textbox", name="Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if role != "admin":
        page.get_by_role("button", name="Not now").click(timeout=90_000)
    page.get_by_text(f"Signed in as {role}").wait_for(timeout=90_000)


def cells_on_page(page: Any) -> dict[int, int]:
    """Wait for the page to settle; return the H3 cells its maps draw, with their resolution."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000
    )
    found: dict[int, int] = {}
    for index in range(page.locator(IFRAME).count()):
        frame = page.frame_locator(IFRAME).nth(index)
        frame.locator(".om-legend").first.wait_for(timeout=120_000)
        handle = page.locator(IFRAME).nth(index).element_handle()
        # the legend can come before the layers: read until two reads a moment apart agree
        rings, previous, deadline = [], None, time.monotonic() + 60
        while time.monotonic() < deadline:
            rings = handle.content_frame().evaluate(RINGS)
            if rings and rings == previous:
                break
            previous = rings
            time.sleep(0.5)
        found |= drawn_cells(rings)
    return found


def test_each_role_signs_in_and_its_maps_hold_only_what_it_may_see(
    programme: tuple[str, Workspace],
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, workspace = programme
    with workspace.connect() as connection:
        service_cells = set(connection.execute(sa.select(services.c.cell)).scalars())
        team = (
            sa.select(visits.c.cell)
            .join(peer_educators, peer_educators.c.id == visits.c.peer_educator_id)
            .where(visits.c.cell.is_not(None))
        )
        own = set(connection.execute(team.where(peer_educators.c.team == "T1")).scalars())
    requested: list[str] = []
    seen: dict[str, dict[int, int]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for role, pages in PAGES.items():
                context = browser.new_context(viewport={"width": 1400, "height": 1000})
                context.on("request", lambda request: requested.append(request.url))
                page = context.new_page()
                page.goto(url, wait_until="domcontentloaded")
                page.get_by_role("button", name="Sign in").wait_for(timeout=90_000)
                page.get_by_text("Username").wait_for(timeout=30_000)
                if role == "coordinator":
                    page.screenshot(path=str(SCREENSHOTS / "sign-in.png"))
                # a wrong password first: refused, nothing else drawn
                page.get_by_role("textbox", name="Username").fill(role)
                page.get_by_role("textbox", name="Password").fill("not the password")
                page.get_by_role("button", name="Sign in").click()
                page.get_by_text("Wrong username or password.").wait_for(timeout=60_000)
                assert page.locator('[data-testid="stSidebar"] a').count() == 0
                sign_in(page, url, role)
                links = page.locator('[data-testid="stSidebar"] a')
                links.nth(len(pages) - 1).wait_for(timeout=90_000)  # drawn after the page
                # each link's text is its icon's name, then its title
                assert [links.nth(i).inner_text().split()[-1] for i in range(links.count())] == [
                    name.split()[-1] for name, _ in pages
                ]
                cells: dict[int, int] = {}
                for name, marker in pages:
                    page.locator('[data-testid="stSidebar"] a', has_text=name).click()
                    page.get_by_text(marker).first.wait_for(timeout=120_000)
                    cells |= cells_on_page(page)
                if role == "admin":
                    page.screenshot(path=str(SCREENSHOTS / "admin.png"))
                seen[role] = cells
                # reloading starts a new app session: without a PIN, only the password form comes
                # back (with one, the PIN form on this device: tests/test_browser_lock.py)
                page.reload(wait_until="domcontentloaded")
                page.get_by_role("button", name="Sign in").wait_for(timeout=90_000)
                sign_in(page, url, role)
                page.get_by_role("button", name="Sign out").click()
                page.get_by_text("You are signed out.").wait_for(timeout=60_000)
                page.go_back(wait_until="domcontentloaded")
                page.get_by_role("button", name="Sign in").wait_for(timeout=90_000)
                # the signed-in page's map may linger a moment while the form replaces it
                expect(page.locator(IFRAME)).to_have_count(0, timeout=30_000)
                context.close()
        finally:
            browser.close()
    print({role: sorted(set(found.values())) for role, found in seen.items()})
    assert set(seen["coordinator"].values()) == {workspace.resolution}
    assert seen["peer"] and set(seen["peer"]) <= own | service_cells
    assert all(resolution <= 6 for resolution in seen["funder"].values())
    assert not seen["admin"]
    assert outside_requests(requested) == []
