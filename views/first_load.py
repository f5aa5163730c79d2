"""A phone's first load, made lighter: the icon font cut to the app's icons, no text font.

Measured on a throttled phone (docs/performance.md, "A phone on a slow network"), most of the
first load of My area was bytes Streamlit sends whatever the page: its icon font (Material
Symbols, 375 kB, all 4,300 icons, for the dozen a page draws) and its text font (Source Sans,
170 kB, preloaded by its root page). :class:`FirstLoad` changes three things on the way out:

- **The icon font** (``/static/media/MaterialSymbols-Rounded.*.woff2``) is sent cut down to the
  icons that can appear: every ``:material/<name>:`` written in Streamlit's own scripts and in the
  app's sources (about 100 icons, 11 kB). The cut is made from the very file Streamlit serves,
  once per server (about 3 s, in a thread) and kept in memory. A name in neither place would
  show as its text (``near_me``); a test checks every icon the app names is kept.
- **The root page** no longer preloads Source Sans: the app's theme uses the device's own fonts
  (``[theme] font`` in ``.streamlit/config.toml``), so nothing asks for it.
- **The root page prefetches the map's files** (the map component's script, the vendored Leaflet
  and its gesture handling): a browser fetches them at the lowest priority while the first page
  is computed, so the map frame finds them in its cache instead of asking for them one after
  the other (each a round trip on a slow network).

Nothing here reads a session or the workspace: the same bytes go to everyone.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import io
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from fontTools.ttLib import TTFont

from mapping.maps.base import GESTURE_HANDLING_VERSION, LEAFLET_VERSION
from views.compression import (
    app_path,
    entity_tags,
    plain_request,
    single_flight,
    switched_on,
)

#: Environment variable that turns this middleware off when set to ``0`` (the benchmarks'
#: naive baseline); it is independent of the compression's own switch.
FIRST_LOAD_ENV = "OUTREACH_MAP_FIRST_LOAD"
#: The app's sources, whose ``:material/<name>:`` icons the cut font keeps.
APP_ROOT = Path(__file__).resolve().parent.parent
#: Streamlit's built frontend, whose scripts name the icons its own widgets draw.
STREAMLIT_STATIC = Path(streamlit.__file__).resolve().parent / "static"
#: Streamlit's icon font, content-named: ``MaterialSymbols-Rounded.<hash>.woff2``.
ICON_FONT = re.compile(r"^/static/media/MaterialSymbols-Rounded\.[A-Za-z0-9_-]+\.woff2$")
#: Streamlit's text font, Source Sans (upright and italic), content-named.
TEXT_FONT = re.compile(r"^/static/media/SourceSans[A-Za-z0-9_.-]*\.woff2$")
#: An icon as Streamlit writes it in text and parameters.
ICON_NAME = re.compile(r":material/([a-z0-9_]+):")
#: The root page's ``<link rel="preload" … as="font">`` of Source Sans.
FONT_PRELOAD = re.compile(
    rb'<link\s+rel="preload"\s+href="[^"]*SourceSans[^"]*\.woff2"\s+as="font"[^>]*>', re.S
)
#: Paths that are files or Streamlit's endpoints; any other GET answered with HTML is the root
#: page (Streamlit serves it at ``/`` and at every page's address).
NOT_PAGES = ("/static/", "/_stcore/", "/component/", "/app/static/", "/api/", "/media/")
#: The map component's name in its URLs (``/component/<name>/…``).
MAP_COMPONENT = "streamlit_folium.st_folium"
#: Added to the root page: once the page's own scripts have loaded (the window's ``load``), ask
#: for the map's files at the lowest priority; before it they would share the slow connection
#: with Streamlit's scripts. Fixed text but for the list of the app's own file addresses.
PREFETCH_SCRIPT = """<script>
window.addEventListener("load", function () {
  URLS.forEach(function (url) {
    var link = document.createElement("link");
    link.rel = "prefetch";
    link.href = url;
    document.head.appendChild(link);
  });
});
</script>"""
LOG = logging.getLogger(__name__)
#: What changes a 200's body: given the answer's start and its whole body, the body to send.
Change = Callable[[Message, bytes], Awaitable[bytes]]


def first_load_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether the fonts are cut and the root page lightened (``…_FIRST_LOAD=0``: not).

    Examples
    --------
    >>> first_load_enabled({}), first_load_enabled({"OUTREACH_MAP_FIRST_LOAD": "0"})
    (True, False)
    """
    return switched_on(FIRST_LOAD_ENV, environ)


def icon_names(sources: Iterable[Path]) -> set[str]:
    """Return every icon named as ``:material/<name>:`` in the given text files.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     page = Path(folder) / "page.py"
    ...     _ = page.write_text('st.page_link("x.py", icon=":material/near_me:")')
    ...     sorted(icon_names([page]))
    ['near_me']
    """
    names: set[str] = set()
    for source in sources:
        names |= set(ICON_NAME.findall(source.read_text(encoding="utf-8", errors="replace")))
    return names


