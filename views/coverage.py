"""The coordinator's coverage page: districts by gap score on a map, the ranking, one district."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.coverage import NO_LOCATION
from mapping.analysis.reports import coverage_notes, explain_district
from mapping.analysis.tables import district_cells_table, district_in_words, ranking_table
from mapping.maps.base import basemap_for
from mapping.maps.coverage import coverage_layer, coverage_map
from views.access import require
from views.shared import (
    language,
    open_or_explain,
    outlines_for,
    period_picker,
    pick,
    remembered,
    report_for,
    store_stamp,
    tr,
)

MAP_HEIGHT = 560
RANKING_HEIGHT = 420


def ranking_columns(t: Any, *, all_columns: bool) -> dict[str, Any]:
    """Return the ranking's column settings: readable headers, each with what it means."""
    text = st.column_config.TextColumn
    # pinned only when the full table may scroll sideways: a pinned column is drawn greyed
    config = {
        t("coverage.rank"): st.column_config.NumberColumn(pinned=all_columns),
        t("coverage.district"): text(pinned=all_columns, width="medium"),
        t("coverage.gap_score"): st.column_config.ProgressColumn(
            min_value=0, max_value=100, format="%d", help=t("coverage.gap_help")
        ),
        t("coverage.coverage"): text(help=t("coverage.coverage_help")),
    }
    if all_columns:
        config[t("coverage.reached")] = st.column_config.NumberColumn(
            help=t("coverage.reached_help")
        )
        config[t("coverage.peers")] = st.column_config.NumberColumn(help=t("coverage.peers_help"))
        config[t("coverage.peer_time")] = text(help=t("coverage.peer_time_help"))
    else:
        config[t("coverage.reached_of")] = text(help=t("coverage.reached_of_help"))
    return config


account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
today = clock.today(workspace)
st.title(t("coverage.title"))
st.caption(t("coverage.intro"))
period = period_picker(t, today)
report = report_for(str(workspace.path), stamp, period, today.isoformat())
for note in coverage_notes(report, t):
    st.info(t("coverage.note", note=note))

names = {
    row["district_id"]: row["district"]
    for row in report.ranked().filter(pl.col("rank").is_not_null()).iter_rows(named=True)
}
ids = list(names)
selected = remembered("district", "district", ids, ids[0]) if ids else None
outlines, labels = outlines_for(str(workspace.path), stamp)
left, right = st.columns([1, 1])
with left:
    clicked = st_folium(
        coverage_map(
            coverage_layer(report, outlines, t, selected=selected),
            labels,
            t,
            language=language(),
            basemap=basemap_for(workspace),
        ),
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_active_drawing"],
        key=f"coverage-map-{period}",
    )
    drawn = (clicked or {}).get("last_active_drawing") or {}
    chosen_on_map = (drawn.get("properties") or {}).get("id")
    if chosen_on_map in names and chosen_on_map != selected:
        st.session_state["district"] = chosen_on_map
        st.rerun()
with right:
    if selected is not None:
        selected = pick(
            t("coverage.pick"),
            ids,
            state_key="district",
            param="district",
            default=ids[0],
            format_func=names.__getitem__,
            help_text=t("coverage.pick_help"),
        )
        head, *sentences = district_in_words(report, selected, t)
        st.markdown(f"**{head}**")
        st.markdown("\n".join(f"- {line}" for line in sentences))
        with st.expander(t("coverage.how")):
            st.code(explain_district(report, selected, t), language=None, wrap_lines=True)

st.subheader(t("coverage.ranking"))
every = st.toggle(
    t("coverage.all_columns"), key="coverage_all", help=t("coverage.all_columns_help")
)
st.dataframe(
    ranking_table(report, t, all_columns=every),
    hide_index=True,
    height=RANKING_HEIGHT,
    column_config=ranking_columns(t, all_columns=every),
)
st.caption(t("coverage.ranking_note"))

if selected is not None:
    st.subheader(t("coverage.cells"))
    st.dataframe(district_cells_table(report, selected, t), hide_index=True)
unplaced = report.districts.filter(pl.col("district_id") == NO_LOCATION)
if unplaced.height:
    row = unplaced.row(0, named=True)
    st.caption(
        t(
            "coverage.no_location",
            visits=f"{row['visits']:,.0f}",
            contacts=f"{row['contacts']:,.0f}",
        )
    )
st.caption(t("coverage.footer", minutes=f"{report.options.reach_minutes:g}"))
