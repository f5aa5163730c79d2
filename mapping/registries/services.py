"""The service registry as the coordinator sees it: read and filtered.

A sensitive service (run from someone's home, an informal doctor) is only ever a cell: its point
is never stored and never read back. A public service may keep its point. Adding and changing
services is :mod:`mapping.registries.service_edits`. See docs/services.md; the map is drawn by
:mod:`mapping.maps.services`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa

from mapping import clock
from mapping.analysis.coverage import servable
from mapping.cells import cell_to_str
from mapping.errors import InvalidInputError
from mapping.hours import known_hours, night_flags, open_states
from mapping.ingest.registry_files import SERVICE_FLAGS
from mapping.settings import Settings, get_settings
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: Yes/no attributes of a service (null means not known).
FLAGS = SERVICE_FLAGS
#: Columns of :func:`read_services`.
SERVICE_SCHEMA: dict[str, Any] = {
    "id": pl.String,
    "name": pl.String,
    "service_type": pl.String,
    "cell": pl.Int64,
    "cell_id": pl.String,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "sensitive": pl.Boolean,
    **{flag: pl.Boolean for flag in FLAGS},
    "opening_hours": pl.String,
    "active_from": pl.Date,
    "active_until": pl.Date,
}


def read_services(workspace: Workspace) -> pl.DataFrame:
    """Return every service of the registry, ordered by id (columns: :data:`SERVICE_SCHEMA`).

    ``service_type`` is the vocabulary name, ``cell`` the stored integer and ``cell_id`` its hex
    form. ``latitude`` and ``longitude`` are filled only for a public service with a point: a
    sensitive service's point is not even read from the store.
    """
    s = store.services.c
    location = sa.case((s.sensitive, sa.null()), else_=s.location).label("location")
    query = sa.select(
        s.id, s.name, s.service_type, s.cell, location, s.sensitive, *(s[f] for f in FLAGS)
    ).add_columns(s.opening_hours, s.active_from, s.active_until)
    with workspace.connect() as connection:
        rows = [dict(row._mapping) for row in connection.execute(query.order_by(s.id))]
    points = shapely.from_wkb([row.pop("location") for row in rows])
    for row, lat, lng in zip(rows, shapely.get_y(points), shapely.get_x(points), strict=True):
        row["service_type"] = SERVICE_TYPES[row["service_type"] - 1]
        row["cell_id"] = cell_to_str(row["cell"])
        row["latitude"] = None if np.isnan(lat) else float(lat)
        row["longitude"] = None if np.isnan(lng) else float(lng)
        row["sensitive"] = bool(row["sensitive"])
    frame = pl.DataFrame(rows, schema=SERVICE_SCHEMA, orient="row")
    return frame.select(list(SERVICE_SCHEMA))


def of_types(services: pl.DataFrame, types: Iterable[str]) -> pl.DataFrame:
    """Return the services of the given types (all of them if ``types`` is empty)."""
    wanted = list(types)
    unknown = [name for name in wanted if name not in SERVICE_TYPES]
    if unknown:
        raise InvalidInputError(
            f"service type {', '.join(map(repr, unknown))} is not known — use one of: "
            + ", ".join(SERVICE_TYPES)
        )
    return services.filter(pl.col("service_type").is_in(wanted)) if wanted else services


def active_on(services: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Return the services active on ``day`` (``active_from`` ≤ day ≤ ``active_until``)."""
    return servable(services, day, friendly_only=False)


def open_at(services: pl.DataFrame, moment: dt.datetime) -> pl.DataFrame:
    """Return the services active on ``moment``'s day and open at that time of the week.

    Hours past midnight count on the next day (a Saturday 20:00-04:00 service is open at 02:00
    on Sunday). A service whose hours are unknown is not in it, and not closed either:
    :func:`hours_unknown_at` returns those, so that they are reported apart.
    """
    return _in_state(services, moment, "open")


def hours_unknown_at(services: pl.DataFrame, moment: dt.datetime) -> pl.DataFrame:
    """Return the services active on ``moment``'s day whose hours do not say if they are open.

    Their hours are missing or unreadable (kept with hours unknown at import), or say
    ``unknown`` then: they may be open, so they are listed as "hours unknown", never as closed.
    """
    return _in_state(services, moment, "unknown")


def _in_state(services: pl.DataFrame, moment: dt.datetime, state: str) -> pl.DataFrame:
    """Return the services active on ``moment``'s day that are in ``state`` at that moment."""
    active = active_on(services, moment.date())
    if active.height == 0:
        return active
    states = open_states(active["opening_hours"].to_list(), moment.replace(tzinfo=None))
    return active.filter(pl.Series(states, dtype=pl.String) == state)


def open_now(services: pl.DataFrame, *, settings: Settings | None = None) -> pl.DataFrame:
    """Return the services open now in the zone of ``settings`` (``OUTREACH_MAP_TIMEZONE``).

    The app passes its own moment in the workspace's zone to :func:`open_at` instead.
    """
    return open_at(services, clock.now(settings))


def open_at_night(services: pl.DataFrame, *, settings: Settings | None = None) -> pl.DataFrame:
    """Return the services open for some part of the night, on any day of the week.

    The night runs from ``night_starts`` to ``day_starts`` of the settings (22:00 to 06:00 by
    default). A service whose hours are unknown is not in it (and not said to be closed at
    night: see :func:`hours_unknown`).
    """
    settings = settings or get_settings()
    night = night_flags(
        services["opening_hours"].to_list(),
        night_start=settings.night_starts * 60,
        night_end=settings.day_starts * 60,
    )
    return services.filter(pl.Series([bool(flag) for flag in night], dtype=pl.Boolean))


def hours_unknown(services: pl.DataFrame) -> pl.DataFrame:
    """Return the services whose opening hours are unknown (missing, or not readable)."""
    return services.filter(~pl.Series(known_hours(services["opening_hours"].to_list())))


def friendly(services: pl.DataFrame) -> pl.DataFrame:
    """Return the services known to be friendly (sensitised); unknown counts as not."""
    return services.filter(pl.col("friendly").fill_null(False))


def free(services: pl.DataFrame) -> pl.DataFrame:
    """Return the services known to be free of charge; unknown counts as not."""
    return services.filter(pl.col("free").fill_null(False))


@dataclasses.dataclass(frozen=True)
class ServiceFilter:
    """What the coordinator asked to see; the defaults show every active service."""

    types: tuple[str, ...] = ()
    open_now: bool = False
    at_night: bool = False
    friendly: bool = False
    free: bool = False
    include_closed: bool = False


def filter_services(
    services: pl.DataFrame,
    choice: ServiceFilter,
    *,
    now: dt.datetime,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Return the services passing every filter of ``choice`` at the moment ``now``.

    Closed services (not active on ``now``'s day) are left out unless ``include_closed``;
    "open now" implies active.
    """
    result = of_types(services, choice.types)
    if not choice.include_closed:
        result = active_on(result, now.date())
    if choice.open_now:
        result = open_at(result, now)
    if choice.at_night:
        result = open_at_night(result, settings=settings)
    if choice.friendly:
        result = friendly(result)
    if choice.free:
        result = free(result)
    return result
