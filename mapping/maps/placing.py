"""What a phone needs to place a visit itself: the outlines of the districts near a team, to ~2 m.

Log a visit decides a visit's district on the phone, by point in polygon against these outlines,
so that the tapped point never leaves the phone (docs/privacy.md, "Log a visit"). The outlines
the maps draw are simplified to about 30 m (:data:`~mapping.maps.base.DISTRICT_SIMPLIFY_TOLERANCE`),
which would put a point near a border in the wrong district; these are simplified to
:data:`PLACING_TOLERANCE` (about 1 m) and their coordinates rounded to 1e-5 degrees (at most
0.8 m off), so the phone decides a point's district as the store's outline does except within
about 2 m of a border. To keep what a phone loads small, only the districts within
:data:`TEAM_MARGIN_M` of the team's cells are sent (every district, for a team without cells
yet); a place beyond them gets its cell's district, marked estimated
(:func:`mapping.ingest.capture.place_cell`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mapping.cells import cell_polygons
from mapping.maps.base import GeoJSON, collection, geo_feature
from mapping.storage import store

#: Douglas-Peucker tolerance of the outlines a phone decides districts with, in degrees (~1 m).
PLACING_TOLERANCE = 1e-5
#: Districts within this many metres of a team's cells are sent to its phones.
TEAM_MARGIN_M = 3_000.0
#: Metres in a degree of latitude (and of longitude at the equator).
_M_PER_DEGREE = 111_320.0


def placing_districts(
    connection: Connection, cells: Sequence[int], *, margin_m: float = TEAM_MARGIN_M
) -> GeoJSON:
    """Return the outlines a phone places visits with: the districts near ``cells``, to ~2 m.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.
    cells : sequence of int
        The team's cells; empty: every district is sent.
    margin_m : float
        How far around the cells' bounding box a district may lie and still be sent.

    Returns
    -------
    GeoJSON
        Polygons with properties ``id`` and ``name``, ordered by id (a point on a shared edge
        goes to the first, as on the server).
    """
    d = store.districts.c
    rows = connection.execute(sa.select(d.id, d.name, d.geometry).order_by(d.id)).all()
    if not rows:
        return collection([])
    geometries = shapely.from_wkb([row.geometry for row in rows])
    keep = np.ones(len(rows), dtype=bool)
    if len(cells):
        min_x, min_y, max_x, max_y = shapely.total_bounds(cell_polygons(list(cells)))
        north = margin_m / _M_PER_DEGREE
        east = north / max(math.cos(math.radians(max(abs(min_y), abs(max_y)))), 0.01)
        box = shapely.box(min_x - east, min_y - north, max_x + east, max_y + north)
        keep = shapely.intersects(geometries, box)
    simple = shapely.simplify(geometries[keep], PLACING_TOLERANCE, preserve_topology=True)
    kept = [row for row, wanted in zip(rows, keep.tolist(), strict=True) if wanted]
    return collection(
        [
            geo_feature(geometry, {"id": str(row.id), "name": str(row.name)})
            for row, geometry in zip(kept, simple, strict=True)
        ]
    )
