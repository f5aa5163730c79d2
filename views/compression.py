"""Static files compressed once (brotli, gzip) and kept in memory: Streamlit's bundles and more.

Streamlit 1.67 serves its own JavaScript bundles (``/static/``) uncompressed on purpose: its gzip
middleware would compress every file again on every request (see
``streamlit/web/server/starlette/starlette_gzip_middleware.py``) and it expects a proxy in front
to compress and cache. A phone on a slow connection then waits for about 3 MB of scripts.
:class:`StaticGzip` does what such a proxy does, inside the app: it compresses each file the
first time it is asked for, keeps the result in memory, and serves the kept bytes afterwards.
A browser that takes brotli (Chromium asks for it even over plain HTTP) gets brotli, about a
sixth smaller than gzip for Streamlit's scripts, once the file's brotli is ready: it is made in
the background after the first request, which gets gzip at once.

Only these files are compressed: Streamlit's ``/static/`` (content-hashed, immutable bundles),
the app's ``/app/static/`` (the vendored libraries) and the components' ``/component/`` files,
and only text types (scripts, styles, JSON, SVG, HTML, WebAssembly). Fonts, images, map tiles
and anything already encoded pass through untouched, and so does every ``Range`` request (a
206 names byte ranges of the uncompressed file), every ``HEAD`` and every other path.

The vendored libraries (folders named with their version) and a component's content-named
scripts are also marked immutable for a year, so a phone that has them asks nothing again.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import brotli
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: What a kept result is found by (a file's path, digest and encoding; a font's digest).
Key = TypeVar("Key", bound=Hashable)
#: Files larger than this get gzip only: brotli at quality 11 takes about 2 s a megabyte here.
BROTLI_MAXIMUM = 1024 * 1024
#: Brotli runs on this one thread, one file at a time: requests for many files after a start
#: (anyone may ask for Streamlit's scripts) cost at most one core, never the shared thread pool
#: that gzip and everything else use.
BROTLI_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="brotli")
#: Environment variable that turns the compression off when set to ``0`` (a benchmark's
#: baseline, or a proxy in front that compresses and caches already).
COMPRESSION_ENV = "OUTREACH_MAP_COMPRESSION"
#: Paths whose files are compressed, relative to the app's base URL.
PREFIXES = ("/static/", "/app/static/", "/component/")
#: Types worth compressing: text, compressed to about a quarter of its size.
COMPRESSIBLE = (
    "text/",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/wasm",
    "application/xml",
    "image/svg+xml",
)
#: Files smaller than this are sent as they are (the gzip header would eat the saving).
MINIMUM_SIZE = 1024
#: Files larger than this are streamed as they are, never held in memory.
MAXIMUM_SIZE = 16 * 1024 * 1024
#: Most compressed bytes kept in memory; the least recently used file is dropped past it.
MEMORY_LIMIT = 64 * 1024 * 1024
#: The vendored libraries sit in folders named with their version (``leaflet-1.9.4``): a
#: browser may keep them for a year without asking again (an upgrade is a new folder).
VENDORED = "/app/static/vendor/"
IMMUTABLE = "public, max-age=31536000, immutable"
#: A component's build names its scripts and styles by their content (``main.521860b0.js``):
#: a browser may keep those for a year too (a new build is a new name).
COMPONENT_HASHED = re.compile(r"^/component/[^/]+/static/.+\.[0-9a-f]{8,}\.(?:chunk\.)?(?:js|css)$")


def compression_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Return whether static files are compressed (``OUTREACH_MAP_COMPRESSION=0`` turns it off).

    Examples
    --------
    >>> compression_enabled({}), compression_enabled({"OUTREACH_MAP_COMPRESSION": "0"})
    (True, False)
    """
    return switched_on(COMPRESSION_ENV, environ)


