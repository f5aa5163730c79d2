"""Log a visit, for a phone at night: the place is chosen on the phone, a few taps, save.

The form (:mod:`views.components.visit_form`) turns the tap or the phone's location into a
cell and a district in the browser and sends them, with what was handed out, only when the peer
educator confirms; this page stores what it sent once and passes the acknowledgement back.
"""

from __future__ import annotations

import streamlit as st

from mapping import clock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.peers import peer_educators, teams
from mapping.maps.base import WORLD, layer_bounds
from mapping.maps.basemap import local_basemap
from mapping.maps.coverage import recency_legend, team_layer
from mapping.maps.placing import placing_districts
from views.access import require
from views.components.visit_form import save_sent_visit, sent_key, visit_form
from views.shared import (
    carried_params,
    open_or_explain,
    outlines_for,
    store_stamp,
    team_area_for,
    team_picker,
    tr,
)

FORM_KEY = "log_form"
state = st.session_state

require("peer")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
st.title(t("log.title"))
st.caption(t("log.intro"))
team = team_picker(t, teams(workspace))
codes = peer_educators(workspace, team) if team else []
me = (
    st.selectbox(t("log.me"), codes, key="log_me", placeholder=t("app.choose_one"))
    if codes
    else None
)

# a visit the form sent (Save, or a re-send once the signal is back): stored once, answered
sent = state.get(FORM_KEY)
sending = sent_key(sent)
if me and sending is not None and sending != state.get("log_handled"):
    state["log_handled"] = sending
    state["log_ack"] = save_sent_visit(workspace, sent, peer_educator=me, team=team, t=t)

stamp = store_stamp(workspace)
moment = clock.quarter_hour(workspace).isoformat()
cells, _ = team_area_for(str(workspace.path), stamp, team, moment)
options = CoverageOptions.from_settings()
outlines, names = outlines_for(str(workspace.path), stamp)
recency = {"recent_days": options.recent_days, "overdue_days": options.overdue_weeks * 7}
layer = team_layer(cells, t, **recency)
with workspace.connect() as connection:
    placing = placing_districts(connection, cells["cell"].to_list())
visit_form(
    t,
    resolution=workspace.resolution,
    cells=layer,
    legend=recency_legend(t, options.recent_days, emerging=False, title=t("peer.legend_title")),
    outlines=outlines,
    names=names,
    placing=placing,
    bounds=layer_bounds(layer) or layer_bounds(outlines) or WORLD,
    acknowledged=state.get("log_ack"),
    ready=bool(me),
    key=FORM_KEY,
    basemap_url=local_basemap(workspace),  # streets from the workspace's own file, if any
)
st.page_link(
    "views/my_area.py",
    label=t("peer.title"),
    icon=":material/near_me:",
    query_params=carried_params(),
    use_container_width=True,
)
