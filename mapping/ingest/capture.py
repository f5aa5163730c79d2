"""Logging one visit from the app: a tap on the map becomes a cell at once, then a stored visit.

The tapped point lives only in the call to :func:`place_at`; everything after it, and everything
the page keeps, is the cell and the district holding the tapped point (decided in the same step,
:mod:`mapping.ingest.attribution`). The visit then goes through the same validation and store as a
file import (:func:`mapping.ingest.visits.prepare_visits`,
:func:`mapping.ingest.batch.commit_prepared`),
so a name typed as a contact code, an unknown referral or a peer educator's phone number is
refused the same way, and each logged visit carries a submission id, so pressing "save" twice
stores it once.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field, replace

import polars as pl
import sqlalchemy as sa

from mapping.cells import cell_centres
from mapping.errors import InvalidInputError
from mapping.ingest.attribution import NONE, area_districts, districts_of_cells, place_of_point
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


@dataclass(frozen=True)
class TappedPlace:
    """Where a tapped point is stored: its cell (after the sliver rule) and its district."""

    cell: int
    district_id: str


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
        index = districts.index_of(district)
        if index == NONE or index not in districts.touching(entry.cell).tolist():
            raise InvalidInputError(
                f"district {district!r} is not where cell {entry.cell:x} lies — tap the map "
                "again where you met"
            )
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
