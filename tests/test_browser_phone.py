"""On a phone: maps that let the page scroll, a sidebar that gets out of the way, small downloads.

One app serves the module (the demo workspace, read only). A phone is Chromium with touch
emulation at 390 × 844 in dark mode; its one- and two-finger gestures are real touch events
(CDP ``Input.dispatchTouchEvent``), which Chromium turns into scrolling as a phone does.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import brotli
import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, need_chromium, serving

from mapping.i18n import translator
from mapping.maps.base import GESTURE_HANDLING_URL
from views.compression import IMMUTABLE
from views.first_load import STREAMLIT_STATIC

MEDIA = STREAMLIT_STATIC / "static" / "media"

IFRAME = 'iframe[title="streamlit_folium.st_folium"]'
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "color_scheme": "dark",
    "has_touch": True,
    "is_mobile": True,
}
IDLE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
#: The map's centre and zoom, read from the page's own Leaflet map.
CENTRE = """() => {
    const name = Object.keys(window).find((k) => k.startsWith("map_"));
    const c = window[name].getCenter();
    return [c.lat, c.lng, window[name].getZoom()];
}"""
#: How far the page has scrolled (Streamlit scrolls its main area, not the window).
SCROLLED = "() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"
#: Where the sidebar is, and whether Streamlit counts it as closed.
SIDEBAR = """() => {
    const bar = document.querySelector('[data-testid="stSidebar"]');
    const box = bar.getBoundingClientRect();
    return {collapsed: bar.getAttribute("data-collapsed"), right: box.right, width: box.width};
}"""
#: Whether the middle of an element is really visible there (not under the sidebar).
ON_TOP = """(element) => {
    const box = element.getBoundingClientRect();
    const x = box.left + Math.min(box.width / 2, 40), y = box.top + box.height / 2;
    const top = document.elementFromPoint(x, y);
    return y >= 0 && y <= window.innerHeight && (top === element || element.contains(top));
}"""


@pytest.fixture(scope="module")
def app(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the demo workspace, served once for the module."""
    log = tmp_path_factory.mktemp("phone") / "streamlit.log"
    with serving(demo_workspace, log) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright, for the module."""
    need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _ready(page: Any, marker: str, *, has_map: bool = True) -> None:
    """Wait for a page's text, its map's legend and the end of Streamlit's run."""
    page.locator('[data-testid="stMain"]').get_by_text(marker).first.wait_for(timeout=120_000)
    if has_map:
        page.frame_locator(IFRAME).first.locator(".om-legend").first.wait_for(timeout=120_000)
    page.wait_for_function(IDLE, timeout=120_000)
    page.wait_for_timeout(500)


def _phone_recording(chromium: Any) -> tuple[Any, Any, Any, dict[str, str], dict[str, int]]:
    """A new phone context and page whose responses are recorded through CDP.

    Returns the context, the page, its CDP session, and two dicts filled as the page loads:
    each request's URL, and the bytes it took on the wire (``encodedDataLength``).
    """
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    wire: dict[str, int] = {}
    cdp.on(
        "Network.responseReceived", lambda e: urls.update({e["requestId"]: e["response"]["url"]})
    )
    cdp.on(
        "Network.loadingFinished", lambda e: wire.update({e["requestId"]: e["encodedDataLength"]})
    )
    return context, page, cdp, urls, wire


def _swipe(cdp: Any, start: list[tuple[float, float]], dy: float, *, hold: Any = None) -> None:
    """Move one or more fingers ``dy`` pixels up the screen (a swipe), then lift them.

    ``hold`` is called while the fingers are still down, after they moved.
    """

    def points(step: float) -> list[dict[str, float]]:
        return [{"x": x, "y": y - dy * step, "id": i} for i, (x, y) in enumerate(start)]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points(0)})
    for step in range(1, 11):
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": points(step / 10)}
        )
        time.sleep(0.016)
    if hold is not None:
        hold()
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def _choose_in_sidebar(page: Any, link: str) -> None:
    """Open the sidebar with its button and tap a page's link, as on a phone."""
    page.locator('[data-testid="stExpandSidebarButton"]').tap()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stSidebar\"]')"
        ".getAttribute('data-collapsed') === 'false'"
    )
    page.wait_for_timeout(400)  # the sidebar slides in
    assert page.evaluate(SIDEBAR)["right"] > 250  # it covers most of the phone's width
    page.locator('[data-testid="stSidebar"] a', has_text=link).first.tap()


