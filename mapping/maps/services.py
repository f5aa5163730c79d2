"""The services map: one layer per service type, icons by type, sensitive services as cells.

Icons are inline SVG in a Leaflet ``divIcon`` (no icon font or image from anywhere), each
type's drawn once per layer; a feature holds only its tooltip (and a cell's style), with
coordinates rounded to 5 decimals. A sensitive service is drawn as its cell and never named.
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
from folium.utilities import JsCode

from mapping.cells import cell_polygons
from mapping.hours import hours_for_reading
from mapping.maps.base import DEFAULT_ASSETS_URL, GeoJSON, geo_feature, layer_bounds
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
.om-types { display: grid; grid-template-columns: auto auto; column-gap: 14px; }
.om-types div { display: flex; align-items: center; gap: 6px; }
"""
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
    t: Callable[..., str], types: Iterable[str], *, cells: bool, picked: bool = False
) -> str:
    """Return the legend's HTML: each type's icon, cells, the picked cell, district outlines."""
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


def services_map(
    services: pl.DataFrame,
    outlines: GeoJSON,
    labels: GeoJSON,
    t: Callable[..., str],
    *,
    language: str,
    picked: int | None = None,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the services map: district outlines, one layer per type, a legend; no tiles.

    The map opens on the whole area (its districts), so that filtering does not move it; or,
    when ``picked`` (the cell a click chose for a service being added or moved, outlined in
    black) is given, on the streets around that cell. Like every map of the app it loads only
    the vendored Leaflet unless a basemap is set.
    """
    typed = type_layers(services, t, language=language)
    layers = [(t(f"service_types.{kind}"), layer) for kind, layer in typed]
    markers = {  # a type's icon is written once, in the layer that has points to draw
        t(f"service_types.{kind}"): _marker_js(kind)
        for kind, layer in typed
        if any(feature["geometry"]["type"] == "Point" for feature in layer["features"])
    }
    has_cells = any(
        feature["geometry"]["type"] == "Polygon"
        for _, layer in layers
        for feature in layer["features"]
    )
    focus = layer_bounds(outlines)
    if picked is not None:
        layers.append((t("services_page.legend_picked"), picked_layer(picked, t)))
        lng, lat = cell_polygons([picked])[0].centroid.coords[0]
        focus = (lng - PICKED_SPAN, lat - PICKED_SPAN, lng + PICKED_SPAN, lat + PICKED_SPAN)
    legend = services_legend(
        t, [kind for kind, _ in typed], cells=has_cells, picked=picked is not None
    )
    m = cells_map(
        outlines,
        labels,
        layers,
        legend,
        language=language,
        assets_url=assets_url,
        basemap=basemap,
        markers=markers,
        focus=focus,
    )
    root = m.get_root()
    assert isinstance(root, Figure), "a folium map's root is its figure"
    root.header.add_child(Element(f"<style>{_CSS}</style>"), name="om_services")
    return m
