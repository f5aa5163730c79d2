"""The coordinator's overview map: districts, visited cells shaded by visits, and services.

Everything is read from the store as small GeoJSON (:func:`overview_layers`): no coordinate of
a person, and no point or name of a sensitive service.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import numpy as np
import shapely
import sqlalchemy as sa
from folium.utilities import JsCode
from sqlalchemy.engine import Connection

from mapping.cells import cell_polygons
from mapping.i18n import DEFAULT_LANGUAGE, translator
from mapping.maps.base import (
    DEFAULT_ASSETS_URL,
    LABEL_JS,
    TOOLTIP_JS,
    WORLD,
    GeoJSON,
    MapOverlay,
    base_map,
    collection,
    district_layers,
    geo_feature,
    layer_bounds,
)
from mapping.storage import store
from mapping.storage.workspace import Workspace
from mapping.vocab import SERVICE_TYPES

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


def service_label(code: int, t: Callable[..., str] | None = None) -> str:
    """Return the display name of a stored service-type code (index + 1 into the vocabulary).

    With a translator ``t``, the name in its language (``service_types.*``).

    Examples
    --------
    >>> service_label(1), service_label(5), service_label(11)
    ('Drop-in centre', 'PrEP / PEP', 'Condom outlet')
    >>> service_label(2, translator("es"))
    'Prueba de VIH'
    """
    name = SERVICE_TYPES[code - 1]
    if t is not None:
        return t(f"service_types.{name}")
    return _SERVICE_LABELS.get(name, name.replace("_", " ").capitalize())


def service_colour(code: int) -> str:
    """Return the colour services of a stored service-type code are drawn in."""
    return SERVICE_COLOURS[(code - 1) % len(SERVICE_COLOURS)]


def service_layers(connection: Connection, t: Callable[..., str]) -> tuple[GeoJSON, GeoJSON]:
    """Return public services as points, and the cells of all other services.

    A service is drawn at its point only if it is not sensitive and has one; a sensitive service
    or one without a point is drawn only as its H3 cell, and a sensitive service's name is never
    shown. The name and point of a sensitive service are not even read from the store.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.
    t : callable
        The page's translator (:func:`mapping.i18n.translator`): the tooltips' language.

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
            tip = f"{name}\n{service_label(code, t)}"
            props = {"service_type": code, "tip": tip, "style": style}
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
            f"{service_label(code, t)}: {name}"
            if name
            else t("overview.tip_sensitive", type=service_label(code, t))
            for code, name in sorted(held, key=lambda item: (item[0], item[1] or ""))
        ]
        heading = t("overview.tip_services", count=f"{len(held):,}")
        style = {
            "color": colour,
            "weight": 2,
            "dashArray": "4 3",
            "fillColor": colour,
            "fillOpacity": 0.25,
        }
        tip = "\n".join([heading, *lines])
        cells.append(geo_feature(polygon, {"services": len(held), "tip": tip, "style": style}))
    return collection(points), collection(cells)


def visit_breaks(counts: Sequence[int], classes: int = len(VISIT_COLOURS)) -> tuple[int, ...]:
    """Return the lower bound of each class of visit counts: 1 alone, then round steps.

    Visit counts per cell run from 1 to hundreds, most of them small: the classes grow by about
    the same factor (1, 2, 5, 10, 20, 50, … nearest to an even split of the logarithm up to the
    largest count), so 1 visit and 200 never share a colour.

    Examples
    --------
    >>> visit_breaks([1, 3, 8, 20, 40, 90, 300])
    (1, 2, 10, 20, 100)
    >>> visit_breaks([1, 219])
    (1, 2, 10, 20, 100)
    >>> visit_breaks([2, 3]), visit_breaks([])
    ((1, 2, 3), (1,))
    """
    if not counts:
        return (1,)
    top = int(max(counts))
    if top <= classes:
        return tuple(range(1, top + 1))
    nice = np.asarray(
        [m * 10**e for e in range(len(str(top))) for m in (2, 5, 10) if m * 10**e <= top]
    )
    targets = top ** (np.arange(1, classes) / classes)
    nearest = nice[np.abs(np.log(nice)[None, :] - np.log(targets)[:, None]).argmin(axis=1)]
    return tuple(sorted({1, *(int(value) for value in nearest)}))


def visit_class(count: int, breaks: Sequence[int]) -> int:
    """Return the index of the class ``count`` visits fall in.

    Examples
    --------
    >>> visit_class(1, (1, 5, 10)), visit_class(7, (1, 5, 10)), visit_class(900, (1, 5, 10))
    (0, 1, 2)
    """
    return max(index for index, low in enumerate(breaks) if count >= low)


