"""Adding and changing a service of the registry: a place picked on the map, checked, recorded.

A sensitive service is only ever a cell: its point is never stored. Every change made here is
validated like an imported row and recorded in the ``imports`` table (kind ``services``, source
``app: ...``), and the changed row points at that record, so each edit can be traced. See
docs/services.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

import h3
import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping.cells import cell_to_int, cell_to_str, cells_from_points, is_valid_cell
from mapping.errors import InvalidInputError
from mapping.hours import check_hours, is_open_at_night, osm_hours
from mapping.ingest.attribution import AreaDistricts, area_districts, stored_place
from mapping.ingest.batch import ImportResult, finish_import, record_import
from mapping.ingest.values import record_fingerprint
from mapping.privacy import first_invisible, looks_like_phone
from mapping.registries.services import FLAGS
from mapping.settings import get_settings
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: Longest service name the store keeps.
MAX_NAME_LENGTH = 200
#: Decimal places kept of a public service's point (about 10 cm), as the importer keeps.
POINT_DECIMALS = 6


# --- a place picked on the map ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a service is: its cell and, for a public service only, ``(latitude, longitude)``."""

    cell: int
    point: tuple[float, float] | None = None

    @property
    def cell_id(self) -> str:
        """The cell's hex id."""
        return cell_to_str(self.cell)


def place_from_click(
    click: Mapping[str, Any] | None, resolution: int, *, sensitive: bool
) -> Place | None:
    """Turn a map click (``{"lat": ..., "lng": ...}``) into a place at once; ``None`` if none.

    The cell is taken at the workspace's ``resolution``; the point is kept (rounded to
    :data:`POINT_DECIMALS`) only for a public service. The caller then drops the click.

    Examples
    --------
    >>> place_from_click({"lat": -12.0464, "lng": -77.0428}, 8, sensitive=True).cell_id
    '888e62c01bfffff'
    """
    if not click or click.get("lat") is None or click.get("lng") is None:
        return None
    lat, lng = float(click["lat"]), float(click["lng"])
    lng = (lng + 180.0) % 360.0 - 180.0  # a map panned round the world gives -437 and the like
    if not (np.isfinite(lat) and np.isfinite(lng) and -90 <= lat <= 90):
        raise InvalidInputError(
            "the clicked place (hidden) is not a latitude and longitude — click the map again"
        )
    cell = int(cells_from_points(pl.Series([lat]), pl.Series([lng]), resolution)[0])
    if sensitive:
        return Place(cell)
    return Place(cell, (round(lat, POINT_DECIMALS), round(lng, POINT_DECIMALS)))


# --- adding and changing services -------------------------------------------------------------


class _Keep(enum.Enum):
    KEEP = "keep"


#: Default of :func:`update_service`'s arguments: leave the field as it is.
KEEP: Final = _Keep.KEEP


@dataclasses.dataclass(frozen=True)
class Problem:
    """Why a service cannot be saved: its field, a code, the English message, the values.

    ``text`` names the field, shows the value (never a coordinate or a phone number) and says
    how to fix it; ``code`` and ``params`` let the app say the same in the page's language.
    """

    field: str
    code: str
    text: str
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FieldChange:
    """One field of a service before and after a change.

    ``service_type`` is the vocabulary name and ``cell`` the hex id. The field ``point`` (a
    public service's exact place) never shows coordinates: ``before`` is ``None`` and ``after``
    is ``"added"``, ``"moved"`` or ``"removed"``.
    """

    field: str
    before: object
    after: object


@dataclasses.dataclass(frozen=True)
class ServiceChange:
    """What adding or changing a service would do (a plan), or did.

    ``problems`` is empty for a change that can be saved; ``import_id`` is the id of the
    change's record in the ``imports`` table, ``None`` when nothing was written.
    """

    service_id: str
    action: str
    changes: tuple[FieldChange, ...]
    problems: tuple[Problem, ...] = ()
    import_id: int | None = None

    @property
    def fields(self) -> list[str]:
        """Names of the fields that change."""
        return [change.field for change in self.changes]

    def summary(self) -> str:
        """Return one line saying what changes, naming fields but no value.

        Examples
        --------
        >>> ServiceChange("S-0001", "update", (FieldChange("free", None, True),)).summary()
        'changed service S-0001: free'
        """
        if self.action == "add":
            return f"added service {self.service_id}"
        if not self.changes:
            return f"no change to service {self.service_id}"
        return f"changed service {self.service_id}: {', '.join(self.fields)}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Fields a person edits, in the order changes are listed.
