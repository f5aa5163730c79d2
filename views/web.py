"""The app's own HTTP routes and middleware, served beside Streamlit's by ``server.py``.

Routes live under ``/api/`` (Streamlit reserves ``/_stcore/``, ``/media/``, ``/component/`` and
``/static/``), below ``server.baseUrlPath`` when one is set (Streamlit does not move an app's
own routes there). Nothing here reads an app session: a route answers the same to anyone who
can reach the server, so it may only serve what is not private (e.g. the workspace's basemap
tiles, docs/security.md), or act on a secret the request carries (the device cookie's one-time
ticket; the device cookie and the PIN that open My area, quick: :mod:`views.quick_area`).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from streamlit import config

from mapping.access.locks import DEVICE_COOKIE, remember_device
from mapping.errors import WorkspaceError
from mapping.maps.basemap import BASEMAP_NAME, BASEMAP_ROUTE, basemap_file
from mapping.storage.workspace import open_workspace, workspace_path
from views.compression import StaticGzip, compression_enabled
from views.first_load import FirstLoad, first_load_enabled
from views.quick_area import QUICK_ROUTE, SHIFT_ROUTE, quick_area, quick_shift

#: What ``GET /api/basemap.pmtiles`` says when the workspace has no basemap file.
NO_BASEMAP = (
    f"no basemap: this workspace has no {BASEMAP_NAME} — the maps show district outlines only; "
    "docs/basemap.md says how to add one\n"
)
#: The basemap may not be kept in a browser's cache: the tiles a phone fetched say which part of
#: the city its user looked at (docs/basemap.md, "Caching").
_NO_STORE = {"Cache-Control": "no-store"}
#: Headers of every answer of the device route: never cached, never sent on as a referrer.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
#: The device route (below the base path): exchanges a sign-in's ticket for the device cookie.
DEVICE_ROUTE = "/api/device"


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
    return [
        Route(base_path() + BASEMAP_ROUTE, basemap, methods=["GET", "HEAD"]),
        Route(base_path() + DEVICE_ROUTE, device_cookie, methods=["GET"]),
        Route(base_path() + QUICK_ROUTE, quick_area, methods=["GET", "POST"]),
        Route(base_path() + SHIFT_ROUTE, quick_shift, methods=["GET", "POST"]),
    ]


def device_cookie(request: Request) -> Response:
    """Exchange a sign-in's one-time ticket for the device cookie (``GET api/device?ticket=``).

    The page fetches this right after the password; the cookie (HttpOnly, SameSite=Strict,
    Secure over https, for the rest of the shift) lets a new app session on this device offer
    the PIN instead of the password. A ticket works once, for a minute, and only from the
    app's own pages: a browser that says the request came from another site is refused. A
    page load (not a fetch) is sent back to the app (``../``, relative, so a base path holds).
    """
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return PlainTextResponse(
            f"refused: a request from another site ({request.headers['sec-fetch-site']}) cannot "
            "set the device cookie — sign in on the app's own page",
            status_code=403,
            headers=_PRIVATE,
        )
    ticket = request.query_params.get("ticket", "")
    device = remember_device(open_workspace(workspace_path(None)), ticket) if ticket else None
    if device is None:
        return PlainTextResponse(
            "refused: this ticket is unknown, used already or older than a minute — sign in "
            "again with your password to remember this device",
            status_code=403,
            headers=_PRIVATE,
        )
    navigating = request.headers.get("sec-fetch-mode") == "navigate"
    answer = RedirectResponse("../", status_code=303) if navigating else Response(status_code=204)
    answer.headers.update(_PRIVATE)
    https = "https" in (request.url.scheme, request.headers.get("x-forwarded-proto"))
    answer.set_cookie(
        DEVICE_COOKIE,
        device.token,
        max_age=device.seconds,
        path=f"{base_path()}/",
        httponly=True,
        samesite="strict",
        secure=https,
    )
    return answer


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
    serves the static scripts and styles compressed, each compressed once (not with
    ``OUTREACH_MAP_COMPRESSION=0``), and :class:`~views.first_load.FirstLoad` cuts the icon font
    and lightens the root page (not with ``OUTREACH_MAP_FIRST_LOAD=0``).
    """
    base = base_path()
    layers = [Middleware(SentAsIs)]
    if compression_enabled():
        layers.append(Middleware(StaticGzip, base_url=base))
    if first_load_enabled():
        layers.append(Middleware(FirstLoad, base_url=base))
    return layers