def visited_cell_layer(
    connection: Connection, t: Callable[..., str]
) -> tuple[GeoJSON, tuple[int, ...]]:
    """Return the cells with visits, shaded by how many visits each had, and the class breaks.

    Parameters
    ----------
    connection : Connection
        An open connection to the workspace's store.
    t : callable
        The page's translator (:func:`mapping.i18n.translator`): the tooltips' language.

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
        tip = t("overview.tip_visits", count=f"{count:,}")
        features.append(geo_feature(polygon, {"visits": count, "tip": tip, "style": style}))
    return collection(features), breaks


def overview_layers(workspace: Workspace, language: str = DEFAULT_LANGUAGE) -> OverviewLayers:
    """Read everything the overview map draws from ``workspace``'s store.

    Parameters
    ----------
    workspace : Workspace
        An opened workspace.
    language : str
        The language of the tooltips.

    Returns
    -------
    OverviewLayers
        Plain GeoJSON data; no coordinate of a person, and no point of a sensitive service.
    """
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
        t = translator(language)
        points, service_cells = service_layers(connection, t)
        visited, breaks = visited_cell_layer(connection, t)
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


_CIRCLE = JsCode(
    """function (feature, latlng) {
        return L.circleMarker(latlng, feature.properties.style);
    }"""
)


def legend_html(layers: OverviewLayers, t: Callable[..., str]) -> str:
    """Return the legend's HTML in ``t``'s language: visit classes, service types, districts."""
    parts = [f"<h4>{html.escape(t('overview.legend_visits'))}</h4>"]
    breaks = layers.visit_breaks
    if not layers.visited_cells["features"]:
        parts.append(f"<div>{html.escape(t('overview.legend_no_visits'))}</div>")
    for index, text in enumerate(class_labels(breaks)):
        parts.append(f'<div><i style="background:{VISIT_COLOURS[index]}"></i>{text}</div>')
    codes = sorted({f["properties"]["service_type"] for f in layers.service_points["features"]})
    if codes or layers.service_cells["features"]:
        parts.append(f"<h4>{html.escape(t('overview.services'))}</h4>")
    for code in codes:
        parts.append(
            f'<div><i class="om-dot" style="background:{service_colour(code)}"></i>'
            f"{html.escape(service_label(code, t))}</div>"
        )
    if layers.service_cells["features"]:
        parts.append(
            f'<div><i class="om-cell"></i>{html.escape(t("services_page.legend_cell"))}</div>'
        )
    parts.append(
        f"<h4>{html.escape(t('overview.legend_area'))}</h4>"
        '<div><i style="background:#fff;border:1.5px solid #4a4a4a"></i>'
        f"{html.escape(t('overview.legend_district'))}</div>"
    )
    return "".join(parts)


def class_labels(breaks: Sequence[int]) -> list[str]:
    """Return each class's range as a person writes it: ``1``, ``2–9``, ``200+``.

    Examples
    --------
    >>> class_labels((1, 2, 10, 50, 200))
    ['1', '2–9', '10–49', '50–199', '200+']
    """
    labels = []
    for index, low in enumerate(breaks):
        high = breaks[index + 1] - 1 if index + 1 < len(breaks) else None
        labels.append(
            f"{low:,}+" if high is None else (f"{low:,}" if high == low else f"{low:,}–{high:,}")
        )
    return labels


def overview_map(
    layers: OverviewLayers,
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the overview map: districts, visited cells, services, a legend; no tiles by default.

    The map opens on the visited cells (on the whole area if there are none).

    Parameters
    ----------
    layers : OverviewLayers
        What to draw, from :func:`overview_layers`.
    language : str
        The page's language: the legend's, the layers' names and the gesture hints.
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
    t = translator(language)
    m = base_map(bounds, language=language, assets_url=assets_url, basemap=basemap)
    folium.GeoJson(
        layers.districts,
        name=t("overview.layer_districts"),
        on_each_feature=TOOLTIP_JS,
        smooth_factor=0.5,
    ).add_to(m)
    folium.GeoJson(
        layers.visited_cells, name=t("overview.layer_visits"), on_each_feature=TOOLTIP_JS
    ).add_to(m)
    folium.GeoJson(
        layers.service_cells, name=t("overview.layer_service_cells"), on_each_feature=TOOLTIP_JS
    ).add_to(m)
    folium.GeoJson(
        layers.service_points,
        name=t("overview.services"),
        on_each_feature=TOOLTIP_JS,
        point_to_layer=_CIRCLE,
    ).add_to(m)
    folium.GeoJson(
        layers.district_labels, name=t("overview.layer_names"), point_to_layer=LABEL_JS
    ).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    MapOverlay(legend_html(layers, t)).add_to(m)
    if layers.focus is not None:
        m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(24, 24))
    return m
