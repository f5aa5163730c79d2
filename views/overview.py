"""The overview page: what the workspace holds, on a map of districts, services and visits."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit_folium import st_folium

from mapping.analysis.summary import workspace_summary
from mapping.maps.base import basemap_for
from mapping.maps.basemap import BASEMAP_NAME, local_basemap
from mapping.maps.overview import OverviewLayers, overview_layers, overview_map
from mapping.storage.workspace import open_workspace
from views.access import require
from views.shared import language, open_or_explain, store_stamp, tr

MAP_HEIGHT = 600


@st.cache_data(show_spinner="…", max_entries=8)
def load(path: str, stamp: tuple[int, ...], language: str) -> tuple[dict[str, Any], OverviewLayers]:
    """Return the summary and map layers, cached per workspace, store state and language."""
    del stamp  # part of the cache key only: an import made while the app runs shows next load
    from pathlib import Path

    workspace = open_workspace(Path(path))
    return workspace_summary(workspace), overview_layers(workspace, language)


account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
facts, layers = load(str(workspace.path), store_stamp(workspace), language())

st.title(t("app.name"))
period = (
    t("overview.period", first=facts["first_visit"], last=facts["last_visit"])
    if facts["first_visit"]
    else ""
)
st.caption(
    t(
        "overview.caption",
        area=facts["area"],
        resolution=facts["resolution"],
        period=period,
        workspace=facts["workspace"],
    )
)
headline = (
    ("overview.districts", facts["districts"], None),
    (
        "overview.services",
        facts["services"],
        t("overview.services_help", count=f"{facts['sensitive_services']:,}"),
    ),
    ("overview.hotspots", facts["hotspots"], None),
    (
        "overview.visits",
        facts["visits"],
        t("overview.visits_help", count=f"{facts['visited_cells']:,}"),
    ),
    ("overview.unlocated", facts["visits_without_location"], t("overview.unlocated_help")),
    ("overview.contacts", facts["unique_contacts"], None),
)
for column, (key, value, help_text) in zip(st.columns(6), headline, strict=True):
    column.metric(t(key), f"{value:,}", help=help_text)

basemap = basemap_for(workspace)
st_folium(
    overview_map(layers, language=language(), basemap=basemap),
    height=MAP_HEIGHT,
    use_container_width=True,
    returned_objects=[],
    key="overview",
)
if basemap is None:
    basemap_note = t("overview.basemap_off", file=BASEMAP_NAME)
elif local_basemap(workspace) is not None:
    basemap_note = t("overview.basemap_local", file=BASEMAP_NAME)
else:
    basemap_note = t("overview.basemap_on")
st.caption(t("overview.privacy") + " " + basemap_note)