_EDITABLE = ("name", "service_type", "sensitive", *FLAGS, "opening_hours")
_DATES = ("active_from", "active_until")


def _text_problems(field: str, value: str, *, limit: int, fix: str) -> list[Problem]:
    """Problems of a text field: too long, control or invisible characters."""
    problems = []
    if len(value) > limit:
        problems.append(
            Problem(
                field,
                f"{field}_too_long",
                f"{field} {value[:60]!r}… is longer than {limit} characters — {fix}",
                {"value": value[:60], "limit": str(limit)},
            )
        )
    invisible = first_invisible(value)
    if _CONTROL.search(value) or invisible:
        shown = _CONTROL.sub("?", value[:60])
        problems.append(
            Problem(
                field,
                "text_control",
                f"{field} {shown!r} contains a line break, control or invisible character"
                f"{f' ({invisible})' if invisible else ''} — type it again by hand",
                {"field": field, "value": shown},
            )
        )
    return problems


def _cell(
    connection: Connection, given: int | str, resolution: int
) -> tuple[int | None, Problem | None]:
    """Return the stored cell of a given one (finer ones coarsened) and its problem, if any."""
    text = cell_to_str(given) if isinstance(given, int) else str(given).strip().lower()
    if not is_valid_cell(text):
        fix = "give the 15-character id, e.g. 888e62c01bfffff, or click the map"
        return None, Problem(
            "cell",
            "cell_invalid",
            f"cell {text[:40]!r} is not an H3 cell id — {fix}",
            {"value": text[:40]},
        )
    found = h3.get_resolution(text)
    if found < resolution:
        return None, Problem(
            "cell",
            "cell_coarse",
            f"cell {text} is coarser than the workspace's resolution {resolution} — give a "
            f"cell at resolution {resolution} or finer (finer cells are coarsened)",
            {"value": text, "resolution": str(resolution)},
        )
    cell = cell_to_int(h3.cell_to_parent(text, resolution) if found > resolution else text)
    area = store.area_cells.c
    if connection.execute(sa.select(area.cell).where(area.cell == cell)).first() is None:
        return cell, Problem(
            "cell",
            "location_outside",
            f"cell {cell_to_str(cell)} is outside the area's districts — place the service "
            "inside a district",
            {"value": cell_to_str(cell)},
        )
    return cell, None


def _place(
    connection: Connection,
    resolution: int,
    cell: int | str | None,
    point: tuple[float, float] | None,
) -> tuple[int | None, bytes | None, list[Problem]]:
    """Return the cell and point (WKB) of a given place, and its problems (no coordinate shown)."""
    location = None
    if point is not None:
        lat, lng = float(point[0]), float(point[1])
        if not (np.isfinite([lat, lng]).all() and abs(lat) <= 90 and abs(lng) <= 180):
            text = (
                "point (hidden) is not a latitude in -90..90 and a longitude in -180..180 — "
                "give (latitude, longitude), or click the map again"
            )
            return None, None, [Problem("point", "point_invalid", text)]
        from_point = int(cells_from_points(pl.Series([lat]), pl.Series([lng]), resolution)[0])
        if cell is not None and _cell(connection, cell, resolution)[0] != from_point:
            text = f"point (hidden) is not in cell {cell} — give the point or the cell, not both"
            return None, None, [Problem("point", "point_not_in_cell", text, {"value": str(cell)})]
        cell = from_point
        point_xy = shapely.Point(round(lng, POINT_DECIMALS), round(lat, POINT_DECIMALS))
        location = shapely.to_wkb(point_xy)
    if cell is None:
        text = "no place given — click the map where the service is (or give its cell)"
        return None, None, [Problem("cell", "location_missing", text)]
    found, problem = _cell(connection, cell, resolution)
    return found, location, [problem] if problem else []


