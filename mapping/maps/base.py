"""Map layers read from a workspace's store as small GeoJSON, and the offline overview map."""

from __future__ import annotations

import html
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import folium
import numpy as np
import shapely
import shapely.errors
import shapely.ops
import sqlalchemy as sa
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Connection

from mapping.cells import cell_polygons
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

#: A GeoJSON object (a FeatureCollection, unless said otherwise), ready for ``json.dumps``.
GeoJSON = dict[str, Any]

#: Environment variable holding a tile URL template; unset (the default) means no basemap.
BASEMAP_ENV = "OUTREACH_MAP_BASEMAP_URL"
#: Environment variable holding the basemap's attribution (defaults to the tile server's host).
BASEMAP_ATTRIBUTION_ENV = "OUTREACH_MAP_BASEMAP_ATTRIBUTION"
#: Version of Leaflet vendored in ``static/vendor`` (see its README).
LEAFLET_VERSION = "1.9.4"
#: Where the app serves the vendored Leaflet, relative to a component's page
#: (``<base>/component/<name>/index.html``); Streamlit serves ``./static`` at ``<base>/app/static``.
DEFAULT_ASSETS_URL = f"../../app/static/vendor/leaflet-{LEAFLET_VERSION}"

#: Decimal places kept in coordinates (1e-5 degrees is about a metre).
COORDINATE_DECIMALS = 5
#: Douglas-Peucker tolerance, in degrees (about 30 m), applied to district outlines.
DISTRICT_SIMPLIFY_TOLERANCE = 0.0003

#: Colour of each service type, in :data:`mapping.vocab.SERVICE_TYPES` order.
SERVICE_COLOURS: tuple[str, ...] = (
    "#ff7f00",  # drop_in_centre
    "#1f78b4",  # hiv_testing
    "#33a02c",  # sti_clinic
    "#8c510a",  # hiv_treatment
    "#01665e",  # prep_pep
    "#17becf",  # harm_reduction
    "#b8860b",  # legal_aid
    "#e31a1c",  # violence_response
    "#808000",  # shelter
    "#fdbf6f",  # economic_empowerment
    "#7f7f7f",  # condom_outlet
)
#: Colour of a cell holding services of several types.
MIXED_SERVICES_COLOUR = "#333333"
#: Sequential fills for visited cells, lightest (fewest visits) first.
VISIT_COLOURS: tuple[str, ...] = ("#fbb4b9", "#f768a1", "#dd3497", "#ae017e", "#7a0177")
#: District names are shown from this zoom level on at the earliest (small ones later) ...
LABEL_MIN_ZOOM = 9
#: ... and at the latest.
LABEL_MAX_ZOOM = 15
_SERVICE_LABELS = {
    "drop_in_centre": "Drop-in centre",
    "hiv_testing": "HIV testing",
    "sti_clinic": "STI clinic",
    "hiv_treatment": "HIV treatment",
    "prep_pep": "PrEP / PEP",
}


@dataclass(frozen=True)
class OverviewLayers:
    """Everything the overview map draws, as plain GeoJSON data (picklable, so cacheable).

    Attributes
    ----------
    districts : GeoJSON
        District outlines, properties ``id``, ``name``, ``population``, ``tip``, ``style``.
    district_labels : GeoJSON
        One point per district, inside it, with properties ``name`` and ``zoom``.
    service_points : GeoJSON
        Public services at their exact place, properties ``service_type``, ``tip``, ``style``.
    service_cells : GeoJSON
        Cells holding sensitive services or services without a point, never their names if
        sensitive.
    visited_cells : GeoJSON
        Cells with at least one visit, properties ``visits``, ``tip``, ``style``.
    visit_breaks : tuple of int
        Lower bound of each visit-count class, in :data:`VISIT_COLOURS` order.
    bounds : tuple of float
        ``(min_lon, min_lat, max_lon, max_lat)`` of everything drawn, or ``None`` if empty.
    focus : tuple of float
        Bounds the map opens on: the visited cells', or :attr:`bounds` if there are none.
    """

    districts: GeoJSON
    district_labels: GeoJSON
    service_points: GeoJSON
    service_cells: GeoJSON
    visited_cells: GeoJSON
    visit_breaks: tuple[int, ...]
    bounds: tuple[float, float, float, float] | None
    focus: tuple[float, float, float, float] | None


