"""The hotspot registry's editor, drawn under the hotspots map: pick a cell, describe, confirm.

Not a page of its own: :mod:`views.hotspots` calls :func:`editor`. A click on the map becomes a
cell at once (the map then moves to a new key, so the point does not stay in the session); a
cell holding hotspots opens the first for editing, an empty cell starts a new one. The new map
opens on the picked cell, zoomed in (:func:`keep_view`), and the page scrolls to the editor,
which is drawn under the map and the findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import folium
import h3
import streamlit as st
import streamlit.components.v1 as components
from folium.map import FitBounds

from mapping.errors import InvalidInputError
from mapping.hours import DAYS
from mapping.ingest.capture import place_at
from mapping.registries.hotspots import (
    HotspotChange,
    HotspotDraft,
    existing_hotspot,
    hotspot_registry,
    retire_hotspot,
    save_hotspot,
    validate_hotspot,
)
from mapping.storage.workspace import Workspace
from mapping.vocab import HOTSPOT_TYPOLOGIES, SAFETY_CONCERNS
from views.shared import tr

NEW = ""
#: The editor's anchor, which the page scrolls to after a click on the map.
ANCHOR = "hotspot-editor"
#: The zoom the map opens at on a picked cell: a few blocks around it.
CLICK_ZOOM = 15
#: Scrolls the page (the parent of this same-origin frame) to the editor once it is drawn.
_SCROLL = """<script>
const target = () => window.parent.document.getElementById("%s");
const seen = (el) => el.getBoundingClientRect().top >= 0
    && el.getBoundingClientRect().top < window.parent.innerHeight / 2;