@pytest.mark.browser
@pytest.mark.parametrize("language", ["en", "es"])
def test_a_phone_scrolls_past_the_map_and_the_sidebar_closes_after_a_choice(
    app: str, chromium: Any, language: str
) -> None:
    """My area in English and Spanish, dark, on a phone: the first load, the sidebar, the
    gestures."""
    t = translator(language)
    SCREENSHOTS.mkdir(exist_ok=True)
    context, page, cdp, urls, wire = _phone_recording(chromium)
    body: dict[str, int] = {}

    def received(event: dict[str, Any]) -> None:
        body[event["requestId"]] = body.get(event["requestId"], 0) + event["dataLength"]

    cdp.on("Network.dataReceived", received)
    page.goto(f"{app}/?role=peer&lang={language}", wait_until="domcontentloaded")
    _ready(page, t("peer.open_now"))

    # the first load on an empty cache: scripts and styles travel compressed
    scripts = [r for r, url in urls.items() if re.search(r"\.(js|css)$", url.split("?")[0])]
    assert len(scripts) > 20
    sent = sum(wire[r] for r in scripts)
    size = sum(body.get(r, 0) for r in scripts)
    assert size > 2_500_000  # Streamlit's bundles, Leaflet, the gesture plugin, the map frame
    assert sent < 0.33 * size, (sent, size)
    assert any(GESTURE_HANDLING_URL.removeprefix("../..") in url for url in urls.values())

    # the sidebar closes once a page is chosen in it, and the chosen page is there to read
    for link, marker, has_map in (
        (t("log.title"), t("log.title"), False),  # (its map is not needed here)
        (t("peer.title"), t("peer.open_now"), True),
    ):
        _choose_in_sidebar(page, link)
        _ready(page, marker, has_map=has_map)
        sidebar = page.evaluate(SIDEBAR)
        assert sidebar["collapsed"] == "true" and sidebar["right"] <= 0, (link, sidebar)
        assert page.locator("h1", has_text=link).first.evaluate(ON_TOP), link
    page.screenshot(path=str(SCREENSHOTS / f"phone-my-area-{language}.png"))

    # the map's hint is in the page's language
    frame = page.locator(IFRAME).first.element_handle().content_frame()
    container = frame.locator(".leaflet-container")
    assert container.get_attribute("data-gesture-handling-touch-content") == t("map.gesture_touch")

    # one finger on the map scrolls the page, shows the hint and leaves the map where it was
    centre = frame.evaluate(CENTRE)
    box = page.locator(IFRAME).first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.6
    assert page.evaluate(SCROLLED) == 0
    page.touchscreen.tap(x, y - 60)  # a tap first (a tooltip), as people do
    page.wait_for_timeout(300)
    hint: list[str] = []

    def look() -> None:
        page.wait_for_timeout(900)  # the hint fades in
        hint.append(container.get_attribute("class") or "")
        page.screenshot(path=str(SCREENSHOTS / f"phone-map-hint-{language}.png"))

    _swipe(cdp, [(x, y)], 250, hold=look)
    page.wait_for_timeout(600)
    assert page.evaluate(SCROLLED) > 150
    assert frame.evaluate(CENTRE) == centre
    assert "leaflet-gesture-handling-touch-warning" in hint[0]
    page.wait_for_timeout(1600)  # the hint is gone again
    assert "touch-warning" not in (container.get_attribute("class") or "")

    # two fingers move the map, and the page stays where it is
    box = page.locator(IFRAME).first.bounding_box()
    x, y = box["x"] + box["width"] / 2, max(box["y"], 0) + 150
    scrolled = page.evaluate(SCROLLED)
    _swipe(cdp, [(x - 40, y + 120), (x + 40, y + 120)], 120)
    page.wait_for_timeout(600)
    moved = frame.evaluate(CENTRE)
    assert moved[0] != centre[0] and moved[2] == centre[2], (centre, moved)
    assert abs(page.evaluate(SCROLLED) - scrolled) < 5

    # and one finger again scrolls the page (the two-finger gesture did not leave it grabbed)
    below = page.locator("h3", has_text=t("peer.open_now")).first
    assert below.evaluate("(e) => e.getBoundingClientRect().top > window.innerHeight / 2")
    for _ in range(4):
        box = page.locator(IFRAME).first.bounding_box()
        if box["y"] + box["height"] < 200:
            break
        _swipe(cdp, [(box["x"] + box["width"] / 2, min(box["y"] + box["height"] - 20, 820))], 200)
        page.wait_for_timeout(500)
    assert frame.evaluate(CENTRE) == moved
    # what follows the map came up the screen by swiping on the map alone
    assert below.evaluate("(e) => e.getBoundingClientRect().top < window.innerHeight / 2")
    context.close()


