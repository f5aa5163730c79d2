"""The peer educator's page, for a phone at night: my team's cells by recency, services open now."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.peers import teams
from mapping.hours import hours_for_reading
from mapping.maps.base import basemap_for, districts_near, layer_bounds
from mapping.maps.coverage import (
    cells_map,
    open_services_layer,
    open_services_legend,
    recency_legend,
    team_layer,
)
from views.access import require
from views.plan_view import plans_for, show_plan
from views.shared import (
    carried_params,
    language,
    open_or_explain,
    outlines_for,
    quarter_hour,
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
moment = quarter_hour(workspace).isoformat()
cells, services = team_area_for(str(workspace.path), stamp, team, moment)
options = CoverageOptions.from_settings()
st.caption(t("peer.intro"))
outlines, labels = outlines_for(str(workspace.path), stamp)
ours = team_layer(cells, t, recent_days=options.recent_days, overdue_days=options.overdue_weeks * 7)
focus = layer_bounds(ours)
# the districts around the team's cells, with their names: a lighter message on a slow phone
near, names = districts_near(outlines, labels, focus)
st_folium(
    cells_map(
        near,
        names,
        [(t("peer.title"), ours), (t("peer.open_now"), open_services_layer(services, t))],
        recency_legend(t, options.recent_days, emerging=False, title=t("peer.legend_title"))
        + open_services_legend(t),
        language=language(),
        basemap=basemap_for(workspace),
        focus=focus,
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
for row in services.iter_rows(named=True):
    kind = t(f"service_types.{row['service_type']}")
    if row["cell_id"] is None:
        st.markdown(f"**{kind}**")
        st.caption(t("peer.closed"))
        continue
    where = row["name"] or t("peer.ask")
    minutes = row["minutes"]
    away = (
        t("peer.far")
        if minutes is None
        else t("peer.here")
        if minutes == 0
        else t("peer.minutes", minutes=minutes)
    )
    st.markdown(f"**{kind}**")
    hours = hours_for_reading(row["opening_hours"], language())
    # a sensitive service: no name and no distance, which would say where it is
    parts = [where, away] if row["name"] else [where]
    st.caption(" · ".join([*parts, t("peer.hours", hours=hours)]))
