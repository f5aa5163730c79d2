"""The coordinator's planning page: tonight's routes for one or more teams, and who covers what."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

import streamlit as st

from mapping import clock
from mapping.analysis.peers import teams
from mapping.errors import InvalidInputError
from mapping.planning.plans import (
    RoutePlan,
    plan_routes,
    save_plans,
    start_services,
)
from mapping.storage.audit import Actor
from mapping.storage.workspace import Workspace
from views.access import require
from views.plan_assign import show_assignments
from views.plan_view import show_plan
from views.shared import (
    current_actor,
    open_or_explain,
    tr,
)


def save_and_say(
    workspace: Workspace, plans: list[RoutePlan], actor: Actor, t: Callable[..., str]
) -> None:
    """Store the plans shown and keep what to say about it for the next run."""
    try:
        replaced = save_plans(workspace, plans, actor=actor)
    except InvalidInputError as exc:  # another coordinator saved a plan for that night since
        st.session_state["plans_refused"] = str(exc)
        return
    st.session_state["plans_refused"] = ""
    st.session_state["plans_saved"] = True
    st.session_state["plans_said"] = (
        t("plan.saved_replaced", teams=", ".join(replaced)) if replaced else t("plan.saved")
    )


account = require("coordinator")  # the server refuses any other role
t = tr()
workspace = open_or_explain()
st.title(t("plan.title"))
# a choice, not tabs: a map drawn in a hidden tab keeps a height of 0
view = st.radio(
    t("plan.view"),
    ["route", "assign"],
    format_func=lambda key: t(f"plan.{key}_tab"),
    horizontal=True,
    label_visibility="collapsed",
    key="plan_view",
)

if view == "route":
    codes = teams(workspace)
    services = start_services(workspace, today=clock.today(workspace))
    with st.form("plan_form"):
        chosen = st.multiselect(
            t("plan.teams"),
            codes,
            default=codes[:1],
            key="plan_teams",
            placeholder=t("app.choose_many"),
        )
        left, right = st.columns(2)
        day = left.date_input(
            t("plan.date"), value=clock.today(workspace) + dt.timedelta(days=1), key="plan_date"
        )
        hours = right.text_input(t("plan.hours"), value="20:00-02:00", key="plan_hours")
        labels = dict(zip(services["id"], services["label"], strict=True))
        start = st.selectbox(
            t("plan.start"),
            services["id"].to_list(),
            format_func=labels.__getitem__,
            key="plan_start",
            placeholder=t("app.choose_one"),
        )
        submitted = st.form_submit_button(t("plan.plan"), type="primary")
    if submitted:
        try:
            with st.spinner(t("plan.planning")):
                # shown first, stored only when the coordinator saves it
                st.session_state["plans"] = plan_routes(
                    workspace, teams=chosen, day=day, start=str(start), hours=hours, save=False
                )
                st.session_state["plans_saved"] = False
                st.session_state["plans_said"] = ""
                st.session_state["plans_refused"] = ""
        except InvalidInputError as exc:
            st.error(str(exc))
    plans = st.session_state.get("plans", [])
    saved = bool(st.session_state.get("plans_saved"))
    if st.session_state.get("plans_refused"):
        st.error(st.session_state["plans_refused"])
    if plans and not saved:
        st.info(t("plan.not_saved"))
        # saved in the button's callback, before the page runs again: the page then draws
        # the saved state only (and the account saving it is passed, as a callback runs
        # outside the page's audit context)
        st.button(
            t("plan.save"),
            type="primary",
            key="plan_save",
            on_click=partial(save_and_say, workspace, plans, current_actor(), t),
        )
    elif plans and st.session_state.get("plans_said"):
        st.success(st.session_state["plans_said"])
    for index, plan in enumerate(plans):
        show_plan(plan, t, key=f"{plan.team}-{index}", downloads=saved)
else:
    show_assignments(workspace, t)
