"""The offline basemap: a PMTiles file in the workspace, its header, and the maps that draw it.

A workspace may hold ``basemap.pmtiles`` (an extract of the programme's city, docs/basemap.md).
The app serves it itself (``views/web.py``) and every map draws it with the vendored
``pmtiles`` and ``protomaps-leaflet`` (``static/om/basemap.js``): streets without a request to
any other server. Vector (Protomaps basemap schema) and raster (PNG, JPEG, WebP, AVIF) files are
both drawn; the file's header says which.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import folium
from branca.element import MacroElement
from folium.template import Template

from mapping.errors import InvalidInputError
from mapping.storage.workspace import PRIVATE_FILE, Workspace

#: The basemap's file name in a workspace folder.
BASEMAP_NAME = "basemap.pmtiles"
#: Where the app serves the workspace's basemap (under ``server.baseUrlPath``, if set).
BASEMAP_ROUTE = "/api/basemap.pmtiles"
#: The same, relative to a component's page (``<base>/component/<name>/index.html``), the
#: frame every folium map lives in: it works under any ``server.baseUrlPath``.
LOCAL_BASEMAP_URL = "../../api/basemap.pmtiles"
#: Where the app serves ``./static``, relative to a component's page.
STATIC_URL = "../../app/static"
#: The scripts a map with a PMTiles basemap loads, after Leaflet, in this order.
BASEMAP_SCRIPTS = (
    ("pmtiles", f"{STATIC_URL}/vendor/pmtiles-4.5.0/pmtiles.js"),
    ("protomaps_leaflet", f"{STATIC_URL}/vendor/protomaps-leaflet-5.1.0/protomaps-leaflet.js"),
    ("om_basemap", f"{STATIC_URL}/om/basemap.js"),
)

#: A PMTiles version 3 header: 127 bytes, little-endian (github.com/protomaps/PMTiles, spec v3).
_HEADER = struct.Struct("<7sB11QBBBBBBiiiiBii")
_MAGIC = b"PMTiles"
#: The header's tile types the app draws, by their code in the header.
TILE_TYPES = {1: "mvt", 2: "png", 3: "jpeg", 4: "webp", 5: "avif"}
_CONVERT_HINT = (
    "make one with `pmtiles extract` or `pmtiles convert` (go-pmtiles), see docs/basemap.md"
)


@dataclass(frozen=True)
class BasemapHeader:
    """What a PMTiles file's header says: its kind of tiles, zoom levels and bounds."""

    #: ``"mvt"`` (vector) or ``"png"``, ``"jpeg"``, ``"webp"``, ``"avif"`` (raster).
    tile_type: str
    min_zoom: int
    max_zoom: int
    #: (min lon, min lat, max lon, max lat) in degrees.
    bounds: tuple[float, float, float, float]
    #: Bytes of the whole file.
    size: int

    @property
    def vector(self) -> bool:
        """Whether the tiles are vector tiles (drawn by protomaps-leaflet in the phone)."""
        return self.tile_type == "mvt"

    def covers(self, bounds: tuple[float, float, float, float]) -> bool:
        """Whether the file's bounds hold ``bounds`` (min lon, min lat, max lon, max lat)."""
        west, south, east, north = self.bounds
        return west <= bounds[0] and south <= bounds[1] and east >= bounds[2] and north >= bounds[3]

    def summary(self) -> str:
        """Return its kind, zoom levels and size, without a place (fit for the audit log)."""
        kind = "vector (Protomaps)" if self.vector else f"raster ({self.tile_type.upper()})"
        size = f"{self.size / 1e6:.1f} MB" if self.size >= 100_000 else f"{self.size:,} bytes"
        return f"{kind} tiles, zoom {self.min_zoom}–{self.max_zoom}, {size}"

    def describe(self) -> str:
        """Return one line for a person: kind, zoom levels, size and bounds."""
        west, south, east, north = self.bounds
        return f"{self.summary()}, bounds {west:.4f},{south:.4f},{east:.4f},{north:.4f} (W,S,E,N)"


