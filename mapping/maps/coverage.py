"""The coordinator's maps: districts by gap score, hotspots by recency, suggested sites."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import Any

import folium
import polars as pl
from folium.utilities import JsCode

from mapping.analysis.coverage import CoverageReport
from mapping.analysis.tables import coverage_words, reached_of_words
from mapping.cells import cell_centres, cell_polygons, cell_to_int
from mapping.maps.base import (
    DEFAULT_ASSETS_URL,
    LABEL_JS,
    TOOLTIP_JS,
    WORLD,
    GeoJSON,
    MapOverlay,
    base_map,
    districts_near,
    geo_feature,
    layer_bounds,
)
from mapping.wording import days_ago

#: Gap score classes (lower bounds) and their colours: viridis, light for a small gap and dark
#: for a large one, which reads in grey and for the common colour-vision deficiencies.
GAP_BREAKS: tuple[int, ...] = (0, 20, 40, 60, 80)
GAP_COLOURS: tuple[str, ...] = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
#: Districts with no registered hotspot: their score rests on a population prior or on nothing,
#: so they are greyed out rather than coloured like the districts the programme has mapped.
NO_ESTIMATE_COLOUR = "#d9d9d9"
SELECTED_COLOUR = "#e8590c"


def gap_colour(score: float | None, *, known: bool = True) -> str:
    """Return the fill colour of a district's gap score.

    Examples
    --------
    >>> gap_colour(0.0), gap_colour(85.5), gap_colour(50.0, known=False)
    ('#fde725', '#440154', '#d9d9d9')
    """
    if score is None or not known or (isinstance(score, float) and math.isnan(score)):
        return NO_ESTIMATE_COLOUR
    index = max(i for i, low in enumerate(GAP_BREAKS) if score >= low)
    return GAP_COLOURS[index]


def coverage_layer(
    report: CoverageReport,
    outlines: GeoJSON,
    t: Callable[..., str],
    *,
    selected: str | None = None,
) -> GeoJSON:
    """Return the district outlines coloured by gap (:func:`mapping.maps.base.district_layers`).

    Each feature keeps only its id, name, tooltip and style: no figure finer than a district.
    """
    rows = {row["district_id"]: row for row in report.districts.iter_rows(named=True)}
    total = sum(1 for row in rows.values() if row["rank"] is not None)
    features = []
    for feature in outlines["features"]:
        district_id = feature["properties"]["id"]
        row = rows.get(district_id)
        if row is None:
            continue
        known = row["estimate_source"] == "hotspots"
        figures = (row["contacts"], row["estimate_min"], row["estimate_max"])
        source = {"source": row["estimate_source"]}
        tip = "\n".join(
            [
                str(row["district"]),
                t("coverage.rank_of", rank=row["rank"], total=total),
                f"{t('coverage.gap')}: {row['gap_score']:.0f}"
                if known
                else f"{t('coverage.gap')}: {t('coverage.legend_none')}",
                f"{t('coverage.coverage')}: {coverage_words(*figures, t)}"
                + (
                    f" ({reached_of_words(*figures, t, **source)})"
                    if row["estimate_min"] is not None
                    else ""
                ),
            ]
        )
        chosen = district_id == selected
        style = {
            "color": SELECTED_COLOUR if chosen else "#4a4a4a",
            "weight": 3.5 if chosen else 1.0,
            "fillColor": gap_colour(row["gap_score"], known=known),
            "fillOpacity": 0.8,
        }
        features.append(
            {
                "type": "Feature",
                "geometry": feature["geometry"],
                "properties": {
                    "id": district_id,
                    "name": row["district"],
                    "tip": tip,
                    "style": style,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def coverage_legend(t: Callable[..., str]) -> str:
    """Return the legend's HTML: the gap classes and the colour of districts with no estimate."""
    parts = [f"<h4>{html.escape(t('coverage.legend_title'))}</h4>"]
    for index, low in enumerate(GAP_BREAKS):
        high = GAP_BREAKS[index + 1] if index + 1 < len(GAP_BREAKS) else 100
        parts.append(f'<div><i style="background:{GAP_COLOURS[index]}"></i>{low}–{high}</div>')
    parts.append(
        f'<div><i style="background:{NO_ESTIMATE_COLOUR}"></i>'
        f"{html.escape(t('coverage.legend_none'))}</div>"
    )
    return "".join(parts)


