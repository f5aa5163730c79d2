"""The base of every map: vendored Leaflet, an optional basemap, GeoJSON, districts and names.

District outlines and label points are read from the store as small GeoJSON; :func:`base_map`
and :class:`MapOverlay` give every map the same offline Leaflet, styles, tooltips and legend.
The overview map's own layers are in :mod:`mapping.maps.overview`; the workspace's offline
basemap (a PMTiles file) in :mod:`mapping.maps.basemap`.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
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

from mapping.i18n import translator
from mapping.maps.basemap import add_pmtiles_basemap, local_basemap
from mapping.storage import store
from mapping.storage.workspace import Workspace

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
#: Version of leaflet-gesture-handling vendored in ``static/vendor``: on a touch screen one
#: finger scrolls the page over a map and two move the map; on a desktop, Ctrl + wheel zooms.
GESTURE_HANDLING_VERSION = "1.2.2"
#: Where the app serves it, relative to a component's page (like :data:`DEFAULT_ASSETS_URL`).
GESTURE_HANDLING_URL = (
    f"../../app/static/vendor/leaflet-gesture-handling-{GESTURE_HANDLING_VERSION}"
)
#: Version of leaflet.markercluster vendored in ``static/vendor``: the services map groups
#: its icons into numbered clusters.
MARKERCLUSTER_VERSION = "1.5.3"
#: Where the app serves it, relative to a component's page (like :data:`DEFAULT_ASSETS_URL`).
MARKERCLUSTER_URL = f"../../app/static/vendor/leaflet.markercluster-{MARKERCLUSTER_VERSION}"
#: A folding legend (:class:`MapOverlay`) opens folded on a map narrower than this, in pixels
#: (a phone's; the styles' phone layout starts at the same width).
FOLD_BELOW = 480

#: Decimal places kept in coordinates (1e-5 degrees is about a metre).
COORDINATE_DECIMALS = 5
#: Douglas-Peucker tolerance, in degrees (about 30 m), applied to district outlines.
DISTRICT_SIMPLIFY_TOLERANCE = 0.0003

#: District names are shown from this zoom level on at the earliest (small ones later) ...
LABEL_MIN_ZOOM = 9
#: ... and at the latest.
LABEL_MAX_ZOOM = 15


def _rounded(geometry: BaseGeometry) -> dict[str, Any]:
    """Return the GeoJSON geometry of ``geometry`` with coordinates rounded."""
    rounded = shapely.transform(geometry, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    return dict(shapely.geometry.mapping(rounded))


def collection(features: list[dict[str, Any]]) -> GeoJSON:
    """Return a GeoJSON FeatureCollection of ``features``."""
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
    return collection(outlines), collection(labels)


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


def districts_near(
    outlines: GeoJSON, labels: GeoJSON, bounds: tuple[float, float, float, float] | None
) -> tuple[GeoJSON, GeoJSON]:
    """Return the district outlines whose extent meets ``bounds`` grown, and their names.

    ``bounds`` (min lon, min lat, max lon, max lat) grows by half its width and height, and by
    at least 0.02° (about 2 km), on each side; ``None`` keeps every district. A phone's map of a
    team's cells then carries the districts around them, not the whole area's outlines (three
    quarters of My area's message in the Lima demo). ``outlines`` and ``labels`` are
    :func:`district_layers`' (one label per outline, in the same order): a kept district keeps
    its name wherever its label point lies.

    Examples
    --------
    >>> def square(x, y):
    ...     ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    ...     return {"geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": {}}
    >>> layer = {"type": "FeatureCollection", "features": [square(100, 10), square(104, 10)]}
    >>> len(districts_near(layer, layer, (100.2, 10.2, 100.4, 10.4))[0]["features"])
    1
    >>> len(districts_near(layer, layer, None)[0]["features"])
    2
    """
    if bounds is None or not outlines["features"]:
        return outlines, labels
    near = _near(outlines, bounds)
    return _kept(outlines, near), _kept(labels, near)


def _kept(layer: GeoJSON, keep: list[bool]) -> GeoJSON:
    """Return ``layer`` with the features whose ``keep`` is true (one flag per feature)."""
    return {**layer, "features": [f for f, k in zip(layer["features"], keep, strict=True) if k]}


def _near(layer: GeoJSON, bounds: tuple[float, float, float, float]) -> list[bool]:
    """Return, per feature of ``layer``, whether its extent meets ``bounds`` grown on each side."""
    min_x, min_y, max_x, max_y = bounds
    grow_x = max((max_x - min_x) * 0.5, 0.02)
    grow_y = max((max_y - min_y) * 0.5, 0.02)
    window = shapely.box(min_x - grow_x, min_y - grow_y, max_x + grow_x, max_y + grow_y)
    extents = shapely.envelope([shapely.geometry.shape(f["geometry"]) for f in layer["features"]])
    return [bool(x) for x in shapely.intersects(extents, window)]


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


def basemap_for(
    workspace: Workspace, environ: dict[str, str] | None = None
) -> tuple[str, str] | None:
    """Return the basemap a page's maps draw: the workspace's own file first, else the setting.

    The workspace's ``basemap.pmtiles``, which the app serves itself and whose requests leave no
    trace elsewhere, wins over ``OUTREACH_MAP_BASEMAP_URL`` (:func:`basemap_from_env`), whose
    tile server learns which part of the area each user looks at.

    Returns
    -------
    tuple of str, or None
        The URL and the attribution, as :func:`basemap_from_env` gives them; the URL of a
        PMTiles file ends in ``.pmtiles`` and its attribution is empty (the file gives its own).
    """
    local = local_basemap(workspace)
    if local is not None:
        return local, ""
    return basemap_from_env(environ)


def basemap_origin(url: str) -> str:
    """Return the origin a basemap URL is fetched from, as a Content-Security-Policy names it.

    "" for the app's own file (a relative URL); ``{s}.`` subdomains become ``*.``.

    Examples
    --------
    >>> basemap_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    'https://*.tile.example.org'
    >>> basemap_origin("//tiles.example.org:8443/{z}/{x}/{y}.png")
    'https://tiles.example.org:8443'
    >>> basemap_origin("../../api/basemap.pmtiles")
    ''
    """
    parts = urlsplit(url)
    if not parts.netloc or parts.scheme not in ("", "http", "https"):
        return ""
    host = (parts.hostname or "").replace("{s}.", "*.")
    if not host:
        return ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or 'https'}://{host}{port}"


def is_pmtiles(url: str) -> bool:
    """Say whether a basemap URL names a PMTiles file rather than a ``{z}/{x}/{y}`` template.

    Examples
    --------
    >>> is_pmtiles("../../api/basemap.pmtiles"), is_pmtiles("https://t.example.org/{z}/{x}/{y}.png")
    (True, False)
    """
    return urlsplit(url).path.endswith(".pmtiles") and "{z}" not in url


TOOLTIP_JS = JsCode(
    """function (feature, layer) {
        var tip = document.createElement("div");
        tip.className = "om-tip";
        tip.textContent = feature.properties.tip;
        layer.bindTooltip(tip, {sticky: true});
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

#: The maps' styles (names, legends, the device's dark mode, a basemap's veil): ``maps.css``
_STYLE = (Path(__file__).with_name("maps.css")).read_text(encoding="utf-8")


class MapOverlay(MacroElement):  # type: ignore[misc]
    """The maps' styles, a legend, district names shown once they fit, dots sized by zoom.

    With ``fold``, the legend folds into its title (the legend's leading ``<h4>``) in the
    corner, and opens folded on a map narrower than :data:`FOLD_BELOW` pixels (a phone).
    """

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
                    {%- if this.summary is none %}
                    div.innerHTML = {{ this.legend_html|tojson }};
                    {%- else %}
                    // folded, it is one line in the corner; a tap on it opens the rest
                    var box = L.DomUtil.create("details", "", div);
                    var head = L.DomUtil.create("summary", "", box);
                    head.innerHTML = {{ this.summary|tojson }};
                    L.DomUtil.create("div", "", box).innerHTML = {{ this.legend_html|tojson }};
                    div.classList.add("om-legend-fold");
                    box.open = (map.getSize().x || window.innerWidth) >= {{ this.fold_below }};
                    L.DomEvent.disableClickPropagation(div);
                    {%- endif %}
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

    def __init__(self, legend_html: str, *, fold: bool = False) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "OutreachOverlay"
        # a folding legend: its leading <h4> title becomes the line that opens and folds it
        self.summary: str | None = None
        self.fold_below = FOLD_BELOW
        title = re.match(r"\s*<h4>(.*?)</h4>", legend_html, re.S) if fold else None
        if fold:
            self.summary = title.group(1) if title else "&#9776;"
            legend_html = legend_html[title.end() :] if title else legend_html
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


def use_local_assets(
    m: folium.Map,
    assets_url: str = DEFAULT_ASSETS_URL,
    *,
    gestures_url: str = GESTURE_HANDLING_URL,
) -> folium.Map:
    """Make ``m`` load only the vendored Leaflet and its gesture handling, not folium's CDNs.

    Folium links Leaflet, jQuery, Bootstrap, Font Awesome and Awesome Markers from CDNs; the
    maps need only Leaflet, and the gesture handling that lets one finger scroll the page over
    a map on a phone, both served by the app itself, so the map works offline. The links are
    set on the map object, never on folium's shared class lists; streamlit-folium loads the
    scripts one after the other, in this order, before it draws the map.

    Parameters
    ----------
    m : folium.Map
        The map to change.
    assets_url : str
        URL of the folder holding ``leaflet.js`` and ``leaflet.css``.
    gestures_url : str
        URL of the folder holding ``leaflet-gesture-handling.min.{js,css}``.

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    base = assets_url.rstrip("/")
    gestures = gestures_url.rstrip("/")
    m.default_js = [
        ("leaflet", f"{base}/leaflet.js"),
        ("leaflet_gesture_handling", f"{gestures}/leaflet-gesture-handling.min.js"),
    ]
    m.default_css = [
        ("leaflet_css", f"{base}/leaflet.css"),
        ("leaflet_gesture_handling_css", f"{gestures}/leaflet-gesture-handling.min.css"),
    ]
    return m


def gesture_texts(language: str) -> dict[str, str]:
    """Return the gesture hints of a map in ``language``, as leaflet-gesture-handling takes them.

    ``touch`` shows when one finger touches the map (the finger scrolls the page), ``scroll``
    and ``scrollMac`` when the mouse wheel turns over it without Ctrl (or ⌘ on a Mac).

    Examples
    --------
    >>> gesture_texts("es")["touch"]
    'Use dos dedos para mover el mapa'
    """
    t = translator(language)
    return {
        "touch": t("map.gesture_touch"),
        "scroll": t("map.gesture_scroll"),
        "scrollMac": t("map.gesture_scroll_mac"),
    }


class MouseDrags(MacroElement):  # type: ignore[misc]
    """A mouse over the map drags it, wherever it enters (gesture handling alone misses some).

    leaflet-gesture-handling turns dragging off, and back on when Leaflet fires ``mouseover``
    on the map; Leaflet fires it on the topmost interactive layer instead (a district, a cell),
    so a mouse that enters a map covered by districts could never drag it. A mouse (never a
    finger: one finger must keep scrolling the page) turns dragging on here as it moves over
    the map, and off as it leaves.
    """

    _template = Template(
        r"""
        {% macro script(this, kwargs) %}
            (function (map) {
                var box = map.getContainer();
                box.addEventListener("pointermove", function (event) {
                    if (event.pointerType === "mouse" && !map.dragging.enabled()) {
                        map.dragging.enable();
                    }
                });
                box.addEventListener("pointerleave", function (event) {
                    if (event.pointerType === "mouse" && !map.dragging.moving()) {
                        map.dragging.disable();
                    }
                });
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "MouseDrags"


#: Bounds (min lon, min lat, max lon, max lat) of a map with nothing to show.
WORLD = (-180.0, -60.0, 180.0, 75.0)


def base_map(
    bounds: tuple[float, float, float, float],
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return an empty map centred on ``bounds``: vendored Leaflet only, tiles only if asked.

    ``basemap`` is a URL and its attribution (:func:`basemap_for`): a PMTiles file
    (:func:`is_pmtiles`) is drawn by the vendored pmtiles and protomaps-leaflet scripts, which
    the map then loads (a map without it loads Leaflet alone); a ``{z}/{x}/{y}`` template by
    Leaflet's tile layer.

    On a touch screen one finger scrolls the page past the map and two fingers move it; a
    mouse drags it and Ctrl + wheel zooms it (the wheel alone scrolls the page). A hint in
    ``language`` says so when someone tries the other way.
    """
    centre = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    m = folium.Map(
        location=centre,
        zoom_start=10,
        tiles=None,
        control_scale=True,
        zoom_snap=0.5,
        gesture_handling=True,
        gesture_handling_options={"text": gesture_texts(language), "duration": 1500},
    )
    use_local_assets(m, assets_url)
    MouseDrags().add_to(m)
    if basemap is not None:
        url, attribution = basemap
        if is_pmtiles(url):
            add_pmtiles_basemap(m, url, attribution)
        else:
            folium.TileLayer(url, attr=attribution, name="Basemap", max_zoom=19).add_to(m)
    return m
