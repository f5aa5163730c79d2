"""The services page's form: one service's fields, what a change does, confirm and save."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

import polars as pl
import streamlit as st

from mapping.hours import hours_for_reading
from mapping.registries.service_edits import (
    FieldChange,
    Place,
    Problem,
    ServiceChange,
    add_service,
    place_from_click,
    update_service,
)
from mapping.registries.services import FLAGS
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: Session keys of the fields of each form (``add``, ``edit``): ``svc_<form>_<field>``.
FIELDS = ("name", "service_type", "service_id", "sensitive", *FLAGS, "opening_hours")
DATES = ("active_from", "active_until")
PLACE = "svc_place"
#: How yes and no are shown (the same in every language; no answer means not known).
YES_NO = ("✓", "✗")


def key(form: str, name: str) -> str:
    """Return the session key of a field of a form."""
    return f"svc_{form}_{name}"


def capture(map_key: str, resolution: int, sensitive: bool) -> None:
    """Turn the map's click into a place at once, and drop the click from the session.

    streamlit-folium keeps the click under the map's key and under its own widget key: both
    go, and the map gets a new key, so the next map starts without a click.
    """
    clicked = (st.session_state.pop(map_key, None) or {}).get("last_clicked")
    for name in [
        k for k, v in st.session_state.items() if isinstance(v, dict) and "last_clicked" in v
    ]:
        del st.session_state[name]
    place = place_from_click(clicked, resolution, sensitive=sensitive)
    if place is not None:
        st.session_state[PLACE] = place
    st.session_state["svc_map"] = st.session_state.get("svc_map", 0) + 1


def clear(form: str) -> None:
    """Empty a form's fields and its confirmation, and forget the place picked on the map.

    The fields are set, not deleted: a widget whose state is deleted keeps showing its old
    value in the browser. The service type stays, for adding several of one type.
    """
    for name in ("name", "service_id", "opening_hours"):
        st.session_state[key(form, name)] = ""
    for name in (*FLAGS, *DATES):
        st.session_state[key(form, name)] = None
    st.session_state[key(form, "sensitive")] = False
    st.session_state[key(form, "confirm")] = False
    st.session_state.pop(PLACE, None)


def load(form: str, row: dict[str, Any]) -> None:
    """Fill a form's fields with a service's values (before its widgets are drawn)."""
    clear(form)
    for name in ("name", "service_type", "opening_hours", *DATES):
        st.session_state[key(form, name)] = row[name] or ("" if name in FIELDS else None)
    st.session_state[key(form, "sensitive")] = bool(row["sensitive"])
    for flag in FLAGS:
        st.session_state[key(form, flag)] = None if row[flag] is None else YES_NO[not row[flag]]


def fields(form: str, t: Callable[..., str]) -> dict[str, Any]:
    """Draw a form's fields and return their values as :func:`add_service` takes them."""
    for name in ("name", "service_id", "opening_hours"):
        st.session_state.setdefault(key(form, name), "")
    for name in DATES:
        st.session_state.setdefault(key(form, name), None)
    st.toggle(
        t("services_page.sensitive"),
        key=key(form, "sensitive"),
        help=t("services_page.sensitive_help"),
    )
    st.text_input(t("services_page.field_name"), key=key(form, "name"), max_chars=200)
    left, right = st.columns(2)
    left.selectbox(
        t("services_page.field_service_type"),
        SERVICE_TYPES,
        key=key(form, "service_type"),
        format_func=lambda name: t(f"service_types.{name}"),
        placeholder=t("app.choose_one"),
    )
    if form == "add":
        right.text_input(
            t("services_page.field_id"),
            key=key(form, "service_id"),
            placeholder=t("services_page.id_placeholder"),
        )
    st.text_input(
        t("services_page.field_opening_hours"),
        key=key(form, "opening_hours"),
        placeholder="Mo-Fr 08:00-17:00; Sa 20:00-02:00",
        help=t("services_page.hours_help"),
    )
    columns = st.columns(2)
    for index, flag in enumerate(FLAGS):
        columns[index % 2].segmented_control(
            t(f"services_page.field_{flag}"),
            YES_NO,
            key=key(form, flag),
        )
    left, right = st.columns(2)
    for column, name in zip((left, right), DATES, strict=True):
        column.date_input(
            t(f"services_page.field_{name}"),
            key=key(form, name),
            format="YYYY-MM-DD",
            help=t(f"services_page.{name}_help"),
        )
    state = st.session_state
    values: dict[str, Any] = {name: state[key(form, name)] for name in ("name", "service_type")}
    values["opening_hours"] = state[key(form, "opening_hours")]
    values["sensitive"] = bool(state[key(form, "sensitive")])
    values |= {flag: _answer(state[key(form, flag)]) for flag in FLAGS}
    values |= {name: state[key(form, name)] for name in DATES}
    return values


def _answer(value: str | None) -> bool | None:
    return None if value is None else value == YES_NO[0]


