"""The coordinator's hotspots page: the registry by recency, and what needs attention."""

from __future__ import annotations

from functools import partial

import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.tables import findings_table
from mapping.maps.base import basemap_for
from mapping.maps.coverage import (
    cells_map,
    chosen_cell_layer,
    findings_layer,
    hotspot_layer,
    recency_legend,
)
from views.access import require
from views.hotspot_editor import editor, keep_view, take_click
from views.shared import (
    findings_for,
    language,
    open_or_explain,
    outlines_for,
    period_picker,
    store_stamp,
    tr,
)

MAP_HEIGHT = 560


account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
today = clock.today(workspace)
st.title(t("hotspots.title"))
st.caption(t("hotspots.intro"))
period = period_picker(t, today)
report, findings = findings_for(str(workspace.path), stamp, period, today.isoformat())
outlines, labels = outlines_for(str(workspace.path), stamp)
picked = st.session_state.get("hs_cell")
key = f"hotspots-map-{period}-{st.session_state.get('hs_map', 0)}"
st_folium(
    keep_view(  # where the person was looking at the last click
        cells_map(
            outlines,
            labels,
            [
                (t("hotspots.title"), hotspot_layer(report, t)),
                (t("hotspots.emerging"), findings_layer(findings, t)),
                (t("registry.picked"), chosen_cell_layer(picked, t("registry.picked"))),
            ],
            recency_legend(t, report.options.recent_days),
            language=language(),
            basemap=basemap_for(workspace),
        )
    ),
    height=MAP_HEIGHT,
    use_container_width=True,
    # only a click is sent back: moving the map does not rerun the page
    returned_objects=["last_clicked"],
    key=key,
    on_change=partial(take_click, workspace, key),
)
st.subheader(t("hotspots.findings"))
if findings.height == 0:
    st.info(t("hotspots.none"))
else:
    every = st.toggle(t("hotspots.all_columns"), key="hotspots_all")
    st.dataframe(
        findings_table(report, findings, t, all_columns=every),
        hide_index=True,
        column_config={t("hotspots.detail"): st.column_config.TextColumn(width="large")},
    )
editor(workspace, t, today)