@pytest.mark.browser
def test_a_coordinator_on_a_desktop_keeps_the_sidebar_and_drags_the_map(
    app: str, chromium: Any
) -> None:
    t = translator("en")
    context = chromium.new_context(viewport={"width": 1366, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.goto(f"{app}/?role=coordinator", wait_until="domcontentloaded")
    _ready(page, t("overview.contacts"))
    page.locator('[data-testid="stSidebar"] a', has_text=t("coverage.title")).first.click()
    _ready(page, "Districts ranked by gap")
    sidebar = page.evaluate(SIDEBAR)
    assert sidebar["collapsed"] == "false" and sidebar["right"] > 200, sidebar
    assert page.locator(
        '[data-testid="stSidebar"] a', has_text=t("overview.title")
    ).first.is_visible()

    frame = page.locator(IFRAME).first.element_handle().content_frame()
    container = frame.locator(".leaflet-container")
    assert container.get_attribute("data-gesture-handling-scroll-content") == t(
        "map.gesture_scroll"
    )
    box = page.locator(IFRAME).first.bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    centre = frame.evaluate(CENTRE)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 80, steps=8)
    page.mouse.up()
    page.wait_for_timeout(300)
    dragged = frame.evaluate(CENTRE)
    assert dragged[:2] != centre[:2] and dragged[2] == centre[2]  # a mouse drag pans the map
    page.mouse.wheel(0, -300)  # the wheel alone leaves the zoom (and says to hold Ctrl)
    page.wait_for_timeout(300)
    assert "scroll-warning" in (container.get_attribute("class") or "")
    assert frame.evaluate(CENTRE)[2] == centre[2]
    page.keyboard.down("Control")
    for _ in range(3):  # (the first turn of the wheel with Ctrl gives the wheel to the map)
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(150)
    page.keyboard.up("Control")
    page.wait_for_timeout(800)
    assert frame.evaluate(CENTRE)[2] > centre[2]  # Ctrl + wheel zooms in
    context.close()


def _get(url: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """A real HTTP request; the body exactly as sent."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return (
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            response.read(),
        )
    finally:
        connection.close()


@pytest.mark.browser
def test_the_served_static_files_are_gzipped_and_ranges_are_untouched(
    app: str, chromium: Any
) -> None:
    """Streamlit's bundles, the vendored files and a component's files, over real HTTP."""
    gzip_please = {"Accept-Encoding": "gzip, deflate, br"}
    _, _, index = _get(app, "/", gzip_please)
    bundle = "/" + re.search(rb'src="\./(static/js/index\.[^"]+\.js)"', index).group(1).decode()
    font = "/static/media/" + next(MEDIA.glob("KaTeX_Main-Regular.*.woff2")).name
    component = "/component/streamlit_folium.st_folium/index.html"
    if _get(app, component, {})[0] == 404:  # the component is known once a page used it
        context = chromium.new_context(**PHONE)
        page = context.new_page()
        page.goto(f"{app}/?role=peer", wait_until="domcontentloaded")
        _ready(page, "Open now, friendly")
        context.close()
    _, _, frame_page = _get(app, component, {})
    frame_script = (
        "/component/streamlit_folium.st_folium/"
        + re.search(rb'src="\./?(static/js/main\.[^"]+\.js)"', frame_page).group(1).decode()
    )
    vendored = [
        "/app/static/vendor/leaflet-1.9.4/leaflet.js",
        GESTURE_HANDLING_URL.removeprefix("../..") + "/leaflet-gesture-handling.min.js",
    ]
    for path in [bundle, frame_script, *vendored]:
        status, plain_headers, plain = _get(app, path, {})
        assert status == 200 and "content-encoding" not in plain_headers, path
        status, headers, sent = _get(app, path, gzip_please)
        # gzip at first; brotli once the server has made it in the background
        assert status == 200 and headers["content-encoding"] in {"gzip", "br"}, path
        assert "accept-encoding" in headers["vary"].lower(), path
        assert int(headers["content-length"]) == len(sent), path
        unpack = gzip.decompress if headers["content-encoding"] == "gzip" else brotli.decompress
        assert unpack(sent) == plain, path
        assert len(sent) < 0.45 * len(plain), (path, len(sent), len(plain))
        if path != bundle:  # (Streamlit says so itself for its bundles)
            assert headers["cache-control"] == IMMUTABLE, path
    # a range of a file is the plain file's bytes, never compressed
    status, headers, part = _get(app, bundle, {**gzip_please, "Range": "bytes=1000-1999"})
    assert status == 206 and "content-encoding" not in headers
    assert part == _get(app, bundle, {})[2][1000:2000]
    # a font is compressed already
    status, headers, _ = _get(app, font, gzip_please)
    assert status == 200 and "content-encoding" not in headers


#: Every Material icon drawn on the page: its text (the icon's name), its width and font size.
ICONS = """() => [...document.querySelectorAll('[data-testid="stIconMaterial"]')]
    .filter((e) => e.getBoundingClientRect().width > 0)
    .map((e) => ({name: e.textContent, width: e.getBoundingClientRect().width,
                  size: parseFloat(getComputedStyle(e).fontSize)}))"""


@pytest.mark.browser
def test_a_phones_first_load_has_no_text_font_and_a_cut_icon_font(app: str, chromium: Any) -> None:
    """My area on an empty cache: icons drawn by the cut font, text in the device's fonts."""
    context, page, _, urls, wire = _phone_recording(chromium)
    page.goto(f"{app}/?role=peer&lang=en", wait_until="domcontentloaded")
    _ready(page, "Open now, friendly")
    page.wait_for_timeout(1000)
    fonts = {urls[r].rsplit("/", 1)[-1]: wire.get(r, 0) for r in urls if ".woff2" in urls[r]}
    icon_font = [size for name, size in fonts.items() if name.startswith("MaterialSymbols")]
    assert icon_font and icon_font[0] < 40_000, fonts  # not the whole 375 kB font
    # Source Sans: asked for by Streamlit's first drawing (before the theme), sent blank
    assert all(size < 5_000 for name, size in fonts.items() if name.startswith("SourceSans"))
    assert sum(fonts.values()) < 60_000, fonts
    text_font = page.evaluate("() => getComputedStyle(document.querySelector('h1')).fontFamily")
    assert text_font.startswith("system-ui"), text_font

    # every icon is drawn as an icon (one glyph about as wide as the font is high), not as its
    # name's letters: in the page, and in the sidebar's menu
    page.locator('[data-testid="stExpandSidebarButton"]').tap()
    page.wait_for_timeout(800)
    icons = page.evaluate(ICONS)
    names = {icon["name"] for icon in icons}
    assert {"add_circle", "near_me"} <= names, names  # Log a visit's link, My area in the menu
    for icon in icons:
        assert icon["width"] <= 1.5 * icon["size"], icon
    page.screenshot(path=str(SCREENSHOTS / "phone-icons-cut-font.png"))
    context.close()

    # the root page: no font preload; the map's files to prefetch, each one served
    _, _, root = _get(app, "/", {})
    assert b'as="font"' not in root
    listed = json.loads(re.search(rb"(\[\"\./[^\]]*\])\.forEach", root).group(1))
    assert any("/component/streamlit_folium.st_folium/" in url for url in listed), listed
    assert any(url.endswith("/leaflet.js") for url in listed), listed
    for url in listed:
        status, headers, _ = _get(app, url.removeprefix("."), {})
        assert status == 200, url
        assert headers["cache-control"] == IMMUTABLE, url  # kept, so the frame finds them
