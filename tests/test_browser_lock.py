"""A session that lasts a shift, in Chromium on a phone in dark mode: the lock and the PIN.

A real (non-demo) peer account made with ``outreach-map user add`` signs in with its password,
sets a PIN, locks with "lock now" and unlocks with the PIN. A new page of the same browser
context (the same device cookie: a phone that slept past Streamlit's session TTL) gets the PIN
form, a new context (another device) or a forged cookie the password; three wrong PINs sign
out. The app is served under a base path (``server.baseUrlPath``), so the device route's
relative redirect and the cookie's path are tested there. The device route is also asked with
plain HTTP requests: its cookie's flags, a reused ticket, a request from another site. With
a tiny idle time, a page left alone locks by itself, and a tab hidden (a phone asleep) is
covered and, back after the idle time, reloads: offline, that shows no data at all.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import pytest
import sqlalchemy as sa
from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, need_chromium, serving
from helpers import TEST_PASSWORD, copy_workspace
from playwright.sync_api import expect

from mapping.access.accounts import DEMO_KEY, check_session, sign_in
from mapping.access.locks import DEVICE_COOKIE, device_ticket, set_pin
from mapping.storage.audit import audit_entries
from mapping.storage.store import meta, sessions, users
from mapping.storage.workspace import Workspace

pytestmark = pytest.mark.browser
PIN = "480516"
IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
LINKS = '[data-testid="stSidebar"] a'
#: Makes the page believe its tab was hidden or shown again (a phone asleep, then woken).
VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
PHONE = {"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"}


def deployment(demo: Path, target: Path, *accounts: str) -> Workspace:
    """The demo's data as a real deployment, with peer accounts added by the real command."""
    workspace = copy_workspace(demo, target)
    with workspace.begin() as connection:
        connection.execute(meta.delete().where(meta.c.key == DEMO_KEY))
        # the demo accounts' sessions go with them (as remove_account does): a new account
        # given a freed id must not find a session of its own already there
        demo_ids = sa.select(users.c.id).where(users.c.username.like("demo-%"))
        connection.execute(sessions.delete().where(sessions.c.user_id.in_(demo_ids)))
        connection.execute(users.delete().where(users.c.username.like("demo-%")))
    for username in accounts:
        command = [sys.executable, "-m", "mapping.cli.main", "user", "add", username]
        command += ["--role", "peer", "--teams", "T1", "--password-stdin"]
        subprocess.run(
            [*command, "--workspace", str(workspace.path)],
            input=f"{TEST_PASSWORD}\n".encode(),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
    return workspace


@pytest.fixture(scope="module")
def served(
    demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Workspace]]:
    """One app under the base path ``om`` with the default settings, for the whole module."""
    folder = tmp_path_factory.mktemp("lock")
    workspace = deployment(demo_workspace, folder / "programme", "ana", "luz")
    with serving(workspace.path, folder / "streamlit.log", base_path="om") as url:
        yield url, workspace


def get(url: str, **headers: str) -> http.client.HTTPResponse:
    """GET ``url`` without following redirects; return the answer with its body read."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=30)
    connection.request("GET", f"{parts.path}?{parts.query}", headers=headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def ticket_for(workspace: Workspace, username: str) -> tuple[str, str]:
    """Sign ``username`` in with the password; return the session's token and a device ticket."""
    token, _ = sign_in(workspace, username, TEST_PASSWORD)
    with workspace.begin() as connection:
        return token, device_ticket(connection, token)


