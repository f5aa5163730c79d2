"""My area, quick (``api/quick/area``): the peer educator's page outside Streamlit, and its locks.

The app is served for real (``outreach-map serve``) under a base path, on a copy of the demo's
data run as a real deployment: a peer educator of team T1 with a PIN, one without, and a
coordinator. Each is asked with plain HTTP requests the way an attacker would: without a
shift, with a shift and no PIN, with wrong PINs (three end the shift), from another site, with
a form too large, asking for another team; then in Chromium on a phone at night, in Spanish
and English: the PIN form, the page, a reload, "lock now" and the idle lock. The cells drawn
are compared with the cells of T1's visits read from the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import http.client
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy as sa
from browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    need_chromium,
    outside_requests,
    record_traffic,
    serving,
)
from helpers import TEST_PASSWORD, ask, copy_workspace, device_cookie, drawn_cells, folium_rings

from mapping import clock
from mapping.access.accounts import (
    DEMO_KEY,
    add_account,
    check_session,
    find_account,
    lock_session,
)
from mapping.access.locks import DEVICE_COOKIE, set_pin
from mapping.i18n import catalogue
from mapping.periods import parse_period
from mapping.storage.audit import Actor, audit_entries
from mapping.storage.store import meta, peer_educators, sessions, users, visits
from mapping.storage.workspace import Workspace

PIN = "480516"
ROUTE = "/api/quick/area"
#: Makes the page believe its tab was hidden or shown again (a phone asleep, then woken).
VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
#: What only the page with the programme's data holds: its map's layers, the plan's stops, the
#: services open now (a heading of its own), a hotspot code of the demo, a legend.
DATA_MARKS = ("FeatureCollection", "leaflet.js", "<ol>", "<h2>", "om-legend", "H01-")


@pytest.fixture(scope="module")
def served(
    demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Workspace]]:
    """The demo's data as a real deployment, served under the base path ``om``."""
    folder = tmp_path_factory.mktemp("quick")
    workspace = copy_workspace(demo_workspace, folder / "programme")
    admin = Actor("test", "admin")
    with workspace.begin() as connection:
        connection.execute(meta.delete().where(meta.c.key == DEMO_KEY))
        # the demo accounts' sessions go with them (as remove_account does): a new account
        # given a freed id must not find a session of its own already there
        demo_ids = sa.select(users.c.id).where(users.c.username.like("demo-%"))
        connection.execute(sessions.delete().where(sessions.c.user_id.in_(demo_ids)))
        connection.execute(users.delete().where(users.c.username.like("demo-%")))
        for name, role, teams in (
            ("ana", "peer", ["T1"]),
            ("eva", "peer", ["T1"]),
            ("luz", "peer", ["T1"]),
            ("sol", "peer", ["T1"]),
            ("mia", "peer", ["T1", "T2"]),
            ("tess", "peer", ["T1"]),
            ("cora", "coordinator", []),
        ):
            add_account(connection, name, role, by=admin, password=TEST_PASSWORD, teams=teams)
        for name in ("ana", "eva", "sol", "mia", "tess", "cora"):
            account = find_account(connection, name)
            assert account is not None
            set_pin(connection, account, PIN)
    with serving(workspace.path, folder / "streamlit.log", base_path="om") as url:
        yield url, workspace


def quick(url: str, **params: str) -> str:
    return f"{url}{ROUTE}?{urlencode(params)}"


def no_data(text: str) -> bool:
    return not any(mark in text for mark in DATA_MARKS)


def test_without_a_shift_on_this_device_the_page_says_sign_in_and_shows_nothing(
    served: tuple[str, Workspace],
) -> None:
    url, _ = served
    words = catalogue("en")
    status, headers, text = ask(quick(url))
    assert status == 200 and no_data(text)
    assert words["quick.sign_in_first"].split(".")[0] in text
    assert 'href="../../?lang=en"' in text  # the app, relative to the base path
    # never cached, framed or sent on; the browser may ask no other server
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "http" not in policy  # no basemap server here: no other origin at all
    # a forged cookie is no shift either, and a posted PIN opens nothing
    status, _, text = ask(quick(url), cookie="forged")
    assert status == 200 and no_data(text)
    status, _, text = ask(quick(url), method="POST", body=f"pin={PIN}", cookie="forged")
    assert status == 200 and no_data(text)


