"""Log a visit's form as a component: the place is made a cell on the phone, nothing sent till Save.

The form is plain HTML and JS in ``views/components/frontend/visit_form/`` (no build step; it
speaks Streamlit's component messages itself). It draws the team's cells and the district
outlines on a Leaflet map; a tap or "use my location" becomes an H3 cell with h3-js and a
district by point in polygon against :func:`mapping.maps.placing.placing_districts`, on the
phone. Supplies, referrals and the contact code change in the browser; the form sends one value
when the peer educator confirms: the cell and district ids, never a point (:data:`FORM_KEY`,
read by :func:`mapping.ingest.capture.entry_from_form`). It sends it again, with the same
submission id, until the page passes back an acknowledgement (:func:`save_sent_visit`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit.components.v1 as components

from mapping import clock
from mapping.analysis.peers import REFERRAL_TYPES
from mapping.errors import InvalidInputError
from mapping.ingest.capture import MAX_PER_VISIT, entry_from_form, log_visit
from mapping.maps.base import GeoJSON
from mapping.settings import get_settings
from mapping.storage.workspace import Workspace

_FRONTEND = Path(__file__).resolve().parent / "frontend" / "visit_form"
_component = components.declare_component("visit_form", path=str(_FRONTEND))

#: The channels the form offers (SMS is logged from files only).
CHANNELS = ("in_person", "phone", "online")
#: The supplies the form counts, in the order shown.
SUPPLY_FIELDS = ("male_condoms", "lubricant", "female_condoms")
#: The locale keys (under ``log.``) the form shows, each given to the browser as it reads.
LABELS = (
    "channel",
    "tap",
    "locate",
    "locating",
    "locate_denied",
    "locate_unavailable",
    "locate_unsupported",
    "outside",
    "place_plain",
    "supplies",
    "kit",
    "referrals",
    "code",
    "code_help",
    "no_place",
    "review",
    "none",
    "save",
    "back",
    "sending",
    "pending",
    "choose_me",
    "gesture_touch",
    "gesture_scroll",
    "gesture_scroll_mac",
)
#: An acknowledgement the page passes back: the submission id, its status and what to say.
Ack = dict[str, str]


def visit_form(
    t: Callable[..., str],
    *,
    resolution: int,
    cells: GeoJSON,
    legend: str,
    outlines: GeoJSON,
    names: GeoJSON,
    placing: GeoJSON,
    bounds: tuple[float, float, float, float],
    acknowledged: Ack | None,
    ready: bool,
    key: str,
    basemap_url: str | None = None,
) -> dict[str, Any] | None:
    """Draw the form; return the visit it sent last (None before the first Save).

    ``cells`` is the team's layer (:func:`mapping.maps.coverage.team_layer`), ``outlines`` and
    ``names`` the drawn districts and their names (:func:`mapping.maps.base.district_layers`),
    ``placing`` the outlines the phone decides districts with, ``bounds`` where the map opens
    (min lon, min lat, max lon, max lat). ``acknowledged`` tells the phone a visit is stored (or
    refused, and why); ``ready`` is False while no peer educator is chosen. ``basemap_url``, if
    set, is drawn under the map by ``static/om/basemap.js``.
    """
    settings = get_settings()
    labels = {name: t(f"log.{name}") for name in LABELS}
    labels |= {
        "place": t("log.place", district="{district}"),
        "confirm": t("log.confirm", supplies="{supplies}", referrals="{referrals}"),
        "less": t("log.less", supply="{supply}"),
        "more": t("log.more", supply="{supply}"),
    }
    value = _component(
        labels=labels,
        channels=[[c, t(f"log.channel_{c}")] for c in CHANNELS],
        supplies=[[s, t(f"log.{s}")] for s in SUPPLY_FIELDS],
        referrals=[[r, t(f"service_types.{r}")] for r in REFERRAL_TYPES],
        kit={
            "male_condoms": settings.kit_male_condoms,
            "lubricant": settings.kit_lubricant,
            "female_condoms": settings.kit_female_condoms,
        },
        max_per_visit=MAX_PER_VISIT,
        resolution=resolution,
        cells=cells,
        legend=legend,
        outlines=outlines,
        names=names,
        placing=placing,
        bounds=list(bounds),
        acknowledged=acknowledged,
        ready=ready,
        basemap_url=basemap_url,
        key=key,
        default=None,
    )
    return value if isinstance(value, dict) else None


def sent_key(sent: object) -> tuple[str, int] | None:
    """Return what tells one sending of the form from another (its submission id and number)."""
    if not isinstance(sent, Mapping):
        return None
    return str(sent.get("submission_id")), int(sent.get("seq") or 0)


def save_sent_visit(
    workspace: Workspace,
    sent: object,
    *,
    peer_educator: str,
    team: str,
    t: Callable[..., str],
) -> Ack:
    """Store a visit the form sent; return the acknowledgement the form waits for.

    Stored once however often it is sent (the submission id); ``"saved"``, ``"already"`` (it
    was stored by an earlier sending) or ``"refused"`` with the library's message, which says
    what to change.
    """
    submission = str(sent.get("submission_id", "")) if isinstance(sent, Mapping) else ""
    try:
        entry = entry_from_form(
            workspace,
            sent,
            peer_educator=peer_educator,
            team=team,
            now=clock.now(workspace).replace(tzinfo=None),
        )
        result = log_visit(workspace, entry)
    except InvalidInputError as exc:
        return {"submission_id": submission, "status": "refused", "message": str(exc)}
    status = "saved" if result.accepted else "already"
    return {"submission_id": submission, "status": status, "message": t(f"log.{status}")}
