"""The routing problem and its plans as plain data (no OR-Tools): what `services.dispatch.routing`
solves, what the planner builds (`planning`) and what insertion and decomposition work on.

A `RoutingProblem` is the general model used by dispatch: every technician-day is a
vehicle, every visit a node with a service duration, availability window(s), an SLA
deadline (hard = latest arrival, soft = lateness penalty growing with lateness and
priority), eligibility (allowed vehicles) and an optional drop penalty. `evaluate_routes`
gives any routes their earliest-start schedule and distance in doubles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EPS = 1e-6


@dataclass
class Visit:
    """A node to serve. Times are in the same unit as the travel-time matrix."""

    id: Any
    location: int
    demand: int = 0
    windows: Sequence[tuple[float, float]] = ((0.0, math.inf),)  # [earliest, latest] arrival
    service: float = 0.0
    deadline: float | None = None  # SLA latest arrival
    deadline_hard: bool = True  # hard: arrival <= deadline; soft: lateness penalty
    lateness_penalty: float = 0.0  # cost per time unit late (soft deadline), times priority
    priority: float = 1.0
    allowed_vehicles: Sequence[int] | None = None  # vehicle indices; None = all
    drop_penalty: float | None = None  # None = must serve


def time_scale_for(km_per_minute: float) -> int:
    """`RoutingProblem.time_scale` for soft deadlines priced at `km_per_minute`: 1000 units a
    minute from 1 km a minute up (OR-Tools' least price there), else 6-second units."""
    return 1000 if km_per_minute >= 1.0 else 10


@dataclass
class Vehicle:
    id: Any
    start: int  # location index
    end: int  # location index
    capacity: int = 10**9
    shift: tuple[float, float] = (0.0, math.inf)
    fixed_cost: float = 0.0


@dataclass
class RoutingProblem:
    visits: list[Visit]
    vehicles: list[Vehicle]
    # location x location; lists, as `planning.add_visit` and `region_plan` grow and shrink them in place
    distance: list[list[float]]
    travel_time: list[list[float]]  # location x location
    name: str = ""
    # (vehicle indices, max visits over them all): e.g. an outlet on probation holds at most
    # its job limit across all its technician-days
    group_limits: Sequence[tuple[Sequence[int], int]] = ()
    # OR-Tools' time unit is 1/time_scale of the matrices' unit (minutes). A soft deadline's
    # price per time unit is a whole number, so its least price is time_scale / routing.SCALE
    # km per minute: 1 km per minute at 1000; 0.01 at 10 (6-second steps, each arc rounded up)
    time_scale: int = 1000
    # `matrices`' numpy copies of the two matrices, with the distance list they were made from
    _np_matrices: tuple[list[list[float]], np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False, compare=False
    )


@dataclass
class Stop:
    visit: int  # index into problem.visits
    arrival: float  # start of service (earliest-start schedule, doubles)
    lateness: float = 0.0


@dataclass
class Route:
    vehicle: int
    stops: list[Stop]
    distance: float
    end_time: float
    load: int


@dataclass
class RoutingPlan:
    routes: list[Route]  # non-empty routes only
    dropped: list[int]  # visit indices not served
    distance: float  # recomputed in doubles
    objective: int | None  # OR-Tools objective of the chosen solve (scaled)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def vehicles_used(self) -> int:
        return len(self.routes)

    @property
    def complete(self) -> bool:
        return not self.dropped

    def visit_lists(self) -> dict[int, list[int]]:
        return {r.vehicle: [s.visit for s in r.stops] for r in self.routes}


def evaluate_routes(problem: RoutingProblem, routes: list[list[int]]) -> RoutingPlan:
    """Earliest-start schedule and distance in doubles for the given routes (visit indices)."""
    D, T = problem.distance, problem.travel_time
    served = set()
    out: list[Route] = []
    total = 0.0
    for k, r in enumerate(routes):
        if not r:
            continue
        veh = problem.vehicles[k]
        t = veh.shift[0] if math.isfinite(veh.shift[0]) else 0.0
        loc = veh.start
        dist = 0.0
        load = 0
        svc_prev = 0.0
        stops = []
        for i in r:
            vi = problem.visits[i]
            dist += D[loc][vi.location]
            t = t + svc_prev + T[loc][vi.location]
            for a, b in sorted(vi.windows):
                if t <= b + EPS:
                    t = max(t, a)
                    break
            else:
                t = max(t, min(a for a, _ in vi.windows))
            late = max(0.0, t - vi.deadline) if vi.deadline is not None else 0.0
            stops.append(Stop(visit=i, arrival=t, lateness=late))
            served.add(i)
            load += vi.demand
            loc, svc_prev = vi.location, vi.service
        dist += D[loc][veh.end]
        t = t + svc_prev + T[loc][veh.end]
        total += dist
        out.append(Route(vehicle=k, stops=stops, distance=dist, end_time=t, load=load))
    dropped = [i for i in range(len(problem.visits)) if i not in served]
    return RoutingPlan(routes=out, dropped=dropped, distance=total, objective=None)


def matrices(problem: RoutingProblem) -> tuple[np.ndarray, np.ndarray]:
    """The problem's distance and travel-time matrices as numpy arrays, converted once per
    problem object (cached on it; `planning.add_visit` extends the cache in place)."""
    cached = getattr(problem, "_np_matrices", None)
    if cached is None or cached[0] is not problem.distance:
        cached = (
            problem.distance,
            np.asarray(problem.distance, dtype=float),
            np.asarray(problem.travel_time, dtype=float),
        )
        problem._np_matrices = cached
    return cached[1], cached[2]
