"""Travel time: the straight-line model, and a street network read from an OSM file on disk."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mapping.errors import UnusableFileError
from mapping.settings import Settings
from mapping.travel import RoadNetworkTravel, StraightLineTravel, distances_km, travel_model

NORTH_BANK, SOUTH_BANK = -12.070, -12.079
WEST_END, BRIDGE = -77.080, -77.040


def river_town(path: Path) -> Path:
    """An OSM extract: a street on each bank of a river, joined by one bridge at the east end."""
    lngs = np.linspace(WEST_END, BRIDGE, 9)
    nodes, ways = [], []
    for row, lat in enumerate((NORTH_BANK, SOUTH_BANK)):
        ids = [100 * (row + 1) + i for i in range(len(lngs))]
        nodes += [
            f'<node id="{i}" lat="{lat}" lon="{lng:.6f}"/>'
            for i, lng in zip(ids, lngs, strict=True)
        ]
        refs = "".join(f'<nd ref="{i}"/>' for i in ids)
        ways.append(f'<way id="{row + 1}">{refs}<tag k="highway" v="residential"/></way>')
    ways.append('<way id="3"><nd ref="108"/><nd ref="208"/><tag k="highway" v="footway"/></way>')
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        + "".join(nodes)
        + "".join(ways)
        + "</osm>",
        encoding="utf-8",
    )
    return path


def test_straight_line_minutes() -> None:
    """1 km of straight line, x 1.3, at 4.5 km/h."""
    lat, lng = np.array([NORTH_BANK]), np.array([WEST_END])
    to_lat, to_lng = np.array([SOUTH_BANK]), np.array([WEST_END])
    km = distances_km(lat, lng, to_lat, to_lng)[0, 0]
    assert km == pytest.approx(1.0, abs=0.01)
    minutes = StraightLineTravel().minutes(lat, lng, to_lat, to_lng)
    assert minutes[0, 0] == pytest.approx(km * 1.3 / 4.5 * 60)


def test_the_street_network_goes_round_by_the_bridge(tmp_path: Path) -> None:
    """Across the river it is 1 km as the crow flies but about 9.8 km by the bridge."""
    model = replace(RoadNetworkTravel.from_file(river_town(tmp_path / "town.osm")), max_minutes=240)
    origin = (np.array([NORTH_BANK]), np.array([WEST_END]))
    across = (np.array([SOUTH_BANK]), np.array([WEST_END]))
    along = (np.array([NORTH_BANK]), np.array([BRIDGE]))
    to_lat = np.concatenate([across[0], along[0]])
    to_lng = np.concatenate([across[1], along[1]])
    minutes = model.minutes(*origin, to_lat, to_lng)
    street_km = distances_km(*origin, *along)[0, 0]
    river_km = distances_km(*origin, *across)[0, 0]
    assert minutes[0, 1] == pytest.approx(street_km / 4.5 * 60, rel=0.01)
    assert minutes[0, 0] == pytest.approx((2 * street_km + river_km) / 4.5 * 60, rel=0.01)
    assert minutes[0, 0] > 100 > StraightLineTravel().minutes(*origin, *across)[0, 0]
    assert model.describe() == "street network town.osm at 4.5 km/h"
    # farther than max_minutes is not searched
    short = replace(model, max_minutes=60)
    assert np.isinf(short.minutes(*origin, *across)[0, 0])


def test_travel_model_follows_settings(tmp_path: Path) -> None:
    """OUTREACH_MAP_ROAD_NETWORK turns the network on; a bad file is refused with the fix."""
    assert isinstance(travel_model(Settings()), StraightLineTravel)
    town = river_town(tmp_path / "town.osm")
    settings = Settings.from_env({"OUTREACH_MAP_ROAD_NETWORK": str(town)})
    assert isinstance(travel_model(settings), RoadNetworkTravel)
    with pytest.raises(UnusableFileError, match=r"does not exist — give the path of an \.osm"):
        RoadNetworkTravel.from_file(tmp_path / "missing.osm")
    pbf = tmp_path / "peru.osm.pbf"
    pbf.write_bytes(b"\x00")
    with pytest.raises(UnusableFileError, match=r"\.pbf is not read — give OSM XML"):
        RoadNetworkTravel.from_file(pbf)
    broken = tmp_path / "broken.osm"
    broken.write_text("<osm><node", encoding="utf-8")
    with pytest.raises(UnusableFileError, match=r"broken\.osm could not be read"):
        RoadNetworkTravel.from_file(broken)
    bare = tmp_path / "bare.osm"
    bare.write_text('<osm version="0.6"><node id="1" lat="-12" lon="-77"/></osm>', encoding="utf-8")
    with pytest.raises(UnusableFileError, match=r"bare\.osm holds no streets"):
        RoadNetworkTravel.from_file(bare)