def switched_on(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Return whether the environment variable ``name`` leaves a feature on (``0`` turns it off).

    Examples
    --------
    >>> switched_on("X", {}), switched_on("X", {"X": " 0 "}), switched_on("X", {"X": "1"})
    (True, False, True)
    """
    env = os.environ if environ is None else environ
    return env.get(name, "1").strip() != "0"


def _brotli(plain: bytes) -> bytes:
    """Return ``plain`` compressed with brotli at its best (quality 11)."""
    return bytes(brotli.compress(plain, quality=11))


def accepts(accept_encoding: str, encoding: str) -> bool:
    """Return whether an ``Accept-Encoding`` header takes ``encoding`` (``br;q=0`` refuses it).

    Examples
    --------
    >>> accepts("gzip, deflate, br", "br"), accepts("br;q=0, gzip", "br"), accepts("*", "br")
    (True, False, True)
    """
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() not in {encoding, "*"}:
            continue
        quality = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            return quality is None or float(quality.group(1)) > 0
        except ValueError:
            return False
    return False


def accepts_gzip(accept_encoding: str) -> bool:
    """Return whether an ``Accept-Encoding`` header accepts gzip (``gzip;q=0`` refuses it).

    Examples
    --------
    >>> accepts_gzip("gzip, deflate, br"), accepts_gzip("br;q=1, gzip;q=0"), accepts_gzip("")
    (True, False, False)
    """
    return accepts(accept_encoding, "gzip")


def _compressible(content_type: str) -> bool:
    return content_type.lower().startswith(COMPRESSIBLE)


class StaticGzip:
    """ASGI middleware: serve static text files compressed (brotli or gzip), each compressed once.

    The file is still read by Streamlit's own handler on every request (so its checks, its
    caching headers and any change of the file on disk count); what is kept is the compressed
    body, by path and a digest of the file's bytes, so a changed file is compressed again.

    Parameters
    ----------
    app : ASGIApp
        The application to wrap (Streamlit's).
    base_url : str
        Streamlit's ``server.baseUrlPath``: the prefix in front of the paths compressed.
    level : int
        gzip level (9: the smallest; the cost is paid once per file).
    memory_limit : int
        Most compressed bytes kept in memory.
    brotli : bool
        Whether a browser that takes brotli gets it once the file's brotli is ready.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        base_url: str = "",
        level: int = 9,
        memory_limit: int = MEMORY_LIMIT,
        brotli: bool = True,
    ) -> None:
        self.app = app
        self.level = level
        self.brotli = brotli
        self.memory_limit = memory_limit
        base = base_url.strip("/")
        self.prefixes = tuple(f"/{base}{prefix}" if base else prefix for prefix in PREFIXES)
        self.vendored = f"/{base}{VENDORED}" if base else VENDORED
        self.base = f"/{base}" if base else ""
        self._kept: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._kept_bytes = 0
        self._pending: dict[tuple[str, str, str], asyncio.Future[bytes]] = {}
        self._background: set[asyncio.Task[bytes]] = set()
        #: How many times a file was compressed: once per file (and per change of it).
        self.compressions = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request: compressed if it asks for a static text file and takes gzip."""
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        if not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "range" in headers:
            await self.app(scope, receive, self._keeping(path, send))
            return
        wanted = headers.get("accept-encoding", "")
        if not accepts_gzip(wanted) and not accepts(wanted, "br"):
            # Starlette's gzip would still compress a "gzip;q=0" (it looks for the word only)
            plain = {**scope, "headers": _without(scope, {b"accept-encoding"})}
            await self.app(plain, receive, self._keeping(path, send))
            return
        await self._respond(scope, receive, send, path, headers)

    def _keeping(self, path: str, send: Send) -> Send:
        """Return ``send`` with the headers of :meth:`_headed` added to a response sent as is."""

        async def sending(message: Message) -> None:
            await send(self._headed(path, message))

        return sending

    def _headed(self, path: str, message: Message) -> Message:
        """Return a response's start sent as is with ``Vary`` and the caching headers added."""
        if message["type"] != "http.response.start":
            return message
        response = MutableHeaders(raw=list(message["headers"]))
        if _compressible(response.get("content-type", "")):
            _vary(response)  # another browser may get this path compressed
        self._cache_control(path, response, message["status"])
        return {**message, "headers": response.raw}

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, path: str, headers: Headers
    ) -> None:
        """Ask the wrapped app for the file uncompressed, then send it compressed."""
        # the wrapped app must send the plain file: no gzip of its own, no conditional answer
        # for the plain file's validators (ours differ), and no zero-copy send we cannot read
        inner = plain_request(scope, {b"accept-encoding", b"if-none-match", b"if-modified-since"})
        start: Message | None = None
        body: list[bytes] = []
        streaming = False

        async def capture(message: Message) -> None:
            nonlocal start, streaming
            if message["type"] == "http.response.start":
                start = message
                streaming = not self._eligible(message)
                if streaming:
                    await send(self._headed(path, message))
                return
            if streaming:
                await send(message)
                return
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(inner, receive, capture)
        if streaming or start is None:
            return
        plain = b"".join(body)
        digest = hashlib.blake2b(plain, digest_size=16).hexdigest()
        encoding = self._encoding(path, digest, plain, headers.get("accept-encoding", ""))
        compressed = await self._compressed((path, digest, encoding), plain)
        response = MutableHeaders(raw=list(start["headers"]))
        etag = f'W/"{digest}-{encoding}"'
        response["etag"] = etag
        _vary(response)
        self._cache_control(path, response, start["status"])
        if etag in entity_tags(headers.get("if-none-match", "")):
            for name in ("content-length", "content-type", "last-modified"):
                if name in response:
                    del response[name]
            await send({"type": "http.response.start", "status": 304, "headers": response.raw})
            await send({"type": "http.response.body", "body": b""})
            return
        response["content-encoding"] = encoding
        response["content-length"] = str(len(compressed))
        if "accept-ranges" in response:
            del response["accept-ranges"]  # ranges are of the plain file, asked for separately
        await send({"type": "http.response.start", "status": 200, "headers": response.raw})
        await send({"type": "http.response.body", "body": compressed})

    def _eligible(self, start: Message) -> bool:
        """Return whether a response is worth compressing: a whole text file, not encoded."""
        if start["status"] != 200:
            return False
        response = Headers(raw=start["headers"])
        if "content-encoding" in response or not _compressible(response.get("content-type", "")):
            return False
        length = response.get("content-length")
        return length is None or MINIMUM_SIZE <= int(length) <= MAXIMUM_SIZE

    def _cache_control(self, path: str, response: MutableHeaders, status: int) -> None:
        """Let browsers keep versioned or content-named files without asking again.

        The vendored libraries (their folders are named with their version) and a component's
        content-hashed scripts and styles: a phone then loads them from its cache without a
        round trip to ask whether they changed.
        """
        if status not in {200, 206, 304}:
            return
        if path.startswith(self.vendored) or COMPONENT_HASHED.match(path.removeprefix(self.base)):
            response["cache-control"] = IMMUTABLE

    def _encoding(self, path: str, digest: str, plain: bytes, wanted: str) -> str:
        """Choose brotli once it is ready for this file, gzip until then (and for the rest).

        Brotli (quality 11) is about a sixth smaller than gzip for Streamlit's scripts but
        takes seconds for all of them: the first browser to ask gets gzip at once and the file
        is compressed with brotli in the background, for the next ones.
        """
        if not (self.brotli and accepts(wanted, "br")) or len(plain) > BROTLI_MAXIMUM:
            return "gzip"
        key = (path, digest, "br")
        if key in self._kept or not accepts_gzip(wanted):
            return "br"
        if key not in self._pending:
            task = asyncio.get_running_loop().create_task(self._compressed(key, plain))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return "gzip"

    async def _compressed(self, key: tuple[str, str, str], plain: bytes) -> bytes:
        """Return ``plain`` compressed: kept from an earlier request, or compressed once now."""
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept

        async def compress() -> bytes:
            compressed: bytes
            if key[2] == "br":  # slow: one at a time, on its own thread (see BROTLI_WORKER)
                loop = asyncio.get_running_loop()
                compressed = await loop.run_in_executor(BROTLI_WORKER, _brotli, plain)
            else:
                compressed = await asyncio.to_thread(gzip.compress, plain, self.level, mtime=0)
            self.compressions += 1
            self._keep(key, compressed)
            return compressed

        # another request compressing the same file meanwhile waits for this one
        return await single_flight(self._pending, key, compress)

    def _keep(self, key: tuple[str, str, str], compressed: bytes) -> None:
        if len(compressed) > self.memory_limit:
            return
        self._kept[key] = compressed
        self._kept_bytes += len(compressed)
        while self._kept_bytes > self.memory_limit:
            _, dropped = self._kept.popitem(last=False)
            self._kept_bytes -= len(dropped)

    @property
    def kept_bytes(self) -> int:
        """Return the compressed bytes kept in memory."""
        return self._kept_bytes


