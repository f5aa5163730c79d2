"""The assignment map: each peer educator's colour, number and hotspots named in its key."""

from __future__ import annotations

import h3
import polars as pl

from mapping.i18n import translator
from mapping.maps.plan import (
    PEER_COLOURS,
    assignment_layers,
    assignment_legend,
    assignment_map,
    ink_for,
    peer_key,
)

#: Central Lima, where the cells below are.
LIMA = (-12.0464, -77.0428)


def _assigned(peers: int, *, shared_cell: bool = False) -> pl.DataFrame:
    """Return one hotspot per peer educator of team T1 (two for the first), each in its cell."""
    cells = [int(h3.str_to_int(c)) for c in h3.grid_disk(h3.latlng_to_cell(*LIMA, 8), 3)]
    rows = [(cells[i], f"PE{i + 1:02d}", "T1") for i in range(peers)]
    rows.append((cells[1] if shared_cell else cells[peers], "PE01", "T1"))
    return pl.DataFrame(rows, schema=["cell", "peer_educator", "team"], orient="row")


def test_a_few_peer_educators_each_have_their_own_colour_and_no_number() -> None:
    key = peer_key(_assigned(5))
    assert key["peer_educator"].to_list() == ["PE01", "PE02", "PE03", "PE04", "PE05"]
    assert key["hotspots"].to_list() == [2, 1, 1, 1, 1]
    assert key["colour"].n_unique() == 5 and not key["labelled"].any()
    cells, numbers = assignment_layers(_assigned(5), key)
    assert len(cells["features"]) == 6 and numbers["features"] == []
    # a cell holding two peer educators' hotspots is numbered, whatever the count
    shared = _assigned(5, shared_cell=True)
    cells, numbers = assignment_layers(shared, peer_key(shared))
    assert [f["properties"]["name"] for f in numbers["features"]] == ["1·2"]


def test_past_the_palette_every_cell_carries_its_number_in_the_key() -> None:
    assigned = _assigned(24)
    key = peer_key(assigned)
    assert key.height == 24 and key["labelled"].all()
    assert key["number"].to_list() == list(range(1, 25))
    # each colour comes again only past the palette, and then the number tells them apart
    assert key["colour"].to_list()[: len(PEER_COLOURS)] == list(PEER_COLOURS)
    pairs = set(zip(key["colour"], key["number"], strict=True))
    assert len(pairs) == 24
    cells, numbers = assignment_layers(assigned, key)
    assert len(cells["features"]) == len(numbers["features"]) == 25
    by_number = dict(zip(key["number"], key["colour"], strict=True))
    for feature in numbers["features"]:
        assert feature["properties"]["colour"] == by_number[int(feature["properties"]["name"])]
    legend = assignment_legend(key, translator("en"))
    for row in key.iter_rows(named=True):
        assert f"{row['peer_educator']} (T1): {row['hotspots']}" in legend
        assert f'<i style="background:{row["colour"]}"></i>' in legend
        assert f">{row['number']}</b>" in legend
    assert "columns:2" in legend  # a long key runs in two columns
    spanish = assignment_legend(key, translator("es"))
    assert "Educadora par (equipo): puntos" in spanish


def test_the_key_escapes_codes_and_keeps_teams_apart() -> None:
    assigned = pl.DataFrame(
        {"cell": [1, 2], "peer_educator": ["<b>x</b>", "<b>x</b>"], "team": ["T1", "T2"]}
    )
    key = peer_key(assigned)
    assert key.height == 2  # the same code in two teams: two peer educators
    legend = assignment_legend(key, translator("en"))
    assert "<b>x</b>" not in legend and "&lt;b&gt;x&lt;/b&gt; (T2): 1" in legend


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_numbers_are_written_in_the_ink_that_contrasts_most_with_their_fill() -> None:
    for colour in PEER_COLOURS:
        on_black = (_luminance(colour) + 0.05) / 0.05
        on_white = 1.05 / (_luminance(colour) + 0.05)
        assert ink_for(colour) == ("#000" if on_black > on_white else "#fff"), colour
    assert (ink_for("#DDCC77"), ink_for("#332288")) == ("#000", "#fff")


def test_the_map_draws_the_key_and_the_numbers_from_a_close_zoom_on() -> None:
    outlines = {"type": "FeatureCollection", "features": []}
    html = (
        assignment_map(outlines, outlines, _assigned(24), translator("en"), language="en")
        .get_root()
        .render()
    )
    assert "PE24 (T1): 1" in html and "Zoom in to see each cell" in html
    assert "om-peer-num" in html
    assert ".om-zoom-11 .om-peer-num-icon" in html and ".om-zoom-12 .om-peer" not in html
