"""Static files gzipped once: the middleware in front of a real Starlette static handler.

Served by uvicorn (Streamlit's own server) on a free local port and asked over real HTTP. The
served app's answers (Streamlit's bundles, the vendored files, a component's files) are checked
in tests/test_browser_phone.py.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import brotli
import pytest
import uvicorn
from browser import free_port
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from views.compression import (
    IMMUTABLE,
    StaticGzip,
    accepts_gzip,
    compression_enabled,
    single_flight,
)

#: A script much like a real bundle: text that gzip shrinks to about a quarter or less.
SCRIPT = "".join(
    f"function f{i}(a, b) {{ return a * {i} + b - {i % 7}; }} // {i * 37 % 101}\n"
    for i in range(3000)
).encode()
#: A font: already compressed, random to gzip.
FONT = random.Random(17).randbytes(20_000)
GZIP = {"Accept-Encoding": "gzip, deflate"}
#: What Chromium asks for, even over plain HTTP.
BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


class Reply(NamedTuple):
    """An HTTP answer: its status, headers (lower-case names) and body exactly as sent."""

    status: int
    headers: dict[str, str]
    body: bytes


class Client:
    """Real HTTP requests to a server on this machine (no decompression on the way)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> Reply:
        """Send one request on a new connection and return the answer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            sent = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, sent, body)
        finally:
            connection.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        """GET ``path``."""
        return self.request("GET", path, headers)


@contextmanager
def serving(app: ASGIApp) -> Iterator[Client]:
    """Serve ``app`` with uvicorn in a thread on a free port; always stop it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield Client(port)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """A static folder: a script, a tiny script, a font, and a versioned vendored library."""
    (tmp_path / "om").mkdir()
    (tmp_path / "om" / "app.js").write_bytes(SCRIPT)
    (tmp_path / "om" / "tiny.js").write_bytes(b"var x = 1;\n")
    (tmp_path / "om" / "font.woff2").write_bytes(FONT)
    (tmp_path / "vendor" / "lib-1.0.0").mkdir(parents=True)
    (tmp_path / "vendor" / "lib-1.0.0" / "lib.js").write_bytes(SCRIPT[:40_000])
    (tmp_path / "frame" / "static" / "js").mkdir(parents=True)
    (tmp_path / "frame" / "static" / "js" / "main.0123abcd.js").write_bytes(SCRIPT[:30_000])
    (tmp_path / "frame" / "index.html").write_bytes(b"<html>" + b" " * 2000 + b"</html>")
    return tmp_path


@pytest.fixture
def app(files: Path) -> Iterator[tuple[Client, StaticGzip]]:
    """The app's middleware in front of Starlette's own gzip and static files, as in Streamlit."""
    inner = Starlette(
        routes=[
            Mount("/app/static", app=StaticFiles(directory=files)),
            Mount("/component/a_component", app=StaticFiles(directory=files / "frame")),
            Route("/api/hello", lambda request: PlainTextResponse("hello " * 400)),
        ],
        middleware=[Middleware(GZipMiddleware)],
    )
    middleware = StaticGzip(inner)
    with serving(middleware) as client:
        yield client, middleware


def test_a_script_is_sent_compressed_and_decompresses_to_the_same_bytes(
    app: tuple[Client, StaticGzip],
) -> None:
    client, middleware = app
    first = client.get("/app/static/om/app.js", GZIP)
    assert first.status == 200
    assert first.headers["content-encoding"] == "gzip"
    assert first.headers["vary"].lower() == "accept-encoding"
    assert int(first.headers["content-length"]) == len(first.body)
    assert len(first.body) < len(SCRIPT) / 4
    assert gzip.decompress(first.body) == SCRIPT
    assert first.headers["etag"].startswith('W/"') and "accept-ranges" not in first.headers
    # asked again (and by another browser): the kept bytes, not a second compression
    again = client.get("/app/static/om/app.js", {"Accept-Encoding": "gzip"})
    assert again.body == first.body and again.headers["etag"] == first.headers["etag"]
    assert middleware.compressions == 1
    assert middleware.kept_bytes == len(first.body)


def test_a_browser_that_takes_brotli_gets_it_once_it_is_ready(
    app: tuple[Client, StaticGzip],
) -> None:
    """The first asker gets gzip at once; brotli is made in the background for the next ones."""
    client, middleware = app
    first = client.get("/app/static/om/app.js", BROWSER)
    assert first.headers["content-encoding"] == "gzip" and gzip.decompress(first.body) == SCRIPT
    deadline = time.monotonic() + 20
    while middleware.compressions < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    later = client.get("/app/static/om/app.js", BROWSER)
    assert later.headers["content-encoding"] == "br"
    assert brotli.decompress(later.body) == SCRIPT
    assert len(later.body) < len(first.body)
    assert int(later.headers["content-length"]) == len(later.body)
    assert later.headers["etag"] != first.headers["etag"]  # each encoding its own validator
    assert later.headers["vary"].lower() == "accept-encoding"
    assert client.get("/app/static/om/app.js", BROWSER).body == later.body
    # a browser that refuses brotli, or takes only gzip, still gets gzip
    for refuses in ("gzip, br;q=0", "gzip"):
        again = client.get("/app/static/om/app.js", {"Accept-Encoding": refuses})
        assert again.headers["content-encoding"] == "gzip", refuses
    # one that takes brotli only gets it at once (made now if need be)
    only = client.get("/app/static/vendor/lib-1.0.0/lib.js", {"Accept-Encoding": "br"})
    assert only.headers["content-encoding"] == "br"
    assert brotli.decompress(only.body) == SCRIPT[:40_000]
    # a 304 for the brotli validator
    etag = later.headers["etag"]
    assert client.get("/app/static/om/app.js", {**BROWSER, "If-None-Match": etag}).status == 304


