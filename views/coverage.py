"""The coordinator's coverage page: districts by gap score on a map, the ranking, one district."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.coverage import NO_LOCATION, CoverageReport
from mapping.analysis.reports import coverage_interval, coverage_notes, explain_district
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


def ranking_table(report: CoverageReport, t: Any) -> pl.DataFrame:
    """Return the ranked districts as the page shows them, with translated column names."""
    rows = report.ranked().filter(pl.col("rank").is_not_null())
    return pl.DataFrame(
        {
            t("coverage.rank"): rows["rank"],
            t("coverage.district"): rows["district"],
            t("coverage.gap"): rows["gap_score"],
            t("coverage.coverage"): [
                coverage_interval(lo, hi)
                for lo, hi in zip(rows["coverage_low"], rows["coverage_high"], strict=True)
            ],
            t("coverage.reach"): rows["contacts"].round(0).cast(pl.Int64),
            t("coverage.estimate"): [
                f"{lo:,.0f}–{hi:,.0f}" if lo is not None else t("coverage.unknown")
                for lo, hi in zip(rows["estimate_min"], rows["estimate_max"], strict=True)
            ],
            t("coverage.hotspots"): rows["hotspots"],
            t("coverage.overdue"): rows["hotspots_overdue"],
            t("coverage.access"): (rows["access_key"] * 100).round(0),
            t("coverage.peers"): rows["peer_educators"].round(1),
        }
    )


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
left, right = st.columns([1, 1])  # the ranking needs room: rank, name, gap, coverage first
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
    st.subheader(t("coverage.ranking"))
    st.dataframe(
        ranking_table(report, t),
        hide_index=True,
        height=MAP_HEIGHT - 60,
        column_config={
            t("coverage.rank"): st.column_config.NumberColumn(width=40, pinned=True),
            t("coverage.district"): st.column_config.TextColumn(width="medium", pinned=True),
            t("coverage.gap"): st.column_config.ProgressColumn(
                min_value=0, max_value=100, format="%.0f", width=90
            ),
        },
    )

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
    st.subheader(t("coverage.how"))
    st.code(explain_district(report, selected, t), language=None, wrap_lines=True)
    st.subheader(t("coverage.cells"))
    cells = report.cells.filter(pl.col("district_id") == selected).select(
        pl.col("cell_id").alias(t("cells.cell")),
        pl.col("visits").alias(t("cells.visits")),
        pl.col("contacts").alias(t("cells.contacts")),
        pl.col("new_contacts").alias(t("cells.new_contacts")),
        pl.col("last_visit").alias(t("cells.last_visit")),
        pl.col("days_since_last_visit").alias(t("cells.days")),
        pl.col("hotspot").alias(t("cells.hotspot")),
    )
    st.dataframe(cells, hide_index=True)
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
