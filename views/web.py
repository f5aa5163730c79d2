"""The app's own HTTP routes and middleware, served beside Streamlit's by ``server.py``.

Routes live under ``/api/`` (Streamlit reserves ``/_stcore/``, ``/media/``, ``/component/`` and
``/static/``). Nothing here reads a session: a route answers the same to anyone who can reach
the server, so it may only serve what is not private (e.g. the workspace's basemap tiles).
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """Return the app's own routes."""
    return []


def middleware() -> list[Middleware]:
    """Return the app's own middleware, outermost first (it runs before Streamlit's)."""
    return []