def test_a_changed_file_is_compressed_again(app: tuple[Client, StaticGzip], files: Path) -> None:
    client, middleware = app
    before = client.get("/app/static/om/app.js", GZIP)
    (files / "om" / "app.js").write_bytes(SCRIPT + b"// changed\n")
    after = client.get("/app/static/om/app.js", GZIP)
    assert gzip.decompress(after.body) == SCRIPT + b"// changed\n"
    assert before.headers["etag"] != after.headers["etag"] and middleware.compressions == 2


def test_a_browser_that_has_the_file_is_told_so(app: tuple[Client, StaticGzip]) -> None:
    client, _ = app
    etag = client.get("/app/static/om/app.js", GZIP).headers["etag"]
    same = client.get("/app/static/om/app.js", {**GZIP, "If-None-Match": etag})
    assert same.status == 304 and same.body == b"" and same.headers["etag"] == etag
    stale = client.get("/app/static/om/app.js", {**GZIP, "If-None-Match": 'W/"old"'})
    assert stale.status == 200 and gzip.decompress(stale.body) == SCRIPT


def test_a_range_request_is_untouched(app: tuple[Client, StaticGzip]) -> None:
    client, middleware = app
    part = client.get("/app/static/om/app.js", {**GZIP, "Range": "bytes=100-199"})
    assert part.status == 206
    assert "content-encoding" not in part.headers
    assert part.headers["content-range"] == f"bytes 100-199/{len(SCRIPT)}"
    assert part.body == SCRIPT[100:200]
    assert middleware.compressions == 0


def test_what_is_not_compressed(app: tuple[Client, StaticGzip]) -> None:
    """No gzip asked for, fonts, tiny files, HEAD, errors, other paths: sent as they are."""
    client, middleware = app
    for headers in ({"Accept-Encoding": "identity"}, {"Accept-Encoding": "zstd, gzip;q=0"}, {}):
        plain = client.get("/app/static/om/app.js", headers)
        assert "content-encoding" not in plain.headers and plain.body == SCRIPT, headers
    font = client.get("/app/static/om/font.woff2", GZIP)
    assert "content-encoding" not in font.headers and font.body == FONT
    tiny = client.get("/app/static/om/tiny.js", GZIP)
    assert "content-encoding" not in tiny.headers and tiny.body == b"var x = 1;\n"
    head = client.request("HEAD", "/app/static/om/app.js", GZIP)
    assert head.status == 200 and "content-encoding" not in head.headers
    assert client.get("/app/static/om/none.js", GZIP).status == 404
    assert middleware.compressions == 0
    # another path is left to the app's own gzip (Streamlit's compresses it on every request)
    hello = client.get("/api/hello", GZIP)
    assert hello.headers["content-encoding"] == "gzip"
    assert gzip.decompress(hello.body) == b"hello " * 400
    assert middleware.compressions == 0


def test_versioned_files_may_be_kept_for_a_year(app: tuple[Client, StaticGzip]) -> None:
    """Vendored folders are named with their version, component scripts by their content."""
    client, _ = app
    vendored = client.get("/app/static/vendor/lib-1.0.0/lib.js", GZIP)
    assert vendored.headers["cache-control"] == IMMUTABLE
    assert gzip.decompress(vendored.body) == SCRIPT[:40_000]
    plain = client.get("/app/static/vendor/lib-1.0.0/lib.js")
    assert plain.headers["cache-control"] == IMMUTABLE and plain.body == SCRIPT[:40_000]
    assert "cache-control" not in client.get("/app/static/om/app.js", GZIP).headers
    # and so may a component's scripts named by their content, but not its page
    hashed = client.get("/component/a_component/static/js/main.0123abcd.js", GZIP)
    assert hashed.headers["cache-control"] == IMMUTABLE
    assert gzip.decompress(hashed.body) == SCRIPT[:30_000]
    page = client.get("/component/a_component/index.html", GZIP)
    assert page.status == 200 and "cache-control" not in page.headers


def test_a_base_url_moves_the_paths(files: Path) -> None:
    inner = Starlette(routes=[Mount("/outreach/app/static", app=StaticFiles(directory=files))])
    with serving(StaticGzip(inner, base_url="/outreach/")) as client:
        moved = client.get("/outreach/app/static/om/app.js", GZIP)
    assert moved.headers["content-encoding"] == "gzip" and gzip.decompress(moved.body) == SCRIPT


def test_switches() -> None:
    assert compression_enabled({}) and compression_enabled({"OUTREACH_MAP_COMPRESSION": "1"})
    assert not compression_enabled({"OUTREACH_MAP_COMPRESSION": "0"})
    assert accepts_gzip("gzip") and accepts_gzip("deflate, gzip;q=0.5") and accepts_gzip("*")
    assert not accepts_gzip("br") and not accepts_gzip("gzip;q=0") and not accepts_gzip("")


def test_single_flight_makes_once_and_shares_a_failure() -> None:
    """Callers at the same time wait for one making; a failure reaches them all, then retries."""
    made: list[str] = []

    async def scenario() -> tuple[list[object], bytes]:
        pending: dict[str, asyncio.Future[bytes]] = {}

        async def make() -> bytes:
            made.append("x")
            await asyncio.sleep(0.05)
            if len(made) == 1:
                raise ValueError("the first making fails")
            return b"made"

        first = await asyncio.gather(
            *(single_flight(pending, "k", make) for _ in range(3)), return_exceptions=True
        )
        return first, await single_flight(pending, "k", make)

    first, second = asyncio.run(scenario())
    assert [type(x) for x in first] == [ValueError] * 3 and second == b"made"
    assert made == ["x", "x"]  # once for the three, once more after the failure
