"""The funder's reach map: districts coloured by released reach, hidden ones hatched; no cells.

Draws what :func:`mapping.access.funder_reach.reach_release` released, and nothing else.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import folium
import polars as pl
from branca.element import MacroElement
from folium.template import Template

from mapping.access.funder_reach import ROUNDING_BASE, ReachRelease
from mapping.maps.base import DEFAULT_ASSETS_URL, GeoJSON
from mapping.maps.coverage import SELECTED_COLOUR, cells_map

#: Sequential fills for released reach, fewest first (ColorBrewer YlGnBu: readable with the
#: common colour-vision deficiencies and in grey).
REACH_COLOURS: tuple[str, ...] = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")
#: Hidden figures: a grey hatch, told apart by texture as well as colour.
HIDDEN_FILL = "url(#om-hatch)"
_HIDDEN_SWATCH = "background: repeating-linear-gradient(45deg, #8c8c8c 0 2px, #f0f0f0 2px 5px)"
_HATCH = (
    '<defs><pattern id="om-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f0f0f0"></rect>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#8c8c8c" stroke-width="2.5"></line>'
    "</pattern></defs>"
)


def reach_breaks(release: ReachRelease) -> tuple[int, ...]:
    """Return the lower bound of each colour class, from the released district figures.

    The classes are quintiles of every quarter's released figures (so a colour means the same
    in every quarter), rounded to 5; fewer classes when there are few distinct figures.

    Examples
    --------
    >>> import datetime as dt
    >>> figures = pl.DataFrame({"district_id": ["a"] * 6, "reach": [15, 20, 40, 80, 120, None]})
    >>> reach_breaks(ReachRelease((), dt.date(2026, 1, 1), 11, 0.8, figures))
    (15, 20, 40, 80)
    """
    values = release.figures.filter(~pl.col("district_id").str.starts_with("_"))["reach"]
    values = values.drop_nulls()
    if values.is_empty():
        return ()
    cuts = {
        int(ROUNDING_BASE * round(float(values.quantile(q, "lower") or 0) / ROUNDING_BASE))
        for q in (0.0, 0.2, 0.4, 0.6, 0.8)
    }
    return tuple(sorted(cuts))


def reach_colour(reach: int | None, breaks: tuple[int, ...]) -> str:
    """Return the fill of a district: its class colour, or the hatch where the figure is hidden.

    Examples
    --------
    >>> reach_colour(None, (15, 40)), reach_colour(15, (15, 40)), reach_colour(90, (15, 40))
    ('url(#om-hatch)', '#ffffcc', '#a1dab4')
    """
    if reach is None or not breaks:
        return HIDDEN_FILL
    index = max((i for i, low in enumerate(breaks) if reach >= low), default=0)
    return REACH_COLOURS[index]


def reach_layer(
    release: ReachRelease,
    quarter: str,
    outlines: GeoJSON,
    t: Callable[..., str],
    *,
    selected: str | None = None,
) -> GeoJSON:
    """Return the district outlines coloured by released reach in ``quarter``.

    Each feature keeps only its id, name, a tooltip of released figures, and its style.
    """
    breaks = reach_breaks(release)
    rows = {
        row["district_id"]: row
        for row in release.figures.filter(pl.col("quarter") == quarter).iter_rows(named=True)
    }
    hidden = t("reach.hidden", k=release.min_count)
    features = []
    for feature in outlines["features"]:
        district_id = feature["properties"]["id"]
        row = rows.get(district_id)
        if row is None:
            continue
        reach, target = row["reach"], row["target"]
        tip = [
            str(row["district"]),
            f"{t('reach.col_reach')}: " + (hidden if reach is None else f"{reach:,}"),
        ]
        if target is not None:
            tip.append(f"{t('reach.col_target')}: {target:,}")
        if row["percent"] is not None:
            tip.append(f"{t('reach.col_percent')}: {row['percent']}")
        chosen = district_id == selected
        style = {
            "color": SELECTED_COLOUR if chosen else "#4a4a4a",
            "weight": 3.5 if chosen else 1.0,
            "fillColor": reach_colour(reach, breaks),
            "fillOpacity": 0.85,
        }
        # the outline's own properties (its population among them) are not carried over
        properties = {"id": district_id, "name": row["district"], "tip": "\n".join(tip)}
        features.append({**feature, "properties": {**properties, "style": style}})
    return {"type": "FeatureCollection", "features": features}


def reach_legend(release: ReachRelease, quarter: str, t: Callable[..., str]) -> str:
    """Return the legend's HTML: the reach classes and the hatch of hidden figures."""
    breaks = reach_breaks(release)
    parts = [f"<h4>{html.escape(t('reach.legend_title', quarter=quarter))}</h4>"]
    for index, low in enumerate(breaks):
        high = breaks[index + 1] - 1 if index + 1 < len(breaks) else None
        text = f"{low:,}+" if high is None else f"{low:,}" if high == low else f"{low:,}–{high:,}"
        parts.append(f'<div><i style="background:{REACH_COLOURS[index]}"></i>{text}</div>')
    hidden = t("reach.hidden", k=release.min_count)
    parts.append(f'<div><i style="{_HIDDEN_SWATCH}"></i>{html.escape(hidden)}</div>')
    return "".join(parts)


class _HatchPattern(MacroElement):  # type: ignore[misc]
    """The grey hatch hidden districts are filled with, added to the map's vector layer."""

    _template = Template(
        r"""
        {% macro script(this, kwargs) %}
            (function (map) {
                var box = map.getPanes().overlayPane.querySelector("svg");
                if (box && !box.querySelector("#om-hatch")) {
                    box.insertAdjacentHTML("afterbegin", {{ this.defs|tojson }});
                }
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "HatchPattern"
        self.defs = _HATCH


def reach_map(
    layer: GeoJSON,
    labels: GeoJSON,
    legend: str,
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the reach map: districts coloured by released reach, names, a legend; no cells.

    Drawn like the coordinator's maps (vendored Leaflet only, no tiles unless a deployment
    sets a basemap), with the districts as the one layer.
    """
    empty: GeoJSON = {"type": "FeatureCollection", "features": []}
    m = cells_map(
        empty,
        labels,
        [("reach", layer)],
        legend,
        language=language,
        assets_url=assets_url,
        basemap=basemap,
    )
    _HatchPattern().add_to(m)
    return m
