"""The planning maps: each peer educator's hotspot cells, and a route as numbered cells.

A route is drawn as its cells, numbered in the order of the visits and joined by straight
lines between cell centres: no venue point, nothing finer than a cell, no count of people.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
from folium.utilities import JsCode

from mapping.cells import cell_centres, cell_polygons
from mapping.maps.base import GeoJSON, geo_feature

#: Colours of peer educators' cells: Okabe-Ito's eight (colour-blind safe), then repeated.
PEER_COLOURS: tuple[str, ...] = (
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#000000",
)
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


def _collection(features: list[dict[str, Any]]) -> GeoJSON:
    return {"type": "FeatureCollection", "features": features}


def assignment_layer(assigned: pl.DataFrame) -> GeoJSON:
    """Return the hotspot cells coloured by the peer educator who covers them.

    ``assigned`` has ``cell``, ``peer_educator`` and ``team``; the tooltip names the peer
    educator and the team (codes, never people's names).
    """
    peers = sorted({str(p) for p in assigned["peer_educator"].drop_nulls().to_list()})
    colour = {peer: PEER_COLOURS[i % len(PEER_COLOURS)] for i, peer in enumerate(peers)}
    features = []
    cells = assigned.group_by("cell").agg(pl.col("peer_educator").first(), pl.col("team").first())
    for row in cells.sort("cell").iter_rows(named=True):
        peer = row["peer_educator"]
        fill = colour.get(str(peer), "#bbbbbb") if peer is not None else "#bbbbbb"
        features.append(
            geo_feature(
                cell_polygons([row["cell"]])[0],
                {
                    "tip": f"{peer} ({row['team']})" if peer is not None else "-",
                    "style": {"color": "#333", "weight": 1, "fillColor": fill, "fillOpacity": 0.8},
                },
            )
        )
    return _collection(features)


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
