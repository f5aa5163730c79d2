"""The funder's reach page: released unique contacts per district and quarter, against targets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.access.funder_reach import (
    TARGETS_FILE,
    ReachRelease,
    reach_csv,
    reach_pdf,
    reach_release,
    reach_stamp,
    reach_table,
    reach_trend,
)
from mapping.errors import InvalidInputError
from mapping.maps.base import basemap_for
from mapping.maps.reach import reach_layer, reach_legend, reach_map
from mapping.periods import quarter_of
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace, open_workspace
from views.access import require
from views.shared import (
    current_actor,
    language,
    open_or_explain,
    outlines_for,
    pick,
    remembered,
    tr,
)

MAP_HEIGHT = 520
#: Okabe-Ito blue (reach) and orange (target): told apart with colour-vision deficiencies.
TREND_COLOURS = ("#0072B2", "#E69F00")
AREA = "_area"


def data_stamp(workspace: Workspace) -> tuple[int, ...]:
    """Return what changes when the reach or the targets file could change."""
    targets = workspace.path / TARGETS_FILE
    extra = (targets.stat().st_mtime_ns, targets.stat().st_size) if targets.exists() else ()
    return (*reach_stamp(workspace), *extra)


@st.cache_data(show_spinner="…", max_entries=8)
def release_for(path: str, stamp: tuple[int, ...], today: str, _actor: Actor) -> ReachRelease:
    """Return the released reach, cached per workspace, ledger and targets state, and day.

    The releases are made on the first view, by the signed-in person (``_actor``, not part of
    the cache key), and stored: everyone allowed to see them sees the same stored figures, so
    a shared cache holds nothing user-specific.
    """
    del stamp
    return reach_release(
        open_workspace(Path(path)), actor=_actor, today=dt.date.fromisoformat(today)
    )


def trend_chart(trend: pl.DataFrame, t: Callable[..., str]) -> alt.Chart:
    """Return the trend as lines with points (a lone figure between hidden ones still shows).

    Reach is a solid blue line, the target a dashed orange one: told apart without colour too.
    A hidden figure is a gap, not a zero. Vega-Lite is bundled with Streamlit: no request
    leaves the machine.
    """
    quarter, *series = trend.columns
    kind, value = t("reach.trend_series"), t("reach.trend_value")
    long = trend.unpivot(index=quarter, variable_name=kind, value_name=value)
    legend = alt.Legend(orient="bottom", title=None, symbolType="stroke")
    # altair's generated mark_* methods are typed as returning Any: the chart is named to say
    chart: alt.Chart = (
        alt.Chart(long.to_pandas(), height=MAP_HEIGHT - 170)
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            x=alt.X(
                f"{quarter}:N",
                sort=None,
                axis=alt.Axis(labelAngle=0, labelOverlap=False, title=None),
            ),
            y=alt.Y(f"{value}:Q", title=None),
            color=alt.Color(
                f"{kind}:N",
                scale=alt.Scale(domain=series, range=list(TREND_COLOURS)),
                legend=legend,
            ),
            strokeDash=alt.StrokeDash(
                f"{kind}:N",
                scale=alt.Scale(domain=series, range=[[1, 0], [6, 4]]),
                legend=legend,
            ),
            tooltip=[quarter, kind, alt.Tooltip(f"{value}:Q", format=",")],
        )
    )
    return chart


account = require("funder")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = data_stamp(workspace)
today = clock.today(workspace)
st.title(t("reach.title"))
st.caption(t("reach.intro"))
try:
    release = release_for(str(workspace.path), stamp, today.isoformat(), current_actor())
except InvalidInputError as exc:
    st.error(t("reach.bad_targets", error=exc))
    st.stop()
k = release.min_count
st.info(t("reach.rule", k=k), icon=":material/shield_lock:")
st.caption(t("reach.running", quarter=quarter_of(today).label))
if not release.quarters:
    st.info(t("reach.no_data"))
    st.stop()

labels = [q.label for q in release.quarters]  # finished quarters only
quarter = pick(
    t("reach.quarter"),
    labels,
    state_key="reach_quarter",
    param="quarter",
    default=labels[-1],
)
refusal = release.refusal(quarter)
if refusal:
    st.warning(t("reach.refused", quarter=quarter, error=refusal))
totals = release.totals()
total = totals.filter(totals["quarter"] == quarter).row(0, named=True)
with st.container(horizontal=True, gap="small"):
    st.metric(t("reach.reached"), f"{total['reach'] or 0:,}", help=t("reach.reached_help"))
    st.metric(
        t("reach.target"),
        f"{total['target']:,}" if total["target"] else t("reach.no_target"),
        help=t("reach.target_help"),
    )
    st.metric(
        t("reach.of_target"),
        f"{total['percent']} %" if total["percent"] is not None else "–",
        help=t("reach.of_target_help"),
    )

districts = release.figures.filter(
    (release.figures["quarter"] == quarter) & ~release.figures["district_id"].str.starts_with("_")
)
names = dict(zip(districts["district_id"], districts["district"], strict=True))
chosen = remembered("reach_district", "trend", [AREA, *names], AREA)
outlines, places = outlines_for(str(workspace.path), stamp)
left, right = st.columns([3, 2], gap="medium")
with left:
    clicked = st_folium(
        reach_map(
            reach_layer(release, quarter, outlines, t, selected=chosen),
            places,
            reach_legend(release, quarter, t),
            language=language(),
            basemap=basemap_for(workspace),
        ),
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_active_drawing"],
        key=f"reach-map-{quarter}",
    )
    drawn = (clicked or {}).get("last_active_drawing") or {}
    on_map = (drawn.get("properties") or {}).get("id")
    if on_map in names and on_map != chosen:
        st.session_state["reach_district"] = on_map
        st.rerun()
with right:
    st.subheader(t("reach.trend"))
    scope = pick(
        t("reach.trend_for"),
        [AREA, *names],
        state_key="reach_district",
        param="trend",
        default=AREA,
        format_func=lambda d: t("reach.whole_area") if d == AREA else names[d],
        help_text=t("reach.trend_help"),
    )
    trend = reach_trend(release, t, district_id=None if scope == AREA else scope)
    st.altair_chart(trend_chart(trend, t), width="stretch")
    st.caption(t("reach.trend_gap", k=k))

st.subheader(t("reach.districts", quarter=quarter))
table = reach_table(release, quarter, t)
st.dataframe(table, hide_index=True, placeholder="", height=460)
targets_note = t(
    "reach.targets_note", share=f"{release.target_share * 100:g}", k=k, file=TARGETS_FILE
)
with st.container(horizontal=True, gap="small"):
    st.download_button(
        t("reach.download"),
        data=reach_csv(table),
        file_name=f"reach-{quarter}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    st.download_button(
        t("reach.download_pdf"),
        data=reach_pdf(
            table,
            title=t("reach.pdf_title", area=workspace.name, quarter=quarter),
            notes=[t("reach.rule", k=k), targets_note],
        ),
        file_name=f"reach-{quarter}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
    )
st.caption(targets_note)
if (release.figures["target_source"] == TARGETS_FILE).any():
    st.caption(t("reach.targets_file", file=TARGETS_FILE))