async def single_flight(
    pending: dict[Key, asyncio.Future[bytes]], key: Key, make: Callable[[], Awaitable[bytes]]
) -> bytes:
    """Return ``make()``, made once for ``key`` at a time: a caller meanwhile waits for it.

    If ``make`` fails, the callers waiting fail with the same error, and a later call tries
    again.
    """
    waiting = pending.get(key)
    if waiting is not None:
        return await asyncio.shield(waiting)
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    pending[key] = future
    try:
        made = await make()
    except Exception as error:
        future.set_exception(error)
        future.exception()  # retrieved: nobody waiting is not an unhandled error
        raise
    except BaseException:  # cancelled: those waiting are cancelled too
        future.cancel()
        raise
    finally:
        del pending[key]
    future.set_result(made)
    return made


def app_path(scope: Scope) -> str:
    """Return a request's path below the ASGI ``root_path`` (``/`` at the least)."""
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def plain_request(scope: Scope, dropped: set[bytes]) -> Scope:
    """Return ``scope`` without the headers named (lower-case) and without zero-copy sends.

    A middleware that reads and changes the wrapped app's body asks it this way: no encoding or
    condition of the browser's that would change the body, and a body it can read.
    """
    inner = dict(scope)
    inner["headers"] = _without(scope, dropped)
    inner["extensions"] = {
        k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"
    }
    return inner


def _without(scope: Scope, names: set[bytes]) -> list[tuple[bytes, bytes]]:
    """Return a request's headers without those named (lower-case, as ASGI gives them)."""
    return [(name, value) for name, value in scope["headers"] if name not in names]


def _vary(response: MutableHeaders) -> None:
    """Say that the body depends on ``Accept-Encoding`` (once, whoever said it first)."""
    vary = {token.strip().lower() for token in response.get("vary", "").split(",")}
    if "accept-encoding" not in vary:
        response.add_vary_header("Accept-Encoding")


def entity_tags(if_none_match: str) -> set[str]:
    """Return the entity tags of an ``If-None-Match`` header."""
    return {tag.strip() for tag in if_none_match.split(",") if tag.strip()}
