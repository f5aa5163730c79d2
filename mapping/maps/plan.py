"""The planning maps: each peer educator's hotspot cells, and a route as numbered cells.

Each peer educator's cells have a colour of their own, named in the map's key; with more peer
educators than distinguishable colours, each cell also carries its peer educator's number in
the key, so no two peer educators look the same. A route is drawn as its cells, numbered in
the order of the visits and joined by straight lines between cell centres: no venue point,
nothing finer than a cell, no count of people.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import folium
import polars as pl
from branca.element import MacroElement
from folium.template import Template
from folium.utilities import JsCode

from mapping.cells import cell_centres, cell_polygons
from mapping.maps.base import DEFAULT_ASSETS_URL, LABEL_MIN_ZOOM, GeoJSON, geo_feature, layer_bounds
from mapping.maps.coverage import cells_map

#: Colours of peer educators' cells: Paul Tol's "muted" qualitative scheme, nine colours told
#: apart with the common colour-vision deficiencies. Past nine peer educators colours come
#: again, and every cell then also shows its peer educator's number (:func:`peer_key`).
PEER_COLOURS: tuple[str, ...] = (
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)
#: Fill of a hotspot cell whose peer educator is unknown.
UNKNOWN_COLOUR = "#bbbbbb"
ROUTE_COLOUR = "#0072B2"
DONE_COLOUR = "#009E73"
#: Draws a stop number as a round badge at its cell centre (text only: no HTML from data).
NUMBER_JS = JsCode(
    """function (feature, latlng) {
        var text = document.createElement("span");
        text.textContent = feature.properties.name;
        text.className = "om-stop";
        text.style.cssText = "display:inline-block;min-width:1.6em;padding:0 .3em;"
            + "border-radius:1em;background:" + feature.properties.colour + ";color:#fff;"
            + "font:bold 13px sans-serif;text-align:center;line-height:1.6em;"
            + "box-shadow:0 0 0 2px #fff;white-space:nowrap;";
        return L.marker(latlng, {
            interactive: false,
            keyboard: false,
            icon: L.divIcon({className: "om-stop-icon", html: text, iconSize: null}),
        });
    }"""
)

#: Zoom from which a peer educator's number shows on their cells: below it a cell is smaller
#: than its number, and the numbers would hide the cells (the key is there at every zoom).
PEER_NUMBER_ZOOM = 12
#: Draws a peer educator's number at a cell centre, in their colour (text only: no HTML).
PEER_NUMBER_JS = JsCode(
    """function (feature, latlng) {
        var text = document.createElement("span");
        text.textContent = feature.properties.name;
        text.className = "om-peer-num";
        text.style.cssText = "display:inline-block;min-width:1.4em;padding:0 .2em;"
            + "border-radius:1em;background:" + feature.properties.colour + ";color:"
            + feature.properties.ink + ";font:bold 11px sans-serif;text-align:center;"
            + "line-height:1.4em;box-shadow:0 0 0 1.5px #fff;white-space:nowrap;"
            + "transform:translate(-50%,-50%);";
        return L.marker(latlng, {
            interactive: false,
            keyboard: false,
            icon: L.divIcon({className: "om-peer-num-icon", html: text, iconSize: null}),
        });
    }"""
)


class _PeerNumberZoom(MacroElement):  # type: ignore[misc]
    """Hides the peer educators' numbers below :data:`PEER_NUMBER_ZOOM`.

    Uses the ``om-zoom-N`` class :class:`mapping.maps.base.MapOverlay` keeps on the map.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "PeerNumberZoom"
        low = LABEL_MIN_ZOOM - 1  # MapOverlay's lowest class: every zoom out from there
        self.css = (
            # the icon's box, not the number: the number's own inline style would win
            ", ".join(f".om-zoom-{zoom} .om-peer-num-icon" for zoom in range(low, PEER_NUMBER_ZOOM))
            + " { display: none !important; }"
        )


def _collection(features: list[dict[str, Any]]) -> GeoJSON:
    return {"type": "FeatureCollection", "features": features}


def ink_for(colour: str) -> str:
    """Return the text colour that reads on a ``#rrggbb`` fill: black on light, white on dark.

    Examples
    --------
    >>> ink_for("#DDCC77"), ink_for("#332288")
    ('#000', '#fff')
    """
    red, green, blue = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    channels = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    # the ink of the higher WCAG contrast: (L + 0.05) / 0.05 for black, 1.05 / (L + 0.05) white
    return "#000" if luminance > 0.179 else "#fff"


