"""The app's own HTTP routes and middleware, served beside Streamlit's by ``server.py``.

Routes live under ``/api/`` (Streamlit reserves ``/_stcore/``, ``/media/``, ``/component/`` and
``/static/``), below ``server.baseUrlPath`` when one is set (Streamlit does not move an app's
own routes there). Nothing here reads a session: a route answers the same to anyone who can
reach the server, so it may only serve what is not private (e.g. the workspace's basemap tiles,
docs/security.md).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from streamlit import config

from mapping.errors import WorkspaceError
from mapping.maps.basemap import BASEMAP_NAME, BASEMAP_ROUTE, basemap_file
from mapping.storage.workspace import workspace_path
from views.compression import StaticGzip, compression_enabled

#: What ``GET /api/basemap.pmtiles`` says when the workspace has no basemap file.
NO_BASEMAP = (
    f"no basemap: this workspace has no {BASEMAP_NAME} — the maps show district outlines only; "
    "docs/basemap.md says how to add one\n"
)
#: The basemap may not be kept in a browser's cache: the tiles a phone fetched say which part of
#: the city its user looked at (docs/basemap.md, "Caching").
_NO_STORE = {"Cache-Control": "no-store"}


def base_path() -> str:
    """Return ``server.baseUrlPath`` as a path prefix: ``""`` or ``"/name"``."""
    value = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{value}" if value else ""


async def basemap(request: Request) -> Response:
    """Serve the workspace's ``basemap.pmtiles`` with byte ranges (206), or 404 without one.

    The file is the one in the folder ``OUTREACH_MAP_WORKSPACE`` names (``outreach-map serve``
    sets it); the route takes no path or parameter, so it can read no other file.
    """
    try:
        file = basemap_file(workspace_path(None))
    except WorkspaceError:
        file = None
    if file is None:
        return PlainTextResponse(NO_BASEMAP, status_code=404, headers=_NO_STORE)
    # Starlette's FileResponse answers a Range request with 206 and just those bytes
    return FileResponse(file, media_type="application/vnd.pmtiles", headers=_NO_STORE)


def routes() -> list[BaseRoute]:
    """Return the app's own routes."""
    return [Route(base_path() + BASEMAP_ROUTE, basemap, methods=["GET", "HEAD"])]


class SentAsIs:
    """Keep every compressing middleware off the basemap: its tiles are compressed already.

    Streamlit's gzip middleware leaves a 206 alone but would gzip a whole-file answer on every
    request; without ``Accept-Encoding`` it sends the bytes as they are.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.path = base_path() + BASEMAP_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Drop ``Accept-Encoding`` from a request for the basemap; pass everything on."""
        if scope["type"] == "http" and scope["path"] == self.path:
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
            scope = {**scope, "headers": headers}
        await self.app(scope, receive, send)


def middleware() -> list[Middleware]:
    """Return the app's own middleware, outermost first (it runs before Streamlit's).

    :class:`SentAsIs` keeps the basemap's tiles as they are; :class:`~views.compression.StaticGzip`
    serves the static scripts and styles gzipped, each compressed once (unless
    ``OUTREACH_MAP_COMPRESSION=0``).
    """
    if not compression_enabled():
        return [Middleware(SentAsIs)]
    return [Middleware(SentAsIs), Middleware(StaticGzip, base_url=base_path())]
