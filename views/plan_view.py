"""Drawing one outreach plan: its numbered cells on a map, its stops, and its run sheet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from pathlib import Path

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping.errors import InvalidInputError
from mapping.maps.base import basemap_for, layer_bounds
from mapping.maps.coverage import cells_map
from mapping.maps.plan import NUMBER_JS, route_layers, stop_tip, typology_name
from mapping.planning.plans import RoutePlan, current_plans, for_peer_educators, record_runsheet
from mapping.planning.runsheet import day_in_words, runsheet_csv, runsheet_filename, runsheet_pdf
from mapping.planning.sheet_map import map_districts
from mapping.storage.workspace import open_workspace
from views.shared import (
    current_actor,
    fitting_table,
    language,
    open_or_explain,
    outlines_for,
    store_stamp,
)


def plans_for(path: str, stamp: tuple[int, ...], team: str, today: dt.date) -> list[RoutePlan]:
    """Return a team's plans for the night on now and the next week's (:func:`current_plans`)."""
    del stamp
    return current_plans(open_workspace(Path(path)), team, today)


def show_plan(
    plan: RoutePlan,
    t: Callable[..., str],
    *,
    key: str,
    peer: bool = False,
    downloads: bool = True,
) -> None:
    """Draw a plan: heading, map of numbered cells, the stops, what was left out, downloads.

    For a peer educator (``peer``), the team's copy: nothing that follows from a size estimate
    (:func:`mapping.planning.plans.for_peer_educators`); a plan stored when stays still grew
    with size is not shown at all, but named, so the coordinator can plan that night again.
    The coordinator also gets the team's copy of the run sheet to hand out.
    """
    lang = language()
    day = day_in_words(plan.day, lang)
    if peer:
        try:
            plan = for_peer_educators(plan)
        except InvalidInputError:
            st.warning(t("plan.replan", day=day, team=plan.team))
            return
    workspace = open_or_explain()
    st.subheader(t("plan.heading", team=plan.team, day=day, hours=plan.hours))
    back = f"{plan.back:%H:%M}" if plan.back else "-"
    st.caption(t("plan.summary", start=plan.start_name, stops=plan.stops.height, back=back))
    outlines, labels = outlines_for(str(workspace.path), store_stamp(workspace))
    cells, line, numbers = route_layers(plan.stops, partial(stop_tip, t))
    st_folium(
        cells_map(
            outlines,
            labels,
            [("route", cells), ("line", line), ("numbers", numbers)],
            f"<b>{t('plan.legend')}</b>",
            language=language(),
            basemap=basemap_for(workspace),
            markers={"numbers": NUMBER_JS},
            focus=layer_bounds(cells),
        ),
        height=420,
        use_container_width=True,
        returned_objects=[],
        key=f"plan-map-{key}",
    )
    if plan.nothing_reachable:
        st.warning(t("plan.unreachable", start=plan.start_name))
    elif plan.stops.height == 0:
        st.warning(t("plan.empty"))
    sizes = [] if plan.for_team else ["people", "kits"]
    table = plan.stops.select(
        pl.col("seq").alias(t("plan.col_seq")),
        pl.col("hotspot_id").alias(t("plan.col_hotspot")),
        pl.col("typology")
        .map_elements(partial(typology_name, t), return_dtype=pl.String)
        .alias(t("plan.col_typology")),
        pl.col("cell_id").alias(t("plan.col_cell")),
        pl.col("district").alias(t("plan.col_district")),
        pl.col("arrive").dt.strftime("%H:%M").alias(t("plan.col_arrive")),
        pl.col("arrive_until").dt.strftime("%H:%M").alias(t("plan.col_until")),
        pl.col("minutes_there").alias(t("plan.col_minutes")),
        pl.col("overdue").alias(t("plan.col_overdue")),
        pl.col("missed_before").alias(t("plan.col_missed")),
        pl.col("follow_up").alias(t("plan.col_follow_up")),
        pl.col("done").alias(t("plan.col_done")),
        *(pl.col(name).alias(t(f"plan.col_{name}")) for name in sizes),
    )
    # the same minutes at every stop: on demand, with the cell and the typology; the coordinator
    # sees the sizes and kits to bring, the team's copy (none) whether a hotspot is overdue
    shown = ("seq", "hotspot", "district", "arrive", "until", "follow_up")
    fitting_table(
        table,
        [t(f"plan.col_{name}") for name in (*shown, *(sizes or ["overdue"]))],
        key=f"plan_all_{key}",
        use_container_width=True,
    )
    if plan.left_out.height:
        with st.expander(t("plan.left_out", count=plan.left_out.height)):
            reasons = {r: t(f"plan.reason_{r}") for r in plan.left_out["reason"].unique()}
            st.dataframe(
                plan.left_out.select(  # the priority is the planner's own number: not shown
                    pl.col("hotspot_id").alias(t("plan.col_hotspot")),
                    pl.col("cell_id").alias(t("plan.col_cell")),
                    pl.col("reason").replace_strict(reasons).alias(t("runsheet.col_reason")),
                ),
                hide_index=True,
                use_container_width=True,
            )
    if not downloads:
        return
    actor = current_actor()
    districts = map_districts(workspace, plan)
    sheets: list[tuple[str, str, bytes, RoutePlan]] = [
        ("pdf", "application/pdf", runsheet_pdf(plan, language=lang, districts=districts), plan),
        ("csv", "text/csv", runsheet_csv(plan, language=lang), plan),
    ]
    if not plan.for_team:  # the copy a coordinator prints for the team: no size estimates
        team = for_peer_educators(plan)
        sheets.append(
            (
                "team_pdf",
                "application/pdf",
                runsheet_pdf(team, language=lang, districts=districts),
                team,
            )
        )
    for column, (name, mime, data, sheet) in zip(st.columns(len(sheets)), sheets, strict=True):
        fmt = name.removeprefix("team_")
        column.download_button(
            t(f"plan.download_{name}"),
            data,
            file_name=runsheet_filename(sheet, fmt),
            mime=mime,
            on_click=partial(record_runsheet, workspace, sheet, fmt, actor=actor),
            key=f"{name}-{key}",
            use_container_width=True,
        )
