"""Road km and driving minutes between places, as the planner sees them (plain Python + numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shared.geo.travel import TravelModel


def travel_matrices(points: Sequence[tuple[float, float]], travel: TravelModel) -> tuple[np.ndarray, np.ndarray]:
    """Road km and driving minutes between all points (haversine × detour, the travel model's
    speed profile). Vectorised: 1,000 points take milliseconds, geodesic would take seconds;
    haversine differs from the ellipsoid by under 0.5%."""
    pts = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = pts[:, 0][:, None], pts[:, 1][:, None]
    dlat = lat - lat.T
    dlon = lon - lon.T
    a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * travel.detour_factor
    urban = np.minimum(km, travel.urban_km) / travel.urban_speed_kmh
    rural = np.maximum(km - travel.urban_km, 0) / travel.speed_kmh
    minutes = 60.0 * (travel.base_minutes / 60.0 + urban + rural)
    same = km < 1e-6
    minutes[same] = 0.0
    km[same] = 0.0
    return km, minutes


def drive_minutes(origin: tuple[float, float], dest: tuple[float, float], travel: TravelModel) -> float:
    """Driving minutes from `origin` to `dest` by the travel model."""
    return float(travel_matrices([origin, dest], travel)[1][0][1])