def peer_key(assigned: pl.DataFrame) -> pl.DataFrame:
    """Return the assignment map's key: each peer educator's number, colour and hotspots.

    ``assigned`` has one row per hotspot with ``peer_educator`` and ``team`` (a code is unique
    within its team only). Returns ``number`` (1, 2, … by team then code), ``team``,
    ``peer_educator``, ``hotspots``, ``colour``, ``ink`` (the number's text colour) and
    ``labelled``: true for all when there are more peer educators than :data:`PEER_COLOURS`,
    so a colour that comes again is told apart by the number on the cell.

    Examples
    --------
    >>> frame = pl.DataFrame({"peer_educator": ["B", "A", "A"], "team": ["T1", "T1", "T1"]})
    >>> peer_key(frame).select("number", "peer_educator", "hotspots", "labelled").rows()
    [(1, 'A', 2, False), (2, 'B', 1, False)]
    """
    counts = (
        assigned.filter(pl.col("peer_educator").is_not_null())
        .group_by("team", "peer_educator")
        .agg(pl.len().cast(pl.Int64).alias("hotspots"))
        .sort("team", "peer_educator")
    )
    colours = [PEER_COLOURS[i % len(PEER_COLOURS)] for i in range(counts.height)]
    return counts.select(
        pl.int_range(1, counts.height + 1, dtype=pl.Int64).alias("number"),
        "team",
        "peer_educator",
        "hotspots",
        pl.Series("colour", colours, dtype=pl.String),
        pl.Series("ink", [ink_for(c) for c in colours], dtype=pl.String),
        pl.lit(counts.height > len(PEER_COLOURS)).alias("labelled"),
    )


def assignment_layers(assigned: pl.DataFrame, key: pl.DataFrame) -> tuple[GeoJSON, GeoJSON]:
    """Return the hotspot cells coloured by the peer educator who covers them, and their numbers.

    ``assigned`` has ``cell``, ``peer_educator`` and ``team``; ``key`` is its :func:`peer_key`.
    The tooltip names the peer educator and the team (codes, never people's names). The second
    layer puts each cell's peer educator number at the cell's centre (draw it with
    :data:`PEER_NUMBER_JS`): on every cell when the key is labelled, else only on a cell holding
    hotspots of more than one peer educator ("2·5"), coloured by the first.
    """
    known = {(row["team"], row["peer_educator"]): row for row in key.iter_rows(named=True)}
    labelled = bool(key["labelled"].any()) if key.height else False
    cells = assigned.group_by("cell").agg(
        pl.struct("team", "peer_educator").unique(maintain_order=True).alias("peers")
    )
    features, numbers = [], []
    for row in cells.sort("cell").iter_rows(named=True):
        entries = [
            known[(p["team"], p["peer_educator"])]
            for p in row["peers"]
            if (p["team"], p["peer_educator"]) in known
        ]
        entries.sort(key=lambda entry: entry["number"])
        first = entries[0] if entries else None
        fill = first["colour"] if first else UNKNOWN_COLOUR
        tip = (
            "\n".join(
                f"{entry['number']}. {entry['peer_educator']} ({entry['team']})"
                if labelled or len(entries) > 1
                else f"{entry['peer_educator']} ({entry['team']})"
                for entry in entries
            )
            or "-"
        )
        features.append(
            geo_feature(
                cell_polygons([row["cell"]])[0],
                {
                    "tip": tip,
                    "style": {"color": "#333", "weight": 1, "fillColor": fill, "fillOpacity": 0.8},
                },
            )
        )
        if first and (labelled or len(entries) > 1):
            lat, lng = cell_centres([row["cell"]])
            numbers.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [round(lng[0], 5), round(lat[0], 5)],
                    },
                    "properties": {
                        "name": "·".join(str(entry["number"]) for entry in entries),
                        "colour": fill,
                        "ink": first["ink"],
                    },
                }
            )
    return _collection(features), _collection(numbers)


def assignment_legend(key: pl.DataFrame, t: Callable[..., str]) -> str:
    """Return the assignment map's key: each peer educator's colour, number and hotspots.

    Every peer educator of ``key`` (:func:`peer_key`) has a line; a long key runs in two
    columns. A labelled key says that the numbers show on the cells once zoomed in.
    """
    labelled = bool(key["labelled"].any()) if key.height else False
    rows = []
    for row in key.iter_rows(named=True):
        number = (
            f'<b style="display:inline-block;min-width:1.6em">{row["number"]}</b>'
            if labelled
            else ""
        )
        text = t(
            "plan.assign_key",
            peer=row["peer_educator"],
            team=row["team"],
            count=row["hotspots"],
        )
        rows.append(
            f'<div class="om-peer"><i style="background:{row["colour"]}"></i>{number}'
            f"{html.escape(text)}</div>"
        )
    columns = ' style="columns:2;column-gap:14px"' if key.height > 10 else ""
    numbers = f"<div>{html.escape(t('plan.assign_key_numbers'))}</div>" if labelled else ""
    return (
        f"<h4>{html.escape(t('plan.assign_legend'))}</h4>"
        f"<div>{html.escape(t('plan.assign_key_note'))}</div>"
        f"<div{columns}>{''.join(rows)}</div>{numbers}"
    )


