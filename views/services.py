"""The coordinator's services page: services on the map by type, filters, add and edit services.

A click on the map becomes a cell at once (and, for a public service only, a point); the click
itself is dropped from the session and the map gets a new key, so no coordinate of a sensitive
service stays anywhere. See docs/services.md.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import polars as pl
import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.hours import DAY_NAMES
from mapping.maps.base import basemap_for
from mapping.maps.services import services_map
from mapping.registries.service_edits import Place
from mapping.registries.services import ServiceFilter, filter_services, read_services
from mapping.storage.workspace import open_workspace
from mapping.vocab import SERVICE_TYPES
from views import service_form as form
from views.access import require
from views.shared import fitting_table, language, open_or_explain, outlines_for, store_stamp, tr

MAP_HEIGHT = 600
#: Pixels for a service's name, so that the table fits a 1366 px screen.
NAME_WIDTH = 280


@st.cache_data(show_spinner="…", max_entries=8)
def services_for(path: str, stamp: tuple[int, ...]) -> pl.DataFrame:
    """Return the registry (no point of a sensitive service), cached per store state."""
    del stamp
    return read_services(open_workspace(Path(path)))


account = require("coordinator")  # the server refuses any other role
t = tr()
lang = language()
workspace = open_or_explain()
stamp = store_stamp(workspace)
services = services_for(str(workspace.path), stamp)
now = clock.now(workspace)
reset = st.session_state.pop("svc_reset", None)
if reset:
    form.clear(reset)
    st.session_state.pop("svc_edit_loaded", None)

st.title(t("services_page.title"))
st.caption(t("services_page.intro"))
types = st.multiselect(
    t("services_page.types"),
    SERVICE_TYPES,
    key="svc_types",
    format_func=lambda name: t(f"service_types.{name}"),
    placeholder=t("services_page.all_types"),
)
day = DAY_NAMES.get(lang, DAY_NAMES["en"])[now.weekday()]
labels = {
    "open_now": t("services_page.open_now", time=f"{day} {now:%H:%M}"),
    "at_night": t("services_page.at_night"),
    "friendly": t("services_page.friendly"),
    "free": t("services_page.free"),
    "include_closed": t("services_page.include_closed"),
}
columns = st.columns([len(label) + 8 for label in labels.values()])  # room for each label
toggles = {
    name: column.toggle(label, key=f"svc_{name}")
    for column, (name, label) in zip(columns, labels.items(), strict=True)
}
shown = filter_services(services, ServiceFilter(types=tuple(types), **toggles), now=now)

mode = st.session_state.get("svc_mode", "add")
sensitive_now = bool(st.session_state.get(form.key(mode, "sensitive")))
place = st.session_state.get(form.PLACE)
if place is not None and sensitive_now and place.point is not None:
    place = st.session_state[form.PLACE] = Place(place.cell)  # drop the point at once
left, right = st.columns([5, 3], gap="medium")
with left:
    map_key = f"svc-map-{st.session_state.get('svc_map', 0)}"
    outlines, names = outlines_for(str(workspace.path), stamp)
    st_folium(
        services_map(
            shown,
            outlines,
            names,
            t,
            language=lang,
            picked=place.cell if place else None,
            basemap=basemap_for(workspace),
        ),
        height=MAP_HEIGHT,
        use_container_width=True,
        returned_objects=["last_clicked"],
        key=map_key,
        on_change=partial(form.capture, map_key, workspace.resolution, sensitive_now),
    )
    st.caption(t("services_page.shown", shown=shown.height, total=services.height))
with right:
    if "svc_done" in st.session_state:
        st.success(st.session_state.pop("svc_done"))
    mode = st.radio(
        t("services_page.mode"),
        ("add", "edit"),
        key="svc_mode",
        horizontal=True,
        format_func=lambda m: t(f"services_page.mode_{m}"),
        label_visibility="collapsed",
        on_change=lambda: st.session_state.pop(form.PLACE, None),  # a place is for one form
    )
    chosen = None
    if mode == "edit":
        ids = services["id"].to_list()
        names_by_id = dict(zip(ids, services["name"], strict=True))
        chosen = st.selectbox(
            t("services_page.pick"),
            ids,
            key="svc_edit_id",
            format_func=lambda i: f"{i} · {names_by_id[i]}",
            index=None,
            placeholder=t("services_page.pick_placeholder"),
        )
        if chosen is not None and st.session_state.get("svc_edit_loaded") != chosen:
            form.load("edit", services.row(ids.index(chosen), named=True))
            st.session_state["svc_edit_loaded"] = chosen
    if mode == "add" or chosen is not None:
        form.panel(workspace, mode, chosen, t, lang)

st.subheader(t("services_page.table"))
# the identifier is in the edit picker, the cell on the map: both on demand, with the rest; a
# long name is cut in its column (a click shows it whole) rather than pushing the table sideways
brief = ("name", "service_type", "opening_hours", "friendly", "free")
fitting_table(
    form.table(shown, t, lang),
    [t(f"services_page.field_{name}") for name in brief],
    key="svc_all_columns",
    column_config={
        t("services_page.field_name"): st.column_config.TextColumn(width=NAME_WIDTH),
    },
)