def test_the_device_route_sets_a_strict_httponly_cookie_once_per_ticket(
    served: tuple[str, Workspace],
) -> None:
    url, workspace = served
    _, ticket = ticket_for(workspace, "luz")
    # from another site: refused before the ticket is spent
    answer = get(f"{url}/api/device?ticket={ticket}", **{"Sec-Fetch-Site": "cross-site"})
    assert answer.status == 403 and answer.getheader("Set-Cookie") is None
    first = get(f"{url}/api/device?ticket={ticket}", **{"Sec-Fetch-Site": "same-origin"})
    assert first.status == 204 and first.getheader("Cache-Control") == "no-store"
    cookie = first.getheader("Set-Cookie") or ""
    flags = [flag.strip().lower() for flag in cookie.split(";")]
    assert flags[0].startswith(f"{DEVICE_COOKIE}=")
    assert {"httponly", "samesite=strict", "path=/om/"} <= set(flags)
    assert "secure" not in flags  # served over plain http here; over https it is Secure
    # the cookie opens this shift's session (the PIN form), and only that one
    device = cookie.split(";")[0].split("=", 1)[1]
    with workspace.begin() as connection:
        assert check_session(connection, device, touch=False).account is not None
        assert check_session(connection, device[::-1], touch=False).reason == "unknown"
    # a ticket works once
    again = get(f"{url}/api/device?ticket={ticket}")
    assert again.status == 403 and again.getheader("Set-Cookie") is None
    assert get(f"{url}/api/device?ticket=forged").status == 403
    # a page load (not a fetch) goes back to the app, relative to the base path; behind https
    # (a proxy saying so) the cookie is Secure
    _, ticket = ticket_for(workspace, "luz")
    load = get(
        f"{url}/api/device?ticket={ticket}",
        **{"Sec-Fetch-Mode": "navigate", "X-Forwarded-Proto": "https"},
    )
    assert load.status == 303 and load.getheader("Location") == "../"
    assert "secure" in [f.strip().lower() for f in (load.getheader("Set-Cookie") or "").split(";")]


def pin_form(page: Any, unlock: str) -> None:
    """Wait for the PIN form: its button, and nothing of the programme drawn."""
    page.get_by_role("button", name=unlock, exact=True).wait_for(timeout=90_000)
    expect(page.locator(IFRAME)).to_have_count(0, timeout=30_000)
    assert page.locator(LINKS).count() == 0


def type_pin(page: Any, pin: str, unlock: str) -> None:
    """Type a PIN into the lock form and submit it."""
    page.get_by_label("PIN", exact=True).fill(pin)
    page.get_by_role("button", name=unlock, exact=True).click()


