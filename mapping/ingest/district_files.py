"""District files read and checked: each broken outline refused or repaired, named by feature.

What is repaired (each repair is returned, with the district's area before and after):

- a ring that is not closed: closed (its last point joined to its first);
- an outline across the antimeridian (longitudes jumping between 180 and -180, or beyond
  ±180): split at ±180° into a MultiPolygon, as GeoJSON requires;
- an outline that crosses or touches itself, or any other invalid polygon: ``make_valid``,
  keeping its polygons, when that changes its area by at most the ``max_repair_area_change``
  setting (1 %).

What is refused, every problem of the file in one error naming the feature (1-based, in file
order), the district's id, what is wrong and the fix: an empty or missing outline, a point or
line instead of a polygon, a repair that would change the area by more than 1 % (or leave
none), a missing id or name, an id used twice, and a population that is not a number.
docs/areas.md says why each case is repaired or refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from mapping.errors import UnusableFileError
from mapping.settings import get_settings

#: An equal-area projection valid everywhere on Earth (Lambert cylindrical equal-area on WGS 84,
#: as NSIDC EASE-Grid 2.0 Global, EPSG:6933), with ``+over`` so that an outline not yet split
#: at the antimeridian (longitudes past 180) keeps its area: district areas are measured in it.
EQUAL_AREA_CRS = "+proj=cea +lon_0=0 +lat_ts=30 +datum=WGS84 +units=m +over +no_defs"
#: At most this many problems are listed in the error; the count says how many there are.
_MAX_LISTED = 25
_POLYGONAL = ("Polygon", "MultiPolygon")
#: GEOS's reasons for an invalid polygon, in words (anything else is shown as GEOS says it).
_REASONS = {
    "self-intersection": "its outline crosses itself",
    "ring self-intersection": "its outline touches itself",
    "hole lies outside shell": "a hole lies outside its outline",
    "holes are nested": "a hole lies inside another hole",
    "interior is disconnected": "its holes cut it in pieces",
    "nested shells": "one of its parts lies inside another",
    "duplicate rings": "a ring is repeated",
    "too few points": "a ring has too few points",
    "invalid coordinate": "a point has no valid coordinate",
    "ring is not closed": "a ring is not closed",
}


@dataclass(frozen=True)
class DistrictRepair:
    """A district repaired on reading: what was wrong, and its area before and after, in m²."""

    #: The feature's number in the file (1-based, in file order), the district's id and name.
    feature: int
    id: str
    name: str
    #: What was wrong and what was done, e.g. "its outline crosses itself: repaired".
    what: str
    area_before_m2: float
    area_after_m2: float

    def __str__(self) -> str:
        before, after = area_text(self.area_before_m2), area_text(self.area_after_m2)
        areas = (
            f"area {before} before and after"
            if before == after
            else (f"area {before} before, {after} after")
        )
        return f"feature {self.feature}, district {self.id} ({self.name}): {self.what}; {areas}"


@dataclass(frozen=True)
class DistrictFile:
    """The districts of a file (EPSG:4326: id, name, population, geometry) and their repairs."""

    districts: gpd.GeoDataFrame
    repairs: list[DistrictRepair]


def district_areas(geometry: gpd.GeoSeries) -> np.ndarray:
    """Return the area of each lon/lat geometry in m², measured in an equal-area projection.

    Examples
    --------
    >>> square = gpd.GeoSeries([shapely.box(36.8, -1.3, 36.81, -1.29)], crs=4326)
    >>> round(float(district_areas(square)[0]) / 1e6, 2)  # about 1.11 km by 1.11 km
    1.23
    """
    return np.asarray(geometry.to_crs(EQUAL_AREA_CRS).area, dtype=float)


def area_text(m2: float) -> str:
    """Return an area for people: m² under 0.01 km², else km² with three significant digits.

    Examples
    --------
    >>> area_text(820.4), area_text(82_300), area_text(737_327.6), area_text(1_234_567_000)
    ('820 m²', '0.0823 km²', '0.737 km²', '1,235 km²')
    """
    km2 = m2 / 1e6
    if km2 < 0.01:
        return f"{m2:,.0f} m²"
    if km2 >= 100:
        return f"{km2:,.0f} km²"
    return f"{km2:.3g} km²"


def districts_from_file(
    path: Path, *, id_column: str, name_column: str, population_column: str | None = None
) -> gpd.GeoDataFrame:
    """Read district polygons (any format and CRS) as EPSG:4326 with id, name and population.

    Broken outlines are repaired or refused as :func:`read_district_file` says; the repairs
    are not returned here (``init`` prints them, through :func:`read_district_file`).
    """
    return read_district_file(
        path, id_column=id_column, name_column=name_column, population_column=population_column
    ).districts


def read_district_file(
    path: Path, *, id_column: str, name_column: str, population_column: str | None = None
) -> DistrictFile:
    """Read and check a district file; return its districts and the repairs made to them.

    Raises
    ------
    UnusableFileError
        The file cannot be read, lacks a column, or has districts that cannot be used: every
        such district is listed, by feature number and id, with what is wrong and the fix.
    """
    features, unclosed = _read_features(path)
    if features.empty:
        raise UnusableFileError(f"{path} holds no districts — check the file")
    missing = [
        c for c in (id_column, name_column, population_column) if c and c not in features.columns
    ]
    if missing:
        raise UnusableFileError(
            f"{path} has no column {', '.join(map(repr, missing))} — columns are: "
            + ", ".join(c for c in features.columns if c != features.geometry.name)
        )
    problems: dict[int, list[str]] = {}
    ids, names = _ids_and_names(features, id_column, name_column, problems)
    population = None
    if population_column:
        population = _population(features[population_column], population_column, problems)
    outlines = _Outlines(path, features.geometry, unclosed, problems)
    if problems:
        listed = [
            f"  feature {index + 1}{f', district {ids[index]}' if ids[index] else ''}: {text}"
            for index in sorted(problems)
            for text in problems[index]
        ]
        more = len(listed) - _MAX_LISTED
        count = f"{len(problems)} district{'s' * (len(problems) > 1)}"
        raise UnusableFileError(
            f"{path}: {count} cannot be used, so nothing was created — fix "
            f"{'them' if len(problems) > 1 else 'it'} in the file and run init again:\n"
            + "\n".join(listed[:_MAX_LISTED])
            + (f"\n  ... and {more} more" if more > 0 else "")
        )
    districts = gpd.GeoDataFrame(
        {"id": ids, "name": names, "population": population},
        geometry=gpd.GeoSeries(outlines.shapes, crs=4326).values,
        crs=4326,
    )
    after = district_areas(districts.geometry)
    return DistrictFile(
        districts=districts,
        repairs=[
            DistrictRepair(
                feature=index + 1,
                id=str(ids[index]),
                name=str(names[index]),
                what="; ".join(what),
                area_before_m2=float(outlines.areas_before[index]),
                area_after_m2=float(after[index]),
            )
            for index, what in sorted(outlines.repairs.items())
        ],
    )


def _ids_and_names(
    features: gpd.GeoDataFrame, id_column: str, name_column: str, problems: dict[int, list[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ids and names as text; record the missing ones and the ids used twice."""
    ids, names = _text(features[id_column]), _text(features[name_column])
    for index in _rows(ids == ""):
        _add(problems, index, f"has no id in column {id_column!r} — give every district an id")
    for index in _rows(names == ""):
        _add(problems, index, f"has no name in column {name_column!r} — give every district a name")
    named = ids != ""
    for district_id, group in pd.Series(np.arange(len(ids)))[named].groupby(ids[named]):
        if len(group) > 1:
            numbers = [str(i + 1) for i in group.iloc[1:]]
            others = ", ".join(numbers[:10]) + (
                f" and {len(numbers) - 10} more" if len(numbers) > 10 else ""
            )
            _add(
                problems,
                int(group.iloc[0]),
                f"its id {district_id!r} is also the id of feature{'s' * (len(group) > 2)} "
                f"{others} — give each district its own id",
            )
    return ids, names


