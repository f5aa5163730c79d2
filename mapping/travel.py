"""Travel time between places: straight-line distance with a detour factor, at a given speed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

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

    speed_kmh: float = 4.5
    detour_factor: float = 1.3

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