def service_label(code: int) -> str:
    """Return the display name of a stored service-type code (index + 1 into the vocabulary).

    Examples
    --------
    >>> service_label(1), service_label(5), service_label(11)
    ('Drop-in centre', 'PrEP / PEP', 'Condom outlet')
    """
    name = SERVICE_TYPES[code - 1]
    return _SERVICE_LABELS.get(name, name.replace("_", " ").capitalize())


def service_colour(code: int) -> str:
    """Return the colour services of a stored service-type code are drawn in."""
    return SERVICE_COLOURS[(code - 1) % len(SERVICE_COLOURS)]


def _rounded(geometry: BaseGeometry) -> dict[str, Any]:
    """Return the GeoJSON geometry of ``geometry`` with coordinates rounded."""
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    return dict(shapely.geometry.mapping(rounded))


def _collection(features: list[dict[str, Any]]) -> GeoJSON:
    return {"type": "FeatureCollection", "features": features}


def geo_feature(geometry: BaseGeometry, properties: dict[str, Any]) -> dict[str, Any]:
    """Return a GeoJSON feature with the geometry's coordinates rounded."""
    return {"type": "Feature", "geometry": _rounded(geometry), "properties": properties}


def _label_point(geometry: BaseGeometry) -> tuple[BaseGeometry, float]:
    """Return a point well inside ``geometry``'s largest part, and that part's size in degrees."""
    parts = list(getattr(geometry, "geoms", [geometry]))
    largest = max(parts, key=lambda part: part.area)
    try:
        point = shapely.ops.polylabel(largest, tolerance=0.0005)
    except (ValueError, shapely.errors.GEOSException):  # pragma: no cover - degenerate shapes
        point = largest.representative_point()
    return point, math.sqrt(largest.area)


def label_zoom(name: str, size: float) -> int:
    """Return the zoom level from which a district ``size`` degrees across has room for its name.

    At zoom ``z`` a degree is ``256 * 2**z / 360`` pixels wide; a name takes about 7 pixels a
    letter.

    Examples
    --------
    >>> label_zoom("Lima", 0.1), label_zoom("San Juan de Lurigancho", 0.02)
    (9, 14)
    """
    if size <= 0:
        return LABEL_MAX_ZOOM
    pixels = 7 * len(name) + 6
    zoom = math.ceil(math.log2(pixels * 360 / (256 * size)))
    return min(max(zoom, LABEL_MIN_ZOOM), LABEL_MAX_ZOOM)


def district_layers(connection: Connection) -> tuple[GeoJSON, GeoJSON]:
    """Return the district outlines (simplified) and one label point per district.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.

    Returns
    -------
    outlines : GeoJSON
        Polygons with properties ``id``, ``name``, ``population``, ``tip`` and ``style``.
    labels : GeoJSON
        Points with properties ``name`` and ``zoom`` (from which the name fits the district).
    """
    d = store.districts.c
    outlines: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    rows = connection.execute(sa.select(d.id, d.name, d.population, d.geometry).order_by(d.id))
    for district_id, name, population, wkb in rows:
        geometry = shapely.from_wkb(wkb)
        simple = shapely.simplify(geometry, DISTRICT_SIMPLIFY_TOLERANCE, preserve_topology=True)
        people = None if population is None or math.isnan(population) else round(population)
        tip = name if people is None else f"{name}\npopulation {people:,}"
        style = {"color": "#4a4a4a", "weight": 1.2, "fillColor": "#ffffff", "fillOpacity": 0.75}
        outlines.append(
            geo_feature(
                simple,
                {"id": district_id, "name": name, "population": people, "tip": tip, "style": style},
            )
        )
        point, size = _label_point(geometry)
        labels.append(geo_feature(point, {"name": name, "zoom": label_zoom(name, size)}))
    return _collection(outlines), _collection(labels)


