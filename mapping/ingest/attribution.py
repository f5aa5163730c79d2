"""The district of each point, decided with its cell: point in polygon, nearest, and slivers.

Every visit, hotspot and service is counted in the district that holds its exact point, decided
here, in memory, in the same step as its cell (:func:`mapping.ingest.locations.locate_rows`, the
app's tap in :mod:`mapping.ingest.capture`, a service placed in
:mod:`mapping.registries.service_edits`); the point is dropped after both. The rules
(docs/coverage.md, "Which district"; the privacy reasoning in docs/privacy.md):

- a point inside a district's polygon is in that district (on a shared edge: the first id);
- a point in no polygon but in a cell of the area (GPS drift at a coast or an outer boundary)
  is in the **nearest** district — exact, not estimated;
- a point outside the area (kept with ``--allow-outside``) has no district;
- the **sliver rule**: where the district's piece of the point's cell is less than
  :data:`SLIVER` (1/7, one child cell) of the cell, the row is stored in the cell of
  ``grid_disk(cell, 1)`` holding the largest piece of that district (ties: the lowest cell id),
  so that a stored (cell, district) pair never narrows the place to a sliver of a cell; the
  district is never changed by it;
- a row given by a cell id alone has no point: it gets the district holding the cell's centre
  (the area set-up's ``area_cells``) and is marked estimated (:func:`districts_of_cells`).

The work is per distinct cell, pair and district, never per row: a cell lying wholly inside one
district gives its points that district by a join; only points in cells that cross a boundary
are tested against the few polygons their cell touches (``shapely.intersects_xy`` on prepared
polygons), and the sliver shares are measured once per distinct (cell, district) pair. The
districts of a workspace never change after ``init``, so each process keeps them (polygons, an
``STRtree``, what it learnt about cells) in a cache keyed by the store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import h3
import numpy as np
import polars as pl
import shapely
import sqlalchemy as sa

from mapping.cells import cell_polygons
from mapping.storage import store
from mapping.storage.workspace import Workspace

#: A district's piece of a cell below this share of the cell is a sliver: the area of one child
#: cell at the next finer resolution (an H3 cell has seven children).
SLIVER = 1 / 7
#: District index meaning "no district".
NONE = -1


@dataclass
class AreaDistricts:
    """A workspace's districts as attribution needs them, cached per process (never changes).

    ``ids`` are sorted, and a district is referred to by its index in them. What is learnt about
    cells (which districts each touches, and each district's share of it) is kept as it is met.
    """

    resolution: int
    ids: tuple[str, ...]
    geometries: np.ndarray
    tree: shapely.STRtree
    #: Every cell of the area with the index of the district holding its centre (``centre``).
    area: pl.DataFrame
    #: Per cell met so far: the district wholly holding it, else :data:`NONE`.
    _whole: dict[int, int] = field(default_factory=dict, repr=False)
    #: Per cell met so far: the indexes of the districts its polygon touches.
    _touching: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    #: Per (cell, district index): the share of the cell's area in the district.
    _shares: dict[tuple[int, int], float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def id_series(self, index: np.ndarray, name: str = "district_id") -> pl.Series:
        """Return district ids for indexes (:data:`NONE` gives null)."""
        ids = pl.Series(name, self.ids, dtype=pl.String)
        positions = pl.Series(index, dtype=pl.Int64)
        return ids.gather(positions.set(positions < 0, None)).rename(name)

    def index_of(self, district_id: str) -> int:
        """Return the index of a district id (:data:`NONE` if it is not one of the area's)."""
        position = int(np.searchsorted(np.asarray(self.ids, dtype=object), district_id))
        if position < len(self.ids) and self.ids[position] == district_id:
            return position
        return NONE

    def learn_cells(self, cells: np.ndarray) -> None:
        """Find, for cells not met before, the districts they touch and whether one holds them."""
        new = np.array([c for c in np.unique(cells).tolist() if c not in self._whole], np.uint64)
        if len(new) == 0:
            return
        polygons = np.array(cell_polygons([int(c) for c in new]), dtype=object)
        cell_index, district_index = self.tree.query(polygons, predicate="intersects")
        order = np.lexsort((district_index, cell_index))
        cell_index, district_index = cell_index[order], district_index[order]
        bounds = np.searchsorted(cell_index, np.arange(len(new) + 1))
        single = np.diff(bounds) == 1
        whole = np.full(len(new), NONE, dtype=np.int64)
        if single.any():
            only = district_index[bounds[:-1][single]]
            held = shapely.contains_properly(self.geometries[only], polygons[single])
            whole[np.flatnonzero(single)[held]] = only[held]
        with self._lock:
            for position, cell in enumerate(new.tolist()):
                self._touching[cell] = district_index[bounds[position] : bounds[position + 1]]
                self._whole[cell] = int(whole[position])

    def whole_district(self, cells: np.ndarray) -> np.ndarray:
        """Return, per cell, the district wholly holding it (:data:`NONE` where none does)."""
        self.learn_cells(cells)
        return np.array([self._whole[c] for c in cells.tolist()], dtype=np.int64)

    def touching(self, cell: int) -> np.ndarray:
        """Return the indexes of the districts a cell's polygon touches."""
        self.learn_cells(np.array([cell], dtype=np.uint64))
        return self._touching[cell]

    def shares(self, cells: np.ndarray, districts: np.ndarray) -> np.ndarray:
        """Return the share of each cell's area that lies in the paired district (exactly).

        Measured with shapely (the district clipped to the cell's bounds, then intersected with
        the cell's polygon; a ratio of areas in degrees within one cell) once per distinct pair
        and kept.
        """
        pairs = list(zip(cells.tolist(), districts.tolist(), strict=True))
        missing = sorted({p for p in pairs if p not in self._shares})
        if missing:
            known = {c for c, _ in missing if c in self._whole}
            self.learn_cells(np.array([c for c, _ in missing if c not in known], dtype=np.uint64))
            to_measure = []
            for cell, district in missing:
                whole = self._whole[cell]
                if whole != NONE or district not in self._touching[cell]:
                    self._shares[(cell, district)] = float(whole == district)
                else:
                    to_measure.append((cell, district))
            if to_measure:
                polygons = np.array(cell_polygons([c for c, _ in to_measure]), dtype=object)
                geometries = self.geometries[[d for _, d in to_measure]]
                # clipping a detailed outline to the cell's box first keeps the overlay small
                clipped = np.array(
                    [
                        shapely.clip_by_rect(g, *b)
                        for g, b in zip(geometries, shapely.bounds(polygons).tolist(), strict=True)
                    ],
                    dtype=object,
                )
                pieces = shapely.area(shapely.intersection(clipped, polygons))
                ratio = pieces / shapely.area(polygons)
                for pair, share in zip(to_measure, ratio.tolist(), strict=True):
                    self._shares[pair] = min(1.0, float(share))
        return np.array([self._shares[p] for p in pairs], dtype=float)

    def cell_for_sliver(self, cell: int, district: int) -> int:
        """Return where a row of ``district`` in ``cell`` is stored under the sliver rule.

        ``cell`` itself when the district holds at least :data:`SLIVER` of it; otherwise the
        cell of ``grid_disk(cell, 1)`` (``cell`` included) holding the largest piece of the
        district, ties going to the lowest cell id, and ``cell`` when none holds more of it.
        """
        own = self.shares(np.array([cell], np.uint64), np.array([district]))[0]
        if own >= SLIVER:
            return cell
        disk = sorted(int(h3.str_to_int(c)) for c in h3.grid_disk(h3.int_to_str(cell), 1))
        in_area = set(self.area.filter(pl.col("cell").is_in(disk))["cell"].cast(pl.Int64).to_list())
        around = [c for c in disk if c in in_area]
        shares = self.shares(np.array(around, np.uint64), np.full(len(around), district))
        best = int(np.argmax(shares))  # the first of the largest: the lowest cell id
        return around[best] if shares[best] > own else cell


_CACHE: dict[tuple[str, int], tuple[tuple[object, ...], AreaDistricts]] = {}
_CACHE_LOCK = threading.Lock()


def area_districts(workspace: Workspace) -> AreaDistricts:
    """Return the workspace's districts for attribution, from this process's cache if current.

    The cache is checked against a cheap signature of the store's districts and area cells
    (their counts and sizes), so a store made again at the same place is read again.
    """
    d, a = store.districts.c, store.area_cells.c
    with workspace.connect() as connection:
        signature = tuple(
            connection.execute(
                sa.select(
                    sa.select(sa.func.count()).select_from(store.districts).scalar_subquery(),
                    sa.select(
                        sa.func.coalesce(sa.func.sum(sa.func.length(d.geometry)), 0)
                    ).scalar_subquery(),
                    sa.select(sa.func.count()).select_from(store.area_cells).scalar_subquery(),
                    sa.select(
                        sa.func.coalesce(sa.func.sum(a.cell % 1_000_003), 0)
                    ).scalar_subquery(),
                )
            ).one()
        )
        key = (workspace.db_url, workspace.resolution)
        cached = _CACHE.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        rows = connection.execute(sa.select(d.id, d.geometry).order_by(d.id)).all()
        area_rows = connection.execute(sa.select(a.cell, a.district_id)).all()
    ids = tuple(sorted(str(row.id) for row in rows))
    by_id = {str(row.id): shapely.from_wkb(row.geometry) for row in rows}
    geometries = np.array([by_id[i] for i in ids], dtype=object)
    shapely.prepare(geometries)
    position = {district: index for index, district in enumerate(ids)}
    area = pl.DataFrame(
        {
            "cell": pl.Series([int(r.cell) for r in area_rows], dtype=pl.UInt64),
            "centre": pl.Series(
                [position.get(r.district_id, NONE) for r in area_rows], dtype=pl.Int64
            ),
        }
    )
    districts = AreaDistricts(
        resolution=workspace.resolution,
        ids=ids,
        geometries=geometries,
        tree=shapely.STRtree(geometries),
        area=area,
    )
    with _CACHE_LOCK:
        _CACHE[key] = (signature, districts)
    return districts


@dataclass(frozen=True)
class Attribution:
    """Where rows are stored: each row's cell (after the sliver rule) and district id."""

    cell: pl.Series
    district_id: pl.Series


def attribute_points(
    districts: AreaDistricts, lat: np.ndarray, lng: np.ndarray, cells: pl.Series
) -> Attribution:
    """Return the stored cell and district of points already located in ``cells``.

    ``lat``/``lng`` are the points (NaN where there is none), ``cells`` their cells at the
    storage resolution (null where there is none). Points whose cell is not a cell of the area
    keep their cell and get no district. Vectorised: no Python work per row.
    """
    frame = pl.DataFrame({"cell": cells.cast(pl.UInt64)}).with_row_index("row")
    located = frame.join(districts.area.select("cell"), on="cell", how="semi")
    if located.height == 0:
        return Attribution(cells.cast(pl.UInt64), districts.id_series(np.full(len(cells), NONE)))
    distinct = located["cell"].unique().to_numpy()
    whole = pl.DataFrame(
        {"cell": distinct, "whole": districts.whole_district(distinct)},
        schema={"cell": pl.UInt64, "whole": pl.Int64},
    )
    located = located.join(whole, on="cell", how="left")
    district = np.full(frame.height, NONE, dtype=np.int64)
    inside = located.filter(pl.col("whole") != NONE)
    district[inside["row"].to_numpy()] = inside["whole"].to_numpy()
    crossing = located.filter(pl.col("whole") == NONE)
    moved = cells.cast(pl.UInt64).fill_null(0).to_numpy().copy()
    if crossing.height:
        rows = crossing["row"].to_numpy()
        found = _in_polygons(districts, crossing["cell"].to_numpy(), lng[rows], lat[rows])
        lost = found == NONE
        if lost.any():
            points = shapely.points(lng[rows][lost], lat[rows][lost])
            found[lost] = districts.tree.query_nearest(points, all_matches=False)[1]
        district[rows] = found
        pairs = (
            pl.DataFrame({"cell": crossing["cell"], "district": found})
            .unique()
            .sort("cell", "district")
        )
        shares = districts.shares(pairs["cell"].to_numpy(), pairs["district"].to_numpy())
        slivers = pairs.filter(pl.Series(shares < SLIVER))
        if slivers.height:
            target = [
                districts.cell_for_sliver(int(c), int(d))
                for c, d in slivers.select("cell", "district").iter_rows()
            ]
            moves = slivers.with_columns(pl.Series("target", target, dtype=pl.UInt64))
            placed = pl.DataFrame({"row": rows, "cell": crossing["cell"], "district": found}).join(
                moves, on=["cell", "district"], how="inner"
            )
            moved[placed["row"].to_numpy()] = placed["target"].to_numpy()
    cell_out = pl.Series("cell", moved, dtype=pl.UInt64)
    cell_out = cell_out.set(cells.is_null(), None)  # type: ignore[arg-type]
    return Attribution(cell_out, districts.id_series(district))


def _in_polygons(
    districts: AreaDistricts, cells: np.ndarray, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Return the district holding each point (tested only against those its cell touches).

    A point on a boundary shared by two districts goes to the first (by id); a point in none
    gives :data:`NONE`.
    """
    distinct, position = np.unique(cells, return_inverse=True)
    touching = [districts.touching(int(c)) for c in distinct.tolist()]
    candidates = np.zeros((len(distinct), len(districts.ids)), dtype=bool)
    for index, found in enumerate(touching):
        candidates[index, found] = True
    result = np.full(len(cells), NONE, dtype=np.int64)
    for district in np.flatnonzero(candidates.any(axis=0)).tolist():
        rows = np.flatnonzero(candidates[position, district] & (result == NONE))
        if len(rows):
            hit = shapely.intersects_xy(districts.geometries[district], x[rows], y[rows])
            result[rows[hit]] = district
    return result


def districts_of_cells(districts: AreaDistricts, cells: pl.Series) -> pl.Series:
    """Return the district holding each cell's centre (null outside the area): an estimate.

    For rows given by a cell id alone, which have no point (``district_estimated``).
    """
    centre = (
        pl.DataFrame({"cell": cells.cast(pl.UInt64)})
        .join(districts.area, on="cell", how="left", maintain_order="left")["centre"]
        .fill_null(NONE)
        .to_numpy()
    )
    return districts.id_series(centre)


def place_of_point(
    workspace: Workspace, latitude: float, longitude: float
) -> tuple[int, str | None]:
    """Return the stored cell and district of one point (the app's tap, a service placed).

    The point is only read; the cell is at the workspace's resolution, after the sliver rule,
    and the district is null when the point's cell is outside the area.
    """
    cell = int(h3.str_to_int(h3.latlng_to_cell(latitude, longitude, workspace.resolution)))
    result = attribute_points(
        area_districts(workspace),
        np.array([latitude]),
        np.array([longitude]),
        pl.Series([cell], dtype=pl.UInt64),
    )
    return int(result.cell[0]), result.district_id[0]


def kept_district(
    cell: int,
    district_id: str | None,
    estimated: bool,
    stored: tuple[int, str | None, bool] | None,
) -> tuple[str | None, bool]:
    """Return the district a registry row keeps when it is stored again (and if estimated).

    ``stored`` is the stored row's (cell, district, estimated). A district from a point always
    wins (a re-imported file corrects an estimated one in place); a row given by its cell id
    alone keeps what is stored for that same cell (perhaps from a point) rather than the
    cell-centre estimate.
    """
    if estimated and stored is not None and stored[0] == cell:
        return stored[1], bool(stored[2])
    return district_id, bool(estimated)


def with_given_cells(work: pl.DataFrame, districts: AreaDistricts, given: str) -> pl.DataFrame:
    """Place registry rows given by a point or by a cell id (column ``given``), or both.

    Rows located by a point carry ``cell``, ``district_id`` and ``point_cell`` from
    :func:`mapping.ingest.locations.locate_rows`. A point decides the cell and the district
    (exact). A cell id alone has no point: its district is the one holding its centre, marked
    ``district_estimated``. Given both, the cell id wins unless the point lies in it. Drops
    ``given`` and ``point_cell``.
    """
    cell = pl.col(given)
    by_point = pl.col("cell").is_not_null() & (cell.is_null() | (cell == pl.col("point_cell")))
    centres = districts_of_cells(districts, work[given])
    return work.with_columns(
        pl.when(by_point).then(pl.col("cell")).otherwise(cell).alias("cell"),
        pl.when(by_point).then(pl.col("district_id")).otherwise(centres).alias("district_id"),
        (~by_point & cell.is_not_null() & centres.is_not_null()).alias("district_estimated"),
    ).drop(given, "point_cell")