def _field_problems(values: Mapping[str, Any]) -> list[Problem]:
    """Problems of a service's fields other than its id and place."""
    problems: list[Problem] = []
    name = values["name"]
    if not name:
        problems.append(Problem("name", "name_empty", "name is empty — give the service's name"))
    elif pl.select(looks_like_phone(pl.lit(name))).item():
        text = (
            "name (hidden) looks like a phone number — give the service's name; phone numbers "
            "are never stored"
        )
        problems.append(Problem("name", "name_phone", text))
    else:
        problems += _text_problems(
            "name", name, limit=MAX_NAME_LENGTH, fix="shorten the service's name"
        )
    kind = values["service_type"]
    if kind not in SERVICE_TYPES:
        text = f"service type {str(kind)[:40]!r} is not known — use one of: " + ", ".join(
            SERVICE_TYPES
        )
        problems.append(Problem("service_type", "type_unknown", text, {"value": str(kind)[:40]}))
    hours = values["opening_hours"]
    found = check_hours(hours) if hours is not None else None
    if found:
        problems.append(Problem("opening_hours", "hours_invalid", found, {"value": hours[:60]}))
    start, end = values["active_from"], values["active_until"]
    if start is not None and end is not None and end < start:
        text = (
            f"active_until {end.isoformat()} is before active_from {start.isoformat()} — a "
            "service closes after it opens: check the dates"
        )
        params = {"start": start.isoformat(), "end": end.isoformat()}
        problems.append(Problem("active_until", "dates_order", text, params))
    return problems


def _record(
    values: Mapping[str, Any], place: tuple[int, str | None, bool], location: bytes | None
) -> dict[str, Any]:
    """Return a service's store row (``place``: cell, district, estimated), fingerprinted."""
    hours = values["opening_hours"]
    record: dict[str, Any] = {
        "name": values["name"],
        "service_type": SERVICE_TYPES.index(values["service_type"]) + 1,
        "cell": place[0],
        "district_id": place[1],
        "district_estimated": place[2],
        "location": None if values["sensitive"] else location,
        "sensitive": bool(values["sensitive"]),
        **{flag: values[flag] for flag in FLAGS},
        "opening_hours": hours,
        "open_at_night": is_open_at_night(hours) if hours else None,
        **{name: values[name] for name in _DATES},
    }
    record["fingerprint"] = record_fingerprint(record)
    return record