def _population(column: pd.Series, name: str, problems: dict[int, list[str]]) -> pd.Series:
    """Return the population as numbers; record each value that is not a number."""
    population = pd.to_numeric(column, errors="coerce")
    for index in _rows(population.isna() & column.notna()):
        _add(
            problems,
            index,
            f"its population {column.iloc[index]!r} (column {name!r}) is not a number — "
            "fix or empty it",
        )
    return population


class _Outlines:
    """The outlines of a file checked: refused ones recorded, the others repaired if needed.

    ``shapes`` holds each outline in EPSG:4326 as it will be stored, ``areas_before`` its area
    (m²) before any repair but closing and unwrapping, ``repairs`` what was done to which.
    """

    def __init__(
        self,
        path: Path,
        geometry: gpd.GeoSeries,
        unclosed: np.ndarray,
        problems: dict[int, list[str]],
    ) -> None:
        empty = _missing(geometry) | geometry.is_empty.to_numpy()
        for index in _rows(empty):
            _add(
                problems,
                index,
                "has no outline (it is empty) — draw the district, or delete the feature",
            )
        kinds = geometry.geom_type.to_numpy()
        for index in _rows(~empty & ~np.isin(kinds, _POLYGONAL)):
            _add(
                problems,
                index,
                f"is a {kinds[index]}, not a polygon — give the district's outline as a polygon "
                "(a line drawn round it becomes one in a GIS, e.g. QGIS's Lines to Polygons)",
            )
        usable = ~empty & np.isin(kinds, _POLYGONAL)
        shapes = np.array(_in_lonlat(path, geometry, usable).values, dtype=object)
        self.repairs: dict[int, list[str]] = {
            i: ["its ring was not closed: closed it"] for i in _rows(unclosed & usable)
        }
        # only an outline wider than 180° or past ±180 can cross the antimeridian
        bounds = shapely.bounds(_only(shapes, usable))
        wide = (bounds[:, 2] - bounds[:, 0] > 180) | (np.abs(bounds[:, [0, 2]]) > 180).any(1)
        crossing = [i for i in _rows(usable & wide) if _crosses_antimeridian(shapes[i])]
        for index in crossing:
            self.repairs.setdefault(index, []).append(
                "it crosses the antimeridian (180°): split it there"
            )
            shapes[index] = _unwrapped(shapes[index])
        self.areas_before = district_areas(gpd.GeoSeries(shapes, crs=4326))
        invalid = usable & ~shapely.is_valid(_only(shapes, usable))
        for index in sorted({*_rows(invalid), *crossing}):
            if invalid[index]:
                fixed = self._repaired(index, shapes[index], problems)
                if fixed is None:
                    continue
                shapes[index] = fixed
            shapes[index] = _split_at_antimeridian(shapes[index])
        self.shapes = shapes

    def _repaired(
        self, index: int, shape: shapely.Geometry, problems: dict[int, list[str]]
    ) -> shapely.Geometry | None:
        """Return an invalid outline made valid, or None (recorded) if that changes too much."""
        reason = _reason(shape)
        fixed = _polygons(shapely.make_valid(shape))
        before = self.areas_before[index]
        after = float(district_areas(gpd.GeoSeries([fixed], crs=4326))[0])
        limit = get_settings().max_repair_area_change
        if fixed.is_empty or after == 0:
            _add(problems, index, f"{reason}, and no area is left once repaired — redraw it")
            return None
        if before <= 0 or abs(after - before) / before > limit:
            _add(
                problems,
                index,
                f"{reason}, and repairing it would change its area from {area_text(before)} to "
                f"{area_text(after)} (more than {limit:.0%}) — fix its outline in a GIS (e.g. "
                "QGIS's Fix Geometries, then check the result) and export the file again",
            )
            return None
        self.repairs.setdefault(index, []).append(f"{reason}: repaired")
        return fixed


