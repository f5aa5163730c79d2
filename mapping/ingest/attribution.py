"""The district of each point, decided with its cell: point in polygon, nearest, and slivers.

Every visit, hotspot and service is counted in the district that holds its exact point, decided
here, in memory, in the same step as its cell (:func:`mapping.ingest.locations.locate_rows`, the
app's tap in :mod:`mapping.ingest.capture`, a service placed in
:mod:`mapping.registries.service_edits`); the point is dropped after both. The rules
(docs/coverage.md, "Which district"; the privacy reasoning in docs/privacy.md):

- a point inside a district's polygon is in that district (on a shared edge: the first id);
- a point in no polygon but in a cell of the area (GPS drift at a coast or an outer boundary)
  is in the **nearest** of the districts its cell overlaps — exact, not estimated;
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

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

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
    #: Per cell met so far: whether the districts it touches cover it whole.
    _covered: dict[int, bool] = field(default_factory=dict, repr=False)
    #: Per (cell, district index) that is a sliver: the cell the row is stored in.
    _moves: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @functools.cached_property
    def area_cells(self) -> frozenset[int]:
        """The area's cells, as a set."""
        return frozenset(self.area["cell"].cast(pl.Int64).to_list())

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
        if cell not in self._touching:
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

    def covered(self, cell: int) -> bool:
        """Whether the districts a cell touches cover it whole (no part at sea or outside)."""
        if cell not in self._covered:
            touching = self.touching(cell)
            shares = self.shares(np.full(len(touching), cell, np.uint64), touching)
            self._covered[cell] = bool(shares.sum() >= 1 - 1e-9)
        return self._covered[cell]

    def cell_for_sliver(self, cell: int, district: int) -> int:
        """Return where a row of ``district`` in ``cell`` is stored under the sliver rule.

        ``cell`` itself when the district holds at least :data:`SLIVER` of it; otherwise the
        cell of ``grid_disk(cell, 1)`` (``cell`` included) holding the largest piece of the
        district, ties going to the lowest cell id, and ``cell`` when none holds more of it.
        """
        if (cell, district) in self._moves:
            return self._moves[(cell, district)]
        own = self.shares(np.array([cell], np.uint64), np.array([district]))[0]
        if own >= SLIVER:
            return cell
        disk = sorted(int(h3.str_to_int(c)) for c in h3.grid_disk(h3.int_to_str(cell), 1))
        around = [c for c in disk if c in self.area_cells]
        shares = self.shares(np.array(around, np.uint64), np.full(len(around), district))
        best = int(np.argmax(shares))  # the first of the largest: the lowest cell id
        self._moves[(cell, district)] = around[best] if shares[best] > own else cell
        return self._moves[(cell, district)]


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
    keep their cell and get no district. Vectorised: the Python work is per distinct cell,
    (cell, district) pair and district, never per row.
    """
    frame = pl.DataFrame({"cell": cells.cast(pl.UInt64)}).with_row_index("row")
    distinct = (
        frame.select(pl.col("cell").unique())
        .join(districts.area.select("cell"), on="cell", how="semi")["cell"]
        .to_numpy()
    )
    district = np.full(frame.height, NONE, dtype=np.int64)
    moved = cells.cast(pl.UInt64).fill_null(0).to_numpy().copy()
    if len(distinct):
        table = pl.DataFrame(
            {
                "cell": distinct,
                "position": np.arange(len(distinct)),
                "whole": districts.whole_district(distinct),
            },
            schema={"cell": pl.UInt64, "position": pl.Int64, "whole": pl.Int64},
        )
        located = frame.join(table, on="cell", how="inner")
        rows, whole = located["row"].to_numpy(), located["whole"].to_numpy()
        district[rows] = whole
        crossing = whole == NONE
        if crossing.any():
            rows = rows[crossing]
            position = located["position"].to_numpy()[crossing]
            found = _in_polygons(districts, distinct, position, lng[rows], lat[rows])
            district[rows] = found
            targets = _sliver_targets(districts, distinct, position, found)
            moved[rows] = np.where(targets > 0, targets, moved[rows])
    cell_out = pl.Series("cell", moved, dtype=pl.UInt64)
    cell_out = cell_out.set(cells.is_null(), None)  # type: ignore[arg-type]
    return Attribution(cell_out, districts.id_series(district))


def _sliver_targets(
    districts: AreaDistricts, cells: np.ndarray, position: np.ndarray, found: np.ndarray
) -> np.ndarray:
    """Return, per row, the cell the sliver rule stores it in (0 where its own cell stays).

    ``position`` is each row's index in ``cells``, ``found`` its district. The rule is worked
    out once per distinct (cell, district) pair, keyed as one integer.
    """
    width = len(districts.ids) + 1
    key = position * width + (found + 1)
    seen = np.zeros(len(cells) * width, dtype=bool)
    seen[key] = True
    pairs = np.flatnonzero(seen)
    pair_cells, pair_districts = cells[pairs // width], pairs % width - 1
    known = pair_districts != NONE
    shares = np.ones(len(pairs))
    shares[known] = districts.shares(pair_cells[known], pair_districts[known])
    target = np.zeros(len(cells) * width, dtype=np.uint64)
    for index in np.flatnonzero(shares < SLIVER).tolist():
        cell, district = int(pair_cells[index]), int(pair_districts[index])
        moved = districts.cell_for_sliver(cell, district)
        if moved != cell:
            target[pairs[index]] = moved
    result: np.ndarray = target[key]
    return result


def _in_polygons(
    districts: AreaDistricts,
    cells: np.ndarray,
    position: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """Return the district holding each point (tested only against those its cell touches).

    ``position`` is each point's index in ``cells``. A point on a boundary shared by two
    districts goes to the first (by id); a point in none goes to the nearest district its cell
    touches (the nearest of all if its cell touches none: a cell the area set-up kept by a
    hair).
    """
    candidates = np.zeros((len(cells), len(districts.ids)), dtype=bool)
    for index in np.unique(position).tolist():
        candidates[index, districts.touching(int(cells[index]))] = True
    result = np.full(len(position), NONE, dtype=np.int64)
    involved = np.flatnonzero(candidates.any(axis=0)).tolist()
    count = candidates.sum(axis=1)[position]
    # the rows of each cell, side by side, so each district reads only the rows it may hold
    small = position.astype(np.uint16) if len(cells) <= 1 << 16 else position
    order = np.argsort(small, kind="stable")  # a radix sort for 16-bit keys
    bounds = np.searchsorted(position[order], np.arange(len(cells) + 1))
    # a cell the districts it touches cover whole: a point in none of the others is in the
    # last one, untested (a point on a shared edge has already gone to the first)
    last = np.where(
        candidates.any(axis=1), len(districts.ids) - 1 - candidates[:, ::-1].argmax(axis=1), NONE
    )
    covered = np.zeros(len(cells), dtype=bool)
    for index in np.unique(position).tolist():
        covered[index] = districts.covered(int(cells[index]))
    for district in involved:
        held = np.flatnonzero(candidates[:, district]).tolist()
        rows = np.concatenate([order[bounds[c] : bounds[c + 1]] for c in held])
        rows = rows[result[rows] == NONE]
        if len(rows) == 0:
            continue
        known = covered[position[rows]] & (last[position[rows]] == district)
        result[rows[known]] = district
        rows = rows[~known]
        if len(rows):
            hit = shapely.intersects_xy(districts.geometries[district], x[rows], y[rows])
            result[rows[hit]] = district
    # In no polygon (GPS drift at a coast or the area's edge): the nearest of the districts
    # the cell touches, so a stored (cell, district) always names a piece of the cell; the
    # one district a cell at a coast touches needs no distance at all.
    lost = result == NONE
    single = np.flatnonzero(lost & (count == 1))
    result[single] = candidates[position[single]].argmax(axis=1)
    several = np.flatnonzero(lost & (count > 1))
    if len(several):
        points = shapely.points(x[several], y[several])
        best = np.full(len(several), np.inf)
        for district in involved:
            near = candidates[position[several], district]
            distance = np.full(len(several), np.inf)
            distance[near] = shapely.distance(districts.geometries[district], points[near])
            closer = distance < best
            best[closer], result[several[closer]] = distance[closer], district
    alone = np.flatnonzero(lost & (count == 0))
    if len(alone):
        points = shapely.points(x[alone], y[alone])
        result[alone] = districts.tree.query_nearest(points, all_matches=False)[1]
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


def restated(record: dict[str, Any], stored: Any) -> dict[str, Any] | None:
    """Return what to write of a registry record stored before (None: it is a duplicate).

    ``stored`` is the stored row (``fingerprint``, ``cell``, ``district_id``,
    ``district_estimated``), or None for a new record. A district from a point always wins; a
    record given by its cell id alone keeps what is stored for that same cell (perhaps from a
    point) rather than the cell-centre estimate. A record with the stored fingerprint is a
    duplicate, unless it brings a better district: then only the district is written (a file
    imported again corrects an estimated district in place).
    """
    if stored is None:
        return record
    kept = (stored.district_id, bool(stored.district_estimated))
    if record["district_estimated"] and stored.cell == record["cell"]:
        record = {**record, "district_id": kept[0], "district_estimated": kept[1]}
    district = (record["district_id"], bool(record["district_estimated"]))
    if stored.fingerprint != record["fingerprint"]:
        return record
    if district == kept:
        return None
    return {"district_id": district[0], "district_estimated": district[1]}


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


def stored_place(
    districts: AreaDistricts, cell: int, point: tuple[float, float] | None
) -> tuple[int, str | None, bool]:
    """Return where one row placed in ``cell`` is stored: (cell, district, estimated).

    With its exact ``point`` (latitude, longitude), the point's district and the cell of the
    sliver rule; without, the cell and the district holding its centre, estimated. For the
    app's edits (a service placed on the map); imports use :func:`attribute_points`.
    """
    cells = pl.Series([cell], dtype=pl.UInt64)
    if point is None:
        centre = districts_of_cells(districts, cells)[0]
        return cell, centre, centre is not None
    placed = attribute_points(districts, np.array([point[0]]), np.array([point[1]]), cells)
    return int(placed.cell[0]), placed.district_id[0], False
