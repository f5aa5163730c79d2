"""Travel time between places: straight-line distance with a detour factor, at a given speed."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mapping.errors import UnusableFileError
from mapping.settings import Settings, get_settings

#: Mean Earth radius in km (IUGG), the usual radius for haversine distances.
EARTH_RADIUS_KM = 6371.0088


class TravelModel(Protocol):
    """Anything that gives travel minutes from each origin to each destination."""

    def minutes(
        self, from_lat: np.ndarray, from_lng: np.ndarray, to_lat: np.ndarray, to_lng: np.ndarray
    ) -> np.ndarray:
        """Return a matrix of travel minutes, one row per origin and one column per destination."""
        ...

    def describe(self) -> str:
        """Return the model in words, for reports and run sheets."""
        ...


def distances_km(
    from_lat: np.ndarray, from_lng: np.ndarray, to_lat: np.ndarray, to_lng: np.ndarray
) -> np.ndarray:
    """Return great-circle (haversine) distances in km, origins by rows, destinations by columns.

    Examples
    --------
    >>> d = distances_km(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([1.0]))
    >>> round(float(d[0, 0]), 1)
    111.2
    """
    lat1 = np.radians(np.asarray(from_lat, dtype=float))[:, None]
    lng1 = np.radians(np.asarray(from_lng, dtype=float))[:, None]
    lat2 = np.radians(np.asarray(to_lat, dtype=float))[None, :]
    lng2 = np.radians(np.asarray(to_lng, dtype=float))[None, :]
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    )
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))))


@dataclass(frozen=True)
class StraightLineTravel:
    """Travel minutes as straight-line distance times a detour factor, at a constant speed.

    The default (4.5 km/h on foot, streets 1.3 times the straight line) is documented with its
    sources in docs/coverage.md.
    """

    speed_kmh: float = Settings.travel_speed_kmh
    detour_factor: float = Settings.detour_factor

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> StraightLineTravel:
        """Return the model with the deployment's speed and detour factor."""
        settings = settings or get_settings()
        return cls(speed_kmh=settings.travel_speed_kmh, detour_factor=settings.detour_factor)

    def minutes(
        self, from_lat: np.ndarray, from_lng: np.ndarray, to_lat: np.ndarray, to_lng: np.ndarray
    ) -> np.ndarray:
        """Return a matrix of travel minutes, one row per origin and one column per destination.

        Examples
        --------
        >>> model = StraightLineTravel(speed_kmh=6.0, detour_factor=1.0)
        >>> km_per_degree = 111.195
        >>> m = model.minutes(np.array([0.0]), np.array([0.0]), np.array([0.0]), np.array([0.01]))
        >>> round(float(m[0, 0]), 2) == round(0.01 * km_per_degree / 6 * 60, 2)
        True
        """
        km = distances_km(from_lat, from_lng, to_lat, to_lng) * self.detour_factor
        return np.asarray(km / self.speed_kmh * 60.0)

    def describe(self) -> str:
        """Return the model in words, for reports."""
        return f"straight line x {self.detour_factor:g} detour factor at {self.speed_kmh:g} km/h"


