"""No map the app draws holds the coordinate of an imported visit, at any rounding."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
from helpers import write_csv

from mapping.analysis.coverage import coverage
from mapping.analysis.coverage_data import load_coverage_data
from mapping.analysis.gaps import hotspot_gaps
from mapping.analysis.peers import services_open_now, team_cells, team_peer_educator_ids
from mapping.i18n import translator
from mapping.ingest.visits import visits_from_file
from mapping.maps.base import district_layers
from mapping.maps.coverage import (
    cells_map,
    chosen_cell_layer,
    coverage_layer,
    coverage_map,
    findings_layer,
    hotspot_layer,
    open_services_layer,
    recency_legend,
    team_layer,
)
from mapping.maps.overview import overview_layers, overview_map
from mapping.periods import parse_period
from mapping.storage.workspace import Workspace

#: Visits in Lima, Miraflores, San Juan de Lurigancho and Callao, with many decimals each.
POINTS = [
    (-12.0463731, -77.0427934),
    (-12.1211375, -77.0296813),
    (-11.9923519, -77.0077245),
    (-12.0566108, -77.1181572),
]
TODAY = dt.date(2026, 11, 20)


#: Nearer than this (degrees, about 2 m) a drawn point would give a visit's place away.
NEAR = 2e-5
PAIR = re.compile(r"\[\s*(-?\d+\.\d+),\s*(-?\d+\.\d+)\s*\]")


def _nearest(page: str, lat: float, lng: float) -> float:
    """Return the distance (degrees) from a point to the nearest [lng, lat] pair in a page."""
    pairs = np.array([(float(a), float(b)) for a, b in PAIR.findall(page)])
    return float(np.hypot(pairs[:, 0] - lng, pairs[:, 1] - lat).min())


def test_no_map_holds_a_visit_coordinate(workspace: Workspace, tmp_path: Path) -> None:
    rows = [
        (f"2026-11-{10 + i:02d}", lat, lng, "PE-1", "T1", f"C-{i:03d}")
        for i, (lat, lng) in enumerate(POINTS * 3)
    ]
    path = write_csv(
        tmp_path / "visits.csv",
        ["date", "latitude", "longitude", "peer_educator", "team", "contact_code"],
        rows,
    )
    assert visits_from_file(workspace, path).accepted == len(rows)
    t = translator("en")
    with workspace.connect() as connection:
        outlines, labels = district_layers(connection)
    report = coverage(workspace, "last-30-days", today=TODAY)
    data = load_coverage_data(workspace, parse_period("last-30-days", today=TODAY), today=TODAY)
    cells = team_cells(data, team_peer_educator_ids(workspace, "T1"))
    assert cells.height == len(POINTS)  # every visit found its cell
    services = services_open_now(
        data, report.options, near=cells["cell"].to_list(), now=dt.datetime(2026, 11, 20, 22)
    )
    pages = [
        overview_map(overview_layers(workspace), language="en"),
        coverage_map(coverage_layer(report, outlines, t), labels, t, language="en"),
        cells_map(
            outlines,
            labels,
            [
                ("hotspots", hotspot_layer(report, t)),
                ("findings", findings_layer(hotspot_gaps(report, data), t)),
                ("team", team_layer(cells, t, recent_days=30, overdue_days=35)),
                ("open", open_services_layer(services, t)),
                ("picked", chosen_cell_layer(int(cells["cell"][0]), "here")),
            ],
            recency_legend(t, 30),
            language="en",
        ),
    ]
    for page in (m.get_root().render() for m in pages):
        assert len(PAIR.findall(page)) > 1000  # district outlines and cells are drawn
        for lat, lng in POINTS:
            assert _nearest(page, lat, lng) > NEAR, (lat, lng)
        assert "C-00" not in page  # nor a contact code


def test_the_check_finds_a_point_drawn_at_a_visit() -> None:
    """Control: a map holding a visit's point (5 decimals, as GeoJSON) fails the check."""
    lat, lng = POINTS[0]
    page = f'{{"type": "Point", "coordinates": [{lng:.5f}, {lat:.5f}]}}, [-77.1, -12.2]'
    assert _nearest(page, lat, lng) < NEAR
