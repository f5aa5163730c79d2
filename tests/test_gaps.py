"""Emerging means the place itself, and a place's cluster is a gap of its own district.

Two wards, west (W) and east (E), meet on a north-south border drawn 130 m west of the centre
of one resolution-8 cell X, around Nairobi (36.8° E) and around Manila (121.0° E): X's centre
is in E, but visits at a venue just west of the border are in W. A third ward, S, 300 m across,
lies inside E far from X. The visits go through the real importer; the figures expected are
worked out here from the raw points (shapely point in polygon, h3 for cells), never from the
code under test.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import h3
import numpy as np
import polars as pl
import pytest
import shapely
import sqlalchemy as sa
from helpers import csv_text

from mapping.analysis.coverage import CoverageOptions, coverage_from_data
from mapping.analysis.coverage_data import CoverageData, load_coverage_data
from mapping.analysis.gaps import findings_by_district, hotspot_gaps
from mapping.analysis.signals import (
    SignalOptions,
    cell_signals,
    emerging_by_district,
    emerging_places,
    getis_ord_star,
)
from mapping.cli.main import main
from mapping.ingest.area import init_area
from mapping.ingest.registry_files import hotspots_from_file
from mapping.ingest.visits import visits_from_file
from mapping.periods import parse_period
from mapping.storage import store
from mapping.storage.workspace import Workspace

RESOLUTION = 8
#: Two places a programme could start in: Nairobi, and Manila east of 90° E.
CENTRES = {"nairobi": (-1.2900, 36.8000), "manila": (14.6000, 121.0000)}
Q2 = [dt.date(2026, 4, 1) + dt.timedelta(days=d) for d in range(91)]
Q3 = [dt.date(2026, 7, 1) + dt.timedelta(days=d) for d in range(92)]
#: The day the figures are measured at: after the third quarter.
TODAY = dt.date(2026, 11, 30)

Point = tuple[float, float]


@dataclass
class Area:
    """The wards, the cell X the W-E border crosses, and the workspace made of them."""

    workspace: Workspace
    wards: dict[str, shapely.Polygon]
    x: str
    #: A venue in W, in cell X (whose centre is in E), and a place in E in the same cell.
    venue_w: Point
    place_e: Point

    def ward_of(self, point: Point) -> str:
        """The ward holding a point, by shapely (the truth the tests compare with)."""
        (ward,) = [
            w
            for w, polygon in self.wards.items()
            if polygon.contains(shapely.Point(point[1], point[0]))
        ]
        return ward

    def centre(self, cell: str) -> Point:
        return h3.cell_to_latlng(cell)

    def ring(self, cell: str) -> list[str]:
        """The six neighbours of a cell, west to east."""
        return sorted(h3.grid_ring(cell, 1), key=lambda c: h3.cell_to_latlng(c)[1])


def build_area(path: Path, centre: Point) -> Area:
    """Wards W and E split 130 m west of the centre of the cell at ``centre``, and a ward S of
    300 m × 300 m inside E, 2 km south-east of it: smaller than a cell."""
    x = h3.latlng_to_cell(*centre, RESOLUTION)
    lat, lng = h3.cell_to_latlng(x)
    border = lng - 0.0012
    small = shapely.box(lng + 0.0186, lat - 0.0214, lng + 0.0213, lat - 0.0187)
    wards = {
        "W": shapely.box(lng - 0.04, lat - 0.04, border, lat + 0.04),
        "E": shapely.box(border, lat - 0.04, lng + 0.04, lat + 0.04).difference(small),
        "S": small,
    }
    districts = gpd.GeoDataFrame(
        {
            "id": list(wards),
            "name": ["Magharibi", "Mashariki", "Kidogo"],
            "population": [40_000.0, 30_000.0, 2_000.0],
        },
        geometry=list(wards.values()),
        crs=4326,
    )
    workspace = init_area(path, districts, name="Wards", resolution=RESOLUTION)
    area = Area(workspace, wards, x, venue_w=(lat, border - 0.0008), place_e=(lat, lng + 0.0003))
    # the set-up the tests rest on: the venue is in W but in X, whose centre is in E, and each
    # ward's piece of X is far from a sliver (more than 1/7 of the cell)
    assert h3.latlng_to_cell(*area.venue_w, RESOLUTION) == x
    assert h3.latlng_to_cell(*area.place_e, RESOLUTION) == x
    assert (area.ward_of(area.venue_w), area.ward_of(area.centre(x))) == ("W", "E")
    hexagon = shapely.Polygon([(b, a) for a, b in h3.cell_to_boundary(x)])
    for ward in ("W", "E"):
        assert hexagon.intersection(wards[ward]).area > hexagon.area / 7
    return area


@pytest.fixture(params=sorted(CENTRES))
def area(request: pytest.FixtureRequest, tmp_path: Path) -> Area:
    """The two wards around Nairobi or Manila, with nothing imported yet."""
    return build_area(tmp_path / "ws", CENTRES[request.param])


def import_visits(area: Area, folder: Path, visits: list[tuple[Point, dt.date]], name: str) -> None:
    """Import visits through the real pipeline, each stored in the ward of its own point.

    One file per ward; after each import its visits are given the ward of their points, as the
    district attribution at import does (until it lands, the store's stop-gap gives a visit
    the district of its cell's centre; afterwards this changes nothing).
    """
    for ward in sorted(area.wards):
        rows = [
            (day.isoformat(), "PE1", "T1", point[0], point[1], f"KA{index:05d}")
            for index, (point, day) in enumerate(visits)
            if area.ward_of(point) == ward
        ]
        if not rows:
            continue
        path = folder / f"{name}-{ward}.csv"
        path.write_text(
            csv_text(
                ("date", "peer_educator", "team", "latitude", "longitude", "contact_code"), rows
            ),
            encoding="utf-8",
        )
        assert visits_from_file(area.workspace, path).accepted == len(rows)
        with area.workspace.begin() as connection:
            last = connection.execute(sa.select(sa.func.max(store.imports.c.id))).scalar()
            connection.execute(
                store.visits.update()
                .where(store.visits.c.import_id == last)
                .values(district_id=ward, district_estimated=False)
            )


def register(area: Area, folder: Path, hotspots: dict[str, Point]) -> None:
    """Register hotspots at points, each stored in the ward of its point (see import_visits)."""
    path = folder / "hotspots.csv"
    path.write_text(
        csv_text(
            (
                "id",
                "latitude",
                "longitude",
                "typology",
                "days",
                "opening_hours",
                "size_min",
                "size_max",
            ),
            [
                (i, lat, lng, "bar", "Mo-Su", "20:00-04:00", 5, 10)
                for i, (lat, lng) in hotspots.items()
            ],
        ),
        encoding="utf-8",
    )
    assert hotspots_from_file(area.workspace, path).accepted == len(hotspots)
    with area.workspace.begin() as connection:
        for hotspot, point in hotspots.items():
            connection.execute(
                store.hotspots.update()
                .where(store.hotspots.c.id == hotspot)
                .values(district_id=area.ward_of(point), district_estimated=False)
            )


def times(point: Point, days: list[dt.date], n: int) -> list[tuple[Point, dt.date]]:
    """``n`` visits at ``point``, spread over ``days``."""
    return [(point, days[i % len(days)]) for i in range(n)]


def far_cells(area: Area, count: int) -> list[str]:
    """Cells of the area at least three rings from X, deep inside one ward, for background."""
    lat, lng = area.centre(area.x)
    cells = [h3.latlng_to_cell(lat + 0.03, lng - 0.02 + 0.01 * i, RESOLUTION) for i in range(count)]
    assert all(h3.grid_distance(area.x, c) >= 3 for c in cells)
    return cells


def load(area: Area) -> CoverageData:
    return load_coverage_data(area.workspace, parse_period("2026-Q3"), today=TODAY)


def test_a_busy_cells_quiet_neighbour_is_not_emerging(area: Area, tmp_path: Path) -> None:
    """1,090 visits at an unregistered venue, 5 in the cell beside it: only the venue emerges.

    Gi* alone flagged the 5-visit cell too (its window holds the venue's visits); its own visits
    are no cluster. The venue and the busy cell west of it rank by their own visits, and the
    venue is a gap of W, where its visits were stored, though X's centre is in E.
    """
    west, _, _, _, _, east = area.ring(area.x)
    background = far_cells(area, 2)
    register(area, tmp_path, {f"H{i}": area.centre(c) for i, c in enumerate(background, 1)})
    visits = times(area.venue_w, Q3, 1090) + times(area.place_e, Q3, 20)
    visits += times(area.centre(east), Q3, 5) + times(area.centre(west), Q3, 800)
    for cell in background:  # steady registered hotspots: the area's ordinary activity
        visits += times(area.centre(cell), Q2, 30) + times(area.centre(cell), Q3, 30)
    import_visits(area, tmp_path, visits, "visits")

    data = load(area)
    cells = cell_signals(data).with_columns(pl.col("cell").map_elements(h3.int_to_str, pl.String))
    by_cell = {row["cell"]: row for row in cells.iter_rows(named=True)}
    # the score is the cell's own: far apart, where Gi* put the quiet cell near the venue
    assert by_cell[area.x]["visits"] == 1110 and by_cell[east]["visits"] == 5
    assert by_cell[area.x]["z_score"] > 4 > 0.5 > by_cell[east]["z_score"]
    assert by_cell[east]["cluster_z"] > 2.33 and by_cell[east]["cluster_p"] < 0.01
    assert by_cell[east]["window_mean"] == pytest.approx((1110 + 5) / 7, abs=0.01)

    places = emerging_places(data).with_columns(
        pl.col("cell").map_elements(h3.int_to_str, pl.String)
    )
    # the venue's visits in W, then the cell west of it; not the 20 visits in E's part of X,
    # nor the 5-visit neighbour
    truth = (
        pl.DataFrame(
            {
                "cell": [h3.latlng_to_cell(*p, RESOLUTION) for p, _ in visits],
                "district_id": [area.ward_of(p) for p, _ in visits],
            }
        )
        .group_by("cell", "district_id")
        .len()
    )
    expected = [(area.x, "W"), (west, "W")]
    assert places.select("cell", "district_id").rows() == expected
    for row in places.iter_rows(named=True):
        n = truth.filter(
            (pl.col("cell") == row["cell"]) & (pl.col("district_id") == row["district_id"])
        )
        assert row["visits"] == n["len"].item()
    assert places["visits"].to_list() == [1090, 800] and places["z_score"].is_sorted(
        descending=True
    )
    assert places["cell_visits"].to_list() == [1110, 800]

    report = coverage_from_data(data, CoverageOptions())
    gaps = hotspot_gaps(report, data)
    emerging = gaps.filter(pl.col("kind") == "emerging")
    assert emerging.select("cell_id", "district", "visits").rows() == [
        (area.x, "Magharibi", 1090),
        (west, "Magharibi", 800),
    ]
    assert "1090 visits here against 0" in emerging["detail"][0]
    assert (
        hotspot_gaps(report, data, district_id="E").filter(pl.col("kind") == "emerging").height == 0
    )
    # each district's gap list counts its unregistered clusters, and so does the figure the
    # coverage ranking can take (no report needed)
    summary = findings_by_district(gaps).filter(pl.col("district_id") == "W").row(0, named=True)
    assert (summary["emerging"], summary["emerging_visits"]) == (2, 1890)
    assert emerging_by_district(data).rows() == [("E", 0, 0), ("S", 0, 0), ("W", 2, 1890)]


def test_a_quiet_cell_among_busy_hotspots_is_not_emerging(area: Area, tmp_path: Path) -> None:
    """Five visits in a cell ringed by six busy registered hotspots: Gi* flags it, its own visits
    do not. A steady unregistered place is not emerging either; a new one as busy is."""
    ring = area.ring(area.x)
    register(area, tmp_path, {f"R{i}": area.centre(c) for i, c in enumerate(ring, 1)})
    steady, new = far_cells(area, 2)
    visits = times(area.centre(area.x), Q3, 5)
    for cell in ring:
        visits += times(area.centre(cell), Q2, 40) + times(area.centre(cell), Q3, 40)
    visits += times(area.centre(steady), Q2, 120) + times(area.centre(steady), Q3, 120)
    visits += times(area.centre(new), Q3, 120)
    import_visits(area, tmp_path, visits, "visits")

    data = load(area)
    cells = cell_signals(data).with_columns(pl.col("cell").map_elements(h3.int_to_str, pl.String))
    quiet = cells.filter(pl.col("cell") == area.x).row(0, named=True)
    # what the old rule looked at: significant, unregistered, 5 visits, grown from none
    assert quiet["cluster_z"] > 0 and quiet["cluster_p"] < 0.01 and not quiet["registered"]
    assert (quiet["visits"], quiet["previous_visits"]) == (5, 0)
    places = emerging_places(data).with_columns(
        pl.col("cell").map_elements(h3.int_to_str, pl.String)
    )
    assert places.select("cell", "visits", "previous_visits").rows() == [(new, 120, 0)]


def test_every_place_is_checked_against_the_options(area: Area, tmp_path: Path) -> None:
    """The minimum visits and the growth are the place's own; fewer than the minimum never count."""
    lone = far_cells(area, 1)[0]
    import_visits(area, tmp_path, times(area.centre(lone), Q3, 4), "visits")
    data = load(area)
    assert emerging_places(data).height == 0  # 4 visits: under the minimum of 5
    assert emerging_places(data, SignalOptions(min_visits=4)).height == 1
    # four times as many visits per day as before are needed with growth 4: 4 against 1 is not
    import_visits(area, tmp_path, [(area.centre(lone), dt.date(2026, 5, 1))], "before")
    data = load(area)
    options = SignalOptions(min_visits=4, growth=4.0)
    assert emerging_places(data, options).height == 0
    assert emerging_places(data, SignalOptions(min_visits=4, growth=3.0)).height == 1


def test_gi_star_is_pysals(area: Area) -> None:
    """The vectorised Gi* equals PySAL's esda.G_Local (binary weights, star) on the area's cells."""
    from esda import G_Local
    from libpysal.weights import W

    from mapping.analysis.signals import _neighbours

    cells = sorted(h3.str_to_int(c) for c in h3.grid_disk(area.x, 5))
    rng = np.random.default_rng(7)
    y = rng.poisson(2, len(cells)).astype(float)
    y[:3] = [300, 40, 0]
    index = {cell: i for i, cell in enumerate(cells)}
    neighbours = {
        i: [
            index[h3.str_to_int(n)]
            for n in h3.grid_ring(h3.int_to_str(c), 1)
            if h3.str_to_int(n) in index
        ]
        for i, c in enumerate(cells)
    }
    expected = G_Local(
        y, W(neighbours, silence_warnings=True), transform="B", star=True, permutations=0
    ).Zs
    ours = getis_ord_star(y, _neighbours(pl.Series(cells, dtype=pl.Int64)))
    assert ours == pytest.approx(np.asarray(expected), abs=1e-9)
    assert np.all(getis_ord_star(np.zeros(len(cells)), _neighbours(pl.Series(cells))) == 0)


def test_the_gaps_command_lists_each_districts_gaps(
    area: Area, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command names the venue's ward and counts its cluster in that ward's gap list."""
    import_visits(area, tmp_path, times(area.venue_w, Q3, 60), "visits")
    argv = ["gaps", "--workspace", str(area.workspace.path), "--period", "2026-Q3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    findings, by_district = out.split("\nby district:\n")
    assert f"emerging  Magharibi  {area.x}" in findings
    assert by_district.splitlines()[2].split() == ["Magharibi", "0", "0", "1", "0", "60"]
    assert main([*argv, "--format", "csv"]) == 0
    rows = pl.read_csv(io.StringIO(capsys.readouterr().out))
    assert rows.select("kind", "district_id", "visits").rows() == [("emerging", "W", 60)]


def test_a_border_cell_emerging_in_two_districts_is_one_outline() -> None:
    """Two findings (one per district) of one cell draw one dashed outline on the map."""
    from mapping.maps.coverage import findings_layer

    cell = h3.latlng_to_cell(*CENTRES["manila"], RESOLUTION)
    findings = pl.DataFrame(
        {
            "kind": ["emerging", "emerging", "overdue"],
            "cell_id": [cell, cell, cell],
            "district_id": ["W", "E", "W"],
        }
    )
    layer = findings_layer(findings, lambda key, **_: key)
    assert len(layer["features"]) == 1
