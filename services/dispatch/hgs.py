"""First solutions from PyVRP (iterated local search over a hybrid genetic search's operators).

OR-Tools stays the model of record: the routes PyVRP finds are handed to the OR-Tools
model as its starting assignment, which checks them against every constraint (the same
integer scaling), and its guided local search goes on from there. PyVRP is used where the
problem is one it expresses exactly -- one time window per visit, hard deadlines, vehicles
with a start, an end, a capacity and a shift, optional visits with a prize -- which covers
the Solomon benchmark and plans without per-visit vehicle restrictions. Anything else
(allowed vehicles, soft deadlines, group limits, several windows) returns None and the
caller uses an OR-Tools first-solution strategy instead.

Measured: see bench/README.md (Solomon 56 at 10 s).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyvrp

    from services.dispatch.routing_problem import RoutingProblem

INF = 9223372036854775807  # PyVRP's "no bound"
EPS = 1e-6


def expressible(problem: RoutingProblem) -> bool:
    """Whether PyVRP models `problem` exactly (see the module docstring)."""
    if getattr(problem, "group_limits", None):
        return False
    for v in problem.visits:
        if v.allowed_vehicles is not None:
            return False
        if len(v.windows) != 1:
            return False
        if v.deadline is not None and not v.deadline_hard:
            return False
    return bool(problem.visits) and bool(problem.vehicles)


def _floor(t: float, scale: int) -> int:
    return int(math.floor(t * scale + EPS)) if math.isfinite(t) else INF


def build_data(problem: RoutingProblem, scale: int) -> tuple[pyvrp.ProblemData, list[list[int]]] | None:
    """PyVRP ProblemData for `problem` plus, per vehicle type, our vehicle indices."""
    import pyvrp

    n = len(problem.distance)
    locations = [pyvrp.Location(0.0, 0.0) for _ in range(n)]
    depot_locs: list[int] = []
    for veh in problem.vehicles:
        for loc in (veh.start, veh.end):
            if loc not in depot_locs:
                depot_locs.append(loc)
    depots = [pyvrp.Depot(loc) for loc in depot_locs]
    types: dict[tuple[int, int, int, int, int, int], list[int]] = {}
    for k, veh in enumerate(problem.vehicles):
        key = (
            depot_locs.index(veh.start),
            depot_locs.index(veh.end),
            int(min(veh.capacity, 2**40)),
            _floor(veh.shift[0], scale) if math.isfinite(veh.shift[0]) else 0,
            _floor(veh.shift[1], scale),
            int(round(veh.fixed_cost * scale)),
        )
        types.setdefault(key, []).append(k)
    demands = any(v.demand for v in problem.visits)
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=len(ks),
            capacity=[cap] if demands else [],
            start_depot=s,
            end_depot=e,
            fixed_cost=fc,
            tw_early=lo,
            tw_late=hi,
        )
        for (s, e, cap, lo, hi, fc), ks in types.items()
    ]
    clients = []
    for v in problem.visits:
        a, b = v.windows[0]
        lo = _floor(a, scale) if math.isfinite(a) else 0
        hi = _floor(b, scale)
        if v.deadline is not None:
            hi = min(hi, _floor(v.deadline, scale))
        if hi < lo:
            return None  # only droppable: leave such problems to OR-Tools
        required = v.drop_penalty is None
        prize = 0 if v.drop_penalty is None else int(round(v.drop_penalty * scale))
        clients.append(
            pyvrp.Client(
                v.location,
                delivery=[int(v.demand)] if demands else [],
                service_duration=int(math.ceil(v.service * scale - EPS)),
                tw_early=lo,
                tw_late=hi,
                prize=prize,
                required=required,
            )
        )
    D = np.rint(np.asarray(problem.distance, dtype=float) * scale).astype(np.int64)
    T = np.ceil(np.asarray(problem.travel_time, dtype=float) * scale - EPS).astype(np.int64)
    np.fill_diagonal(D, 0)
    np.fill_diagonal(T, 0)
    # pyvrp's stub types the matrices np.ndarray[int] (numpy 1's dtype slot), which numpy 2 reads as the shape
    data = pyvrp.ProblemData(locations, clients, depots, vehicle_types, [D], [T])  # type: ignore[list-item]
    return data, list(types.values())


def first_routes(problem: RoutingProblem, seconds: float, scale: int, seed: int = 1) -> list[list[int]] | None:
    """Routes (visit indices per vehicle of `problem`) from a PyVRP search of `seconds`, or None
    if PyVRP does not express the problem, is not installed, or finds no feasible plan."""
    if not expressible(problem):
        return None
    try:
        import pyvrp
        from pyvrp.stop import MaxRuntime
    except ImportError:  # pragma: no cover - pinned in constraints.txt
        return None
    built = build_data(problem, scale)
    if built is None:
        return None
    data, type_vehicles = built
    result = pyvrp.solve(data, stop=MaxRuntime(max(0.05, seconds)), seed=seed, collect_stats=False, display=False)
    best = result.best
    if not best.is_feasible():
        return None
    routes: list[list[int]] = [[] for _ in problem.vehicles]
    free = [list(ks) for ks in type_vehicles]
    for route in best.routes():
        k = free[route.vehicle_type()].pop(0)
        routes[k] = [act.idx for act in route if act.is_client()]
    return routes