def assignment_map(
    outlines: GeoJSON,
    labels: GeoJSON,
    assigned: pl.DataFrame,
    t: Callable[..., str],
    *,
    language: str,
    assets_url: str = DEFAULT_ASSETS_URL,
    basemap: tuple[str, str] | None = None,
) -> folium.Map:
    """Return the map of who covers what: cells by peer educator, their numbers, and the key.

    ``assigned`` has one row per hotspot with ``cell``, ``peer_educator`` and ``team``
    (:func:`mapping.planning.plans.assigned_cells`); ``outlines`` and ``labels`` are the
    districts (:func:`mapping.maps.base.district_layers`). Numbers show from
    :data:`PEER_NUMBER_ZOOM` on.
    """
    key = peer_key(assigned)
    cells, numbers = assignment_layers(assigned, key)
    m = cells_map(
        outlines,
        labels,
        [("peers", cells), ("numbers", numbers)],
        assignment_legend(key, t),
        language=language,
        assets_url=assets_url,
        basemap=basemap,
        focus=layer_bounds(cells),
        markers={"numbers": PEER_NUMBER_JS},
    )
    _PeerNumberZoom().add_to(m)
    return m


def route_layers(stops: pl.DataFrame, tip: Callable[[dict[str, Any]], str]) -> list[GeoJSON]:
    """Return a route's cells, the line through their centres, and the stop numbers.

    ``stops`` is a plan's stops (:class:`mapping.planning.plans.RoutePlan`); ``tip`` writes a
    stop's tooltip. Stops in one cell share it, numbered together ("2·3"). Returned in
    drawing order: cells, line, numbers.
    """
    if stops.height == 0:
        return [_collection([]), _collection([]), _collection([])]
    by_cell: dict[int, list[dict[str, Any]]] = {}
    for row in stops.sort("seq").iter_rows(named=True):
        by_cell.setdefault(int(row["cell"]), []).append(row)
    cells, numbers = [], []
    lat, lng = cell_centres(list(by_cell))
    for (cell, rows), y, x in zip(by_cell.items(), lat, lng, strict=True):
        done = all(bool(row.get("done")) for row in rows)
        colour = DONE_COLOUR if done else ROUTE_COLOUR
        cells.append(
            geo_feature(
                cell_polygons([cell])[0],
                {
                    "tip": " | ".join(tip(row) for row in rows),
                    "style": {
                        "color": colour,
                        "weight": 2,
                        "fillColor": colour,
                        "fillOpacity": 0.25,
                    },
                },
            )
        )
        numbers.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(x, 5), round(y, 5)]},
                "properties": {
                    "name": "·".join(str(row["seq"]) for row in rows),
                    "colour": colour,
                },
            }
        )
    order = [int(cell) for cell in stops.sort("seq")["cell"].to_list()]
    o_lat, o_lng = cell_centres(order)
    line = {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[round(x, 5), round(y, 5)] for y, x in zip(o_lat, o_lng, strict=True)],
        },
        "properties": {
            "tip": "",
            "style": {"color": ROUTE_COLOUR, "weight": 3, "dashArray": "6 6", "opacity": 0.8},
        },
    }
    return [_collection(cells), _collection([line] if len(order) > 1 else []), _collection(numbers)]


def typology_name(t: Callable[..., str], value: str | None) -> str:
    """Return a hotspot's typology in the reader's language ("" when it has none)."""
    return t(f"typologies.{value}") if value else ""


def stop_tip(t: Callable[..., str], row: dict[str, Any]) -> str:
    """Return one stop of a plan in words: its number, hotspot and typology, times, the stay."""
    kind = typology_name(t, row["typology"])
    return t(
        "plan.stop_tip",
        seq=row["seq"],
        hotspot=f"{row['hotspot_id']} ({kind})" if kind else row["hotspot_id"],
        arrive=f"{row['arrive']:%H:%M}",
        until=f"{row['arrive_until']:%H:%M}",
        minutes=row["minutes_there"],
    )
