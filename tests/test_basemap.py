"""The offline basemap without a browser: its header, installing it, the maps that load it."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import stat
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from basemaps import AREA, BOUNDS, kampala_workspace, write_basemap
from helpers import query
from pmtiles.reader import MmapSource, Reader

from mapping.cli.main import EXIT_UNUSABLE, main
from mapping.errors import InvalidInputError
from mapping.maps.base import base_map, basemap_for, is_pmtiles
from mapping.maps.basemap import (
    BASEMAP_NAME,
    BASEMAP_SCRIPTS,
    LOCAL_BASEMAP_URL,
    install_basemap,
    local_basemap,
    read_basemap_header,
)
from mapping.storage.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A raster and a vector basemap of the test area, written once."""
    folder = tmp_path_factory.mktemp("basemaps")
    return {
        "raster": write_basemap(folder / "raster.pmtiles"),
        "vector": write_basemap(folder / "vector.pmtiles", vector=True, zooms=range(6, 13)),
    }


@pytest.fixture
def kampala(tmp_path: Path) -> Workspace:
    """The test area's workspace, without a basemap."""
    return kampala_workspace(
        tmp_path / "kampala", dt.datetime.now(ZoneInfo("Africa/Kampala")).date()
    )


@pytest.mark.parametrize("kind", ["raster", "vector"])
def test_the_header_is_what_the_pmtiles_package_reads(files: dict[str, Path], kind: str) -> None:
    """Kind, zoom levels and bounds agree with the pmtiles package's own reader."""
    header = read_basemap_header(files[kind])
    with files[kind].open("rb") as handle:
        truth = Reader(MmapSource(handle)).header()
    assert header.tile_type == {"raster": "png", "vector": "mvt"}[kind]
    assert header.vector is (kind == "vector")
    assert (header.min_zoom, header.max_zoom) == (truth["min_zoom"], truth["max_zoom"])
    assert header.bounds == pytest.approx(
        tuple(truth[k] / 1e7 for k in ("min_lon_e7", "min_lat_e7", "max_lon_e7", "max_lat_e7"))
    )
    assert header.bounds == pytest.approx(BOUNDS)
    assert header.size == files[kind].stat().st_size
    assert header.covers(AREA)
    assert not header.covers((32.0, 0.0, 33.0, 1.0))


def _patched(source: Path, target: Path, offset: int, value: bytes) -> Path:
    data = bytearray(source.read_bytes())
    data[offset : offset + len(value)] = value
    target.write_bytes(bytes(data))
    return target


def test_every_file_that_cannot_be_a_basemap_is_refused_with_the_fix(
    files: dict[str, Path], tmp_path: Path
) -> None:
    """Missing, not PMTiles, MBTiles, version 2 or 4, cut short, or tiles no browser draws."""
    missing = tmp_path / "nowhere.pmtiles"
    with pytest.raises(InvalidInputError, match=r"nowhere.pmtiles: cannot read the basemap file"):
        read_basemap_header(missing)

    text = tmp_path / "city.geojson"
    text.write_text('{"type": "FeatureCollection"}')
    with pytest.raises(
        InvalidInputError,
        match=r"city.geojson is not a PMTiles file \(it starts with b'\{\"type\": \"Featur'\)"
        r" — make one with `pmtiles extract` or `pmtiles convert`",
    ):
        read_basemap_header(text)

    mbtiles = tmp_path / "city.mbtiles"
    with sqlite3.connect(mbtiles) as connection:
        connection.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    connection.close()
    with pytest.raises(
        InvalidInputError,
        match=r"looks like MBTiles \(SQLite\): convert it with `pmtiles convert in.mbtiles",
    ):
        read_basemap_header(mbtiles)

    version_2 = tmp_path / "v2.pmtiles"
    version_2.write_bytes(b"PM\x02\x00" + bytes(600))
    with pytest.raises(
        InvalidInputError,
        match=r"v2.pmtiles is PMTiles version 2; the app reads version 3 — convert it with "
        r"`pmtiles convert old.pmtiles basemap.pmtiles`",
    ):
        read_basemap_header(version_2)
    version_4 = _patched(files["raster"], tmp_path / "v4.pmtiles", 7, b"\x04")
    with pytest.raises(InvalidInputError, match=r"v4.pmtiles is PMTiles version 4;"):
        read_basemap_header(version_4)

    short = tmp_path / "short.pmtiles"
    short.write_bytes(files["raster"].read_bytes()[:60])
    with pytest.raises(
        InvalidInputError, match=r"short.pmtiles is cut short \(60 bytes, a PMTiles header alone"
    ):
        read_basemap_header(short)

    # byte 99 of the header is the tile type: 6 is MapLibre tiles, which nothing here draws
    mlt = _patched(files["vector"], tmp_path / "mlt.pmtiles", 99, b"\x06")
    with pytest.raises(
        InvalidInputError,
        match=r"mlt.pmtiles holds tiles of type 6, which no browser draws — use vector",
    ):
        read_basemap_header(mlt)