def icon_sources() -> list[Path]:
    """Return the files whose icons the cut font keeps: Streamlit's scripts and the app's code."""
    return [
        *sorted((STREAMLIT_STATIC / "static" / "js").glob("*.js")),
        APP_ROOT / "app.py",
        *sorted((APP_ROOT / "views").rglob("*.py")),
        *sorted((APP_ROOT / "mapping").rglob("*.py")),
        *sorted((APP_ROOT / "mapping").rglob("*.toml")),
    ]


def cut_icon_font(font: bytes, names: set[str]) -> bytes:
    """Return the woff2 icon font ``font`` with only the icons ``names`` (and the letters).

    Material Symbols draws an icon from its name, by a ligature of the name's letters. The
    font's ligatures are pruned to the names kept, then fontTools drops every glyph no kept
    ligature reaches.
    """
    from fontTools.ttLib import TTFont

    loaded = TTFont(io.BytesIO(font))
    letters = {glyph: chr(code) for code, glyph in loaded.getBestCmap().items()}
    for lookup in loaded["GSUB"].table.LookupList.Lookup:
        for table in lookup.SubTable:
            table = getattr(table, "ExtSubTable", table)  # an extension lookup wraps the table
            ligatures = getattr(table, "ligatures", None)
            if ligatures is None:
                continue
            for first in list(ligatures):
                kept = [
                    ligature
                    for ligature in ligatures[first]
                    if letters.get(first, "")
                    + "".join(letters.get(glyph, "\0") for glyph in ligature.Component)
                    in names
                ]
                if kept:
                    ligatures[first] = kept
                else:
                    del ligatures[first]
    return _subset(loaded, "abcdefghijklmnopqrstuvwxyz0123456789_", ["liga", "rlig", "calt"])