@dataclass(frozen=True)
class RoadNetworkTravel:
    """Travel minutes along a street network read from an OpenStreetMap extract on disk.

    Walking ignores one-way rules, so every street is used both ways. Each place is joined to
    its nearest network node by a straight leg (times the detour factor). Journeys longer than
    ``max_minutes`` are not searched and come back as infinite, which keeps a city-sized
    network fast.
    """

    nodes_lat: np.ndarray
    nodes_lng: np.ndarray
    graph: Any  # scipy.sparse.csr_matrix of street lengths in metres
    source: str
    speed_kmh: float = Settings.travel_speed_kmh
    detour_factor: float = Settings.detour_factor
    max_minutes: float = 120.0

    @classmethod
    def from_file(
        cls,
        path: Path,
        *,
        speed_kmh: float = Settings.travel_speed_kmh,
        detour_factor: float = Settings.detour_factor,
    ) -> RoadNetworkTravel:
        """Read an OSM XML extract (``.osm``) or an OSMnx GraphML file (``.graphml``).

        Nothing is downloaded: the file must already be on disk (export one for your area
        from openstreetmap.org, or cut one from a Geofabrik extract with osmium).
        """
        import osmnx as ox
        from scipy.sparse import coo_matrix

        if not path.exists():
            raise UnusableFileError(
                f"road network {path} does not exist — give the path of an .osm or .graphml "
                "file, or unset OUTREACH_MAP_ROAD_NETWORK to use straight-line travel"
            )
        suffix = path.suffix.lower()
        try:
            if suffix == ".graphml":
                graph = ox.load_graphml(path)
            elif suffix in (".osm", ".xml"):
                # unsimplified: every OSM node stays, so places snap to a node near them
                graph = ox.graph_from_xml(path, bidirectional=True, retain_all=True, simplify=False)
            else:
                raise UnusableFileError(
                    f"road network {path.name}: {suffix or 'no extension'} is not read — give "
                    "OSM XML (.osm; convert a .pbf with `osmium cat in.pbf -o out.osm`) or "
                    "GraphML (.graphml)"
                )
        except (ValueError, OSError, ET.ParseError) as exc:
            raise UnusableFileError(
                f"road network {path.name} could not be read ({exc}) — check the file"
            ) from exc
        ids = list(graph.nodes)
        if not ids or graph.number_of_edges() == 0:
            raise UnusableFileError(
                f"road network {path.name} holds no streets (ways tagged highway=*) — check "
                "that the extract covers the area and was exported with its ways"
            )
        index = {node: i for i, node in enumerate(ids)}
        lat = np.array([graph.nodes[n]["y"] for n in ids], dtype=float)
        lng = np.array([graph.nodes[n]["x"] for n in ids], dtype=float)
        rows, cols, lengths = [], [], []
        for u, v, data in graph.edges(data=True):
            rows += [index[u], index[v]]
            cols += [index[v], index[u]]
            length = float(data.get("length", 0.0)) or 0.01
            lengths += [length, length]
        size = len(ids)
        # parallel streets between the same two nodes: keep the shortest (coo would sum them)
        shortest: dict[tuple[int, int], float] = {}
        for r, c, length in zip(rows, cols, lengths, strict=True):
            key = (r, c)
            shortest[key] = min(length, shortest.get(key, np.inf))
        keys = list(shortest)
        matrix = coo_matrix(
            ([shortest[k] for k in keys], ([k[0] for k in keys], [k[1] for k in keys])),
            shape=(size, size),
        ).tocsr()
        return cls(
            nodes_lat=lat,
            nodes_lng=lng,
            graph=matrix,
            source=path.name,
            speed_kmh=speed_kmh,
            detour_factor=detour_factor,
        )

    def _nearest(self, lat: np.ndarray, lng: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the nearest node of each point and the straight distance to it in km."""
        from scipy.spatial import cKDTree

        scale = np.cos(np.radians(np.mean(self.nodes_lat)))
        tree = cKDTree(np.column_stack([self.nodes_lat, self.nodes_lng * scale]))
        _, nearest = tree.query(np.column_stack([lat, np.asarray(lng) * scale]))
        km = distances_km(lat, lng, self.nodes_lat[nearest], self.nodes_lng[nearest]).diagonal()
        return nearest, km

    def minutes(
        self, from_lat: np.ndarray, from_lng: np.ndarray, to_lat: np.ndarray, to_lng: np.ndarray
    ) -> np.ndarray:
        """Return a matrix of travel minutes, one row per origin and one column per destination."""
        from scipy.sparse.csgraph import dijkstra

        from_lat, from_lng = np.asarray(from_lat, float), np.asarray(from_lng, float)
        to_lat, to_lng = np.asarray(to_lat, float), np.asarray(to_lng, float)
        if len(from_lat) == 0 or len(to_lat) == 0:
            return np.zeros((len(from_lat), len(to_lat)))
        origins, origin_km = self._nearest(from_lat, from_lng)
        targets, target_km = self._nearest(to_lat, to_lng)
        limit = self.max_minutes / 60 * self.speed_kmh * 1000
        unique, inverse = np.unique(origins, return_inverse=True)
        metres = dijkstra(self.graph, directed=True, indices=unique, limit=limit)
        km = metres[inverse][:, targets] / 1000
        km = km + (origin_km[:, None] + target_km[None, :]) * self.detour_factor
        # same place: the straight line, as the network adds nothing inside a few metres
        direct = distances_km(from_lat, from_lng, to_lat, to_lng) * self.detour_factor
        km = np.minimum(km, np.where(direct < 0.2, direct, np.inf))
        return np.asarray(km / self.speed_kmh * 60.0)

    def describe(self) -> str:
        """Return the model in words, for reports."""
        return f"street network {self.source} at {self.speed_kmh:g} km/h"


@functools.lru_cache(maxsize=4)
def _network(path: str, mtime: float, speed_kmh: float, detour: float) -> RoadNetworkTravel:
    return RoadNetworkTravel.from_file(Path(path), speed_kmh=speed_kmh, detour_factor=detour)


def travel_model(settings: Settings | None = None) -> TravelModel:
    """Return the deployment's travel model: its road network if one is set, else straight line.

    A network file is read once per process (and again when it changes).
    """
    settings = settings or get_settings()
    if settings.road_network:
        path = Path(settings.road_network).expanduser()
        mtime = path.stat().st_mtime if path.exists() else 0.0
        return _network(str(path), mtime, settings.travel_speed_kmh, settings.detour_factor)
    return StraightLineTravel.from_settings(settings)