def coverage_map(
    layer: GeoJSON,
    labels: GeoJSON,
    t: Callable[..., str],
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the coverage map: the coloured districts, their names and a legend; no tiles.

    Like the overview map it loads only the vendored Leaflet (see
    :func:`mapping.maps.base.use_local_assets`) unless a deployment sets a basemap.
    """
    bounds = layer_bounds(layer) or WORLD
    m = base_map(bounds, language=language, assets_url=assets_url, basemap=basemap)
    folium.GeoJson(
        layer,
        name=t("coverage.title"),
        on_each_feature=TOOLTIP_JS,
    ).add_to(m)
    folium.GeoJson(labels, name="names", point_to_layer=LABEL_JS).add_to(m)
    MapOverlay(coverage_legend(t)).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(12, 12))
    return m


#: Recency classes of a hotspot and their colours (Okabe-Ito: readable with colour-vision
#: deficiencies): visited this week, this month, due, overdue or never.
RECENCY_COLOURS: dict[str, str] = {
    "week": "#0072B2",
    "month": "#56B4E9",
    "due": "#F0E442",
    "overdue": "#D55E00",
}
EMERGING_COLOUR = "#CC79A7"


def recency_class(days: int | None, *, recent_days: int, overdue_days: int) -> str:
    """Return a hotspot's recency class from the days since its last visit.

    Examples
    --------
    >>> [recency_class(d, recent_days=30, overdue_days=35) for d in (3, 20, 33, 40, None)]
    ['week', 'month', 'due', 'overdue', 'overdue']
    """
    if days is None or days > overdue_days:
        return "overdue"
    if days <= 7:
        return "week"
    return "month" if days <= recent_days else "due"


def _cell_feature(cell: int, properties: dict[str, Any]) -> dict[str, Any]:
    return geo_feature(cell_polygons([cell])[0], properties)


def hotspot_layer(report: CoverageReport, t: Callable[..., str]) -> GeoJSON:
    """Return the active hotspots as cells coloured by recency, each with its id and last visit."""
    options = report.options
    features = []
    for row in report.hotspots.iter_rows(named=True):
        days = row["days_since_last_visit"]
        kind = recency_class(
            days, recent_days=options.recent_days, overdue_days=options.overdue_weeks * 7
        )
        when = (
            t("hotspots.tip_never")
            if days is None
            else t("hotspots.tip_last", when=days_ago(days, t))
        )
        colour = RECENCY_COLOURS[kind]
        features.append(
            _cell_feature(
                row["cell"],
                {
                    "tip": f"{row['id']}\n{when}",
                    "style": {
                        "color": "#333",
                        "weight": 1,
                        "fillColor": colour,
                        "fillOpacity": 0.9,
                    },
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


def findings_layer(findings: pl.DataFrame, t: Callable[..., str]) -> GeoJSON:
    """Return the emerging cells (:func:`mapping.analysis.gaps.hotspot_gaps`) as dashed outlines.

    A border cell emerging in two districts is two findings and one outline.
    """
    features = []
    emerging = findings.filter(pl.col("kind") == "emerging").unique("cell_id", maintain_order=True)
    for row in emerging.iter_rows(named=True):
        features.append(
            _cell_feature(
                cell_to_int(row["cell_id"]),
                {
                    "tip": f"{t('hotspots.emerging')}\n{row['cell_id']}",
                    "style": {
                        "color": EMERGING_COLOUR,
                        "weight": 3,
                        "dashArray": "5 4",
                        "fillColor": EMERGING_COLOUR,
                        "fillOpacity": 0.35,
                    },
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


def recency_legend(
    t: Callable[..., str], recent_days: int, *, emerging: bool = True, title: str | None = None
) -> str:
    """Return the legend HTML of a map of cells by recency (with emerging cells, if shown)."""
    labels = {
        "week": t("hotspots.week"),
        "month": t("hotspots.month"),
        "due": t("hotspots.due", days=recent_days),
        "overdue": t("hotspots.overdue"),
    }
    parts = [f"<h4>{html.escape(title or t('hotspots.legend_title'))}</h4>"]
    parts += [
        f'<div><i style="background:{RECENCY_COLOURS[k]}"></i>{html.escape(v)}</div>'
        for k, v in labels.items()
    ]
    if emerging:
        parts.append(
            f'<div><i style="background:{EMERGING_COLOUR};opacity:0.6"></i>'
            f"{html.escape(t('hotspots.emerging'))}</div>"
        )
    return "".join(parts)


def sites_layers(
    sites: pl.DataFrame, uncovered: pl.DataFrame, t: Callable[..., str]
) -> tuple[GeoJSON, GeoJSON]:
    """Return suggested sites (cells with their order) and the hotspots lacking the service."""
    site_features = [
        _cell_feature(
            cell_to_int(row["cell_id"]),
            {
                "tip": f"{t('sites.site', rank=row['rank'])}\n{row['district']}",
                "style": {
                    "color": "#000",
                    "weight": 3,
                    "fillColor": "#0072B2",
                    "fillOpacity": 0.85,
                },
            },
        )
        for row in sites.iter_rows(named=True)
    ]
    hotspot_features = [
        _cell_feature(
            row["cell"],
            {
                "tip": f"{row['id']}\n{t('sites.uncovered')}",
                "style": {"color": "#333", "weight": 1, "fillColor": "#D55E00", "fillOpacity": 0.8},
            },
        )
        for row in uncovered.iter_rows(named=True)
    ]
    return (
        {"type": "FeatureCollection", "features": site_features},
        {"type": "FeatureCollection", "features": hotspot_features},
    )


#: Colour of a suggested site's rank number (drawn by :data:`mapping.maps.plan.NUMBER_JS`).
SITE_NUMBER_COLOUR = "#000000"


def site_numbers_layer(sites: pl.DataFrame) -> GeoJSON:
    """Return each suggested site's rank as a point at the centre of its cell, best first.

    ``sites`` is :func:`mapping.analysis.siting.suggest_sites`'s frame (``rank``, ``cell_id``);
    each point's ``name`` is the rank the page's table shows, for
    :data:`mapping.maps.plan.NUMBER_JS` to draw as a numbered badge.

    Examples
    --------
    >>> sites = pl.DataFrame({"rank": [2, 1], "cell_id": ["888e62c0bbfffff", "888e62c0c3fffff"]})
    >>> [f["properties"]["name"] for f in site_numbers_layer(sites)["features"]]
    ['1', '2']
    """
    ranked = sites.sort("rank")
    cells = [cell_to_int(str(cell)) for cell in ranked["cell_id"]]
    lat, lng = cell_centres(cells)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
            "properties": {"name": str(rank), "colour": SITE_NUMBER_COLOUR},
        }
        for rank, y, x in zip(ranked["rank"], lat, lng, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}


def sites_legend(t: Callable[..., str]) -> str:
    """Return the suggested-sites map's legend HTML."""
    return (
        f"<h4>{html.escape(t('sites.legend_title'))}</h4>"
        f'<div><i style="background:#0072B2;border:2px solid #000"></i>'
        f"{html.escape(t('sites.site', rank='1, 2…'))}</div>"
        f'<div><i style="background:#D55E00"></i>{html.escape(t("sites.uncovered"))}</div>'
    )


def cells_map(
    outlines: GeoJSON,
    labels: GeoJSON,
    layers: list[tuple[str, GeoJSON]],
    legend: str,
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
    markers: Mapping[str, JsCode] | None = None,
    focus: tuple[float, float, float, float] | None = None,
    fold_legend: bool = False,
) -> folium.Map:
    """Return a map of district outlines with cell layers on top, a legend, and no tiles.

    ``markers`` gives, by layer name, the ``pointToLayer`` function that draws the layer's
    points (Leaflet's default marker image otherwise). The map opens on ``focus`` (min lon,
    min lat, max lon, max lat) if given, else on the layers, else on the districts.
    ``fold_legend`` folds the legend into its title, folded at first on a phone
    (:class:`~mapping.maps.base.MapOverlay`).
    """
    bounds = (
        focus or layer_bounds(*(layer for _, layer in layers)) or layer_bounds(outlines) or WORLD
    )
    m = base_map(bounds, language=language, assets_url=assets_url, basemap=basemap)
    # district tooltips: the name only (the overview's tooltip adds an English population line)
    named = {
        "type": "FeatureCollection",
        "features": [
            {**f, "properties": {**f["properties"], "tip": f["properties"]["name"]}}
            for f in outlines["features"]
        ],
    }
    folium.GeoJson(named, name="districts", on_each_feature=TOOLTIP_JS).add_to(m)
    for name, layer in layers:
        folium.GeoJson(
            layer,
            name=name,
            on_each_feature=TOOLTIP_JS,
            point_to_layer=(markers or {}).get(name),  # None: folium leaves the option out
        ).add_to(m)
    folium.GeoJson(labels, name="names", point_to_layer=LABEL_JS).add_to(m)
    MapOverlay(legend, fold=fold_legend).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(24, 24))
    return m


