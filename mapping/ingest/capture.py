"""Logging one visit from the app: a place chosen on the phone as a cell, then a stored visit.

The Log a visit page turns the tapped point (or the phone's location) into a cell and a
district **on the phone**; the server gets the cell id and the district id only and
checks them (:func:`place_cell`: the workspace's resolution, the area, a district that
touches the cell, the sliver rule of docs/privacy.md). :func:`entry_from_form` reads what the
page's form sent into a :class:`VisitEntry`. :func:`place_at` is the same placing for a point
the server is given (the hotspot editor's click). The visit then goes through the same
validation and store as a file import (:func:`mapping.ingest.visits.prepare_visits`,
:func:`mapping.ingest.batch.commit_prepared`), so a name typed as a contact code, an unknown
referral or a peer educator's phone number is refused the same way, and each logged visit
carries a submission id, so a visit sent twice (a second tap on "save", a re-send after the
signal came back) is stored once.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import h3
import polars as pl
import sqlalchemy as sa

from mapping.cells import cell_centres, cell_to_int, cell_to_str, is_valid_cell
from mapping.errors import InvalidInputError
from mapping.ingest.attribution import (
    NONE,
    AreaDistricts,
    area_districts,
    districts_of_cells,
    place_of_point,
)
from mapping.ingest.batch import ImportResult, PreparedImport, commit_prepared
from mapping.ingest.readers import ROW, RawTable
from mapping.ingest.visits import prepare_visits
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import CHANNELS, SERVICE_TYPES, SUPPLIES

#: Channels that have no place: the visit is stored without a cell.
REMOTE_CHANNELS: frozenset[str] = frozenset(CHANNELS) - {"in_person"}
#: The most of one supply a single visit may hand out (a box of 144 condoms is a lot).
MAX_PER_VISIT = 500
#: The longest a visit may wait on the phone for a signal and still be dated back to when it
#: was saved there (a shift); one that waited longer is dated when it arrives.
MAX_WAIT = dt.timedelta(hours=12)


@dataclass(frozen=True)
class TappedPlace:
    """Where a tapped point is stored: its cell (after the sliver rule) and its district."""

    cell: int
    district_id: str
    #: the district holds the cell's centre, not the point (the phone found no outline there)
    estimated: bool = False


def place_at(workspace: Workspace, latitude: float, longitude: float) -> TappedPlace:
    """Return the cell and the district of a tapped point; the point is not kept.

    The district is the one holding the point itself (the nearest, for a point in a cell of
    the area but in no district), not the one holding its cell's centre; the cell follows the
    sliver rule (docs/privacy.md). Raises :class:`~mapping.errors.InvalidInputError` for a
    point that is not a number, or that lies outside the workspace's districts (the message
    does not repeat the point).
    """
    if not (math.isfinite(latitude) and math.isfinite(longitude)) or not (
        -90 <= latitude <= 90 and -180 <= longitude <= 180
    ):
        raise InvalidInputError("the tapped place is not on the map — tap the map again")
    cell, district = place_of_point(workspace, latitude, longitude)
    if district is None:
        raise InvalidInputError(
            "the tapped place is outside the area's districts — tap inside a district outline"
        )
    return TappedPlace(cell, district)


def cell_at(workspace: Workspace, latitude: float, longitude: float) -> int:
    """Return the storage-resolution cell of a tapped point (:func:`place_at`'s cell).

    Raises as :func:`place_at` does.
    """
    return place_at(workspace, latitude, longitude).cell


def place_cell(workspace: Workspace, cell: str | int, district_id: str | None) -> TappedPlace:
    """Return where a place chosen on the phone is stored: its cell and district, checked.

    ``cell`` is the cell the phone made of the tapped point or of its location (hex, as h3-js
    gives it, or an integer) and ``district_id`` the district whose outline holds the point
    there, or None when the phone found none (GPS drift just outside every outline): the
    district holding the cell's centre is then taken, marked estimated. A district holding less
    than :data:`~mapping.ingest.attribution.SLIVER` of the cell is stored in the neighbouring
    cell holding most of it (the sliver rule, docs/privacy.md). Raises
    :class:`~mapping.errors.InvalidInputError` for a cell that is not one, is at another
    resolution than the workspace's or is outside its area, and for a district that is not the
    area's or does not touch the cell.
    """
    number = _cell_number(cell)
    resolution = h3.get_resolution(cell_to_str(number))
    if resolution != workspace.resolution:
        raise InvalidInputError(
            f"cell {cell_to_str(number)} is at resolution {resolution}, not the workspace's "
            f"{workspace.resolution} — reload the page and tap the map again"
        )
    districts = area_districts(workspace)
    if number not in districts.area_cells:
        raise InvalidInputError(
            f"cell {cell_to_str(number)} is outside the area's districts — tap inside a "
            "district outline"
        )
    if district_id is None:
        centre = districts_of_cells(districts, pl.Series([number], dtype=pl.UInt64))[0]
        return TappedPlace(number, str(centre), estimated=True)
    index = _district_touching(districts, district_id, number)
    return TappedPlace(districts.cell_for_sliver(number, index), district_id)


def _cell_number(cell: object) -> int:
    """Return a cell id given as hex text or an integer, or raise naming the value."""
    if isinstance(cell, str) and is_valid_cell(cell.strip().lower()):
        return cell_to_int(cell)
    if isinstance(cell, int) and not isinstance(cell, bool) and is_valid_cell(cell):
        return cell
    raise InvalidInputError(
        f"cell {str(cell)[:24]!r} is not an H3 cell id — tap the map again where you met"
    )


def _district_touching(districts: AreaDistricts, district_id: str, cell: int) -> int:
    """Return the index of a district that touches ``cell``, or raise naming both."""
    index = districts.index_of(district_id)
    if index == NONE:
        raise InvalidInputError(
            f"district {district_id[:64]!r} is not one of the area's — reload the page and "
            "tap the map again"
        )
    if index not in districts.touching(cell).tolist():
        raise InvalidInputError(
            f"district {district_id!r} is not where cell {cell:x} lies — tap the map "
            "again where you met"
        )
    return index


@dataclass(frozen=True)
class VisitEntry:
    """One visit as a peer educator logs it: a cell (or a remote channel), and what happened."""

    peer_educator: str
    team: str
    when: dt.datetime
    channel: str = "in_person"
    cell: int | None = None
    #: the district of the tapped point (:func:`place_at`); without it a cell's visit gets the
    #: district holding the cell's centre, marked estimated
    district_id: str | None = None
    contact_code: str = ""
    supplies: dict[str, int] = field(default_factory=dict)
    referrals: tuple[str, ...] = ()
    #: a fresh id per visit on the page; saving the same entry twice stores it once
    submission_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def check(self) -> None:
        """Raise :class:`~mapping.errors.InvalidInputError` naming the field and the fix."""
        if self.channel not in CHANNELS:
            raise InvalidInputError(
                f"channel {self.channel!r} is not known — use one of: {', '.join(CHANNELS)}"
            )
        if self.channel == "in_person" and self.cell is None:
            raise InvalidInputError("no place chosen — tap the map where you met")
        for name, count in self.supplies.items():
            if name not in SUPPLIES:
                raise InvalidInputError(
                    f"supply {name!r} is not known — use one of: {', '.join(SUPPLIES)}"
                )
            if not 0 <= count <= MAX_PER_VISIT:
                raise InvalidInputError(
                    f"{name} = {count} is not a count for one visit — give 0 to {MAX_PER_VISIT}"
                )
        unknown = [r for r in self.referrals if r not in SERVICE_TYPES]
        if unknown:
            raise InvalidInputError(
                f"referral {unknown[0]!r} is not a service type — use one of: "
                + ", ".join(SERVICE_TYPES)
            )


#: What the Log a visit form sends (``views/components/visit_form.py``): each field's types.
FORM_FIELDS: dict[str, tuple[type, ...]] = {
    "submission_id": (str,),
    "channel": (str,),
    "cell": (str, type(None)),
    "district_id": (str, type(None)),
    "supplies": (dict,),
    "referrals": (list,),
    "contact_code": (str,),
    "waited_seconds": (int, float),
}


def entry_from_form(
    workspace: Workspace,
    form: object,
    *,
    peer_educator: str,
    team: str,
    now: dt.datetime,
) -> VisitEntry:
    """Return the visit the Log a visit form sent, its place checked (:func:`place_cell`).

    ``form`` holds what the phone decided: the channel, the cell and district of the place
    (never a point), the supplies, referrals, contact code and submission id, and how long the
    visit waited on the phone for a signal (``waited_seconds``): it is dated that much before
    ``now``, if that is at most :data:`MAX_WAIT`. Raises
    :class:`~mapping.errors.InvalidInputError` for a form of another shape (a page out of
    date), a submission id that is not a UUID, and as :func:`place_cell` does; what the
    importer checks (supplies, referrals, the contact code) is checked when it is logged.
    """
    problem = _form_problem(form) if isinstance(form, Mapping) else "not an object"
    if problem or not isinstance(form, Mapping):
        raise InvalidInputError(
            f"the page sent a visit this app cannot read ({problem}) — reload the page and "
            "log the visit again"
        )
    submission = str(form["submission_id"])
    try:
        uuid.UUID(submission)
    except ValueError:
        raise InvalidInputError(
            f"submission id {submission[:40]!r} is not a UUID — reload the page and log the "
            "visit again"
        ) from None
    place = None
    if form["channel"] == "in_person" and form["cell"] is not None:
        place = place_cell(workspace, form["cell"], form["district_id"])
    waited = float(form["waited_seconds"])
    fits = math.isfinite(waited) and 0 <= waited <= MAX_WAIT.total_seconds()
    return VisitEntry(
        peer_educator=peer_educator,
        team=team,
        when=now - dt.timedelta(seconds=waited) if fits else now,
        channel=str(form["channel"]),
        cell=None if place is None else place.cell,
        district_id=None if place is None or place.estimated else place.district_id,
        contact_code=str(form["contact_code"]),
        supplies=dict(form["supplies"]),
        referrals=tuple(form["referrals"]),
        submission_id=submission,
    )


def _form_problem(form: Mapping[str, Any]) -> str:
    """Return what makes ``form`` unlike what the Log a visit form sends ("" if nothing)."""
    for name, types in FORM_FIELDS.items():
        if name not in form:
            return f"no {name}"
        if not isinstance(form[name], types) or isinstance(form[name], bool):
            return f"{name} is of type {type(form[name]).__name__}"
    counts = form["supplies"].items()
    if not all(isinstance(k, str) and type(v) is int for k, v in counts):
        return "supplies are not whole numbers"
    if not all(isinstance(r, str) for r in form["referrals"]):
        return "referrals are not service types"
    return ""


def log_visit(workspace: Workspace, entry: VisitEntry) -> ImportResult:
    """Store one logged visit through the importer's validation; return what it did.

    A visit on a remote channel (phone, SMS, online) is stored without a cell, whatever
    ``entry.cell`` holds. The importer is given the cell's centre, which names the cell and
    nothing finer; the visit is then stored in ``entry.cell`` and ``entry.district_id`` (the
    tapped point's, from :func:`place_at`), not in the centre's district. Raises
    :class:`~mapping.errors.InvalidInputError` for an entry the importer would reject (the
    message is the importer's: field, value and fix), or whose district is not where its cell
    lies.
    """
    entry.check()
    latitude = longitude = ""
    if entry.channel == "in_person" and entry.cell is not None:
        lats, lngs = cell_centres([entry.cell])
        latitude, longitude = f"{lats[0]:.6f}", f"{lngs[0]:.6f}"
    row = {
        ROW: "1",
        "submission_id": entry.submission_id,
        "date": entry.when.date().isoformat(),
        "time": entry.when.strftime("%H:%M"),
        "latitude": latitude,
        "longitude": longitude,
        "peer_educator": entry.peer_educator,
        "team": entry.team,
        "channel": entry.channel,
        "contact_code": entry.contact_code.strip(),
        **{name: str(entry.supplies.get(name, 0)) for name in SUPPLIES},
        "referrals": ",".join(entry.referrals),
    }
    table = RawTable(
        frame=pl.DataFrame(
            {k: [v or None] for k, v in row.items()}, schema=dict.fromkeys(row, pl.String)
        ),
        source_name=f"app: visit logged by {entry.peer_educator}",
    )
    prepared = prepare_visits(workspace, table)
    if latitude and prepared.rows.height:
        prepared = _placed_at_tap(workspace, prepared, entry)
    # committed either way: a refused visit is kept in a report, like any rejected row
    result = commit_prepared(workspace, prepared)
    if prepared.rejected:
        detail = "; ".join(
            f"{r['field']} {r['problem']} — {r['fix']}"
            for r in prepared.problems.frame().iter_rows(named=True)
        )
        raise InvalidInputError(f"the visit was not saved: {detail}")
    return result


def _placed_at_tap(
    workspace: Workspace, prepared: PreparedImport, entry: VisitEntry
) -> PreparedImport:
    """Store the logged visit in the entry's cell and district, not the centre's district.

    An entry without a district (a cell given alone) gets the district holding the cell's
    centre, marked estimated. A district that does not touch the cell is refused.
    """
    assert entry.cell is not None, "an in-person visit has a cell"
    districts = area_districts(workspace)
    estimated = entry.district_id is None
    district = entry.district_id
    if district is None:
        district = districts_of_cells(districts, pl.Series([entry.cell], dtype=pl.UInt64))[0]
    else:
        _district_touching(districts, district, entry.cell)
    rows = prepared.rows.with_columns(
        pl.lit(entry.cell, pl.UInt64).alias("cell"),
        pl.lit(entry.cell, pl.UInt64).alias("point_cell"),
        pl.lit(district, pl.String).alias("district_id"),
        pl.lit(estimated).alias("district_estimated"),
    )
    return replace(prepared, rows=rows)


def district_of(workspace: Workspace, cell: int, district_id: str | None = None) -> str:
    """Return the name of a tapped place's district ("" when it is outside every one).

    ``district_id`` is the tapped point's district (:func:`place_at`); without it, the name of
    the district holding ``cell``'s centre.
    """
    d, a = store.districts.c, store.area_cells.c
    query = (
        sa.select(d.name).where(d.id == district_id)
        if district_id is not None
        else sa.select(d.name).join(store.area_cells, a.district_id == d.id).where(a.cell == cell)
    )
    with workspace.connect() as connection:
        name = connection.execute(query).scalar()
    return str(name or "")
