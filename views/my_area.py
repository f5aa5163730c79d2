"""The peer educator's page, for a phone at night: my team's cells by recency, services open now."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.peers import teams
from mapping.maps.base import basemap_for
from mapping.maps.coverage import team_area_map
from views.access import require
from views.plan_view import plans_for, show_plan
from views.quick_area import service_lines
from views.shared import (
    carried_params,
    language,
    open_or_explain,
    outlines_for,
    store_stamp,
    team_area_for,
    team_picker,
    tr,
)

account = require("peer")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
st.title(t("peer.title"))
st.page_link(
    "views/log_visit.py",
    label=t("log.title"),
    icon=":material/add_circle:",
    query_params=carried_params(),
    use_container_width=True,
)
codes = teams(workspace)
team = team_picker(t, codes)
# the same page without Streamlit's frontend, for a slow connection (views/quick_area.py); a
# Markdown link, not a link button: Streamlit's Markdown is loaded already, a button is not
quick = f"api/quick/area?{urlencode({'team': team, 'lang': language()})}"
st.markdown(f"[:material/bolt: {t('quick.quick_link')}]({quick})")  # 44 px high: app.py
st.caption(t("quick.quick_help"))
moment = clock.quarter_hour(workspace).isoformat()
cells, services = team_area_for(str(workspace.path), stamp, team, moment)
options = CoverageOptions.from_settings()
st.caption(t("peer.intro"))
outlines, labels = outlines_for(str(workspace.path), stamp)
st_folium(
    team_area_map(
        outlines,
        labels,
        cells,
        services,
        t,
        recent_days=options.recent_days,
        overdue_days=options.overdue_weeks * 7,
        language=language(),
        basemap=basemap_for(workspace),
    ),
    height=420,
    use_container_width=True,
    returned_objects=[],
    key=f"my-area-{team}",
)
if cells.height == 0:
    st.info(t("peer.no_cells"))
for index, plan in enumerate(plans_for(str(workspace.path), stamp, team, clock.today(workspace))):
    show_plan(plan, t, key=f"peer-{index}", peer=True)
st.subheader(t("peer.open_now"))
for kind, line in service_lines(services, t, language()):
    st.markdown(f"**{kind}**")
    st.caption(line)
