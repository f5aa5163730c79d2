"""A phone's first load: the icon font cut to the app's icons, no text font, the map's files early.

The fonts are Streamlit's own files, cut by fontTools as the server cuts them; the middleware
runs in a real HTTP server (uvicorn) in front of files served as Streamlit serves them.
"""

from __future__ import annotations

import http.client
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from browser import free_port
from fontTools.ttLib import TTFont
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from streamlit import config

from mapping.maps.base import districts_near
from views.first_load import (
    STREAMLIT_STATIC,
    FirstLoad,
    blank_font,
    cut_icon_font,
    icon_names,
    icon_sources,
    lighter_page,
    map_files,
    uses_source_sans,
)

MEDIA = STREAMLIT_STATIC / "static" / "media"
ICON_FONT = next(MEDIA.glob("MaterialSymbols-Rounded.*.woff2"))
TEXT_FONT = next(MEDIA.glob("SourceSansVF-Upright*.woff2"))
APP_ROOT = Path(__file__).resolve().parent.parent
#: The folder the test server serves as Streamlit's static files (set by its fixture).
SERVED = Path()


def ligature_words(font: bytes) -> set[str]:
    """Every word the font draws as one glyph (an icon's name), read from its GSUB table."""
    loaded = TTFont(io.BytesIO(font))
    letters = {glyph: chr(code) for code, glyph in loaded.getBestCmap().items()}
    words: set[str] = set()
    for lookup in loaded["GSUB"].table.LookupList.Lookup:
        for table in lookup.SubTable:
            table = getattr(table, "ExtSubTable", table)
            for first, ligatures in getattr(table, "ligatures", {}).items():
                for ligature in ligatures:
                    word = letters.get(first, "?") + "".join(
                        letters.get(g, "?") for g in ligature.Component
                    )
                    words.add(word)
    return words


@pytest.fixture(scope="module")
def whole_font_words() -> set[str]:
    return ligature_words(ICON_FONT.read_bytes())


def test_every_icon_the_app_names_is_an_icon_of_streamlits_font(whole_font_words: set[str]) -> None:
    """An icon name the font lacks would show as its letters ("near_me") on the page."""
    ours = icon_names(
        [
            APP_ROOT / "app.py",
            *(APP_ROOT / "views").rglob("*.py"),
            *(APP_ROOT / "mapping").rglob("*.py"),
        ]
    )
    assert {"near_me", "add_circle", "lock", "logout"} <= ours  # the check really reads them
    assert ours <= whole_font_words, ours - whole_font_words


def test_the_cut_icon_font_keeps_exactly_the_named_icons(whole_font_words: set[str]) -> None:
    names = icon_names(icon_sources())
    assert len(names) > 60  # Streamlit's own icons (its menus, expanders, …) and the app's
    whole = ICON_FONT.read_bytes()
    cut = cut_icon_font(whole, names)
    kept = ligature_words(cut)
    assert kept == names & whole_font_words
    assert "pets" in whole_font_words and "pets" not in kept  # an icon nobody names is gone
    assert len(cut) < 40_000 < 350_000 < len(whole), (len(cut), len(whole))


def test_the_blank_text_font_draws_nothing_but_a_space() -> None:
    blank = blank_font(TEXT_FONT.read_bytes())
    drawn = {chr(code) for code in TTFont(io.BytesIO(blank)).getBestCmap()}
    assert drawn <= {" ", "\u00a0"}, drawn
    assert len(blank) < 5_000 < 150_000 < TEXT_FONT.stat().st_size