def _values(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Return a service's fields from a function's arguments: text stripped, empty is None."""
    values = {}
    for key, value in arguments.items():
        if key not in ("workspace", "service_id", "dry_run"):
            values[key] = (value.strip() or None) if isinstance(value, str) else value
    hours = values.get("opening_hours")
    if isinstance(hours, str) and check_hours(hours) is None:
        values["opening_hours"] = osm_hours(hours)  # Lu-Vi is stored as Mo-Fr
    return values


def _plan_add(
    connection: Connection, districts: AreaDistricts, values: dict[str, Any], service_id: str | None
) -> tuple[ServiceChange, dict[str, Any] | None]:
    problems: list[Problem] = []
    service_id = (service_id or "").strip()
    ids = store.services.c.id
    if not service_id:
        numbers = [
            int(found.group(1))
            for (text,) in connection.execute(sa.select(ids))
            if (found := re.fullmatch(r"S-(\d+)", text))
        ]
        service_id = f"S-{max(numbers, default=0) + 1:04d}"
    else:
        limit = get_settings().max_text_length
        problems += _text_problems(
            "id", service_id, limit=limit, fix="use a short code such as S-0014"
        )
        if connection.execute(sa.select(ids).where(ids == service_id)).first() is not None:
            text = (
                f"id {service_id!r} is already used by another service — choose another id, "
                "or edit that service"
            )
            problems.append(Problem("id", "id_taken", text, {"value": service_id}))
    point = values.pop("point")
    cell, location, place_problems = _place(
        connection, districts.resolution, values.pop("cell"), point
    )
    place = stored_place(districts, cell, point) if cell is not None else None
    cell = place[0] if place else None
    problems += place_problems + _field_problems(values)
    changes = [
        FieldChange(name, None, values[name])
        for name in (*_EDITABLE, *_DATES)
        if values[name] is not None
    ]
    if cell is not None:
        changes.append(FieldChange("cell", None, cell_to_str(cell)))
    if location is not None and not values["sensitive"]:
        changes.append(FieldChange("point", None, "added"))
    plan = ServiceChange(service_id, "add", tuple(changes), tuple(problems))
    return plan, None if problems or place is None else _record(values, place, location)


def add_service(
    workspace: Workspace,
    *,
    name: str,
    service_type: str,
    cell: int | str | None = None,
    point: tuple[float, float] | None = None,
    sensitive: bool = False,
    friendly: bool | None = None,
    free: bool | None = None,
    anonymous_testing: bool | None = None,
    serves_trans: bool | None = None,
    serves_male: bool | None = None,
    serves_migrants: bool | None = None,
    opening_hours: str | None = None,
    active_from: dt.date | None = None,
    active_until: dt.date | None = None,
    service_id: str | None = None,
    dry_run: bool = False,
) -> ServiceChange:
    """Add a service to the registry, checked like an imported row, and record the change.

    Parameters
    ----------
    workspace : Workspace
        The workspace whose registry gets the service.
    name : str
        The service's name (at most 200 characters; a phone number is refused).
    service_type : str
        One of :data:`mapping.vocab.SERVICE_TYPES`.
    cell : int or str, optional
        Its H3 cell (integer or hex id, inside the area; finer cells are coarsened to the
        workspace's resolution).
    point : tuple of float, optional
        ``(latitude, longitude)``: a public service keeps it as its exact place, and its cell is
        taken from it. A sensitive service's point is dropped: only the cell is stored.
    sensitive : bool
        Run from someone's home, an informal doctor...: shown only as its cell, never named.
    friendly, free, anonymous_testing, serves_trans, serves_male, serves_migrants : bool, optional
        Yes, no, or ``None`` for not known.
    opening_hours : str, optional
        In the syntax of :mod:`mapping.hours`, e.g. ``Mo-Fr 08:00-17:00; Sa 09:00-13:00``.
    active_from, active_until : datetime.date, optional
        When the service opened and when it closes (or closed).
    service_id : str, optional
        Unique in the registry; ``S-0001``, ``S-0002``... when not given.
    dry_run : bool
        Write nothing and raise nothing: return the plan, with any problems in ``problems``
        (the app shows it for confirmation).

    Returns
    -------
    ServiceChange
        The id, each field set, and the ``import_id`` of the change's record.

    Raises
    ------
    InvalidInputError
        Naming each field with a problem, its value (never a coordinate) and the fix.
    """
    values = _values(locals())
    districts = area_districts(workspace)
    with workspace.begin(write=True) as connection:
        plan, record = _plan_add(connection, districts, values, service_id)
        if dry_run:
            return plan
        import_id = _write(connection, plan, record)
    return dataclasses.replace(plan, import_id=import_id)


def _plan_update(
    connection: Connection, districts: AreaDistricts, service_id: str, given: dict[str, Any]
) -> tuple[ServiceChange, dict[str, Any] | None]:
    resolution = districts.resolution
    services = store.services
    row = connection.execute(sa.select(services).where(services.c.id == service_id)).first()
    if row is None:
        text = f"no service has id {service_id[:64]!r} — pick an id from the registry"
        problem = Problem("id", "id_unknown", text, {"value": service_id[:64]})
        return ServiceChange(service_id, "update", (), (problem,)), None
    stored = row._mapping
    current = {name: stored[name] for name in (*_EDITABLE, *_DATES)}
    current["service_type"] = SERVICE_TYPES[stored["service_type"] - 1]
    current["sensitive"] = bool(stored["sensitive"])
    values = {**current, **{k: v for k, v in given.items() if k in current and v is not KEEP}}
    before = None if current["sensitive"] else stored["location"]
    cell, location = int(stored["cell"]), before
    # a service that stays in its cell keeps its district (perhaps from its point)
    place = (cell, stored["district_id"], bool(stored["district_estimated"]))
    problems: list[Problem] = []
    if given["point"] is not KEEP and given["point"] is not None:
        wanted = None if given["cell"] is KEEP else given["cell"]
        found, location, problems = _place(connection, resolution, wanted, given["point"])
        place = stored_place(districts, found, given["point"]) if found else place
        found = place[0]
    elif given["cell"] is not KEEP:
        found, _, problems = _place(connection, resolution, given["cell"], None)
        # the old point lies in the old cell: it cannot stay with a service moved elsewhere
        location = before if found == cell else None
        if found is not None and found != cell:
            place = stored_place(districts, found, None)
    else:
        found = cell
    cell = cell if found is None else found
    if given["point"] is None or values["sensitive"]:
        location = None
    problems += _field_problems(values)
    if (
        values["service_type"] != current["service_type"]
        and values["service_type"] in SERVICE_TYPES
    ):
        problems += _type_taken(connection, stored, values["service_type"])
    changes = [
        FieldChange(name, current[name], values[name])
        for name in (*_EDITABLE, *_DATES)
        if values[name] != current[name]
    ]
    if cell != stored["cell"]:
        changes.append(FieldChange("cell", cell_to_str(stored["cell"]), cell_to_str(cell)))
    if location != before:
        moved = "added" if before is None else "removed" if location is None else "moved"
        changes.append(FieldChange("point", None, moved))
    plan = ServiceChange(service_id, "update", tuple(changes), tuple(problems))
    place = (cell, place[1], place[2])
    return plan, None if problems or not changes else _record(values, place, location)


def _type_taken(connection: Connection, stored: Any, kind: str) -> list[Problem]:
    """Return the problem of giving a service a type its facility already has, if any.

    A service's key is its facility and its type (docs/services.md): the facility's other
    service of that type is the one to edit.
    """
    services = store.services.c
    other = connection.execute(
        sa.select(services.id).where(
            services.facility_id == stored["facility_id"],
            services.service_type == SERVICE_TYPES.index(kind) + 1,
            services.id != stored["id"],
        )
    ).scalar()
    if other is None:
        return []
    text = (
        f"service type {kind!r}: facility {stored['facility_id']!r} already has that service "
        f"({other}) — edit that service instead, or choose another type"
    )
    params = {"value": kind, "facility": str(stored["facility_id"]), "other": str(other)}
    return [Problem("service_type", "type_taken", text, params)]


def update_service(
    workspace: Workspace,
    service_id: str,
    *,
    name: str | _Keep = KEEP,
    service_type: str | _Keep = KEEP,
    cell: int | str | _Keep = KEEP,
    point: tuple[float, float] | _Keep | None = KEEP,
    sensitive: bool | _Keep = KEEP,
    friendly: bool | _Keep | None = KEEP,
    free: bool | _Keep | None = KEEP,
    anonymous_testing: bool | _Keep | None = KEEP,
    serves_trans: bool | _Keep | None = KEEP,
    serves_male: bool | _Keep | None = KEEP,
    serves_migrants: bool | _Keep | None = KEEP,
    opening_hours: str | _Keep | None = KEEP,
    active_from: dt.date | _Keep | None = KEEP,
    active_until: dt.date | _Keep | None = KEEP,
    dry_run: bool = False,
) -> ServiceChange:
    """Change fields of a service, checked like :func:`add_service`; the others stay (:data:`KEEP`).

    ``None`` clears a field (not known, no end date); ``point=None`` removes a public service's
    exact place and keeps its cell. Moving a service to another ``cell`` without a ``point``
    drops its old point, and making it ``sensitive`` drops its point: only the cell stays.
    Mark a service closed by setting ``active_until``. When nothing changes, nothing is
    written (``import_id`` stays ``None``); ``dry_run`` returns the plan as
    :func:`add_service` does.

    Returns
    -------
    ServiceChange
        Each changed field before and after (a place as its cell id, never coordinates), and
        the ``import_id`` of the change's record.

    Raises
    ------
    InvalidInputError
        For an unknown id, or naming each field with a problem, its value and the fix.
    """
    given = _values(locals())
    districts = area_districts(workspace)
    with workspace.begin(write=True) as connection:
        plan, record = _plan_update(connection, districts, service_id, given)
        if dry_run or not (plan.changes or plan.problems):
            return plan
        import_id = _write(connection, plan, record)
    return dataclasses.replace(plan, import_id=import_id)


def _write(connection: Connection, plan: ServiceChange, record: dict[str, Any] | None) -> int:
    """Write a planned change with its record in ``imports``, or raise with every problem."""
    if plan.problems or record is None:
        raise InvalidInputError("\n".join(problem.text for problem in plan.problems))
    text = f"app: {plan.summary()}"
    digest = hashlib.sha256(f"{text}\n{[(c.field, c.after) for c in plan.changes]}".encode())
    import_id = record_import(
        connection, kind="services", source_name=text, source_sha256=digest.hexdigest()
    )
    updated = int(plan.action == "update")
    finish_import(connection, import_id, ImportResult("services", 1, 1, 0, 0, updated=updated))
    services = store.services
    if updated:
        connection.execute(
            services.update()
            .where(services.c.id == plan.service_id)
            .values(import_id=import_id, **record)
        )
    else:
        # a service added here is a facility of its own: its id is its facility's id
        connection.execute(
            services.insert().values(
                id=plan.service_id, facility_id=plan.service_id, import_id=import_id, **record
            )
        )
    return import_id
