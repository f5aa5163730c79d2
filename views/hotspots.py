"""The coordinator's hotspots page: the registry by recency, and what needs attention."""

from __future__ import annotations

from functools import partial

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.maps.base import basemap_for
from mapping.maps.coverage import (
    cells_map,
    chosen_cell_layer,
    findings_layer,
    hotspot_layer,
    recency_legend,
)
from views.access import require
from views.hotspot_editor import editor, take_click
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


def detail(row: dict[str, object]) -> str:
    """Return a finding's detail in the page's language, from its figures."""
    kind, days = row["kind"], row["days_since_last_visit"]
    if kind == "overdue":
        return t("hotspots.tip_never") if days is None else t("hotspots.tip_days", days=days)
    if kind == "uncovered":
        return t("details.uncovered", minutes=f"{report.options.reach_minutes:g}")
    if kind == "emerging":
        z = row["z_score"]
        return t("details.emerging", z=z, visits=row["visits"], previous=row["previous_visits"])
    return t("details.fading", previous=row["previous_visits"], visits=row["visits"])


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
    ),
    height=MAP_HEIGHT,
    use_container_width=True,
    returned_objects=["last_clicked"],  # a click picks a cell; panning does not rerun
    key=key,
    on_change=partial(take_click, workspace, key),
)
st.subheader(t("hotspots.findings"))
if findings.height == 0:
    st.info(t("hotspots.none"))
else:
    kinds = {k: t(f"hotspots.kind_{k}") for k in ("overdue", "uncovered", "emerging", "fading")}
    table = findings.join(
        report.districts.select("district_id", pl.col("district").alias("__name")),
        on="district_id",
        how="left",
    )
    st.dataframe(
        pl.DataFrame(
            {
                t("hotspots.kind"): table["kind"].replace_strict(kinds),
                t("coverage.district"): table["__name"],
                t("hotspots.hotspot"): table["hotspot_id"],
                t("hotspots.cell"): table["cell_id"],
                t("hotspots.visits"): table["visits"],
                t("hotspots.previous"): table["previous_visits"],
                t("hotspots.days"): table["days_since_last_visit"],
                t("hotspots.detail"): [detail(row) for row in table.iter_rows(named=True)],
            }
        ),
        hide_index=True,
    )
editor(workspace, t, today)