def test_the_shipped_theme_does_not_use_source_sans() -> None:
    """The text font is blanked only while the theme names other fonts."""
    shipped = (APP_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    assert 'font = "system-ui' in shipped
    before = config.get_option("theme.font")
    try:
        config.set_option("theme.font", "system-ui, Roboto, sans-serif")
        assert not uses_source_sans()
        config.set_option("theme.font", "'Source Sans', sans-serif")
        assert uses_source_sans()
        config.set_option("theme.font", None)
        assert uses_source_sans()  # Streamlit's default
    finally:
        config.set_option("theme.font", before)


def test_the_map_files_prefetched_exist() -> None:
    """Each file the root page prefetches is one the app serves (a stale name would 404)."""
    static = APP_ROOT / "static"
    files = map_files()
    assert any("/component/streamlit_folium.st_folium/static/js/main." in f for f in files)
    for url in files:
        if url.startswith("./app/static/"):
            assert (static / url.removeprefix("./app/static/")).is_file(), url
    assert sum(url.endswith(".js") for url in files) == 3  # the frame's, Leaflet, gestures


PAGE = (
    b'<html><head><link rel="preload" href="./static/media/SourceSansVF-Upright.ttf.x.woff2"\n'
    b'  as="font" type="font/woff2" crossorigin />\n<title>Streamlit</title></head>'
    b"<body>root</body></html>"
)


def test_the_root_page_loses_its_font_preload_and_gains_the_prefetch() -> None:
    lighter = lighter_page(PAGE, ["./app/static/vendor/leaflet-1.9.4/leaflet.js"])
    assert b"woff2" not in lighter and b'as="font"' not in lighter
    assert b'rel = "prefetch"' in lighter and b"leaflet-1.9.4/leaflet.js" in lighter
    assert lighter.index(b"prefetch") < lighter.index(b"</head>")
    assert lighter.endswith(b"<body>root</body></html>")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The middleware in front of files served as Streamlit serves them, over real HTTP."""
    folder = tmp_path_factory.mktemp("streamlit-static")
    global SERVED
    SERVED = folder
    (folder / "media").mkdir()
    for font in (ICON_FONT, TEXT_FONT):
        (folder / "media" / font.name).write_bytes(font.read_bytes())
    (folder / "page.html").write_bytes(PAGE)

    async def root(request: object) -> FileResponse:
        return FileResponse(folder / "page.html", media_type="text/html")

    async def component(request: object) -> HTMLResponse:
        return HTMLResponse(PAGE)

    inner = Starlette(
        routes=[
            Route("/", root),
            Route("/log_visit", root),
            Route("/component/x/index.html", component),
            Mount("/static", StaticFiles(directory=folder)),
        ]
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(FirstLoad(inner), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _get(
    host: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(host, timeout=60)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_the_served_fonts_are_cut_and_the_pages_lighter(server: str) -> None:
    config.set_option("theme.font", "system-ui, sans-serif")
    try:
        status, headers, icons = _get(server, f"/static/media/{ICON_FONT.name}")
        assert status == 200 and headers["content-type"] == "font/woff2"
        assert int(headers["content-length"]) == len(icons) < 40_000
        assert "near_me" in ligature_words(icons) and "pets" not in ligature_words(icons)
        assert _get(server, f"/static/media/{ICON_FONT.name}")[2] == icons  # kept, not redone

        status, _, text = _get(server, f"/static/media/{TEXT_FONT.name}")
        assert status == 200 and len(text) < 5_000

        # its own validator, asked for again each time (the cut follows the app, not the name)
        assert headers["cache-control"] == "no-cache" and "last-modified" not in headers
        etag = headers["etag"]
        status, again, body = _get(
            server, f"/static/media/{ICON_FONT.name}", {"If-None-Match": etag}
        )
        assert status == 304 and body == b"" and again["etag"] == etag
        # a range of the cut font is answered with all of it (a range of the whole file's
        # bytes would not fit the cut)
        status, _, part = _get(server, f"/static/media/{ICON_FONT.name}", {"Range": "bytes=0-99"})
        assert status == 200 and part == icons

        # the root page, at / and at a page's address; a component's page is left alone
        for path in ("/", "/log_visit"):
            status, headers, page = _get(server, path)
            assert status == 200 and b'as="font"' not in page and b"prefetch" in page, path
            assert int(headers["content-length"]) == len(page)
        assert _get(server, "/component/x/index.html")[2] == PAGE
    finally:
        config.set_option("theme.font", None)
    # with Streamlit's own font in the theme, the text font is sent whole, and preloaded
    assert _get(server, f"/static/media/{TEXT_FONT.name}")[2] == TEXT_FONT.read_bytes()
    assert b'as="font"' in _get(server, "/")[2]


def test_a_font_that_cannot_be_cut_is_sent_whole(server: str) -> None:
    """A broken or unknown font file: logged, sent as it is, and not tried on every request."""
    broken = b"wOF2" + bytes(range(256)) * 40
    (SERVED / "media" / "MaterialSymbols-Rounded.broken1.woff2").write_bytes(broken)
    for _ in range(2):
        status, headers, body = _get(server, "/static/media/MaterialSymbols-Rounded.broken1.woff2")
        assert status == 200 and body == broken and int(headers["content-length"]) == len(broken)


def test_districts_near_keeps_the_districts_around_a_team_east_of_90e() -> None:
    """Dhaka-like grid of small districts (0.01°, about 1 km); the truth by plain arithmetic."""
    features = []
    for i in range(20):
        for j in range(20):
            x, y = 90.30 + i * 0.01, 23.70 + j * 0.01
            ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"id": f"{i}-{j}"},
                }
            )
    layer = {"type": "FeatureCollection", "features": features}
    focus = (90.405, 23.805, 90.415, 23.812)  # a team's cells, in two districts
    kept = {f["properties"]["id"] for f in districts_near(layer, layer, focus)[0]["features"]}
    # grown by half its size, at least 0.02° on each side
    west, south, east, north = 90.405 - 0.02, 23.805 - 0.02, 90.415 + 0.02, 23.812 + 0.02
    truth = {
        f"{i}-{j}"
        for i in range(20)
        for j in range(20)
        if 90.30 + i * 0.01 <= east
        and 90.30 + (i + 1) * 0.01 >= west
        and 23.70 + j * 0.01 <= north
        and 23.70 + (j + 1) * 0.01 >= south
    }
    assert kept == truth and 0 < len(kept) < len(features)
    assert len(districts_near(layer, layer, None)[0]["features"]) == len(features)
    empty = {"type": "FeatureCollection", "features": []}
    assert districts_near(empty, empty, focus) == (empty, empty)


def test_districts_near_keeps_each_kept_districts_name() -> None:
    """A district's name point may lie far from the team's cells: it stays with its outline."""

    def strip(x: float) -> dict[str, object]:  # a long thin district, west to east
        ring = [[x, 0.0], [x + 0.01, 0.0], [x + 0.01, 1.0], [x, 1.0], [x, 0.0]]
        return {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"name": f"D{x:.2f}"},
        }

    def label(x: float) -> dict[str, object]:  # its name half-way up, far from the team
        return {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [x + 0.005, 0.5]},
            "properties": {"name": f"D{x:.2f}"},
        }

    xs = [100.0 + i * 0.01 for i in range(30)]
    outlines = {"type": "FeatureCollection", "features": [strip(x) for x in xs]}
    labels = {"type": "FeatureCollection", "features": [label(x) for x in xs]}
    near, names = districts_near(outlines, labels, (100.101, 0.001, 100.102, 0.002))
    kept = [f["properties"]["name"] for f in near["features"]]
    assert kept == [f["properties"]["name"] for f in names["features"]]
    assert "D100.10" in kept and 0 < len(kept) < len(xs)