def test_the_pin_opens_the_teams_page_and_wrong_ones_are_counted(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    cookie = device_cookie(url, workspace, "ana")
    # the device's shift: the PIN form, whose it is, nothing of the programme
    status, _, form = ask(quick(url, lang="es"), cookie=cookie)
    assert status == 200 and no_data(form)
    assert 'name="pin"' in form and "Cuenta: <strong>ana</strong>" in form
    assert '<html lang="es">' in form
    # a wrong PIN: counted, said, still no data
    status, _, text = ask(quick(url, lang="es"), method="POST", body="pin=111111", cookie=cookie)
    assert status == 200 and no_data(text)
    assert "PIN incorrecto: le quedan 2 intentos" in text
    # the right one: the page, in Spanish, with T1's cells and the lock
    status, headers, page = ask(
        quick(url, lang="es", team="T1"), method="POST", body=f"pin={PIN}", cookie=cookie
    )
    assert status == 200 and headers["cache-control"] == "no-store"
    assert '<html lang="es">' in page and "<h1>Mi zona</h1>" in page
    assert "Nuestras celdas" in page and "Abierto ahora, amigable" in page
    assert 'id="om-lock"' in page and "Bloquear" in page
    assert 'href="../../log_visit?team=T1&amp;lang=es"' in page
    # every script and style from this server, relative to the base path
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
    with workspace.connect() as connection:
        logged = audit_entries(connection)
    mine = logged.filter(logged["username"] == "ana")
    assert "unlock" in mine["action"].to_list()
    assert "PIN, quick My area" in mine["detail"].to_list()
    assert PIN not in " ".join(logged["detail"].cast(str).to_list())


def test_the_page_draws_the_teams_cells_of_the_last_90_days_and_no_other_team(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    cookie = device_cookie(url, workspace, "eva")
    # another team asked for: eva is bound to T1 only, so T1 is what she gets
    status, _, page = ask(quick(url, team="T2"), method="POST", body=f"pin={PIN}", cookie=cookie)
    assert status == 200
    assert "My team: <b>T1</b>" in page and "team=T2" not in page
    drawn = set(drawn_cells(folium_rings(page)))
    # the truth, from the stored visits: T1's cells with a visit in the page's 90 days
    today = clock.now(workspace).date()
    period = parse_period(None, today=today)
    assert (period.end - period.start).days + 1 >= 89
    with workspace.connect() as connection:
        own = set(
            connection.execute(
                sa.select(visits.c.cell)
                .join(peer_educators, peer_educators.c.id == visits.c.peer_educator_id)
                .where(
                    peer_educators.c.team == "T1",
                    visits.c.cell.is_not(None),
                    visits.c.visit_date >= period.start,
                    visits.c.visit_date <= period.end,
                )
            ).scalars()
        )
        service_cells = set(
            connection.execute(sa.text("SELECT cell FROM services WHERE cell IS NOT NULL"))
            .scalars()
            .all()
        )
        others = set(
            connection.execute(
                sa.select(visits.c.cell)
                .join(peer_educators, peer_educators.c.id == visits.c.peer_educator_id)
                .where(peer_educators.c.team != "T1", visits.c.cell.is_not(None))
            ).scalars()
        )
    assert own, "the demo's T1 has visits in the last 90 days"
    assert own <= drawn  # every cell of the team
    assert drawn - own <= service_cells  # and beyond them only friendly services' cells
    only_others = others - own - service_cells
    assert only_others, "other teams work cells T1 does not"
    assert not drawn & only_others  # none of which is drawn


def test_three_wrong_pins_end_the_shift_and_then_the_right_one_opens_nothing(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    cookie = device_cookie(url, workspace, "sol")
    for left in (2, 1):
        _, _, text = ask(quick(url), method="POST", body="pin=000001", cookie=cookie)
        assert f"Wrong PIN: {left} tries left" in text
    status, _, text = ask(quick(url), method="POST", body="pin=000001", cookie=cookie)
    assert status == 200 and no_data(text)
    assert html.escape(catalogue("en")["access.ended_pin"]) in text
    status, _, text = ask(quick(url), method="POST", body=f"pin={PIN}", cookie=cookie)
    assert no_data(text) and 'name="pin"' not in text
    with workspace.connect() as connection:
        ended = connection.execute(
            sa.select(sessions.c.ended_at)
            .join(users, users.c.id == sessions.c.user_id)
            .where(users.c.username == "sol")
        ).scalars()
        assert all(when is not None for when in ended)


def test_a_form_from_another_site_or_too_large_is_refused_before_the_pin_is_counted(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    cookie = device_cookie(url, workspace, "ana")
    status, _, text = ask(
        quick(url),
        method="POST",
        body=f"pin={PIN}",
        cookie=cookie,
        **{"Sec-Fetch-Site": "cross-site"},
    )
    assert status == 403 and no_data(text)
    assert html.escape(catalogue("en")["quick.other_site"]) in text
    status, _, text = ask(quick(url), method="POST", body="pin=" + "9" * 5000, cookie=cookie)
    assert status == 413 and no_data(text)
    assert html.escape(catalogue("en")["quick.too_large"]) in text
    with workspace.connect() as connection:
        failures = connection.execute(
            sa.select(sa.func.max(sessions.c.pin_failures))
            .join(users, users.c.id == sessions.c.user_id)
            .where(users.c.username == "ana", sessions.c.ended_at.is_(None))
        ).scalar_one()
    assert failures == 0


def test_a_page_kept_for_one_account_names_no_other(served: tuple[str, Workspace]) -> None:
    """The page written once per team and kept: each account sees only its name and teams."""
    url, workspace = served
    _, _, first = ask(
        quick(url, team="T1"),
        method="POST",
        body=f"pin={PIN}",
        cookie=device_cookie(url, workspace, "mia"),
    )
    assert "mia" in first and 'href="?team=T2&amp;lang=en"' in first
    _, _, second = ask(
        quick(url, team="T1"),
        method="POST",
        body=f"pin={PIN}",
        cookie=device_cookie(url, workspace, "tess"),
    )
    assert "Signed in as tess" in second and "mia" not in second and "team=T2" not in second
    # the same map (it was kept), the account's own words around it
    assert geojson_blocks(first) == geojson_blocks(second)


def geojson_blocks(page: str) -> list[str]:
    return re.findall(r"_add\((\{.*?\})\);\n", page, re.S)


def pin_failures(workspace: Workspace, username: str) -> int:
    with workspace.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.max(sessions.c.pin_failures))
                .join(users, users.c.id == sessions.c.user_id)
                .where(users.c.username == username, sessions.c.ended_at.is_(None))
            ).scalar_one()
        )


def chunked(url: str, cookie: str, parts: list[bytes]) -> int:
    """POST a body sent in chunks, with no length announced; return the status."""
    target = urlsplit(url)
    connection = http.client.HTTPConnection(target.netloc, timeout=60)
    headers = {
        "Cookie": f"{DEVICE_COOKIE}={cookie}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    connection.request(
        "POST",
        f"{target.path}?{target.query}",
        body=iter(parts),
        headers=headers,
        encode_chunked=True,
    )
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.status


def test_what_is_not_a_pin_is_refused_without_counting_a_try(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    cookie = device_cookie(url, workspace, "ana")
    words = catalogue("en")
    # a body sent in chunks past the limit, with no length announced
    assert chunked(quick(url), cookie, [b"pin=" + b"1" * 1500, b"1" * 1500]) == 413
    # not a form at all
    status, headers, text = ask(quick(url), method="POST", body="pin=1&&&&=", cookie=cookie)
    assert status == 400 and no_data(text) and headers["cache-control"] == "no-store"
    assert html.escape(words["quick.not_a_form"]) in text
    assert chunked(quick(url), cookie, [b"pin=\xff\xfe"]) == 400  # not UTF-8
    # not digits, too short, missing: said, and no try spent
    for body in ("pin=abcdef", "pin=12", "other=1", "%ff%fe=1", "pin=%D9%A1%D9%A2%D9%A3%D9%A4"):
        status, _, text = ask(quick(url), method="POST", body=body, cookie=cookie)
        assert status == 200 and no_data(text) and 'name="pin"' in text, body
        assert "cannot be used: type 4 to 8 digits" in text, body
    assert pin_failures(workspace, "ana") == 0


def test_lock_now_on_the_quick_page_locks_the_shift_on_the_server_too(
    served: tuple[str, Workspace],
) -> None:
    """The page's link to its shift: open or not, used or not, and "lock now" for the device."""
    url, workspace = served
    cookie = device_cookie(url, workspace, "eva")
    shift = f"{url}/api/quick/shift"
    status, headers, body = ask(f"{shift}?used=1", cookie=cookie)
    assert status == 204 and body == "" and headers["cache-control"] == "no-store"
    assert ask(f"{shift}?used=0")[0] == 409  # no cookie: no shift
    assert ask(f"{shift}?used=0", cookie="forged")[0] == 409
    # from another site, or not "lock": refused, nothing locked
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert ask(shift, method="POST", body="action=lock", cookie=cookie, **cross)[0] == 403
    assert ask(shift, method="POST", body="action=wipe", cookie=cookie)[0] == 400
    assert ask(f"{shift}?used=0", cookie=cookie)[0] == 204
    # lock now: the shift is locked for every page of the device, the app's included
    assert ask(shift, method="POST", body="action=lock", cookie=cookie)[0] == 204
    with workspace.begin() as connection:
        check = check_session(connection, cookie, touch=False)
    assert check.account is None and check.reason == "locked"
    assert ask(f"{shift}?used=1", cookie=cookie)[0] == 409  # and a "use" does not reopen it
    with workspace.connect() as connection:
        logged = audit_entries(connection)
    eva = logged.filter(logged["username"] == "eva")
    assert ("lock", "lock now") in list(zip(eva["action"], eva["detail"], strict=True))
    # the PIN opens it again, here as in the app
    status, _, page = ask(quick(url), method="POST", body=f"pin={PIN}", cookie=cookie)
    assert status == 200 and "FeatureCollection" in page
    assert ask(f"{shift}?used=0", cookie=cookie)[0] == 204


def test_other_roles_and_a_peer_without_a_pin_are_sent_to_the_app(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    words = catalogue("en")
    status, _, text = ask(quick(url), cookie=device_cookie(url, workspace, "cora"))
    assert status == 403 and no_data(text) and html.escape(words["quick.not_peer"]) in text
    cookie = device_cookie(url, workspace, "luz")
    status, _, text = ask(quick(url), cookie=cookie)
    assert status == 200 and no_data(text) and "no PIN yet" in text
    _, _, text = ask(quick(url), method="POST", body=f"pin={PIN}", cookie=cookie)
    assert no_data(text)


def test_without_a_workspace_the_page_says_so_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route itself, called as the server calls it, with no workspace where it points."""
    from starlette.routing import Route, Router

    from views.quick_area import quick_area

    monkeypatch.setenv("OUTREACH_MAP_WORKSPACE", str(tmp_path / "nothing-here"))
    router = Router([Route(ROUTE, quick_area, methods=["GET", "POST"])])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": ROUTE,
        "raw_path": ROUTE.encode(),
        "query_string": b"lang=es",
        "headers": [],
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "http_version": "1.1",
    }
    asyncio.run(router(scope, receive, send))  # type: ignore[arg-type]
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]
    assert start["status"] == 503
    text = body.decode()
    assert no_data(text) and html.escape(catalogue("es")["quick.no_workspace"]) in text


@pytest.mark.browser
def test_on_a_phone_at_night_the_pin_opens_the_page_and_a_reload_or_lock_closes_it(
    served: tuple[str, Workspace],
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, workspace = served
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for language, words in (("es", catalogue("es")), ("en", catalogue("en"))):
                phone = browser.new_context(
                    viewport={"width": 390, "height": 844},
                    color_scheme="dark",
                    has_touch=True,
                    is_mobile=True,
                )
                requested: list[str] = []
                record_traffic(phone, requested)
                host = urlsplit(url).hostname
                cookie = device_cookie(url, workspace, "ana")
                phone.add_cookies(
                    [
                        {
                            "name": DEVICE_COOKIE,
                            "value": cookie,
                            "domain": host,
                            "path": "/om/",
                            "httpOnly": True,
                            "sameSite": "Strict",
                        }
                    ]
                )
                page = phone.new_page()
                page.goto(quick(url, lang=language), wait_until="domcontentloaded")
                page.get_by_label(words["lock.pin"], exact=True).fill(PIN)
                page.screenshot(path=str(SCREENSHOTS / f"quick-pin-{language}.png"))
                page.get_by_role("button", name=words["lock.unlock"], exact=True).click()
                page.wait_for_function(
                    "() => document.querySelectorAll('.leaflet-overlay-pane path').length > 0"
                    " && document.querySelector('.om-legend') !== null"
                )
                assert (
                    page.locator(".om-legend").inner_text().startswith(words["peer.legend_title"])
                )
                assert page.get_by_role("heading", name=words["peer.open_now"]).count() == 1
                # dark: the page's ground is dark, and it fits the phone's width
                ground = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert ground == "rgb(14, 17, 23)"
                assert page.evaluate("document.documentElement.scrollWidth") <= 390
                # the map's opening zoom animation over (its frames scale every line)
                page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
                page.wait_for_timeout(500)
                page.screenshot(
                    path=str(SCREENSHOTS / f"quick-area-{language}.png"), full_page=True
                )
                # a reload asks for the PIN again (the PIN is not sent again)
                page.reload(wait_until="domcontentloaded")
                page.get_by_label(words["lock.pin"], exact=True).wait_for()
                assert page.locator(".leaflet-overlay-pane path").count() == 0
                page.get_by_label(words["lock.pin"], exact=True).fill(PIN)
                page.get_by_role("button", name=words["lock.unlock"], exact=True).click()
                page.locator(".om-legend").wait_for()
                # hidden (a phone asleep, the app switcher): covered; back soon: as it was
                page.evaluate(VISIBILITY, "hidden")
                assert page.locator("#om-cover").is_visible()
                page.evaluate(VISIBILITY, "visible")
                assert not page.locator("#om-cover").is_visible()
                assert page.locator(".om-legend").count() == 1
                # lock now
                page.get_by_role("button", name=words["lock.now"], exact=True).click()
                page.get_by_label(words["lock.pin"], exact=True).wait_for()
                assert page.locator(".om-legend").count() == 0
                with workspace.begin() as connection:  # the shift itself, for the app too
                    assert check_session(connection, cookie, touch=False).reason == "locked"
                # locked elsewhere (the app's Lock now on this phone): the page asks its shift
                # when it is shown again (and every 30 s), and goes back to the PIN form
                page.get_by_label(words["lock.pin"], exact=True).fill(PIN)
                page.get_by_role("button", name=words["lock.unlock"], exact=True).click()
                page.locator(".om-legend").wait_for()
                with workspace.begin() as connection:
                    assert lock_session(connection, cookie, "lock now")
                page.evaluate(VISIBILITY, "visible")
                page.get_by_label(words["lock.pin"], exact=True).wait_for()
                assert page.locator(".om-legend").count() == 0
                # left alone past the idle time, the page locks by itself
                page.get_by_label(words["lock.pin"], exact=True).fill(PIN)
                page.get_by_role("button", name=words["lock.unlock"], exact=True).click()
                page.locator(".om-legend").wait_for()
                page.clock.install()  # from here on the page's timers run on a fake clock
                page.keyboard.press("Tab")  # a use of the page: the idle time starts again
                page.clock.run_for(dt.timedelta(minutes=6).seconds * 1000)
                page.get_by_label(words["lock.pin"], exact=True).wait_for()
                assert page.locator(".om-legend").count() == 0
                assert outside_requests(requested) == []
                phone.close()
        finally:
            browser.close()


@pytest.mark.browser
def test_my_area_links_to_the_quick_page_of_its_team_and_language(served_app: str) -> None:
    """On the demo: the link under the team on My area opens the quick page (a new tab)."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    words = catalogue("es")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
            )
            requested: list[str] = []
            record_traffic(phone, requested)
            page = phone.new_page()
            page.goto(f"{served_app}/?role=peer&lang=es&team=T2", wait_until="domcontentloaded")
            link = page.get_by_role("link", name=words["quick.quick_link"])
            link.wait_for(timeout=120_000)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.locator(".leaflet-container, iframe").first.wait_for(timeout=120_000)
            page.screenshot(path=str(SCREENSHOTS / "quick-link-es.png"))
            with phone.expect_page() as opened:
                link.click()
            quick_page = opened.value
            quick_page.wait_for_load_state("domcontentloaded")
            assert urlsplit(quick_page.url).path == ROUTE
            assert "team=T2" in quick_page.url and "lang=es" in quick_page.url
            quick_page.locator(".om-legend").wait_for(timeout=60_000)
            assert quick_page.locator(".om-teams b").inner_text() == "T2"  # the team shown
            assert outside_requests(requested) == []
        finally:
            browser.close()
