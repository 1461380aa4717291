"""Travel-time estimate without a road network.

No installable package ships a Chinese road network, so driving time is
estimated from the geodesic distance (``geopy.distance.geodesic``, WGS-84
ellipsoid; the GCJ-02 offset of ~0.5 km does not matter here) times a detour
factor, over a two-part speed profile:

    road_km = detour_factor * geodesic_km
    hours   = base_minutes/60
              + min(road_km, urban_km) / urban_speed_kmh
              + max(road_km - urban_km, 0) / speed_kmh

Defaults are the example heuristic of ``data/geo/README.md`` (0.25 h fixed,
first 20 road-km at 30 km/h, the rest at 75 km/h).  Every figure is
configurable; tune them against real trip times before relying on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from geopy.distance import geodesic

__all__ = ["TravelModel", "as_point"]


def as_point(p: Any) -> tuple[float, float]:
    """(lat, lon) from a tuple, a dict with lat/lon, a GeoResult or a geopy Location/Point."""
    if isinstance(p, dict):
        return float(p["lat"]), float(p["lon"])
    if hasattr(p, "latitude") and hasattr(p, "longitude"):
        return float(p.latitude), float(p.longitude)
    if hasattr(p, "lat") and hasattr(p, "lon"):
        if p.lat is None or p.lon is None:
            raise ValueError(f"point is not placed: {p!r}")
        return float(p.lat), float(p.lon)
    lat, lon = p[0], p[1]
    return float(lat), float(lon)


@dataclass(frozen=True)
class TravelModel:
    detour_factor: float = 1.3
    speed_kmh: float = 75.0  # beyond the first urban_km road-km
    base_minutes: float = 15.0  # fixed time per trip (parking, loading, finding the site)
    urban_km: float = 20.0  # first road-km driven at urban_speed_kmh
    urban_speed_kmh: float = 30.0

    def __post_init__(self) -> None:
        if self.detour_factor < 1.0:
            raise ValueError("detour_factor must be >= 1")
        for name in ("speed_kmh", "urban_speed_kmh"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("base_minutes", "urban_km"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> TravelModel:
        """Build from a config mapping; unknown keys raise ValueError naming the key."""
        config = dict(config or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"unknown travel model setting(s): {', '.join(unknown)}")
        try:
            values = {k: float(v) for k, v in config.items()}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"travel model settings must be numbers: {exc}") from None
        return cls(**values)

    def to_config(self) -> dict[str, Any]:
        return asdict(self)

    # -- distances and times ----------------------------------------------
    def geodesic_km(self, a: Any, b: Any) -> float:
        km: float = geodesic(as_point(a), as_point(b)).km  # geopy is untyped
        return km

    def road_km(self, a: Any, b: Any) -> float:
        return self.detour_factor * self.geodesic_km(a, b)

    def hours_for_road_km(self, road_km: float) -> float:
        return (
            self.base_minutes / 60.0
            + min(road_km, self.urban_km) / self.urban_speed_kmh
            + max(road_km - self.urban_km, 0.0) / self.speed_kmh
        )

    def hours(self, a: Any, b: Any) -> float:
        """Driving hours from a to b (includes the fixed base time, even for 0 km)."""
        return self.hours_for_road_km(self.road_km(a, b))

    def minutes(self, a: Any, b: Any) -> float:
        return 60.0 * self.hours(a, b)

    def matrix_minutes(self, points: Sequence[Any]) -> list[list[int]]:
        """Integer travel minutes (rounded up) between all points; 0 on the diagonal.

        Rounding up keeps a plan that is feasible in integers feasible in reals.
        Symmetric: each pair is computed once.
        """
        pts = [as_point(p) for p in points]
        n = len(pts)
        m = [[0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                if pts[i] == pts[j]:
                    continue
                v = math.ceil(self.minutes(pts[i], pts[j]) - 1e-9)
                m[i][j] = m[j][i] = v
        return m
