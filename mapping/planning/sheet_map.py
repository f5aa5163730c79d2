"""The run sheet's map: the night's cells, numbered in order, over the district outlines.

Drawn with fpdf's own vector drawing (no map tiles, no network): the ground is a small frame
around the night's cells, projected with the same scale north-south and east-west (at the
frame's latitude), north up, with a scale bar. Nothing finer than a cell is drawn; district
outlines come from the workspace's store.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import h3
import numpy as np
import shapely
import sqlalchemy as sa
from fpdf import FPDF

from mapping.cells import cell_to_str
from mapping.fonts import printable
from mapping.planning.plans import RoutePlan
from mapping.storage import store
from mapping.storage.workspace import Workspace

#: The smallest stretch of ground the map shows, in km: a one-cell night is not a blown-up hexagon.
MAP_MIN_KM = 1.5
#: Ground added around the night's cells on the map, as a share of their extent on each side.
MAP_PADDING = 0.12
#: Width over height of the ground a map shows: about that of the map's box on a landscape A4
#: run sheet, so the districts fill the box instead of leaving blank strips beside them.
MAP_ASPECT = 1.8
#: A district drawn on the map: its name and outline (lon/lat).
District = tuple[str, shapely.Geometry]
#: Colours of the map (Okabe-Ito blue for the route, as on the app's plan map).
_ROUTE = (0, 114, 178)
_DISTRICT_LINE = (120, 120, 120)
_DISTRICT_FILL = (245, 245, 245)
_LABEL = (110, 110, 110)
#: Lengths a scale bar may show, in metres.
_SCALE_METRES = (100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000)


def map_frame(cells: Sequence[int]) -> tuple[float, float, float, float]:
    """Return the ground a run sheet's map shows: (west, south, east, north) in degrees.

    The night's cells with :data:`MAP_PADDING` around them, at least :data:`MAP_MIN_KM`
    across each way, then widened (or heightened) to :data:`MAP_ASPECT`.

    Examples
    --------
    >>> cell = h3.str_to_int(h3.latlng_to_cell(-4.05, 39.66, 8))
    >>> west, south, east, north = map_frame([cell])
    >>> round((north - south) * 111.2, 1)
    1.5
    """
    corners = np.array(
        [corner for cell in cells for corner in h3.cell_to_boundary(cell_to_str(cell))]
    )
    south, west = (float(v) for v in corners.min(axis=0))
    north, east = (float(v) for v in corners.max(axis=0))
    lat = (south + north) / 2
    km_lng = 111.2 * math.cos(math.radians(lat))
    half_h = max((north - south) * (0.5 + MAP_PADDING), MAP_MIN_KM / 2 / 111.2)
    half_w = max((east - west) * (0.5 + MAP_PADDING), MAP_MIN_KM / 2 / km_lng)
    width_km, height_km = 2 * half_w * km_lng, 2 * half_h * 111.2
    if width_km < MAP_ASPECT * height_km:
        half_w = MAP_ASPECT * height_km / 2 / km_lng
    else:
        half_h = width_km / MAP_ASPECT / 2 / 111.2
    mid_lng = (west + east) / 2
    return (mid_lng - half_w, lat - half_h, mid_lng + half_w, lat + half_h)


@dataclass(frozen=True)
class MapProjection:
    """Ground (lon/lat) to a box on the page (mm, y down), north up, the same scale both ways.

    Examples
    --------
    >>> p = MapProjection.fit((0.0, 0.0, 0.02, 0.01), (10.0, 20.0, 200.0, 100.0))
    >>> [round(v, 3) for v in (*p.point(0.0, 0.01), *p.point(0.02, 0.0))]
    [10.0, 20.0, 210.0, 120.0]
    """

    west: float
    north: float
    scale_x: float
    scale_y: float
    left: float
    top: float

    @classmethod
    def fit(
        cls, frame: tuple[float, float, float, float], box: tuple[float, float, float, float]
    ) -> MapProjection:
        """Return the projection that shows ``frame`` as large as fits, centred in ``box``."""
        west, south, east, north = frame
        x, y, w, h = box
        shrink = math.cos(math.radians((south + north) / 2))  # a degree of longitude is shorter
        scale = min(w / ((east - west) * shrink), h / (north - south))  # mm per degree of latitude
        width, height = (east - west) * shrink * scale, (north - south) * scale
        return cls(west, north, scale * shrink, scale, x + (w - width) / 2, y + (h - height) / 2)

    def point(self, lng: float, lat: float) -> tuple[float, float]:
        """Return where a place (longitude, latitude) falls on the page, in mm."""
        return (
            self.left + (lng - self.west) * self.scale_x,
            self.top + (self.north - lat) * self.scale_y,
        )

    def mm_per_km(self) -> float:
        """Return how many mm of the page one km of ground takes."""
        return self.scale_y / 111.2


def map_districts(workspace: Workspace, plan: RoutePlan) -> list[District]:
    """Return the districts a plan's map shows: those reaching into :func:`map_frame`.

    Each is its name and its outline cut to the frame (lon/lat), simplified to what a printed
    map can show. None for a plan without stops.
    """
    if plan.stops.height == 0:
        return []
    west, south, east, north = map_frame(plan.stops["cell"].to_list())
    frame = shapely.box(west, south, east, north)
    d = store.districts.c
    with workspace.connect() as connection:
        rows = connection.execute(sa.select(d.name, d.geometry).order_by(d.id)).all()
    shown = []
    tolerance = (north - south) / 2000
    for name, wkb in rows:
        outline = shapely.from_wkb(wkb)
        if not shapely.intersects(outline, frame):
            continue
        margin = 10 * tolerance  # a little beyond the frame, so no outline ends inside it
        cut = shapely.clip_by_rect(
            outline, west - margin, south - margin, east + margin, north + margin
        )
        shown.append((str(name), shapely.simplify(cut, tolerance, preserve_topology=True)))
    return shown


def _rings(geometry: shapely.Geometry) -> list[list[tuple[float, float]]]:
    """Return every ring of a (multi)polygon, as (lon, lat) pairs."""
    parts = getattr(geometry, "geoms", [geometry])
    rings = []
    for part in parts:
        if isinstance(part, shapely.Polygon) and not part.is_empty:
            rings += [list(part.exterior.coords)] + [list(r.coords) for r in part.interiors]
        elif hasattr(part, "geoms"):
            rings += _rings(part)
    return rings


def _scale_bar(pdf: FPDF, projection: MapProjection, x: float, y: float, family: str) -> None:
    """Draw a scale bar of a round length about 30 mm long, its left end at (x, y)."""
    per_km = projection.mm_per_km()
    metres = min(
        (m for m in _SCALE_METRES if m / 1000 * per_km >= 25),
        default=20000,
    )
    length = metres / 1000 * per_km
    with pdf.local_context(draw_color=(40, 40, 40), fill_color=(40, 40, 40), line_width=0.6):
        pdf.line(x, y, x + length, y)
        pdf.line(x, y - 1.2, x, y + 1.2)
        pdf.line(x + length, y - 1.2, x + length, y + 1.2)
    pdf.set_font(family, size=7)
    label = f"{metres} m" if metres < 1000 else f"{metres / 1000:g} km"
    pdf.text(x + length + 2, y + 1, label)


def _north(pdf: FPDF, x: float, y: float, family: str) -> None:
    """Draw a north arrow (a small triangle over an N) with its tip at (x, y)."""
    with pdf.local_context(fill_color=(40, 40, 40), draw_color=(40, 40, 40)):
        pdf.polygon([(x, y), (x - 2, y + 5), (x + 2, y + 5)], style="F")
    pdf.set_font(family, style="B", size=8)
    pdf.text(x - pdf.get_string_width("N") / 2, y + 9, "N")


def draw_map(
    pdf: FPDF,
    stops: Sequence[tuple[int, int]],
    districts: Sequence[District],
    box: tuple[float, float, float, float],
    family: str,
) -> None:
    """Draw the night's cells, numbered in order, over the district outlines, in ``box``.

    ``stops`` are (order, cell) pairs in the order of the route; stops sharing a cell share one
    number badge ("2·3"). ``box`` is (x, y, width, height) on the page, in mm; ``family`` the
    font family the PDF writes with (:func:`mapping.fonts.add_fonts`).
    """
    x, y, w, h = box
    frame = map_frame([cell for _, cell in stops])
    projection = MapProjection.fit(frame, box)
    by_cell: dict[int, list[int]] = {}
    for order, cell in stops:
        by_cell.setdefault(cell, []).append(order)
    with pdf.rect_clip(x, y, w, h):
        with pdf.local_context(
            draw_color=_DISTRICT_LINE, fill_color=_DISTRICT_FILL, line_width=0.3
        ):
            for _, outline in districts:
                for ring in _rings(outline):
                    pdf.polygon([projection.point(lng, lat) for lng, lat in ring], style="DF")
        pdf.set_font(family, size=8)
        with pdf.local_context(text_color=_LABEL):
            for name, outline in districts:
                shown = shapely.clip_by_rect(outline, *frame)
                if shown.is_empty or shown.area <= 0:
                    continue
                spot = shown.centroid
                if not shown.contains(spot):
                    spot = shown.point_on_surface()
                px, py = projection.point(spot.x, spot.y)
                label = printable(name, family)
                width = pdf.get_string_width(label)
                # a name near the frame's edge is moved in, not cut off
                px = min(max(px - width / 2, x + 2), x + w - width - 2)
                pdf.text(px, min(max(py, y + 4), y + h - 2), label)
        with pdf.local_context(
            draw_color=_ROUTE, fill_color=_ROUTE, line_width=0.5, fill_opacity=0.18
        ):
            for cell in by_cell:
                boundary = h3.cell_to_boundary(cell_to_str(cell))
                pdf.polygon([projection.point(lng, lat) for lat, lng in boundary], style="DF")
        centres = [h3.cell_to_latlng(cell_to_str(cell)) for _, cell in stops]
        if len(centres) > 1:
            with pdf.local_context(draw_color=_ROUTE, line_width=0.6):
                pdf.set_dash_pattern(dash=1.6, gap=1.2)
                pdf.polyline([projection.point(lng, lat) for lat, lng in centres])
                pdf.set_dash_pattern()
        pdf.set_font(family, style="B", size=9)
        for cell, orders in by_cell.items():
            lat, lng = h3.cell_to_latlng(cell_to_str(cell))
            px, py = projection.point(lng, lat)
            label = "·".join(str(order) for order in orders)
            radius = max(3.2, pdf.get_string_width(label) / 2 + 1.2)
            with pdf.local_context(fill_color=_ROUTE, draw_color=(255, 255, 255), line_width=0.5):
                pdf.circle(px, py, radius, style="DF")
            with pdf.local_context(text_color=(255, 255, 255)):
                pdf.text(px - pdf.get_string_width(label) / 2, py + 1.1, label)
    with pdf.local_context(draw_color=(60, 60, 60), line_width=0.3):
        pdf.rect(x, y, w, h)
    _scale_bar(pdf, projection, x + 5, y + h - 5, family)
    _north(pdf, x + w - 7, y + 4, family)