const go = (tries) => {
  const el = target();
  if (el && !seen(el)) el.scrollIntoView({block: "start"});
  if (tries > 0) setTimeout(() => go(tries - 1), 300);
};
setTimeout(() => go(3), 150);  // again while the map above settles: %d
</script>"""
state = st.session_state


def take_click(workspace: Workspace, key: str) -> None:
    """Turn a click on the hotspots map into a cell, then drop the click (a new map key).

    The new map opens on the picked cell at :data:`CLICK_ZOOM` (:func:`keep_view`), where the
    person was looking, instead of the whole area.
    """
    returned = state.get(key) or {}
    click = returned.get("last_clicked")
    if not click:
        return
    try:
        place = place_at(workspace, float(click["lat"]), float(click["lng"]))
        state["hs_cell"], state["hs_district"] = place.cell, place.district_id
        state.pop("hs_error", None)
        state.pop("hs_pending", None)
        state.pop("hs_pick", None)  # the cell chooses the hotspot again
    except InvalidInputError:  # outside the area's districts (a click cannot be off the map)
        state["hs_error"] = tr()("registry.outside")
    state.pop(key, None)  # the click's coordinates are dropped here
    if state.get("hs_cell") is not None:
        # the new map opens on the picked cell, close enough to tell it from its neighbours:
        # only the cell is kept (no point, even in session state), and moving the map sends
        # nothing back (the page does not rerun for a move)
        state["hs_view"] = (h3.int_to_str(int(state["hs_cell"])), CLICK_ZOOM)
    state["hs_map"] = state.get("hs_map", 0) + 1
    state["hs_scroll"] = state["hs_map"]


def keep_view(m: folium.Map) -> folium.Map:
    """Open ``m`` on the cell picked by the last click, at :data:`CLICK_ZOOM`, if there was one.

    Only the view at a click is kept, not every move: a map given its own view back while it
    is being moved would jump back. The map then opens there at once instead of fitting the
    area (a view set after that fit is undone when the fit's zoom animation ends).
    """
    view = state.get("hs_view")
    if view:
        for name, child in list(m._children.items()):
            if isinstance(child, FitBounds):
                del m._children[name]
        m.location = list(h3.cell_to_latlng(view[0]))
        m.options["zoom"] = view[1]
    return m


def describe(change: HotspotChange, t: Callable[..., str]) -> str:
    """Return a change in the page's language: the action, then each field before → after."""
    if not change.changed:
        return t("registry.unchanged", id=change.hotspot_id)

    def shown(name: str, value: Any) -> str:
        if name == "days" and value:  # day names, not the stored codes
            return ", ".join(t(f"days.{day}") for day in str(value).split(","))
        return _shown(value, t)

    parts = [
        f"{t(f'registry.field_{name}')}: {shown(name, before)} → {shown(name, after)}"
        for name, (before, after) in change.changed.items()
        if name != "cell" or change.action == "added"
    ]
    return t(f"registry.{change.action}", id=change.hotspot_id) + " " + "; ".join(parts)


def _shown(value: Any, t: Callable[..., str]) -> str:
    if value is None or value == "":
        return "—"
    if value in HOTSPOT_TYPOLOGIES:
        return t(f"typologies.{value}")
    if value in SAFETY_CONCERNS:
        return t(f"safety.{value}")
    if isinstance(value, bool):
        return t("registry.yes") if value else t("registry.no")
    if isinstance(value, int) and value > 1 << 40:  # a cell
        return f"{value:x}"
    return str(value)


def editor(workspace: Workspace, t: Callable[..., str], today: dt.date) -> None:
    """Draw the registry editor: choose a hotspot (or a new one in the clicked cell), confirm."""
    st.subheader(t("registry.title"), anchor=ANCHOR)
    if "hs_scroll" in state:  # the same script on later runs is not run again
        components.html(_SCROLL % (ANCHOR, state["hs_scroll"]), height=0)
    st.caption(t("registry.intro"))
    if state.get("hs_error"):
        st.error(state["hs_error"])
    if state.get("hs_done"):
        st.success(state.pop("hs_done"), icon=":material/check_circle:")
    registry = hotspot_registry(workspace)
    cell = state.get("hs_cell")
    in_cell = registry.filter(registry["cell"] == cell)["id"].to_list() if cell else []
    options = [NEW, *registry["id"].to_list()]
    if "hs_next_pick" in state:
        state["hs_pick"] = state.pop("hs_next_pick")
    if state.get("hs_pick") not in options:
        state["hs_pick"] = in_cell[0] if in_cell else NEW
    chosen = st.selectbox(
        t("registry.hotspot"),
        options,
        key="hs_pick",
        format_func=lambda h: t("registry.new") if h == NEW else h,
        placeholder=t("app.choose_one"),
    )
    current = existing_hotspot(workspace, chosen) if chosen else None
    place = current.cell if current else cell
    if place is None:
        st.info(t("registry.click_first"), icon=":material/touch_app:")
        return
    # a new hotspot is counted in the district of the clicked point, not of its cell's centre
    district = state.get("hs_district") if current is None else None
    draft = _form(t, current, place, chosen or "new", district)
    if draft is not None:
        _ask(workspace, t, "save", chosen or None, draft)
    if current is not None:
        retire, validate = st.columns(2)
        if current.active and retire.button(t("registry.retire"), use_container_width=True):
            _ask(workspace, t, "retire", chosen, current)
        if validate.button(t("registry.validate"), use_container_width=True):
            _ask(workspace, t, "validate", chosen, current)
    _confirm(workspace, t, today)


def _form(
    t: Callable[..., str],
    current: HotspotDraft | None,
    cell: int,
    key: str,
    district: str | None = None,
) -> HotspotDraft | None:
    """Draw the hotspot's fields; return the draft when the person presses save."""
    base = current or HotspotDraft(cell=cell, typology=HOTSPOT_TYPOLOGIES[0])
    with st.form(f"hs-form-{key}-{cell}"):
        st.caption(t("registry.cell", cell=f"{cell:x}"))
        typology = st.selectbox(
            t("registry.field_typology"),
            HOTSPOT_TYPOLOGIES,
            index=HOTSPOT_TYPOLOGIES.index(base.typology),
            format_func=lambda v: t(f"typologies.{v}"),
            placeholder=t("app.choose_one"),
        )
        days = st.multiselect(
            t("registry.field_days"),
            list(DAYS),
            default=[d for d in DAYS if base.days and d in base.days.split(",")],
            format_func=lambda d: t(f"days.{d}"),
            placeholder=t("registry.days_placeholder"),
        )
        hours = st.text_input(
            t("registry.field_hours"), base.hours or "", placeholder="21:00-03:00"
        )
        low, high = st.columns(2)
        size_min = low.number_input(t("registry.field_size_min"), 0, value=base.size_min)
        size_max = high.number_input(t("registry.field_size_max"), 0, value=base.size_max)
        safety = st.selectbox(
            t("registry.field_safety"),
            [None, *SAFETY_CONCERNS],
            index=0 if base.safety is None else SAFETY_CONCERNS.index(base.safety) + 1,
            format_func=lambda v: "—" if v is None else t(f"safety.{v}"),
            placeholder=t("app.choose_one"),
        )
        if not st.form_submit_button(t("registry.save"), type="primary"):
            return None
    return HotspotDraft(
        cell=cell,
        typology=str(typology),
        days=",".join(days) or None,
        hours=hours or None,
        size_min=None if size_min is None else int(size_min),
        size_max=None if size_max is None else int(size_max),
        safety=safety,
        last_validated=base.last_validated,
        active=base.active,
        district_id=district,
    )


def _ask(
    workspace: Workspace,
    t: Callable[..., str],
    action: str,
    hotspot_id: str | None,
    draft: HotspotDraft,
) -> None:
    """Work out what the action would change (writing nothing) and keep it to be confirmed."""
    try:
        if action == "retire":
            change = retire_hotspot(workspace, str(hotspot_id), dry_run=True)
        elif action == "validate":
            change = validate_hotspot(workspace, str(hotspot_id), dry_run=True)
        else:
            change = save_hotspot(workspace, draft, hotspot_id=hotspot_id, dry_run=True)
    except InvalidInputError as exc:
        st.error(str(exc))
        return
    state["hs_pending"] = (action, hotspot_id, draft, describe(change, t))


def _confirm(workspace: Workspace, t: Callable[..., str], today: dt.date) -> None:
    """Ask before writing, then write and say what changed."""
    pending = state.get("hs_pending")
    if not pending:
        return
    action, hotspot_id, draft, text = pending
    with st.container(border=True):
        st.markdown(t("registry.confirm", change=text))
        yes, no = st.columns(2)
        if yes.button(t("registry.yes_save"), type="primary", use_container_width=True):
            if action == "retire":
                change = retire_hotspot(workspace, hotspot_id)
            elif action == "validate":
                change = validate_hotspot(workspace, hotspot_id, today=today)
            else:
                change = save_hotspot(workspace, draft, hotspot_id=hotspot_id, today=today)
            state["hs_done"] = t("registry.done", change=describe(change, t))
            state["hs_next_pick"] = change.hotspot_id  # the box is drawn: set it next run
            state.pop("hs_pending", None)
            st.rerun()
        if no.button(t("registry.cancel"), use_container_width=True):
            state.pop("hs_pending", None)
            st.rerun()
