"""outreach-map's web server (``outreach-map serve``): the Streamlit app plus the app's own routes.

``streamlit run server.py`` finds the :class:`streamlit.App` below and serves ``app.py`` with
Streamlit's own routes and the routes and middleware listed in :mod:`views.web`.
"""

from __future__ import annotations

import streamlit as st

from views.web import middleware, routes

app = st.App("app.py", routes=routes(), middleware=middleware())