def _add(problems: dict[int, list[str]], index: int, text: str) -> None:
    """Record a problem of the feature at ``index``."""
    problems.setdefault(index, []).append(text)


def _read_features(path: Path) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Read every feature; return them and which had a ring that is not closed (now closed).

    GDAL reads a ring that is not closed but shapely cannot make a polygon of it: the file is
    read once leaving such outlines out, and, if any is missing, again with them closed.
    """
    with warnings.catch_warnings():
        # GDAL says "Non closed ring detected" once per ring; the repair is reported by district
        warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
        try:
            features = gpd.read_file(path, on_invalid="ignore")
            unclosed = np.zeros(len(features), dtype=bool)
            unread = _missing(features.geometry)
            if unread.any():
                closed = gpd.read_file(path, on_invalid="fix")
                unclosed = unread & ~_missing(closed.geometry)
                features = closed
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise UnusableFileError(
                f"{path} could not be read as a polygon file ({exc}) — "
                "give a GeoJSON, GeoPackage or Shapefile"
            ) from exc
    return features, unclosed


def _missing(geometry: gpd.GeoSeries) -> np.ndarray:
    """Return where a feature has no geometry at all (None, not an empty one)."""
    return np.asarray(shapely.is_missing(np.asarray(geometry.values, dtype=object)), dtype=bool)


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    """Return the positions where ``mask`` is true."""
    return [int(i) for i in np.flatnonzero(np.asarray(mask))]


def _only(shapes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the geometries where ``mask`` is true, None elsewhere."""
    kept = shapes.copy()
    kept[~mask] = None
    return kept