def test_a_peer_locks_unlocks_and_a_new_page_of_the_device_asks_only_the_pin(
    served: tuple[str, Workspace],
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    url, workspace = served
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            phone = browser.new_context(**PHONE)
            page = phone.new_page()
            page.goto(f"{url}/?lang=es", wait_until="domcontentloaded")
            page.get_by_role("textbox", name="Usuario").fill("ana", timeout=90_000)
            page.get_by_role("textbox", name="Contraseña").fill(TEST_PASSWORD)
            page.get_by_role("button", name="Entrar").click()
            # right after the password: the PIN set-up, and nothing of the programme
            page.get_by_text("Elija un PIN").first.wait_for(timeout=90_000)
            page.get_by_role("button", name="Ahora no").wait_for(timeout=30_000)
            assert page.locator(LINKS).count() == 0
            page.screenshot(path=str(SCREENSHOTS / "lock-pin-setup.png"))
            page.get_by_label("PIN nuevo").fill("1234")
            page.get_by_label("El mismo PIN otra vez").fill("1234")
            page.get_by_role("button", name="Guardar el PIN").click()
            page.get_by_text("El PIN 1234 cuenta hacia arriba o hacia abajo").wait_for()
            page.get_by_label("PIN nuevo").fill(PIN)
            page.get_by_label("El mismo PIN otra vez").fill(PIN)
            page.get_by_role("button", name="Guardar el PIN").click()
            # the peer's page, with "lock now" at the top
            page.get_by_text("Abierto ahora, amigable").first.wait_for(timeout=120_000)
            lock_now = page.get_by_role("button", name="Bloquear", exact=True)
            lock_now.wait_for(timeout=30_000)
            box = lock_now.bounding_box()
            assert box is not None and box["y"] < 60 and box["x"] + box["width"] <= 390
            page.screenshot(path=str(SCREENSHOTS / "lock-now.png"))
            cookies = {c["name"]: c for c in phone.cookies()}
            assert cookies[DEVICE_COOKIE]["httpOnly"] and cookies[DEVICE_COOKIE]["path"] == "/om/"
            assert cookies[DEVICE_COOKIE]["sameSite"] == "Strict"
            # lock now: only whose it is, the PIN and sign out
            lock_now.click()
            pin_form(page, "Desbloquear")
            page.get_by_text("Cuenta: ana").wait_for()
            page.screenshot(path=str(SCREENSHOTS / "lock-form.png"))
            type_pin(page, PIN, "Desbloquear")
            page.get_by_text("Abierto ahora, amigable").first.wait_for(timeout=120_000)

            # a new page of the same device (a phone that slept): the PIN, not the password,
            # here in English
            second = phone.new_page()
            second.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
            pin_form(second, "Unlock")
            second.get_by_text("Account: ana").wait_for()
            assert second.get_by_role("textbox", name="Password").count() == 0
            type_pin(second, PIN, "Unlock")
            second.get_by_text("Open now, friendly").first.wait_for(timeout=120_000)

            # another device, or a forged cookie: the password
            for cookie in ([], [{"name": DEVICE_COOKIE, "value": "forged", "url": url + "/"}]):
                other = browser.new_context(**PHONE)
                other.add_cookies(cookie)
                elsewhere = other.new_page()
                elsewhere.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
                elsewhere.get_by_role("textbox", name="Password").wait_for(timeout=90_000)
                assert elsewhere.get_by_role("button", name="Unlock").count() == 0
                other.close()

            # three wrong PINs end the shift: the password again, on every page of the device
            second.get_by_role("button", name="Lock now", exact=True).click()
            pin_form(second, "Unlock")
            type_pin(second, "000000", "Unlock")
            second.get_by_text("Wrong PIN: 2 tries left").wait_for(timeout=60_000)
            type_pin(second, "111111", "Unlock")
            second.get_by_text("Wrong PIN: 1 tries left").wait_for(timeout=60_000)
            type_pin(second, "222222", "Unlock")
            second.get_by_text("Too many wrong PINs: you are signed out.").wait_for(timeout=60_000)
            second.get_by_role("textbox", name="Password").wait_for()
            page.reload(wait_until="domcontentloaded")
            page.get_by_role("textbox", name="Contraseña").wait_for(timeout=90_000)
            phone.close()
        finally:
            browser.close()
    # each step is in the audit log, under the account, and no PIN is
    with workspace.connect() as connection:
        log = audit_entries(connection).filter(pl.col("username") == "ana").reverse()
    steps = [(a, d) for a, d in zip(log["action"], log["detail"], strict=True) if a != "view"]
    assert steps == [
        ("sign_in", "password"),
        ("device", "remembered for this shift"),
        ("pin", "set"),
        ("lock", "lock now"),
        ("unlock", "PIN"),
        ("unlock", "PIN, on a new page of this device"),
        ("lock", "lock now"),
        ("pin_failed", "1 of 3"),
        ("pin_failed", "2 of 3"),
        ("pin_failed", "3 of 3"),
        ("session_ended", "signed out after 3 wrong PINs: the password is needed"),
    ]
    assert log.filter(pl.col("detail").str.contains(PIN)).is_empty()


def test_an_idle_page_locks_by_itself(
    demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("idle")
    workspace = deployment(demo_workspace, folder / "programme", "eva")
    _, account = sign_in(workspace, "eva", TEST_PASSWORD, start=False)
    with workspace.begin() as connection:
        set_pin(connection, account, PIN)
    idle = {"OUTREACH_MAP_LOCK_IDLE_MINUTES": "0.1"}  # six seconds
    with (
        serving(workspace.path, folder / "streamlit.log", settings=idle) as url,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(**PHONE).new_page()
            page.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
            page.get_by_role("textbox", name="Username").fill("eva", timeout=90_000)
            page.get_by_role("textbox", name="Password").fill(TEST_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            # left alone, the page asks for the PIN within seconds, and the PIN opens it again
            pin_form(page, "Unlock")
            type_pin(page, PIN, "Unlock")
            page.get_by_role("button", name="Lock now", exact=True).wait_for(timeout=60_000)
            # the phone goes to sleep: the page is covered at once (the app switcher's picture
            # too); back soon, the cover goes
            page.wait_for_function("() => window.omLockGuard === true", timeout=30_000)
            page.evaluate(VISIBILITY, "hidden")
            cover = page.locator("#om-lock-cover")
            assert cover.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 844}
            page.evaluate(VISIBILITY, "visible")
            expect(cover).to_have_count(0)
            # back after the idle time, offline: the page reloads rather than show the last
            # page again, so the browser's error page is all there is
            page.context.set_offline(True)
            page.evaluate(VISIBILITY, "hidden")
            page.wait_for_timeout(6_500)
            page.evaluate(VISIBILITY, "visible")
            page.wait_for_function("() => window.omLockGuard === undefined", timeout=30_000)
            expect(page.get_by_text("Open now, friendly")).to_have_count(0)
            expect(page.get_by_role("button", name="Lock now", exact=True)).to_have_count(0)
            page.context.set_offline(False)
            page.goto(f"{url}/?lang=en", wait_until="domcontentloaded")
            pin_form(page, "Unlock")
        finally:
            browser.close()
