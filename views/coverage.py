"""The coordinator's coverage page: districts by gap score on a map, the ranking, one district."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping.coverage import NO_LOCATION, CoverageReport, coverage
from mapping.coverage_map import coverage_layer, coverage_map
from mapping.maps import GeoJSON, basemap_from_env, district_layers
from mapping.periods import parse_period
from mapping.reports import coverage_interval, coverage_notes, explain_district
from mapping.workspace import open_workspace
from views.shared import open_or_explain, store_stamp, tr

MAP_HEIGHT = 560


def period_choices(today: dt.date) -> list[str]:
    """Return the last 90 days, this and the 3 previous quarters, this and the 5 previous months."""
    quarter = (today.month - 1) // 3 + 1
    quarters = []
    year, number = today.year, quarter
    for _ in range(4):
        quarters.append(f"{year}-Q{number}")
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
    months = []
    year, month = today.year, today.month
    for _ in range(6):
        months.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return ["last-90-days", *quarters, *months]


@st.cache_data(show_spinner="…", max_entries=16)
def report_for(path: str, stamp: tuple[int, ...], period: str, today: str) -> CoverageReport:
    """Return the coverage report of one period, cached per workspace, store state and day."""
    del stamp
    day = dt.date.fromisoformat(today)
    return coverage(open_workspace(Path(path)), parse_period(period, today=day), today=day)


@st.cache_data(show_spinner="…", max_entries=8)
def outlines_for(path: str, stamp: tuple[int, ...]) -> tuple[GeoJSON, GeoJSON]:
    """Return the district outlines and label points, cached per workspace and store state."""
    del stamp
    engine = open_workspace(Path(path)).engine()
    try:
        with engine.connect() as connection:
            return district_layers(connection)
    finally:
        engine.dispose()


def ranking_table(report: CoverageReport, t: Any) -> pl.DataFrame:
    """Return the ranked districts as the page shows them, with translated column names."""
    rows = report.ranked().filter(pl.col("rank").is_not_null())
    return pl.DataFrame(
        {
            t("coverage.rank"): rows["rank"],
            t("coverage.district"): rows["district"],
            t("coverage.reach"): rows["contacts"].round(0).cast(pl.Int64),
            t("coverage.estimate"): [
                f"{lo:,.0f}–{hi:,.0f}" if lo is not None else t("coverage.unknown")
                for lo, hi in zip(rows["estimate_min"], rows["estimate_max"], strict=True)
            ],
            t("coverage.coverage"): [
                coverage_interval(lo, hi)
                for lo, hi in zip(rows["coverage_low"], rows["coverage_high"], strict=True)
            ],
            t("coverage.hotspots"): rows["hotspots"],
            t("coverage.overdue"): rows["hotspots_overdue"],
            t("coverage.access"): (rows["access_key"] * 100).round(0),
            t("coverage.peers"): rows["peer_educators"].round(1),
            t("coverage.gap"): rows["gap_score"],
        }
    )


t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
today = dt.date.today()
choices = period_choices(today)
asked = st.query_params.get("period", choices[0])
st.session_state.setdefault("period", asked if asked in choices else choices[0])
st.title(t("coverage.title"))
st.caption(t("coverage.intro"))
period = st.selectbox(
    t("coverage.period"),
    choices,
    format_func=lambda p: t("coverage.last_days", days=90) if p == "last-90-days" else p,
    key="period",
)
st.query_params["period"] = period
report = report_for(str(workspace.path), stamp, period, today.isoformat())
for note in coverage_notes(report):
    st.info(t("coverage.note", note=note))

names = {
    row["district_id"]: row["district"]
    for row in report.ranked().filter(pl.col("rank").is_not_null()).iter_rows(named=True)
}
selected = st.query_params.get("district")
selected = selected if selected in names else next(iter(names), None)
outlines, labels = outlines_for(str(workspace.path), stamp)
left, right = st.columns([3, 2])
with left:
    clicked = st_folium(
        coverage_map(
            coverage_layer(report, outlines, t, selected=selected),
            labels,
            t,
            basemap=basemap_from_env(),
        ),
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_active_drawing"],
        key=f"coverage-map-{period}",
    )
    drawn = (clicked or {}).get("last_active_drawing") or {}
    chosen_on_map = (drawn.get("properties") or {}).get("id")
    if chosen_on_map in names and chosen_on_map != selected:
        st.query_params["district"] = chosen_on_map
        st.rerun()
with right:
    st.subheader(t("coverage.ranking"))
    st.dataframe(ranking_table(report, t), hide_index=True, height=MAP_HEIGHT - 60)

if selected is not None:
    ids = list(names)
    st.session_state["district"] = selected  # a click on the map, or the URL, wins
    pick = st.selectbox(
        t("coverage.pick"),
        ids,
        format_func=names.__getitem__,
        help=t("coverage.pick_help"),
        key="district",
    )
    if pick != selected:
        st.query_params["district"] = pick
        st.rerun()
    st.subheader(t("coverage.how"))
    st.code(explain_district(report, selected), language=None)
    st.subheader(t("coverage.cells"))
    cells = report.cells.filter(pl.col("district_id") == selected).select(
        "cell_id",
        "visits",
        "contacts",
        "new_contacts",
        "last_visit",
        "days_since_last_visit",
        "hotspot",
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