def _text(column: pd.Series) -> np.ndarray:
    """Return a column as stripped text, "" where it is empty."""
    return np.asarray(column.astype("string").str.strip().fillna(""), dtype=object)


def _in_lonlat(path: Path, geometry: gpd.GeoSeries, usable: np.ndarray) -> gpd.GeoSeries:
    """Return the geometry in EPSG:4326, refusing a file without a CRS that is not lon/lat."""
    if geometry.crs is None:
        minx, miny, maxx, maxy = geometry[usable].total_bounds if usable.any() else (0, 0, 0, 0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise UnusableFileError(
                f"{path} has no CRS and its coordinates are not longitude/latitude — "
                "save it with its coordinate reference system (a .prj file for a Shapefile)"
            )
        return geometry.set_crs(4326)
    if geometry.crs.to_epsg() != 4326:
        return geometry.to_crs(4326)
    return geometry


def _reason(shape: shapely.Geometry) -> str:
    """Return why GEOS finds ``shape`` invalid, in words, without the place it names."""
    reason = str(shapely.is_valid_reason(shape)).split("[")[0].strip()
    return _REASONS.get(reason.lower(), f"it is not a valid polygon ({reason.lower()})")


def _polygons(shape: shapely.Geometry) -> shapely.Geometry:
    """Return the polygons of a repaired geometry (make_valid may add lines and points)."""
    parts = [p for p in getattr(shape, "geoms", [shape]) if p.geom_type in _POLYGONAL]
    flat = [q for p in parts for q in getattr(p, "geoms", [p])]
    if not flat:
        return shapely.Polygon()
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def _rings(shape: shapely.Geometry) -> list[np.ndarray]:
    """Return the longitudes of every ring of a polygon or multipolygon."""
    return [
        np.asarray(ring.coords)[:, 0]
        for polygon in getattr(shape, "geoms", [shape])
        for ring in (polygon.exterior, *polygon.interiors)
    ]


def _crosses_antimeridian(shape: shapely.Geometry) -> bool:
    """Whether an outline jumps between 180 and -180 or passes ±180 (then it must be split)."""
    return any(
        len(x) and (np.abs(np.diff(x)).max(initial=0) > 180 or np.abs(x).max() > 180)
        for x in _rings(shape)
    )


def _unwrapped(shape: shapely.Geometry) -> shapely.Geometry:
    """Return the outline with each part's longitudes made continuous (some past 180)."""
    parts = []
    for polygon in getattr(shape, "geoms", [shape]):
        jumps = any(np.abs(np.diff(x)).max(initial=0) > 180 for x in _rings(polygon))
        parts.append(shapely.transform(polygon, _eastwards) if jumps else polygon)
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _eastwards(xy: np.ndarray) -> np.ndarray:
    """Return lon/lat pairs with negative longitudes moved a turn east (past 180)."""
    moved = xy.copy()
    moved[:, 0] = np.where(moved[:, 0] < 0, moved[:, 0] + 360, moved[:, 0])
    return moved


def _split_at_antimeridian(shape: shapely.Geometry) -> shapely.Geometry:
    """Return an outline with longitudes past ±180 cut there and moved back into -180..180."""
    bounds = shapely.bounds(shape)
    if bounds[0] >= -180 and bounds[2] <= 180:
        return shape
    pieces = []
    for shift in (-360, 0, 360):
        window = shapely.box(-180 - shift, -90, 180 - shift, 90)
        piece = _polygons(shape.intersection(window))
        if not piece.is_empty:
            pieces.append(shapely.affinity.translate(piece, xoff=shift))
    return _polygons(shapely.GeometryCollection(pieces))