def _subset(font: bytes | TTFont, text: str, features: list[str]) -> bytes:
    """Return the woff2 ``font`` (already pruned as wanted) keeping only the glyphs of ``text``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    loaded = TTFont(io.BytesIO(font)) if isinstance(font, bytes) else font
    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = features
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    cutter = subset.Subsetter(options)
    cutter.populate(text=text)
    cutter.subset(loaded)
    out = io.BytesIO()
    loaded.flavor = "woff2"
    loaded.save(out)
    return out.getvalue()


def blank_font(font: bytes) -> bytes:
    """Return the woff2 ``font`` with no letters (a space only): text falls to the next font.

    Streamlit's first drawing, before the app's theme arrives, names Source Sans; the theme
    then names the device's fonts. Sent whole, the font costs a slow phone 170 kB it never
    shows; sent blank, the browser draws that first moment in the next font of the list.
    """
    return _subset(font, " ", [])


def uses_source_sans() -> bool:
    """Return whether the app's theme draws text in Streamlit's Source Sans (the default)."""
    from streamlit import config

    fonts = " ".join(
        str(config.get_option(option) or "")
        for option in ("theme.font", "theme.headingFont", "theme.codeFont")
    ).lower()
    return not str(config.get_option("theme.font") or "") or "source sans" in fonts


def map_component_registered() -> bool:
    """Return whether this server serves the map component's files yet.

    Streamlit serves a component's files once a page has declared it (the first page with a map
    after the server started); asked for before, they answer 404.
    """
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return False
    return Runtime.instance().component_registry.get_component_path(MAP_COMPONENT) is not None


def map_files() -> list[str]:
    """Return the map frame's files as the root page's relative URLs (``./component/…``)."""
    # found, not imported: importing streamlit_folium before Streamlit's runtime starts would
    # declare its component where the runtime never looks (every map then answers 404)
    spec = importlib.util.find_spec("streamlit_folium")
    assert spec is not None and spec.origin is not None, "streamlit-folium is a dependency"
    build = Path(spec.origin).resolve().parent / "frontend" / "build"
    scripts = sorted((build / "static" / "js").glob("main.*.js"))
    leaflet = f"./app/static/vendor/leaflet-{LEAFLET_VERSION}"
    gestures = f"./app/static/vendor/leaflet-gesture-handling-{GESTURE_HANDLING_VERSION}"
    return [
        *(f"./component/{MAP_COMPONENT}/static/js/{script.name}" for script in scripts),
        f"{leaflet}/leaflet.js",
        f"{leaflet}/leaflet.css",
        f"{gestures}/leaflet-gesture-handling.min.js",
        f"{gestures}/leaflet-gesture-handling.min.css",
    ]


def lighter_page(page: bytes, prefetch: Iterable[str], *, drop_font: bool = True) -> bytes:
    """Return Streamlit's root page with ``prefetch`` links, without its text font preload.

    ``drop_font``: drop the preload of Source Sans (only when the theme does not use it).

    Examples
    --------
    >>> page = b'<head><link rel="preload" href="./SourceSans.a.woff2" as="font" /></head>'
    >>> lighter = lighter_page(page, ["./m.js"])
    >>> b"woff2" in lighter, b'["./m.js"]' in lighter
    (False, True)
    """
    urls = json.dumps(list(prefetch))
    script = PREFETCH_SCRIPT.replace("URLS", urls).encode()
    if drop_font:
        page = FONT_PRELOAD.sub(b"", page)
    return page.replace(b"</head>", script + b"</head>", 1)


class FirstLoad:
    """ASGI middleware: the cut icon font, and the root page lighter (see the module's text).

    Parameters
    ----------
    app : ASGIApp
        The application to wrap (Streamlit's, below the compression).
    base_url : str
        Streamlit's ``server.baseUrlPath``: the prefix in front of every path.
    """

    def __init__(self, app: ASGIApp, *, base_url: str = "") -> None:
        self.app = app
        base = base_url.strip("/")
        self.base = f"/{base}" if base else ""
        self.prefetch = map_files()
        self._cut: dict[str, bytes] = {}
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Cut the icon font, lighten the root page; pass everything else on untouched."""
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        path = app_path(scope).removeprefix(self.base) or "/"
        if ICON_FONT.match(path):
            await self._rewritten(scope, receive, send, self._icons)
        elif TEXT_FONT.match(path) and not uses_source_sans():
            await self._rewritten(scope, receive, send, self._blank)
        elif not path.startswith(NOT_PAGES) and "." not in path.rsplit("/", 1)[-1]:
            await self._rewritten(scope, receive, send, self._page)
        else:
            await self.app(scope, receive, send)

    async def _icons(self, start: Message, body: bytes) -> bytes:
        async def cut(font: bytes) -> bytes:
            names = await asyncio.to_thread(icon_names, icon_sources())
            return await asyncio.to_thread(cut_icon_font, font, names)

        return await self._font(start, body, cut)

    async def _blank(self, start: Message, body: bytes) -> bytes:
        async def cut(font: bytes) -> bytes:
            return await asyncio.to_thread(blank_font, font)

        return await self._font(start, body, cut)

    async def _font(
        self, start: Message, body: bytes, cut: Callable[[bytes], Awaitable[bytes]]
    ) -> bytes:
        """Return the font ``body`` cut by ``cut``: once per font file, then from memory."""
        if MutableHeaders(raw=start["headers"]).get("content-type", "") != "font/woff2":
            return body
        key = hashlib.blake2b(body, digest_size=16).hexdigest()
        if key in self._cut:
            return self._cut[key]

        async def made() -> bytes:
            try:
                smaller = await cut(body)
            except Exception:  # a font fontTools cannot read: sent whole, and not tried again
                LOG.exception("could not cut the font %s; it is sent whole", key)
                smaller = body
            self._cut[key] = smaller
            return smaller

        # another request cutting the same font meanwhile waits for this one
        return await single_flight(self._pending, key, made)

    async def _page(self, start: Message, body: bytes) -> bytes:
        content_type = MutableHeaders(raw=start["headers"]).get("content-type", "")
        if not content_type.startswith("text/html"):
            return body
        # the component's script only once the server serves it (not before its first map)
        ready = map_component_registered()
        files = [u for u in self.prefetch if ready or "/component/" not in u]
        return lighter_page(body, files, drop_font=not uses_source_sans())

    async def _rewritten(self, scope: Scope, receive: Receive, send: Send, change: Change) -> None:
        """Ask the wrapped app for the whole answer; send a 200's body through ``change``.

        The body sent is not the file's, so neither are its validators: the wrapped app is asked
        without the request's conditions, the answer gets an ``ETag`` of the bytes sent (a 304
        when the browser has them) and ``no-cache`` (the cut follows the app's sources and
        settings, not the file's name, so a browser must ask again each time: a 304 is a few
        bytes).
        """
        conditions = {b"accept-encoding", b"if-none-match", b"if-modified-since", b"range"}
        inner = plain_request(scope, conditions)
        start: Message | None = None
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app(inner, receive, capture)
        if start is None:
            return
        body = b"".join(parts)
        response = MutableHeaders(raw=list(start["headers"]))
        status = start["status"]
        if status == 200:
            body = await change(start, body)
            etag = f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
            for name in ("etag", "last-modified", "accept-ranges"):
                if name in response:
                    del response[name]
            response["etag"] = etag
            response["cache-control"] = "no-cache"
            if etag in entity_tags(Headers(scope=scope).get("if-none-match", "")):
                status, body = 304, b""
                for name in ("content-length", "content-type"):
                    if name in response:
                        del response[name]
        if status != 304:
            response["content-length"] = str(len(body))
        await send({**start, "status": status, "headers": response.raw})
        await send({"type": "http.response.body", "body": body})
