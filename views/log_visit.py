"""Log a visit, for a phone at night: tap the map, a few taps for what happened, save.

The tap becomes a cell and the district of the tapped point at once
(:func:`mapping.ingest.capture.place_at`) and the map is redrawn under a new key, so the tapped
point does not stay in the session; the page keeps the cell and district only.
"""

from __future__ import annotations

import uuid
from functools import partial

import streamlit as st
from streamlit_folium import st_folium

from mapping import clock
from mapping.analysis.coverage import CoverageOptions
from mapping.analysis.peers import REFERRAL_TYPES, peer_educators, teams
from mapping.errors import InvalidInputError
from mapping.ingest.capture import (
    MAX_PER_VISIT,
    VisitEntry,
    district_of,
    log_visit,
    place_at,
)
from mapping.maps.base import basemap_for
from mapping.maps.coverage import cells_map, chosen_cell_layer, recency_legend, team_layer
from views.access import require
from views.shared import (
    carried_params,
    language,
    open_or_explain,
    outlines_for,
    quarter_hour,
    store_stamp,
    team_area_for,
    team_picker,
    tr,
)

CHANNEL_ICONS = {
    "in_person": ":material/handshake:",
    "phone": ":material/call:",
    "online": ":material/chat:",
}
SUPPLY_FIELDS = ("male_condoms", "lubricant", "female_condoms")
REFERRAL_ICONS = {
    "hiv_testing": ":material/bloodtype:",
    "sti_clinic": ":material/stethoscope:",
    "prep_pep": ":material/medication:",
    "hiv_treatment": ":material/local_pharmacy:",
    "drop_in_centre": ":material/home:",
    "violence_response": ":material/shield:",
    "legal_aid": ":material/gavel:",
    "shelter": ":material/bed:",
}
state = st.session_state
state.setdefault("log_map", 0)
state.setdefault("log_id", str(uuid.uuid4()))
round_ = state["log_id"][:8]  # new widgets (cleared) for each new visit


def take_tap(key: str) -> None:
    """Turn the map's tap into a cell, then drop the tap by moving the map to a new key."""
    tap = (state.get(key) or {}).get("last_clicked")
    if tap:
        try:
            place = place_at(workspace, float(tap["lat"]), float(tap["lng"]))
            state["log_cell"], state["log_district"] = place.cell, place.district_id
            state.pop("log_error", None)
        except InvalidInputError:  # outside the area's districts (a tap cannot be off the map)
            state["log_error"] = tr()("log.outside")
    state.pop(key, None)
    state["log_map"] += 1


account = require("peer")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
stamp = store_stamp(workspace)
st.title(t("log.title"))
team = team_picker(t, teams(workspace))
codes = peer_educators(workspace, team) if team else []
me = st.selectbox(t("log.me"), codes, key="log_me") if codes else None
channel = st.segmented_control(
    t("log.channel"),
    list(CHANNEL_ICONS),
    default="in_person",
    format_func=lambda c: f"{CHANNEL_ICONS[c]} {t(f'log.channel_{c}')}",
    key="log_channel",
)
cell = state.get("log_cell")
if channel == "in_person":
    cells, _ = team_area_for(str(workspace.path), stamp, team, quarter_hour(workspace).isoformat())
    options = CoverageOptions.from_settings()
    outlines, labels = outlines_for(str(workspace.path), stamp)
    layers = [
        (
            t("peer.title"),
            team_layer(
                cells, t, recent_days=options.recent_days, overdue_days=options.overdue_weeks * 7
            ),
        ),
        (t("log.here"), chosen_cell_layer(cell, t("log.here"))),
    ]
    st.markdown(f"**{t('log.tap')}**")
    key = f"log-map-{state['log_map']}"
    st_folium(
        cells_map(
            outlines,
            labels,
            layers,
            recency_legend(t, options.recent_days, emerging=False, title=t("peer.legend_title")),
            language=language(),
            basemap=basemap_for(workspace),
        ),
        height=380,
        use_container_width=True,
        returned_objects=["last_clicked"],
        key=key,
        on_change=partial(take_tap, key),
    )
    if state.get("log_error"):
        st.error(state["log_error"])
    elif cell is not None:
        st.success(
            t("log.place", district=district_of(workspace, cell, state.get("log_district"))),
            icon=":material/location_on:",
        )
supplies = {}
for column, name in zip(st.columns(len(SUPPLY_FIELDS)), SUPPLY_FIELDS, strict=True):
    supplies[name] = int(
        column.number_input(
            t(f"log.{name}"), min_value=0, max_value=MAX_PER_VISIT, key=f"log_{name}_{round_}"
        )
    )
referrals = st.pills(
    t("log.referrals"),
    REFERRAL_TYPES,
    selection_mode="multi",
    format_func=lambda r: f"{REFERRAL_ICONS[r]} {t(f'service_types.{r}')}",
    key=f"log_referrals_{round_}",
)
code = st.text_input(t("log.code"), key=f"log_code_{round_}", help=t("log.code_help"), max_chars=32)

if st.button(t("log.review"), type="primary", use_container_width=True, disabled=not me):
    state["log_review"] = True
if state.get("log_review") and me:
    entry = VisitEntry(
        peer_educator=me,
        team=team,
        when=clock.now(workspace).replace(tzinfo=None),
        channel=str(channel or "in_person"),
        cell=cell if channel == "in_person" else None,
        district_id=state.get("log_district") if channel == "in_person" else None,
        contact_code=code,
        supplies=supplies,
        referrals=tuple(referrals or ()),
        submission_id=state["log_id"],
    )
    handed = ", ".join(f"{n} {t(f'log.{k}')}" for k, n in supplies.items() if n) or t("log.none")
    try:
        entry.check()
    except InvalidInputError:
        st.error(t("log.no_place"), icon=":material/touch_app:")
        state.pop("log_review", None)
        st.stop()
    with st.container(border=True):
        st.markdown(t("log.confirm", supplies=handed, referrals=len(entry.referrals)))
        yes, back = st.columns(2)
        if yes.button(t("log.save"), type="primary", use_container_width=True):
            try:
                result = log_visit(workspace, entry)
            except InvalidInputError as exc:
                st.error(str(exc))
            else:
                state["log_done"] = t("log.saved" if result.accepted else "log.already")
                for name in ("log_cell", "log_district", "log_review", "log_error"):
                    state.pop(name, None)
                state["log_id"] = str(uuid.uuid4())
                state["log_map"] += 1
                st.rerun()
        if back.button(t("log.back"), use_container_width=True):
            state.pop("log_review", None)
            st.rerun()
if state.get("log_done"):
    st.success(state.pop("log_done"), icon=":material/check_circle:")
st.page_link(
    "views/my_area.py",
    label=t("peer.title"),
    icon=":material/near_me:",
    query_params=carried_params(),
    use_container_width=True,
)
