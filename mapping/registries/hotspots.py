"""The hotspot registry edited in the app: add, edit, retire and validate hotspots, cell by cell.

A hotspot is a cell, never a venue point: the app gives a cell picked on the map. Every change is
checked like an imported row (the message names the field, the value and the fix), written in one
transaction, and recorded in the store's import log (``source_name`` "app: ..."), so the registry
says where each version of a hotspot came from. Re-importing a registry file afterwards updates
the same ids to the file's values, as any newer file does (see docs/hotspots.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import polars as pl
import sqlalchemy as sa

from mapping import clock
from mapping.cells import hex_ids
from mapping.errors import InvalidInputError
from mapping.hours import check_hours, days_from_text
from mapping.ingest.attribution import NONE, area_districts, districts_of_cells
from mapping.ingest.batch import ImportResult, finish_import, record_import
from mapping.ingest.values import record_fingerprint
from mapping.privacy import looks_like_name
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import HOTSPOT_TYPOLOGIES, SAFETY_CONCERNS

#: The fields a coordinator edits, in the order the page and change messages list them.
FIELDS: tuple[str, ...] = (
    "cell",
    "typology",
    "days",
    "hours",
    "size_min",
    "size_max",
    "safety",
    "last_validated",
    "active",
)
#: The largest number of sex workers one cell's estimate may hold (a typo guard).
MAX_SIZE = 5_000


@dataclass(frozen=True)
class HotspotDraft:
    """A hotspot as the coordinator describes it: a cell and what happens there."""

    cell: int
    typology: str
    days: str | None = None
    hours: str | None = None
    size_min: int | None = None
    size_max: int | None = None
    safety: str | None = None
    last_validated: dt.date | None = None
    active: bool = True
    #: The district of the tapped point that chose the cell (:func:`mapping.ingest.capture.
    #: place_at`). Without it a new cell's hotspot gets the district holding the cell's centre,
    #: marked estimated, and a hotspot that stays in its cell keeps the district it has.
    district_id: str | None = None


@dataclass(frozen=True)
class HotspotChange:
    """What an edit did: the action, the hotspot, and each changed field as (before, after)."""

    action: str  # "added", "updated", "retired", "validated", "unchanged"
    hotspot_id: str
    changed: dict[str, tuple[Any, Any]]

    def summary(self) -> str:
        """Return the change in one English line (the app words it in the page's language)."""
        if not self.changed:
            return f"hotspot {self.hotspot_id}: nothing changed"
        fields = ", ".join(f"{k} {b} → {a}" for k, (b, a) in self.changed.items())
        return f"hotspot {self.hotspot_id} {self.action}: {fields}"


def hotspot_registry(workspace: Workspace) -> pl.DataFrame:
    """Return every hotspot, active or retired, with its district, sorted by id.

    Columns: ``id``, ``cell``, ``cell_id``, ``district``, :data:`FIELDS` (typology and safety as
    words, days as ``mo,tu`` text). The district is the one stored with the hotspot (its own
    point's, decided when it was placed), not the district holding its cell's centre: near a
    border, or in a district smaller than a cell, the two differ.
    """
    hotspots, districts = store.hotspots, store.districts
    query = sa.select(
        hotspots.c.id,
        *(hotspots.c[name] for name in FIELDS),
        districts.c.name.label("district"),
    ).select_from(hotspots.outerjoin(districts, districts.c.id == hotspots.c.district_id))
    with workspace.connect() as connection:
        rows = connection.execute(query.order_by(hotspots.c.id)).mappings().all()
    schema = {
        "id": pl.String,
        "cell": pl.UInt64,
        "typology": pl.Int64,
        "days": pl.String,
        "hours": pl.String,
        "size_min": pl.Int64,
        "size_max": pl.Int64,
        "safety": pl.Int64,
        "last_validated": pl.Date,
        "active": pl.Boolean,
        "district": pl.String,
    }
    frame = pl.DataFrame([dict(row) for row in rows], schema=schema)
    return frame.with_columns(
        hex_ids(pl.col("cell")).alias("cell_id"),
        pl.col("typology").replace_strict(
            dict(enumerate(HOTSPOT_TYPOLOGIES, 1)), default=None, return_dtype=pl.String
        ),
        pl.col("safety").replace_strict(
            dict(enumerate(SAFETY_CONCERNS, 1)), default=None, return_dtype=pl.String
        ),
    ).select("id", "cell", "cell_id", "district", *FIELDS[1:])


def check_draft(workspace: Workspace, draft: HotspotDraft, *, today: dt.date) -> HotspotDraft:
    """Return the draft with days in canonical form, or raise naming the field, value and fix."""
    if draft.typology not in HOTSPOT_TYPOLOGIES:
        raise InvalidInputError(
            f"typology {draft.typology!r} is not known — use one of: "
            + ", ".join(HOTSPOT_TYPOLOGIES)
        )
    if draft.safety is not None and draft.safety not in SAFETY_CONCERNS:
        raise InvalidInputError(
            f"safety {draft.safety!r} is not known — use one of: " + ", ".join(SAFETY_CONCERNS)
        )
    days = days_from_text(draft.days) if draft.days and draft.days.strip() else None
    hours = draft.hours.strip() if draft.hours and draft.hours.strip() else None
    problem = check_hours(hours) if hours else None
    if problem:
        raise InvalidInputError(f"hours {hours!r}: {problem}")
    for name in ("size_min", "size_max"):
        size = getattr(draft, name)
        if size is not None and not 0 <= size <= MAX_SIZE:
            raise InvalidInputError(
                f"{name} = {size} is not an estimate for one cell — give 0 to {MAX_SIZE}"
            )
    low, high = draft.size_min, draft.size_max
    if low is not None and high is not None and low > high:
        raise InvalidInputError(
            f"size_min {low} is larger than size_max {high} — give the minimum, then the maximum"
        )
    if draft.last_validated is not None and draft.last_validated > today:
        raise InvalidInputError(
            f"last_validated {draft.last_validated} is in the future — check the date"
        )
    with workspace.connect() as connection:
        inside = connection.execute(
            sa.select(store.area_cells.c.cell).where(store.area_cells.c.cell == draft.cell)
        ).first()
    if inside is None:
        raise InvalidInputError(
            "the cell is outside the area's districts — pick a cell inside a district outline"
        )
    return replace(draft, days=days, hours=hours)


def _district(
    workspace: Workspace, draft: HotspotDraft, stored: dict[str, Any] | None
) -> tuple[str | None, bool]:
    """Return the district a saved hotspot is counted in, and whether it is estimated.

    The tapped point's district when the draft has one (refused if its cell is not there);
    else the stored one while the hotspot stays in its cell; else the district holding the
    cell's centre, estimated.
    """
    districts = area_districts(workspace)
    if draft.district_id is not None:
        index = districts.index_of(draft.district_id)
        if index == NONE or index not in districts.touching(draft.cell).tolist():
            raise InvalidInputError(
                f"district {draft.district_id!r} is not where cell {draft.cell:x} lies — pick "
                "the place on the map again"
            )
        return draft.district_id, False
    if stored is not None and stored["cell"] == draft.cell:
        return stored["district_id"], bool(stored["district_estimated"])
    centre = districts_of_cells(districts, pl.Series([draft.cell], dtype=pl.UInt64))[0]
    return centre, centre is not None


def _stored_place(workspace: Workspace, hotspot_id: str) -> dict[str, Any] | None:
    """Return a stored hotspot's cell and district (None if it is not stored)."""
    h = store.hotspots.c
    with workspace.connect() as connection:
        row = connection.execute(
            sa.select(h.cell, h.district_id, h.district_estimated).where(h.id == hotspot_id)
        ).first()
    return None if row is None else dict(row._mapping)


def _record(
    draft: HotspotDraft, district: tuple[str | None, bool] = (None, False)
) -> dict[str, Any]:
    """Return the store's row for a checked draft, fingerprinted like an imported one."""
    record: dict[str, Any] = {
        "cell": draft.cell,
        "typology": HOTSPOT_TYPOLOGIES.index(draft.typology) + 1,
        "days": draft.days,
        "hours": draft.hours,
        "size_min": draft.size_min,
        "size_max": draft.size_max,
        "last_validated": draft.last_validated,
        "active": draft.active,
        "safety": SAFETY_CONCERNS.index(draft.safety) + 1 if draft.safety else None,
        "district_id": district[0],
        "district_estimated": district[1],
    }
    record["fingerprint"] = record_fingerprint(record)
    return record


def _draft_of(row: dict[str, Any]) -> HotspotDraft:
    return HotspotDraft(**{name: row[name] for name in FIELDS})


def save_hotspot(
    workspace: Workspace,
    draft: HotspotDraft,
    *,
    hotspot_id: str | None = None,
    today: dt.date | None = None,
    dry_run: bool = False,
) -> HotspotChange:
    """Add a hotspot (no ``hotspot_id``, or a new one) or update an existing one; say what changed.

    A new hotspot without an id gets the next free ``HS-0001``-style code. ``dry_run`` returns
    what the save would change and writes nothing (the app shows it before asking). Raises
    :class:`~mapping.errors.InvalidInputError` for a bad field or an id that looks like a name.
    """
    today = today or clock.today(workspace)
    draft = check_draft(workspace, draft, today=today)
    if hotspot_id is not None:
        hotspot_id = hotspot_id.strip()
        if not hotspot_id or len(hotspot_id) > 64 or looks_like_name(hotspot_id):
            raise InvalidInputError(
                f"id {hotspot_id!r} is not a hotspot code — use a short code such as HS-0112, "
                "never a venue's or a person's name"
            )
    registry = hotspot_registry(workspace)
    before = registry.filter(pl.col("id") == hotspot_id) if hotspot_id else registry.clear()
    if hotspot_id is None:
        taken = set(registry["id"].to_list())
        number = registry.height + 1
        while f"HS-{number:04d}" in taken:
            number += 1
        hotspot_id = f"HS-{number:04d}"
    old = _draft_of(before.row(0, named=True)) if before.height else None
    changed = {
        name: (getattr(old, name) if old else None, getattr(draft, name))
        for name in FIELDS
        if (old is None and getattr(draft, name) is not None)
        or (old is not None and getattr(old, name) != getattr(draft, name))
    }
    action = "added" if old is None else "updated"
    if old is not None and changed == {"active": (True, False)}:
        action = "retired"
    elif old is not None and set(changed) == {"last_validated"}:
        action = "validated"
    if not changed:
        return HotspotChange("unchanged", hotspot_id, {})
    district = _district(workspace, draft, _stored_place(workspace, hotspot_id))
    if dry_run:
        return HotspotChange(action, hotspot_id, changed)
    _write(workspace, hotspot_id, _record(draft, district), new=old is None, action=action)
    return HotspotChange(action, hotspot_id, changed)


def retire_hotspot(
    workspace: Workspace, hotspot_id: str, *, dry_run: bool = False
) -> HotspotChange:
    """Mark a hotspot as no longer active (kept for history; coverage stops counting it)."""
    draft = replace(existing_hotspot(workspace, hotspot_id), active=False)
    return save_hotspot(workspace, draft, hotspot_id=hotspot_id, dry_run=dry_run)


def validate_hotspot(
    workspace: Workspace, hotspot_id: str, *, today: dt.date | None = None, dry_run: bool = False
) -> HotspotChange:
    """Record that the team checked the hotspot on ``today`` (it is still there, as described)."""
    today = today or clock.today(workspace)
    draft = replace(existing_hotspot(workspace, hotspot_id), last_validated=today)
    return save_hotspot(workspace, draft, hotspot_id=hotspot_id, today=today, dry_run=dry_run)


def existing_hotspot(workspace: Workspace, hotspot_id: str) -> HotspotDraft:
    """Return a registered hotspot as a draft to edit; raise if the id is not registered."""
    found = hotspot_registry(workspace).filter(pl.col("id") == hotspot_id)
    if found.height == 0:
        raise InvalidInputError(f"hotspot {hotspot_id!r} does not exist — pick one from the list")
    return _draft_of(found.row(0, named=True))


def _write(
    workspace: Workspace, hotspot_id: str, record: dict[str, Any], *, new: bool, action: str
) -> None:
    """Write one hotspot and its entry in the import log, in one transaction."""
    with workspace.begin(write=True) as connection:
        import_id = record_import(
            connection,
            kind="hotspots",
            source_name=f"app: {action} hotspot {hotspot_id}",
            source_sha256="",
        )
        values = {**record, "import_id": import_id}
        if new:
            connection.execute(store.hotspots.insert().values(id=hotspot_id, **values))
        else:
            connection.execute(
                store.hotspots.update().where(store.hotspots.c.id == hotspot_id).values(values)
            )
        result = ImportResult("hotspots", 1, 1, 0, 0, updated=0 if new else 1)
        finish_import(connection, import_id, result)
