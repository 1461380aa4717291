"""A day's routes as an inline SVG drawing, from coordinates alone (no map tiles, nothing online).

`route_map` projects every point of the day (each technician's home and stops) onto one box,
equirectangular around the points' middle latitude (at a city's scale the distortion is nil),
keeping the aspect ratio, and returns what the template draws: one polyline per technician from
home through the stops in route order, numbered stop markers and a house for each home.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT, PAD = 640, 400, 28
# one colour per technician; red is kept for what is overdue (a stop's ring)
COLOURS = ("#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457", "#455a64")
LATE = "#c62828"


@dataclass
class Stop:
    x: float
    y: float
    number: int
    title: str
    late: bool = False


@dataclass
class Track:
    name: str
    colour: str
    home: tuple[float, float] | None
    stops: list[Stop] = field(default_factory=list)

    @property
    def points(self) -> str:
        """The polyline's points: home, then each stop."""
        pts = ([self.home] if self.home else []) + [(s.x, s.y) for s in self.stops]
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)


@dataclass
class RouteMap:
    width: int
    height: int
    tracks: list[Track]
    scale_km: float  # the length the scale bar stands for
    scale_px: float

    @property
    def any_late(self) -> bool:
        return any(stop.late for track in self.tracks for stop in track.stops)

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def route_map(routes: list[dict[str, Any]]) -> RouteMap | None:
    """`routes`: [{"name", "home": (lat, lon) | None, "stops": [{"lat", "lon", "title", "late"}]}]
    in the order to draw; None when no point has coordinates."""
    points = []
    for route in routes:
        if route.get("home"):
            points.append(route["home"])
        points += [
            (s["lat"], s["lon"]) for s in route["stops"] if s.get("lat") is not None and s.get("lon") is not None
        ]
    if not points:
        return None
    mid_lat = (min(p[0] for p in points) + max(p[0] for p in points)) / 2
    kx = math.cos(math.radians(mid_lat))

    def plane(lat: float, lon: float) -> tuple[float, float]:
        return lon * kx, -lat

    xs, ys = zip(*(plane(*p) for p in points))
    span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
    span = max(span_x / (WIDTH - 2 * PAD), span_y / (HEIGHT - 2 * PAD), 1e-6)
    # centre the drawing in the box
    off_x = PAD + ((WIDTH - 2 * PAD) - span_x / span) / 2
    off_y = PAD + ((HEIGHT - 2 * PAD) - span_y / span) / 2

    def place(lat: float, lon: float) -> tuple[float, float]:
        x, y = plane(lat, lon)
        return off_x + (x - min(xs)) / span, off_y + (y - min(ys)) / span

    tracks = []
    for i, route in enumerate(routes):
        home = place(*route["home"]) if route.get("home") else None
        track = Track(route["name"], COLOURS[i % len(COLOURS)], home)
        for n, s in enumerate(route["stops"], start=1):
            if s.get("lat") is None or s.get("lon") is None:
                continue
            x, y = place(s["lat"], s["lon"])
            track.stops.append(Stop(x, y, n, s.get("title", ""), bool(s.get("late"))))
        tracks.append(track)
    km_per_px = span * 111.32  # a degree of latitude is ~111 km; x was scaled to match
    scale_km = _round_km(km_per_px * WIDTH / 5)
    return RouteMap(WIDTH, HEIGHT, tracks, scale_km, scale_km / km_per_px)


def _round_km(km: float) -> float:
    """A round length for the scale bar (1, 2, 5 × a power of ten)."""
    if km <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(km))
    for step in (1, 2, 5, 10):
        if km <= step * power:
            return float(step * power)
    return float(10 * power)