def service_layers(connection: Connection) -> tuple[GeoJSON, GeoJSON]:
    """Return public services as points, and the cells of all other services.

    A service is drawn at its point only if it is not sensitive and has one; a sensitive service
    or one without a point is drawn only as its H3 cell, and a sensitive service's name is never
    shown. The name and point of a sensitive service are not even read from the store.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.

    Returns
    -------
    points : GeoJSON
        Points with properties ``service_type`` (stored code), ``tip`` and ``style``.
    cells : GeoJSON
        One polygon per cell, properties ``services`` (how many), ``tip`` and ``style``.
    """
    s = store.services.c
    # a sensitive service's name and point stay in the store
    name = sa.case((s.sensitive, sa.null()), else_=s.name)
    location = sa.case((s.sensitive, sa.null()), else_=s.location)
    query = sa.select(name, s.service_type, s.cell, location, s.sensitive).order_by(s.id)
    points: list[dict[str, Any]] = []
    in_cells: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
    for name, code, cell, wkb, sensitive in connection.execute(query):
        if wkb is not None and not sensitive:
            style = {
                "radius": 4,
                "color": "#ffffff",
                "weight": 0.8,
                "fillColor": service_colour(code),
                "fillOpacity": 0.95,
            }
            props = {"service_type": code, "tip": f"{name}\n{service_label(code)}", "style": style}
            points.append(geo_feature(shapely.from_wkb(wkb), props))
        else:
            in_cells[int(cell)].append((code, None if sensitive else name))
    cells: list[dict[str, Any]] = []
    cell_ids = sorted(in_cells)
    for cell, polygon in zip(cell_ids, cell_polygons(cell_ids), strict=True):
        held = in_cells[cell]
        codes = {code for code, _ in held}
        colour = service_colour(next(iter(codes))) if len(codes) == 1 else MIXED_SERVICES_COLOUR
        lines = [
            f"{service_label(code)}: {name}" if name else f"{service_label(code)} (sensitive)"
            for code, name in sorted(held, key=lambda item: (item[0], item[1] or ""))
        ]
        heading = f"{len(held)} service{'s' if len(held) != 1 else ''} in this cell"
        style = {
            "color": colour,
            "weight": 2,
            "dashArray": "4 3",
            "fillColor": colour,
            "fillOpacity": 0.25,
        }
        tip = "\n".join([heading, *lines])
        cells.append(geo_feature(polygon, {"services": len(held), "tip": tip, "style": style}))
    return _collection(points), _collection(cells)


def visit_breaks(counts: Sequence[int], classes: int = len(VISIT_COLOURS)) -> tuple[int, ...]:
    """Return the lower bound of each class of visit counts: round quantiles, starting at 1.

    Examples
    --------
    >>> visit_breaks([1, 3, 8, 20, 40, 90, 300])
    (1, 4, 12, 32, 80)
    >>> visit_breaks([])
    (1,)
    """
    if not counts:
        return (1,)
    quantiles = np.quantile(np.asarray(counts, dtype=float), np.linspace(0, 1, classes + 1)[1:-1])
    breaks = {1} | {_round_down(float(value)) for value in quantiles}
    return tuple(sorted(breaks))[:classes]