def place_arguments(place: Place | None, *, sensitive: bool) -> dict[str, Any]:
    """Return the place picked on the map as arguments: its point if public, else its cell."""
    if place is None:
        return {}
    if place.point is not None and not sensitive:
        return {"point": place.point}
    return {"cell": place.cell}


def shown(value: object, name: str, t: Callable[..., str], language: str) -> str:
    """Return a field's value as the page shows it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return YES_NO[not value]
    if name == "service_type":
        return t(f"service_types.{value}")
    if isinstance(value, dt.date):
        return value.isoformat()
    if name == "opening_hours":
        return hours_for_reading(str(value), language)
    return str(value)


def change_lines(changes: tuple[FieldChange, ...], t: Callable[..., str], language: str) -> str:
    """Return a change's fields as a Markdown list: ``field: before → after``."""
    lines = []
    for change in changes:
        label = t(f"services_page.field_{change.field}")
        if change.field == "point":
            lines.append(f"- {t(f'services_page.point_{change.after}')}")
        elif change.before is None and change.field != "point":
            lines.append(f"- {label}: {shown(change.after, change.field, t, language)}")
        else:
            before = shown(change.before, change.field, t, language)
            lines.append(f"- {label}: {before} → {shown(change.after, change.field, t, language)}")
    return "\n".join(lines)


def problem_lines(problems: tuple[Problem, ...], t: Callable[..., str]) -> str:
    """Return what stops a save, in the page's language, as a Markdown list."""
    lines = []
    for problem in problems:
        params = dict(problem.params)
        if "field" in params:
            params["field"] = t(f"services_page.field_{params['field']}")
        lines.append(f"- {t(f'services_page.problem_{problem.code}', **params)}")
    return "\n".join(lines)


def confirm_and_save(
    form: str,
    plan: ServiceChange,
    save: Callable[[], ServiceChange],
    t: Callable[..., str],
    language: str,
) -> None:
    """Show what the change would do, ask for confirmation, save, and say what changed."""
    if plan.problems:
        st.warning(t("services_page.cannot_save") + "\n\n" + problem_lines(plan.problems, t))
        return
    if not plan.changes:
        st.info(t("services_page.nothing_changes"))
        return
    heading = "will_add" if plan.action == "add" else "will_change"
    st.markdown(f"**{t(f'services_page.{heading}', id=plan.service_id)}**")
    st.markdown(change_lines(plan.changes, t, language))
    sure = st.checkbox(t("services_page.confirm"), key=key(form, "confirm"))
    if st.button(
        t("services_page.save"), disabled=not sure, type="primary", key=f"svc_{form}_save"
    ):
        done = save()
        verb = "added" if done.action == "add" else "changed"
        text = t(f"services_page.{verb}", id=done.service_id)
        st.session_state["svc_done"] = text + "\n\n" + change_lines(done.changes, t, language)
        st.session_state["svc_reset"] = form
        st.rerun()


def panel(
    workspace: Workspace, form: str, service_id: str | None, t: Callable[..., str], language: str
) -> None:
    """Draw the add or edit form with where the service is, what saving does, and the save."""
    values = fields(form, t)
    place = st.session_state.get(PLACE)
    where = t("services_page.place_none") if form == "add" else t("services_page.place_keep")
    if place is not None:
        kept = place.point is not None and not values["sensitive"]
        where = t(f"services_page.place_{'point' if kept else 'cell'}", cell=place.cell_id)
    st.caption(f"{t('services_page.click_map')} {where}")
    if service_id is None and not values["name"] and place is None:
        st.info(t("services_page.start"))
        return
    arguments = values | place_arguments(place, sensitive=values["sensitive"])
    if service_id is None:
        new_id = st.session_state[key("add", "service_id")]
        plan = add_service(workspace, service_id=new_id, dry_run=True, **arguments)
        save = partial(add_service, workspace, service_id=new_id, **arguments)
    else:
        plan = update_service(workspace, service_id, dry_run=True, **arguments)
        save = partial(update_service, workspace, service_id, **arguments)
    confirm_and_save(form, plan, save, t, language)


def table(services: pl.DataFrame, t: Callable[..., str], language: str) -> pl.DataFrame:
    """Return the services as the page's table: no coordinate, hours in the page's language."""

    def answers(column: str) -> list[str]:
        return [shown(value, column, t, language) for value in services[column]]

    return pl.DataFrame(
        {
            t("services_page.field_id"): services["id"],
            t("services_page.field_name"): services["name"],
            t("services_page.field_service_type"): answers("service_type"),
            t("services_page.field_opening_hours"): answers("opening_hours"),
            t("services_page.field_friendly"): answers("friendly"),
            t("services_page.field_free"): answers("free"),
            t("services_page.field_sensitive"): answers("sensitive"),
            t("services_page.field_cell"): services["cell_id"],
            t("services_page.field_active_until"): answers("active_until"),
        }
    )
