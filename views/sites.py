"""The coordinator's page for siting a new service: where it would reach the most people."""

from __future__ import annotations

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.maps.base import basemap_for
from mapping.maps.coverage import cells_map, site_numbers_layer, sites_layers, sites_legend
from mapping.maps.plan import NUMBER_JS
from mapping.vocab import SERVICE_TYPES
from views.access import require
from views.shared import (
    fitting_table,
    language,
    open_or_explain,
    outlines_for,
    period_picker,
    sites_for,
    store_stamp,
    tr,
)

MAP_HEIGHT = 560

account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
today = clock.today(workspace)
st.title(t("sites.title"))
st.caption(t("sites.intro"))
period = period_picker(t, today)
left, right = st.columns(2)
service_type = str(
    left.selectbox(
        t("sites.service_type"),
        SERVICE_TYPES,
        index=SERVICE_TYPES.index("hiv_testing"),
        format_func=lambda name: t(f"service_types.{name}"),
        key="site_type",
        placeholder=t("app.choose_one"),
    )
)
count = int(right.slider(t("sites.count"), 1, 10, 3, key="site_count"))
sites, uncovered = sites_for(
    str(workspace.path), stamp, period, today.isoformat(), service_type, count
)
outlines, labels = outlines_for(str(workspace.path), stamp)
site_layer, hotspot_layer = sites_layers(sites, uncovered, t)
st_folium(
    cells_map(
        outlines,
        labels,
        [
            (t("sites.uncovered"), hotspot_layer),
            (t("sites.legend_title"), site_layer),
            ("numbers", site_numbers_layer(sites)),  # the table's order, on the map
        ],
        sites_legend(t),
        language=language(),
        basemap=basemap_for(workspace),
        markers={"numbers": NUMBER_JS},
    ),
    height=MAP_HEIGHT,
    use_container_width=True,
    returned_objects=[],
    key=f"sites-map-{period}-{service_type}-{count}",
)
if sites.height == 0:
    st.info(t("sites.none"))
else:
    # the cell is numbered on the map, and the hotspots follow from the people: on demand
    fitting_table(
        pl.DataFrame(
            {
                t("sites.rank"): sites["rank"],
                t("sites.cell"): sites["cell_id"],
                t("sites.district"): sites["district"],
                t("sites.gained"): sites["hotspots_gained"],
                t("sites.people"): [
                    f"{lo}–{hi}"
                    for lo, hi in zip(
                        sites["sex_workers_min"], sites["sex_workers_max"], strict=True
                    )
                ],
                t("sites.share"): [f"{100 * s:.0f} %" for s in sites["cumulative_share"]],
            }
        ),
        [t(f"sites.{name}") for name in ("rank", "district", "people", "share")],
        key="sites_all_columns",
    )
