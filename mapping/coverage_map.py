"""The coverage map: districts coloured by gap score, with names and a legend, served offline."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

import folium

from mapping.coverage import CoverageReport
from mapping.maps import (
    DEFAULT_ASSETS_URL,
    LABEL_JS,
    TOOLTIP_JS,
    WORLD,
    GeoJSON,
    MapOverlay,
    base_map,
    layer_bounds,
)
from mapping.reports import coverage_interval

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
    """Return the district outlines (from :func:`mapping.maps.district_layers`) coloured by gap.

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
        interval = coverage_interval(row["coverage_low"], row["coverage_high"])
        tip = "\n".join(
            [
                str(row["district"]),
                t("coverage.rank_of", rank=row["rank"], total=total),
                f"{t('coverage.gap')}: {row['gap_score']:.0f}"
                if known
                else f"{t('coverage.gap')}: {t('coverage.legend_none')}",
                f"{t('coverage.coverage')}: "
                + (interval if interval != "unknown" else t("coverage.unknown")),
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
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the coverage map: the coloured districts, their names and a legend; no tiles.

    Like the overview map it loads only the vendored Leaflet (see
    :func:`mapping.maps.use_local_assets`) unless a deployment sets a basemap.
    """
    bounds = layer_bounds(layer) or WORLD
    m = base_map(bounds, assets_url=assets_url, basemap=basemap)
    folium.GeoJson(
        layer,
        name=t("coverage.title"),
        on_each_feature=TOOLTIP_JS,
    ).add_to(m)
    folium.GeoJson(labels, name="names", point_to_layer=LABEL_JS).add_to(m)
    MapOverlay(coverage_legend(t)).add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]], padding=(12, 12))
    return m