def team_layer(
    cells: pl.DataFrame, t: Callable[..., str], *, recent_days: int, overdue_days: int
) -> GeoJSON:
    """Return a team's cells (from :func:`mapping.analysis.peers.team_cells`) coloured by recency.

    The tooltip says when someone last went there; it holds no count of visits or people.
    """
    features = []
    for row in cells.iter_rows(named=True):
        days = row["days_since_last_visit"]
        kind = recency_class(days, recent_days=recent_days, overdue_days=overdue_days)
        when = (
            t("hotspots.tip_never")
            if days is None
            else t("hotspots.tip_last", when=days_ago(days, t))
        )
        features.append(
            _cell_feature(
                row["cell"],
                {
                    "tip": when,
                    "style": {
                        "color": "#333",
                        "weight": 1,
                        "fillColor": RECENCY_COLOURS[kind],
                        "fillOpacity": 0.9,
                    },
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


def chosen_cell_layer(cell: int | None, tip: str) -> GeoJSON:
    """Return the one cell a person just picked on the map, outlined to stand out (or none)."""
    features = []
    if cell is not None:
        style = {"color": SELECTED_COLOUR, "weight": 4, "fillColor": SELECTED_COLOUR}
        features.append(_cell_feature(cell, {"tip": tip, "style": {**style, "fillOpacity": 0.35}}))
    return {"type": "FeatureCollection", "features": features}


#: Friendly services open now on the peer educator's map (Okabe-Ito bluish green).
OPEN_SERVICE_COLOUR = "#009E73"


def open_services_layer(services: pl.DataFrame, t: Callable[..., str]) -> GeoJSON:
    """Return the cells of the services open now (:func:`mapping.analysis.peers.services_open_now`).

    One cell per service however many types it offers; the tooltip lists its types and its name.
    A sensitive service (no name in ``services``) is not drawn at all, not even as a cell: the
    page says "ask your coordinator where", and a phone taken from a peer educator shows no
    informal clinic's area.
    """
    shown = services.filter(pl.col("cell_id").is_not_null() & pl.col("name").is_not_null())
    features = []
    for cell_id, group in shown.group_by("cell_id", maintain_order=True):
        kinds = ", ".join(t(f"service_types.{k}") for k in group["service_type"])
        name = group["name"][0]
        features.append(
            _cell_feature(
                cell_to_int(str(cell_id[0])),
                {
                    "tip": f"{kinds}\n{name}",
                    "style": {
                        "color": "#000",
                        "weight": 2.5,
                        "dashArray": "4 3",
                        "fillColor": OPEN_SERVICE_COLOUR,
                        "fillOpacity": 0.85,
                    },
                },
            )
        )
    return {"type": "FeatureCollection", "features": features}


def open_services_legend(t: Callable[..., str]) -> str:
    """Return the legend line of the open services' cells (added under a recency legend)."""
    return (
        f'<div><i style="background:{OPEN_SERVICE_COLOUR};border:1.5px dashed #000"></i>'
        f"{html.escape(t('peer.open_legend'))}</div>"
    )


def team_area_map(
    outlines: GeoJSON,
    labels: GeoJSON,
    cells: pl.DataFrame,
    services: pl.DataFrame,
    t: Callable[..., str],
    *,
    recent_days: int,
    overdue_days: int,
    language: str,
    basemap: tuple[str, str] | None,
) -> folium.Map:
    """Return My area's map: a team's cells by recency and the friendly services open now.

    ``cells`` and ``services`` are :func:`mapping.analysis.peers.team_area`'s. The map opens on
    the team's cells and carries only the districts around them, with their names
    (:func:`~mapping.maps.base.districts_near`): a lighter page on a slow phone. The app's My
    area and its quick page (``views/quick_area.py``) draw this same map.
    """
    ours = team_layer(cells, t, recent_days=recent_days, overdue_days=overdue_days)
    focus = layer_bounds(ours)
    near, names = districts_near(outlines, labels, focus)
    return cells_map(
        near,
        names,
        [(t("peer.title"), ours), (t("peer.open_now"), open_services_layer(services, t))],
        recency_legend(t, recent_days, emerging=False, title=t("peer.legend_title"))
        + open_services_legend(t),
        language=language,
        basemap=basemap,
        focus=focus,
    )