def test_installing_copies_a_checked_file_private_to_its_owner(
    kampala: Workspace, files: dict[str, Path], tmp_path: Path
) -> None:
    """The copy is byte for byte, 0600, and a refused file leaves the old basemap in place."""
    assert local_basemap(kampala) is None
    header = install_basemap(kampala, files["raster"])
    installed = kampala.path / BASEMAP_NAME
    assert header == read_basemap_header(installed)
    assert installed.read_bytes() == files["raster"].read_bytes()
    assert stat.S_IMODE(installed.stat().st_mode) == 0o600
    assert local_basemap(kampala) == LOCAL_BASEMAP_URL

    broken = tmp_path / "broken.pmtiles"
    broken.write_bytes(b"not tiles")
    with pytest.raises(InvalidInputError, match=r"broken\.pmtiles is not a PMTiles file"):
        install_basemap(kampala, broken)
    assert installed.read_bytes() == files["raster"].read_bytes()
    assert sorted(p.name for p in kampala.path.iterdir() if p.name.startswith(".basemap")) == []


def test_the_workspace_file_wins_over_a_tile_server(
    kampala: Workspace, files: dict[str, Path]
) -> None:
    """Without a file the setting decides (off by default); with one, the file is drawn."""
    environ = {"OUTREACH_MAP_BASEMAP_URL": TILE_URL}
    assert basemap_for(kampala, {}) is None
    assert basemap_for(kampala, environ) == (TILE_URL, "Tiles: tiles.example.org")
    install_basemap(kampala, files["vector"])
    assert basemap_for(kampala, environ) == (LOCAL_BASEMAP_URL, "")
    assert basemap_for(kampala, {}) == (LOCAL_BASEMAP_URL, "")
    assert is_pmtiles(LOCAL_BASEMAP_URL)
    assert is_pmtiles("https://example.org/lima.pmtiles?v=2")
    assert not is_pmtiles(TILE_URL)


def test_a_map_with_the_basemap_loads_its_scripts_from_the_app_only() -> None:
    """The scripts follow Leaflet, the basemap is drawn by omBasemap, nothing is remote."""
    page = base_map(AREA, language="en", basemap=(LOCAL_BASEMAP_URL, "")).get_root().render()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts[-3:] == [url for _, url in BASEMAP_SCRIPTS]
    assert scripts[0].endswith("/leaflet.js")
    for _, url in BASEMAP_SCRIPTS:
        assert (ROOT / "static" / url.removeprefix("../../app/static/")).is_file(), url
    assert re.search(r'window\.omBasemap\(map, "\.\./\.\./api/basemap\.pmtiles", dark,', page)
    assert not re.search(r"https?://", page)
    assert "L.tileLayer" not in page


def test_without_a_basemap_a_map_loads_leaflet_alone() -> None:
    """No basemap file and no setting: Leaflet and its gesture handling only, nothing else."""
    page = base_map(AREA, language="en").get_root().render()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert len(scripts) == 2
    assert scripts[0].endswith("/leaflet.js")
    assert scripts[1].endswith("/leaflet-gesture-handling.min.js")
    assert "omBasemap" not in page
    assert "pmtiles" not in page


def test_config_installs_and_shows_the_basemap(
    kampala: Workspace,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``config --basemap`` checks, copies and audits; ``config`` says what is installed."""
    where = ["--workspace", str(kampala.path)]
    assert main(["config", *where]) == 0
    assert "basemap: none — the maps show district outlines only" in capsys.readouterr().out

    assert main(["config", *where, "--basemap", str(files["raster"])]) == 0
    out, err = capsys.readouterr()
    assert f"basemap: {kampala.path / BASEMAP_NAME} — raster (PNG) tiles, zoom 8–15" in out
    assert "warning" not in err
    assert (kampala.path / BASEMAP_NAME).read_bytes() == files["raster"].read_bytes()
    logged = query(kampala, "SELECT action, detail FROM audit_log WHERE action = 'setting'")
    assert logged == [("setting", "basemap raster (PNG) tiles, zoom 8–15, 0.1 MB")]

    assert main(["config", *where]) == 0
    assert "raster (PNG) tiles, zoom 8–15" in capsys.readouterr().out


def test_config_warns_of_a_basemap_too_small_or_too_coarse(
    kampala: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that misses part of the area, or stops before zoom 14, is installed with a warning."""
    small = write_basemap(
        tmp_path / "small.pmtiles", zooms=range(8, 12), bounds=(32.56, 0.31, 32.60, 0.32)
    )
    assert main(["config", "--workspace", str(kampala.path), "--basemap", str(small)]) == 0
    err = capsys.readouterr().err
    west, south, east, north = AREA
    assert (
        f"warning: the basemap does not cover the whole area ({west:.4f},{south:.4f},"
        f"{east:.4f},{north:.4f} W,S,E,N): parts of it will have no streets — extract a larger "
        "region, e.g. `pmtiles extract SOURCE basemap.pmtiles --bbox=32.50,0.25,32.69,0.38`"
    ) in err
    assert (
        "warning: the basemap stops at zoom 11: zoomed in to a block, its tiles are shown "
        "enlarged — extract with --maxzoom=15"
    ) in err


def test_config_refuses_a_file_that_is_no_basemap(
    kampala: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 2 and the reason; nothing is installed."""
    wrong = tmp_path / "lima.mbtiles"
    wrong.write_bytes(b"SQLite format 3\x00" + bytes(200))
    code = main(["config", "--workspace", str(kampala.path), "--basemap", str(wrong)])
    assert code == EXIT_UNUSABLE
    assert "lima.mbtiles is not a PMTiles file" in capsys.readouterr().err
    assert not (kampala.path / BASEMAP_NAME).exists()