def _round_down(value: float) -> int:
    """Return ``value`` rounded down to two significant digits (at least 1)."""
    if value < 10:
        return max(1, math.floor(value))
    step = 10 ** (math.floor(math.log10(value)) - 1)
    return int(value // step * step)


def visit_class(count: int, breaks: Sequence[int]) -> int:
    """Return the index of the class ``count`` visits fall in.

    Examples
    --------
    >>> visit_class(1, (1, 5, 10)), visit_class(7, (1, 5, 10)), visit_class(900, (1, 5, 10))
    (0, 1, 2)
    """
    return max(index for index, low in enumerate(breaks) if count >= low)


def visited_cell_layer(connection: Connection) -> tuple[GeoJSON, tuple[int, ...]]:
    """Return the cells with visits, shaded by how many visits each had, and the class breaks.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.

    Returns
    -------
    cells : GeoJSON
        One polygon per visited cell, properties ``visits``, ``tip`` and ``style``.
    breaks : tuple of int
        Lower bound of each shading class (see :func:`visit_breaks`).
    """
    v = store.visits.c
    query = (
        sa.select(v.cell, sa.func.count().label("visits"))
        .where(v.cell.is_not(None))
        .group_by(v.cell)
        .order_by(v.cell)
    )
    rows = [(int(cell), int(count)) for cell, count in connection.execute(query)]
    breaks = visit_breaks([count for _, count in rows])
    polygons = cell_polygons([cell for cell, _ in rows])
    features = []
    for (_, count), polygon in zip(rows, polygons, strict=True):
        colour = VISIT_COLOURS[visit_class(count, breaks)]
        style = {"color": colour, "weight": 0.8, "fillColor": colour, "fillOpacity": 0.75}
        tip = f"{count:,} visit{'s' if count != 1 else ''} in this cell"
        features.append(geo_feature(polygon, {"visits": count, "tip": tip, "style": style}))
    return _collection(features), breaks


def layer_bounds(*layers: GeoJSON) -> tuple[float, float, float, float] | None:
    """Return the bounds (min lon, min lat, max lon, max lat) of GeoJSON layers, if any."""
    geometries = [
        shapely.geometry.shape(feature["geometry"])
        for layer in layers
        for feature in layer["features"]
    ]
    if not geometries:
        return None
    min_x, min_y, max_x, max_y = shapely.total_bounds(geometries)
    return float(min_x), float(min_y), float(max_x), float(max_y)


def overview_layers(workspace: Workspace) -> OverviewLayers:
    """Read everything the overview map draws from ``workspace``'s store.

    Parameters
    ----------
    workspace : Workspace
        An opened workspace.

    Returns
    -------
    OverviewLayers
        Plain GeoJSON data; no coordinate of a person, and no point of a sensitive service.
    """
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
        points, service_cells = service_layers(connection)
        visited, breaks = visited_cell_layer(connection)
    return OverviewLayers(
        districts=outlines,
        district_labels=labels,
        service_points=points,
        service_cells=service_cells,
        visited_cells=visited,
        visit_breaks=breaks,
        bounds=layer_bounds(outlines, points, service_cells, visited),
        focus=layer_bounds(visited) or layer_bounds(outlines, points, service_cells),
    )


def basemap_from_env(environ: dict[str, str] | None = None) -> tuple[str, str] | None:
    """Return the optional basemap's tile URL and attribution, or ``None`` (the default).

    A basemap is off unless ``OUTREACH_MAP_BASEMAP_URL`` holds a tile URL template: its tile
    server then learns which part of the area each user looks at.

    Examples
    --------
    >>> basemap_from_env({}) is None
    True
    >>> basemap_from_env({"OUTREACH_MAP_BASEMAP_URL": "https://t.example.org/{z}/{x}/{y}.png"})
    ('https://t.example.org/{z}/{x}/{y}.png', 'Tiles: t.example.org')
    """
    env = os.environ if environ is None else environ
    url = env.get(BASEMAP_ENV, "").strip()
    if not url:
        return None
    attribution = env.get(BASEMAP_ATTRIBUTION_ENV, "").strip()
    return url, attribution or f"Tiles: {urlsplit(url).hostname or url}"


TOOLTIP_JS = JsCode(
    """function (feature, layer) {
        var tip = document.createElement("div");
        tip.className = "om-tip";
        tip.textContent = feature.properties.tip;
        layer.bindTooltip(tip, {sticky: true});
    }"""
)
_CIRCLE = JsCode(
    """function (feature, latlng) {
        return L.circleMarker(latlng, feature.properties.style);
    }"""
)
LABEL_JS = JsCode(
    """function (feature, latlng) {
        var text = document.createElement("span");
        text.textContent = feature.properties.name;
        return L.marker(latlng, {
            interactive: false,
            keyboard: false,
            icon: L.divIcon({
                className: "om-label om-z" + feature.properties.zoom,
                html: text,
                iconSize: null,
            }),
        });
    }"""
)

_STYLE = """
.leaflet-container { background: #e9ecef; font-family: "Source Sans Pro", sans-serif; }
.om-label { pointer-events: none; }
.om-label span {
  display: block; transform: translate(-50%, -50%); white-space: nowrap;
  font-size: 11px; font-weight: 600; color: #333;
  text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff;
}
.om-tip { white-space: pre-line; }
.om-legend {
  background: rgba(255, 255, 255, 0.92); padding: 8px 10px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); font-size: 12px; line-height: 18px; color: #222;
  max-height: 520px; overflow-y: auto;
}
.om-legend h4 { margin: 4px 0 2px; font-size: 12px; }
.om-legend h4:first-child { margin-top: 0; }
.om-legend i {
  display: inline-block; width: 14px; height: 12px; margin-right: 6px; vertical-align: -1px;
}
.om-legend i.om-dot { width: 10px; height: 10px; border-radius: 50%; margin: 0 8px 0 2px; }
.om-legend i.om-cell { border: 2px dashed #555; background: rgba(85, 85, 85, 0.25); }
/* a phone: a smaller legend that leaves the map visible */
@media (max-width: 480px) {
  .om-legend { font-size: 11px; line-height: 15px; padding: 5px 7px; max-height: 45vh; }
  .om-legend i { width: 11px; height: 10px; margin-right: 4px; }
}
/* the device's dark mode (a phone at night): dark ground, light outlines and names */
@media (prefers-color-scheme: dark) {
  .leaflet-container { background: #0e1117; }
  .leaflet-overlay-pane path[fill="#ffffff"] { fill: #262730; }
  .leaflet-overlay-pane path[stroke="#4a4a4a"] { stroke: #9aa0a6; }
  .om-label span { color: #e8eaed; text-shadow: 0 0 3px #000, 0 0 3px #000, 0 0 2px #000; }
  .om-legend { background: rgba(38, 39, 48, 0.94); color: #e8eaed; }
  .leaflet-control-scale-line { background: rgba(38, 39, 48, 0.8); color: #e8eaed; }
  .leaflet-bar a { background: #262730; color: #e8eaed; }
  .leaflet-control-attribution { background: rgba(38, 39, 48, 0.8) !important; color: #bbb; }
}
"""


class MapOverlay(MacroElement):  # type: ignore[misc]
    """The maps' styles, a legend, district names shown once they fit, dots sized by zoom."""

    _template = Template(
        r"""
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            (function (map) {
                var legend = L.control({position: "bottomright"});
                legend.onAdd = function () {
                    var div = L.DomUtil.create("div", "om-legend");
                    div.innerHTML = {{ this.legend_html|tojson }};
                    L.DomEvent.disableScrollPropagation(div);
                    return div;
                };
                legend.addTo(map);
                function labels() {
                    var zoom = Math.floor(map.getZoom());
                    zoom = Math.min(Math.max(zoom, {{ this.low|tojson }}), {{ this.high|tojson }});
                    var box = map.getContainer();
                    box.className = box.className.replace(/\bom-zoom-\d+\b/g, "").trim();
                    box.classList.add("om-zoom-" + zoom);
                }
                function dots() {
                    var zoom = map.getZoom();
                    var radius = zoom < 11 ? 3 : zoom < 13 ? 4 : 6;
                    map.eachLayer(function (layer) {
                        if (layer instanceof L.CircleMarker) { layer.setRadius(radius); }
                    });
                }
                map.on("zoomend", labels);
                map.on("zoomend", dots);
                labels();
                dots();
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, legend_html: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "OutreachOverlay"
        self.low = LABEL_MIN_ZOOM - 1
        self.high = LABEL_MAX_ZOOM
        # below its zoom, a district's name is hidden: it would not fit inside the district
        hide = [
            ", ".join(
                f".om-zoom-{zoom} .om-z{later}" for later in range(zoom + 1, LABEL_MAX_ZOOM + 1)
            )
            + " { display: none; }"
            for zoom in range(self.low, self.high)
        ]
        self.css = _STYLE + "\n".join(hide)
        self.legend_html = legend_html


def legend_html(layers: OverviewLayers) -> str:
    """Return the legend's HTML: visit classes, service types present, district outline."""
    parts = ["<h4>Visits per cell</h4>"]
    breaks = layers.visit_breaks
    if not layers.visited_cells["features"]:
        parts.append("<div>no visits with a location yet</div>")
    for index, low in enumerate(breaks):
        high = breaks[index + 1] - 1 if index + 1 < len(breaks) else None
        text = f"{low:,}+" if high is None else (f"{low:,}" if high == low else f"{low:,}–{high:,}")
        parts.append(f'<div><i style="background:{VISIT_COLOURS[index]}"></i>{text}</div>')
    codes = sorted({f["properties"]["service_type"] for f in layers.service_points["features"]})
    if codes or layers.service_cells["features"]:
        parts.append("<h4>Services</h4>")
    for code in codes:
        parts.append(
            f'<div><i class="om-dot" style="background:{service_colour(code)}"></i>'
            f"{html.escape(service_label(code))}</div>"
        )
    if layers.service_cells["features"]:
        parts.append('<div><i class="om-cell"></i>cell only (sensitive or no exact place)</div>')
    parts.append(
        '<h4>Area</h4><div><i style="background:#fff;border:1.5px solid #4a4a4a"></i>district</div>'
    )
    return "".join(parts)


def use_local_assets(m: folium.Map, assets_url: str = DEFAULT_ASSETS_URL) -> folium.Map:
    """Make ``m`` load only Leaflet, from ``assets_url``, instead of folium's CDN defaults.

    Folium links Leaflet, jQuery, Bootstrap, Font Awesome and Awesome Markers from CDNs; the
    overview map needs only Leaflet, which the app serves itself, so the map works offline. The
    links are set on the map object, never on folium's shared class lists.

    Parameters
    ----------
    m : folium.Map
        The map to change.
    assets_url : str
        URL of the folder holding ``leaflet.js`` and ``leaflet.css``.

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    base = assets_url.rstrip("/")
    m.default_js = [("leaflet", f"{base}/leaflet.js")]
    m.default_css = [("leaflet_css", f"{base}/leaflet.css")]
    return m


#: Bounds (min lon, min lat, max lon, max lat) of a map with nothing to show.
WORLD = (-180.0, -60.0, 180.0, 75.0)


def base_map(
    bounds: tuple[float, float, float, float],
    *,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return an empty map centred on ``bounds``: vendored Leaflet only, tiles only if asked."""
    centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    m = folium.Map(location=centre, zoom_start=10, tiles=None, control_scale=True, zoom_snap=0.5)
    use_local_assets(m, assets_url)
    if basemap is not None:
        url, attribution = basemap
        folium.TileLayer(url, attr=attribution, name="Basemap", max_zoom=19).add_to(m)
    return m


def overview_map(
    layers: OverviewLayers,
    *,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the overview map: districts, visited cells, services, a legend; no tiles by default.

    The map opens on the visited cells (on the whole area if there are none).

    Parameters
    ----------
    layers : OverviewLayers
        What to draw, from :func:`overview_layers`.
    assets_url : str
        Where the browser finds the vendored Leaflet (see :func:`use_local_assets`).
    basemap : tuple of str, optional
        Tile URL template and attribution of a basemap (see :func:`basemap_from_env`); none by
        default, so the map makes no request outside the app.

    Returns
    -------
    folium.Map
        A map whose only scripts and styles are Leaflet's, from ``assets_url``.
    """
    bounds = layers.focus or layers.bounds or WORLD
    m = base_map(bounds, assets_url=assets_url, basemap=basemap)
    folium.GeoJson(
        layers.districts, name="Districts", on_each_feature=TOOLTIP_JS, smooth_factor=0.5
    ).add_to(m)
    folium.GeoJson(layers.visited_cells, name="Visited cells", on_each_feature=TOOLTIP_JS).add_to(m)
    folium.GeoJson(
        layers.service_cells, name="Services (cell only)", on_each_feature=TOOLTIP_JS
    ).add_to(m)
    folium.GeoJson(
        layers.service_points,
        name="Services",
        on_each_feature=TOOLTIP_JS,
        point_to_layer=_CIRCLE,
    ).add_to(m)
    folium.GeoJson(layers.district_labels, name="District names", point_to_layer=LABEL_JS).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    MapOverlay(legend_html(layers)).add_to(m)
    if layers.focus is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(24, 24))
    return m
