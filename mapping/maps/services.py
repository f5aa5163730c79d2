"""The services map: one layer per service type, icons by type, sensitive services as cells.

Icons are inline SVG in a Leaflet ``divIcon`` (no icon font or image from anywhere), each
type's drawn once per layer; a feature holds only its tooltip (and a cell's style), with
coordinates rounded to 5 decimals. A sensitive service is drawn as its cell and never named.
Icons close together are grouped into a numbered cluster (the vendored leaflet.markercluster);
cells never are: a cell is an area, not a point.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import folium
import polars as pl
import shapely
from branca.element import Element, Figure
from folium.plugins import MarkerCluster
from folium.utilities import JsCode

from mapping.cells import cell_polygons
from mapping.hours import hours_for_reading
from mapping.maps.base import (
    DEFAULT_ASSETS_URL,
    MARKERCLUSTER_URL,
    TOOLTIP_JS,
    GeoJSON,
    collection,
    geo_feature,
    layer_bounds,
)
from mapping.maps.coverage import cells_map
from mapping.vocab import SERVICE_TYPES

#: Colour and shape of each service type's icon. Colours are Okabe-Ito (plus one grey), which
#: stay apart for the common colour-vision deficiencies, and no two types share both colour
#: and shape, so each type can also be told in grey.
SERVICE_ICONS: dict[str, tuple[str, str]] = {
    "drop_in_centre": ("#E69F00", "square"),
    "hiv_testing": ("#0072B2", "circle"),
    "sti_clinic": ("#009E73", "diamond"),
    "hiv_treatment": ("#CC79A7", "hexagon"),
    "prep_pep": ("#56B4E9", "triangle"),
    "harm_reduction": ("#F0E442", "circle"),
    "legal_aid": ("#000000", "square"),
    "violence_response": ("#D55E00", "triangle"),
    "shelter": ("#E69F00", "house"),
    "economic_empowerment": ("#009E73", "hexagon"),
    "condom_outlet": ("#999999", "circle"),
}
_SHAPES = {
    "circle": '<circle cx="10" cy="10" r="7.5"/>',
    "square": '<rect x="3" y="3" width="14" height="14" rx="1.5"/>',
    "diamond": '<path d="M10 1.5 18.5 10 10 18.5 1.5 10Z"/>',
    "triangle": '<path d="M10 2 18.8 17.5H1.2Z"/>',
    "house": '<path d="M10 1.8 18.5 9.2V18H1.5V9.2Z"/>',
    "hexagon": '<path d="M5.6 2.4H14.4L18.8 10 14.4 17.6H5.6L1.2 10Z"/>',
}
#: Icon size on the map, in pixels.
ICON_PIXELS = 20
#: Outline of the cell a click picked (not saved yet).
PICKED_COLOUR = "#000000"
#: Half the width, in degrees (about 1.5 km), of the view around a picked cell.
PICKED_SPAN = 0.014
#: Icons shrink when the map shows the whole area (the overlay marks the zoom on the map's
#: box), tooltips keep their lines whole, and a long legend of types takes two columns.
_CSS = """
.om-service { background: none; border: none; }
.om-service svg { filter: drop-shadow(0 0 1px #fff); }
.om-zoom-8 .om-service svg, .om-zoom-9 .om-service svg { transform: scale(0.7); }
.om-zoom-10 .om-service svg { transform: scale(0.8); }
.om-zoom-11 .om-service svg { transform: scale(0.9); }
.leaflet-tooltip .om-tip { width: max-content; max-width: 320px; }
.om-types { display: grid; grid-template-columns: auto auto; column-gap: 12px; }
.om-types div { display: flex; align-items: center; gap: 5px; }
/* clusters: a dark disc with a white number and a white ring on a light map; light with a dark
   ring in dark mode; never one of the service types' colours */
.om-cluster { background: none; }
.om-cluster div {
  display: flex; align-items: center; justify-content: center; width: 100%; height: 100%;
  margin: 0; border-radius: 50%; background: #343a40; color: #fff;
  font: bold 12px "Source Sans Pro", sans-serif;
  box-shadow: 0 0 0 2px #fff, 0 1px 4px 2px rgba(0, 0, 0, 0.45);
}
.om-cluster-l div { font-size: 13px; }
.om-legend i.om-cluster-key {
  width: 16px; height: 16px; border-radius: 50%; background: #343a40; color: #fff;
  font: bold 9px/16px sans-serif; font-style: normal; text-align: center;
}
@media (prefers-color-scheme: dark) {
  .om-cluster div, .om-legend i.om-cluster-key { background: #f1f3f4; color: #111; }
  .om-cluster div { box-shadow: 0 0 0 2px #0e1117, 0 1px 4px 2px rgba(0, 0, 0, 0.6); }
}
"""
#: Icons closer than this, in pixels, on the screen are grouped into one cluster ...
CLUSTER_RADIUS = 40
#: ... up to this zoom level, from which every icon is drawn on its own.
CLUSTER_UNTIL_ZOOM = 16
#: The services map's closest zoom (a street's buildings), which clustering needs to know.
MAX_ZOOM = 19
#: Draws a cluster as a disc with the number of services in it (a number only: no HTML from
#: data); bigger discs for bigger clusters.
CLUSTER_ICON_JS = """function (cluster) {
    var count = cluster.getChildCount();
    var size = count < 10 ? "s" : count < 100 ? "m" : "l";
    var pixels = {s: 28, m: 34, l: 40}[size];
    return L.divIcon({
        html: "<div><span>" + count + "</span></div>",
        className: "marker-cluster om-cluster om-cluster-" + size,
        iconSize: L.point(pixels, pixels),
    });
}"""
_CELL_STYLE = {"color": "#1a1a1a", "weight": 1.2, "dashArray": "3 3", "fillOpacity": 0.75}


def icon_svg(service_type: str, *, pixels: int = ICON_PIXELS) -> str:
    """Return the inline SVG icon of a service type: its shape in its colour, outlined dark.

    Examples
    --------
    >>> icon_svg("hiv_testing", pixels=14)[:52]
    '<svg width="14" height="14" viewBox="0 0 20 20" fill'
    """
    colour, shape = SERVICE_ICONS[service_type]
    return (
        f'<svg width="{pixels}" height="{pixels}" viewBox="0 0 20 20" fill="{colour}" '
        'stroke="#1a1a1a" stroke-width="1.2" style="display:block;overflow:visible">'
        f"{_SHAPES[shape]}</svg>"
    )


def _marker_js(service_type: str) -> JsCode:
    """Return the ``pointToLayer`` function drawing a type's points as its icon."""
    half = ICON_PIXELS // 2
    return JsCode(
        f"""function (feature, latlng) {{
            return L.marker(latlng, {{
                keyboard: false,
                riseOnHover: true,
                icon: L.divIcon({{
                    className: "om-service",
                    html: {json.dumps(icon_svg(service_type))},
                    iconSize: [{ICON_PIXELS}, {ICON_PIXELS}],
                    iconAnchor: [{half}, {half}],
                }}),
            }});
        }}"""
    )


def _tip(row: Mapping[str, Any], t: Callable[..., str], language: str) -> str:
    """Return a service's tooltip: name (never a sensitive one's), type, hours, attributes."""
    kind = t(f"service_types.{row['service_type']}")
    hours = row["opening_hours"]
    lines = [
        t("services_page.tip_sensitive", id=row["id"], type=kind)
        if row["sensitive"]
        else f"{row['name']}\n{kind}",
        t("services_page.tip_hours", hours=hours_for_reading(hours, language))
        if hours
        else t("services_page.tip_no_hours"),
    ]
    marks = [t(f"services_page.tip_{flag}") for flag in ("friendly", "free") if row[flag]]
    if marks:
        lines.append(" · ".join(marks))
    if not row["sensitive"] and row["latitude"] is None:
        lines.append(t("services_page.tip_no_point"))
    return "\n".join(lines)


def type_layers(
    services: pl.DataFrame, t: Callable[..., str], *, language: str
) -> list[tuple[str, GeoJSON]]:
    """Return one GeoJSON layer per service type present, as ``(type, layer)`` pairs.

    ``services`` is a frame of :func:`mapping.registries.services.read_services`. A public service
    with a point is a Point feature (drawn as its type's icon); a sensitive service, or one
    without a point, is its cell's outline, dashed and filled in the type's colour: one polygon
    per cell, its tooltip listing each of the type's services there.
    """
    layers = []
    for service_type in SERVICE_TYPES:
        rows = services.filter(pl.col("service_type") == service_type)
        if rows.height == 0:
            continue
        points: list[dict[str, Any]] = []
        in_cells: dict[int, list[str]] = {}
        for row in rows.iter_rows(named=True):
            tip = _tip(row, t, language)
            if row["latitude"] is not None and not row["sensitive"]:
                point = shapely.Point(row["longitude"], row["latitude"])
                points.append(geo_feature(point, {"tip": tip}))
            else:
                in_cells.setdefault(row["cell"], []).append(tip)
        style = {**_CELL_STYLE, "fillColor": SERVICE_ICONS[service_type][0]}
        cells = sorted(in_cells)
        polygons = [
            geo_feature(polygon, {"tip": "\n\n".join(in_cells[cell]), "style": style})
            for cell, polygon in zip(cells, cell_polygons(cells), strict=True)
        ]
        # cells first, so that icons are drawn over them
        layers.append((service_type, {"type": "FeatureCollection", "features": polygons + points}))
    return layers


def picked_layer(cell: int, t: Callable[..., str]) -> GeoJSON:
    """Return the outline of the cell a click picked for a service not saved yet."""
    style = {"color": PICKED_COLOUR, "weight": 4, "fillColor": "#ffffff", "fillOpacity": 0.35}
    feature = geo_feature(
        cell_polygons([cell])[0], {"tip": t("services_page.legend_picked"), "style": style}
    )
    return {"type": "FeatureCollection", "features": [feature]}


def services_legend(
    t: Callable[..., str],
    types: Iterable[str],
    *,
    cells: bool,
    picked: bool = False,
    clusters: bool = False,
) -> str:
    """Return the legend's HTML: each type's icon, clusters, cells, the picked cell, districts."""
    wanted = set(types)
    shown = [name for name in SERVICE_TYPES if name in wanted]
    parts = [f"<h4>{html.escape(t('services_page.legend_title'))}</h4>"]
    if not shown:
        parts.append(f"<div>{html.escape(t('services_page.legend_none'))}</div>")
    if shown:
        parts.append('<div class="om-types">' if len(shown) > 5 else "<div>")
        parts += [
            '<div style="display:flex;align-items:center;gap:6px">'
            f"{icon_svg(name, pixels=13)}{html.escape(t(f'service_types.{name}'))}</div>"
            for name in shown
        ]
        parts.append("</div>")
    if clusters:
        parts.append(
            '<div><i class="om-cluster-key">3</i>'
            f"{html.escape(t('services_page.legend_cluster'))}</div>"
        )
    if cells:
        parts.append(
            f'<div><i class="om-cell"></i>{html.escape(t("services_page.legend_cell"))}</div>'
        )
    if picked:
        parts.append(
            f'<div><i style="border:3px solid {PICKED_COLOUR};background:#fff"></i>'
            f"{html.escape(t('services_page.legend_picked'))}</div>"
        )
    parts.append(
        '<div><i style="background:#fff;border:1.5px solid #4a4a4a"></i>'
        f"{html.escape(t('services_page.legend_district'))}</div>"
    )
    return "".join(parts)


def service_clusters(
    layers: Iterable[tuple[str, GeoJSON]], *, cluster_url: str = MARKERCLUSTER_URL
) -> MarkerCluster:
    """Return one cluster group holding every type's icons, loading leaflet.markercluster locally.

    ``layers`` are ``(type, layer)`` pairs of Point features (:func:`type_layers`' points);
    each type keeps its own icon and tooltip, and icons of all types close together on the
    screen become one numbered disc until :data:`CLUSTER_UNTIL_ZOOM`. folium's CDN links to
    the plugin are replaced, on this object only, by the copy the app serves at
    ``cluster_url`` (its script and ``MarkerCluster.css``; the default theme is not used).
    """
    group = MarkerCluster(  # type: ignore[no-untyped-call]
        name="service icons",
        control=False,
        icon_create_function=CLUSTER_ICON_JS,
        showCoverageOnHover=False,
        spiderfyOnMaxZoom=False,
        maxClusterRadius=CLUSTER_RADIUS,
        disableClusteringAtZoom=CLUSTER_UNTIL_ZOOM,
    )
    base = cluster_url.rstrip("/")
    group.default_js = [("markerclusterjs", f"{base}/leaflet.markercluster.js")]
    group.default_css = [("markerclustercss", f"{base}/MarkerCluster.css")]
    for service_type, layer in layers:
        folium.GeoJson(
            layer,
            name=service_type,
            on_each_feature=TOOLTIP_JS,
            point_to_layer=_marker_js(service_type),
        ).add_to(group)
    return group


def services_map(
    services: pl.DataFrame,
    outlines: GeoJSON,
    labels: GeoJSON,
    t: Callable[..., str],
    *,
    language: str,
    picked: int | None = None,
    assets_url: str = DEFAULT_ASSETS_URL,
    cluster_url: str = MARKERCLUSTER_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the services map: district outlines, cells, clustered icons, a legend; no tiles.

    The map opens on the whole area (its districts), so that filtering does not move it; or,
    when ``picked`` (the cell a click chose for a service being added or moved, outlined in
    black) is given, on the streets around that cell. Public services' icons are clustered
    (:func:`service_clusters`); cells, each type's in its own layer, are drawn as they are. The
    legend folds into its title, folded at first on a phone. Like every map of the app it
    loads only vendored scripts unless a basemap is set.
    """
    cell_layers: list[tuple[str, GeoJSON]] = []
    point_layers: list[tuple[str, GeoJSON]] = []
    typed = type_layers(services, t, language=language)
    for kind, layer in typed:
        polygons = [f for f in layer["features"] if f["geometry"]["type"] != "Point"]
        points = [f for f in layer["features"] if f["geometry"]["type"] == "Point"]
        if polygons:
            cell_layers.append((t(f"service_types.{kind}"), collection(polygons)))
        if points:
            point_layers.append((kind, collection(points)))
    focus = layer_bounds(outlines)
    legend = services_legend(
        t,
        [kind for kind, _ in typed],
        cells=bool(cell_layers),
        picked=picked is not None,
        clusters=bool(point_layers),
    )
    if picked is not None:
        cell_layers.append((t("services_page.legend_picked"), picked_layer(picked, t)))
        lng, lat = cell_polygons([picked])[0].centroid.coords[0]
        focus = (lng - PICKED_SPAN, lat - PICKED_SPAN, lng + PICKED_SPAN, lat + PICKED_SPAN)
    m = cells_map(
        outlines,
        labels,
        cell_layers,
        legend,
        language=language,
        assets_url=assets_url,
        basemap=basemap,
        focus=focus or layer_bounds(*(layer for _, layer in point_layers)),
        fold_legend=True,
    )
    if point_layers:
        m.options["max_zoom"] = MAX_ZOOM  # leaflet.markercluster refuses a map without one
        service_clusters(point_layers, cluster_url=cluster_url).add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure), "a folium map's root is its figure"
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="om_services")
    return m
