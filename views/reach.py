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
    count_text,
    percent_arithmetic,
    percent_text,
    quarter_name,
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
#: Pixels for the note, so that the table of districts fits a 1366 px screen.
NOTE_WIDTH = 320
#: Okabe-Ito blue (reach) and orange (target): told apart with colour-vision deficiencies.
TREND_COLOURS = ("#0072B2", "#E69F00")
#: A partial quarter's point is a diamond on a light grey band; a whole quarter's a circle.
PARTIAL_SHAPES = ("circle", "diamond")
PARTIAL_BAND = "#d9d9d9"
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


def trend_chart(
    trend: pl.DataFrame, t: Callable[..., str], *, partial: tuple[str, ...] = ()
) -> alt.LayerChart:
    """Return the trend as lines with points (a lone figure between hidden ones still shows).

    Reach is a solid blue line, the target a dashed orange one: told apart without colour too.
    A hidden figure is a gap, not a zero. A ``partial`` quarter (the programme started during
    it) sits on a grey band labelled "partial quarter", its points are diamonds and the line
    does not join them, so a quarter with fewer days of outreach does not read as a collapse.
    The axis counts whole people only, with the language's thousands separator. Vega-Lite is
    bundled with Streamlit: no request leaves the machine.
    """
    quarter, *series = trend.columns
    kind, value, period = t("reach.trend_series"), t("reach.trend_value"), t("reach.trend_period")
    whole, part = t("reach.whole_quarter"), t("reach.partial")
    long = trend.unpivot(index=quarter, variable_name=kind, value_name=value).with_columns(
        pl.when(pl.col(quarter).is_in(list(partial)))
        .then(pl.lit(part))
        .otherwise(pl.lit(whole))
        .alias(period)
    )
    # Vega describes axes and legends to screen readers in English ("X-axis for a discrete
    # scale…"): those descriptions are off, and the chart is described in the page's language
    legend = alt.Legend(orient="bottom", title=None, symbolType="stroke", aria=False)
    x = alt.X(
        f"{quarter}:N",
        sort=None,
        axis=alt.Axis(
            labelAngle=0,
            labelAlign="center",
            labelFlush=False,
            labelOverlap=False,
            title=None,
            aria=False,
        ),
    )
    y = alt.Y(
        f"{value}:Q",
        title=None,
        axis=alt.Axis(aria=False, format=",d", tickMinStep=1),
    )
    colour = alt.Color(
        f"{kind}:N", scale=alt.Scale(domain=series, range=list(TREND_COLOURS)), legend=legend
    )
    is_partial = alt.FieldEqualPredicate(field=period, equal=part)
    is_whole = alt.FieldEqualPredicate(field=period, equal=whole)
    base = alt.Chart(long.to_pandas())
    line = (
        base.transform_filter(is_whole)
        .mark_line(strokeWidth=2.5)
        .encode(
            x=x,
            y=y,
            color=colour,
            strokeDash=alt.StrokeDash(
                f"{kind}:N",
                scale=alt.Scale(domain=series, range=[[1, 0], [6, 4]]),
                legend=legend,
            ),
        )
    )
    shape = (
        alt.Shape(
            f"{period}:N",
            scale=alt.Scale(domain=[whole, part], range=list(PARTIAL_SHAPES)),
            # the circle is every other point: the legend names the exception only
            legend=alt.Legend(orient="top", values=[part], title=None, aria=False),
        )
        if partial
        else alt.value(PARTIAL_SHAPES[0])
    )
    points = base.mark_point(filled=True, opacity=1).encode(
        x=x,
        y=y,
        color=colour,
        shape=shape,
        size=alt.condition(is_partial, alt.value(120), alt.value(70)),
        tooltip=[quarter, kind, alt.Tooltip(f"{value}:Q", format=",d"), period],
    )
    layers: list[alt.Chart] = [line, points]
    if partial:
        # one row per partial quarter for the band and its label (not one per series)
        marked = base.transform_filter(is_partial).transform_filter(
            alt.FieldEqualPredicate(field=kind, equal=series[0])
        )
        band = marked.mark_rect(color=PARTIAL_BAND, opacity=0.5).encode(x=x)
        label = marked.mark_text(
            baseline="top", y=4, fontSize=11, color="#444444", lineBreak=" "
        ).encode(x=x, text=alt.value(part))
        layers = [band, label, *layers]
    description = (
        t("reach.trend_description_partial", quarter=", ".join(partial))
        if partial
        else t("reach.trend_description")
    )
    separator = t("reach.thousand")[1:-3]
    chart: alt.LayerChart = (
        alt.layer(*layers, height=MAP_HEIGHT - 170)
        .properties(description=description)
        .configure(
            locale=alt.Locale(
                number=alt.NumberLocale(
                    decimal=".", thousands=separator, grouping=[3], currency=["", ""]
                )
            )
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
    format_func=lambda q: quarter_name(release, q, t),
)
refusal = release.refusal(quarter)
if refusal:
    st.warning(t("reach.refused", quarter=quarter, error=refusal))
totals = release.totals()
total = totals.filter(totals["quarter"] == quarter).row(0, named=True)
with st.container(horizontal=True, gap="small"):
    st.metric(t("reach.reached"), count_text(total["reach"] or 0, t), help=t("reach.reached_help"))
    st.metric(
        t("reach.target"),
        count_text(total["target"], t) if total["target"] else t("reach.no_target"),
        help=t("reach.target_help"),
    )
    st.metric(
        t("reach.of_target"),
        percent_text(total["percent"], t) if total["percent"] is not None else "–",
        help=t("reach.of_target_help"),
    )
# the percentage's own sum, in numbers already on the page: a funder can redo it
st.markdown(percent_arithmetic(release, quarter, t))
if release.is_partial(quarter):
    st.warning(t("reach.partial_note", quarter=quarter), icon=":material/date_range:")

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
    st.altair_chart(trend_chart(trend, t, partial=release.partial), width="stretch")
    st.caption(t("reach.trend_gap", k=k))
    if release.partial:
        st.caption(t("reach.trend_partial"))

st.subheader(t("reach.districts", quarter=quarter_name(release, quarter, t)))
table = reach_table(release, quarter, t)
# the quarter is in the heading (and in the download); a long note is cut in its column (a
# click shows it whole) rather than pushing the table sideways at 1366 px
st.dataframe(
    table,
    hide_index=True,
    placeholder="",
    height=460,
    column_order=[name for name in table.columns if name != t("reach.col_quarter")],
    column_config={t("reach.col_note"): st.column_config.TextColumn(width=NOTE_WIDTH)},
)
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
            title=t(
                "reach.pdf_title", area=workspace.name, quarter=quarter_name(release, quarter, t)
            ),
            notes=[t("reach.rule", k=k), targets_note],
        ),
        file_name=f"reach-{quarter}.pdf",
        mime="application/pdf",
        icon=":material/picture_as_pdf:",
    )
st.caption(targets_note)
if (release.figures["target_source"] == TARGETS_FILE).any():
    st.caption(t("reach.targets_file", file=TARGETS_FILE))