def read_basemap_header(path: Path) -> BasemapHeader:
    """Return the header of the PMTiles file at ``path``, or say why it cannot be a basemap.

    Raises
    ------
    InvalidInputError
        The file is missing, is not PMTiles, is an older PMTiles version, or holds tiles of a
        kind no browser draws; the message names the file and the fix.
    """
    try:
        with path.open("rb") as handle:
            raw = handle.read(_HEADER.size)
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(
            f"{path}: cannot read the basemap file ({exc.strerror or exc}) — check the path"
        ) from exc
    if raw[:2] == b"PM" and raw[:7] != _MAGIC and len(raw) >= 4:
        # PMTiles version 2 starts with "PM" and its version as a 16-bit number
        raise _version_error(path, int.from_bytes(raw[2:4], "little"))
    if raw[:7] != _MAGIC:
        hint = (
            " — it looks like MBTiles (SQLite): convert it with "
            "`pmtiles convert in.mbtiles basemap.pmtiles`"
            if raw.startswith(b"SQLite format 3")
            else f" — {_CONVERT_HINT}"
        )
        raise InvalidInputError(f"{path} is not a PMTiles file (it starts with {raw[:16]!r}){hint}")
    if len(raw) < _HEADER.size:
        raise InvalidInputError(
            f"{path} is cut short ({len(raw)} bytes, a PMTiles header alone is {_HEADER.size}) "
            "— copy the file again"
        )
    fields = _HEADER.unpack(raw)
    version = fields[1]
    if version != 3:
        raise _version_error(path, version)
    tile_type_code, min_zoom, max_zoom = fields[16], fields[17], fields[18]
    if tile_type_code not in TILE_TYPES:
        raise InvalidInputError(
            f"{path} holds tiles of type {tile_type_code}, which no browser draws — use vector "
            "(MVT, Protomaps basemap) or PNG, JPEG, WebP or AVIF tiles"
        )
    west, south, east, north = (value / 1e7 for value in fields[19:23])
    return BasemapHeader(
        tile_type=TILE_TYPES[tile_type_code],
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        bounds=(west, south, east, north),
        size=size,
    )


def _version_error(path: Path, version: int) -> InvalidInputError:
    return InvalidInputError(
        f"{path} is PMTiles version {version}; the app reads version 3 — convert it with "
        "`pmtiles convert old.pmtiles basemap.pmtiles`"
    )


def basemap_file(folder: Path) -> Path | None:
    """Return the basemap file of the workspace folder ``folder``, or ``None`` if it has none."""
    file = folder / BASEMAP_NAME
    return file if file.is_file() else None


def local_basemap(workspace: Workspace) -> str | None:
    """Return the URL the maps load the workspace's basemap from, or ``None`` without one.

    The URL is relative to a component's page, so it works under any ``server.baseUrlPath``.
    """
    return LOCAL_BASEMAP_URL if basemap_file(workspace.path) is not None else None


def install_basemap(workspace: Workspace, source: Path) -> BasemapHeader:
    """Copy the PMTiles file ``source`` into the workspace as its basemap; return its header.

    The file is checked first, then written beside the old one and renamed over it, so the
    running app never serves half a file. Like every file of the workspace it is readable by
    its owner only (0600): the app reads it as that account.
    """
    header = read_basemap_header(source)
    target = workspace.path / BASEMAP_NAME
    descriptor, scratch = tempfile.mkstemp(prefix=".basemap-", dir=workspace.path)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
        with os.fdopen(descriptor, "wb") as out, source.open("rb") as given:
            shutil.copyfileobj(given, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return header


class OfflineBasemap(MacroElement):  # type: ignore[misc]
    """Draw a PMTiles basemap below the map's layers, in the device's light or dark flavour."""

    _template = Template(
        r"""
        {% macro script(this, kwargs) %}
            (function (map) {
                var dark = !!(window.matchMedia
                    && window.matchMedia("(prefers-color-scheme: dark)").matches);
                if (window.omBasemap) {
                    window.omBasemap(map, {{ this.url|tojson }}, dark,
                                     {attribution: {{ this.attribution|tojson }}});
                }
            })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str, attribution: str = "") -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "OfflineBasemap"
        self.url = url
        self.attribution = attribution


def add_pmtiles_basemap(m: folium.Map, url: str, attribution: str = "") -> folium.Map:
    """Make ``m`` load the vendored PMTiles scripts and draw the basemap at ``url``.

    Parameters
    ----------
    m : folium.Map
        A map whose scripts are the vendored Leaflet (:func:`mapping.maps.base.use_local_assets`).
    url : str
        The PMTiles file, e.g. :data:`LOCAL_BASEMAP_URL`.
    attribution : str
        A credit line; empty means the file's own (``© OpenStreetMap`` for vector tiles).

    Returns
    -------
    folium.Map
        ``m`` itself.
    """
    m.default_js = [*m.default_js, *BASEMAP_SCRIPTS]
    OfflineBasemap(url, attribution).add_to(m)
    return m
