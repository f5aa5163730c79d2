"""The peer educator's page, for a phone at night: my team's cells by recency, services open now."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping.coverage import CoverageOptions, load_coverage_data
from mapping.coverage_map import cells_map, recency_legend, team_layer
from mapping.hours import hours_for_reading
from mapping.maps import basemap_from_env
from mapping.peers import local_now, services_open_now, team_cells, team_worker_ids, teams
from mapping.periods import parse_period
from mapping.workspace import open_workspace
from views.shared import language, open_or_explain, outlines_for, store_stamp, tr


@st.cache_data(show_spinner="…", max_entries=16)
def area_for(
    path: str, stamp: tuple[int, ...], team: str, now: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return the team's cells and the services open now, cached per team and quarter hour."""
    del stamp
    moment = dt.datetime.fromisoformat(now)
    workspace = open_workspace(Path(path))
    data = load_coverage_data(workspace, parse_period(None, today=moment.date()))
    cells = team_cells(data, team_worker_ids(workspace, team))
    services = services_open_now(
        data, CoverageOptions.from_settings(), near=cells["cell"].to_list(), now=moment
    )
    return cells, services


t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
st.title(t("peer.title"))
codes = teams(workspace)
team = str(st.selectbox(t("peer.team"), codes, key="team")) if codes else ""
now = local_now().replace(second=0, microsecond=0, tzinfo=None)
now = now.replace(minute=now.minute - now.minute % 15)
cells, services = area_for(str(workspace.path), stamp, team, now.isoformat())
options = CoverageOptions.from_settings()
st.caption(t("peer.intro"))
outlines, labels = outlines_for(str(workspace.path), stamp)
st_folium(
    cells_map(
        outlines,
        labels,
        [
            (
                t("peer.title"),
                team_layer(
                    cells,
                    t,
                    recent_days=options.recent_days,
                    overdue_days=options.overdue_weeks * 7,
                ),
            )
        ],
        recency_legend(t, options.recent_days, emerging=False, title=t("peer.legend_title")),
        basemap=basemap_from_env(),
    ),
    height=420,
    use_container_width=True,
    returned_objects=[],
    key=f"my-area-{team}",
)
if cells.height == 0:
    st.info(t("peer.no_cells"))
st.subheader(t("peer.open_now"))
for row in services.iter_rows(named=True):
    kind = t(f"service_types.{row['service_type']}")
    if row["cell_id"] is None:
        st.markdown(f"**{kind}**")
        st.caption(t("peer.closed"))
        continue
    where = row["name"] or t("peer.ask")
    away = (
        t("peer.minutes", minutes=row["minutes"]) if row["minutes"] is not None else t("peer.far")
    )
    st.markdown(f"**{kind}**")
    hours = hours_for_reading(row["opening_hours"], language())
    st.caption(f"{where} · {away} · {t('peer.hours', hours=hours)}")
