"""Cheapest feasible insertion into routing plans (plain Python over the problem's matrices).

Used for the planner's warm start (`greedy_start`), to place the visits a solve dropped late
where they still fit (`place_dropped`), for a new ticket into an existing plan (with
`planning.add_visit`) and to merge decomposed plans (`decomposition`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from services.dispatch.domain import LATENESS_KM_PER_MINUTE
from services.dispatch.routing_problem import RoutingProblem, evaluate_routes, matrices


@dataclass
class Insertion:
    vehicle: int
    position: int  # index in the vehicle's visit list where the visit goes
    added_km: float
    arrival: float  # minutes since t0
    late_minutes: float
    cost: float  # added km + lateness penalty


def _schedule(problem, D, T, k, seq):
    """Arrivals along vehicle k's sequence of visit indices; (arrivals, end time, km) or None if
    a stop's window cannot be met. Same arithmetic as `evaluate_routes`."""
    veh = problem.vehicles[k]
    t = veh.shift[0] if math.isfinite(veh.shift[0]) else 0.0
    loc, svc, km = veh.start, 0.0, 0.0
    arr = []
    for i in seq:
        vi = problem.visits[i]
        t = t + svc + T[loc, vi.location]
        km += D[loc, vi.location]
        for a, b in sorted(vi.windows):
            if t <= b + 1e-6:
                t = max(t, a)
                break
        else:
            return None
        arr.append(t)
        loc, svc = vi.location, vi.service
    t = t + svc + T[loc, veh.end]
    km += D[loc, veh.end]
    return arr, t, km


def insert_visit(
    problem: RoutingProblem,
    routes: dict,
    visit: int,
    allow_late: bool = True,
    lateness_km_per_minute: float = LATENESS_KM_PER_MINUTE,
    due: float | None = None,
):
    """Cheapest feasible insertion of one visit (index into problem.visits) into the current routes
    ({vehicle index: [visit indices]}, e.g. RoutingPlan.visit_lists()); returns an `Insertion` or None.

    Honours the visit's allowed vehicles (eligibility, frozen/pinned), each vehicle's capacity and
    shift (back home by the shift's end), the visits' windows, and deadline propagation along the
    route: no planned stop may be pushed past max(its deadline, its current arrival) (a hard
    deadline never; a window's end never). The new visit must arrive by its deadline (`due` if
    given, else its `deadline`) unless `allow_late`; lateness costs `lateness_km_per_minute` x
    priority per minute. The model's hard due time is the end of the window (see
    `planning._routing_visit`). Plain Python over the problem's matrices: O(vehicles x stops^2);
    a 300-vehicle, 1,000-visit plan takes milliseconds to tens of ms. Does not modify `routes`
    (see `apply_insertion`)."""
    D, T = matrices(problem)
    vi = problem.visits[visit]
    allowed = range(len(problem.vehicles)) if vi.allowed_vehicles is None else vi.allowed_vehicles
    loc = vi.location
    best = None
    full = groups_full(problem, routes)
    for k in allowed:
        if k in full:
            continue
        veh = problem.vehicles[k]
        seq = routes.get(k, [])
        load = sum(problem.visits[i].demand for i in seq)
        if load + vi.demand > veh.capacity:
            continue
        # a lower bound on the added km: skip vehicles that cannot beat the best found
        if (
            best is not None
            and D[veh.start, loc] + D[loc, veh.end] - D[veh.start, veh.end] > best.cost + 1e-9
            and not seq
        ):
            continue
        base = _schedule(problem, D, T, k, seq)
        if base is None:
            continue
        old_arr, _, old_km = base
        limits = []
        for i, a in zip(seq, old_arr):
            v = problem.visits[i]
            lim = max(a, v.deadline) if v.deadline is not None else math.inf
            if v.deadline is not None and v.deadline_hard:
                lim = min(lim, v.deadline) if a <= v.deadline + 1e-6 else a
            limits.append(lim)
        prev_locs = [veh.start] + [problem.visits[i].location for i in seq]
        next_locs = [problem.visits[i].location for i in seq] + [veh.end]
        for pos in range(len(seq) + 1):
            added = D[prev_locs[pos], loc] + D[loc, next_locs[pos]] - D[prev_locs[pos], next_locs[pos]]
            if best is not None and added > best.cost + 1e-9:
                continue
            new_seq = seq[:pos] + [visit] + seq[pos:]
            sched = _schedule(problem, D, T, k, new_seq)
            if sched is None:
                continue
            arr, end, km = sched
            if end > veh.shift[1] + 1e-6:
                continue
            if any(a > lim + 1e-6 for a, lim in zip(arr[:pos] + arr[pos + 1 :], limits)):
                continue
            t = arr[pos]
            dl = due if due is not None else vi.deadline
            late = max(0.0, t - dl) if dl is not None else 0.0
            if late > 1e-6 and not allow_late:
                continue
            cost = (km - old_km) + late * lateness_km_per_minute * max(vi.priority, 0.0)
            if best is None or cost < best.cost - 1e-9:
                best = Insertion(k, pos, km - old_km, t, late, cost)
    return best


def groups_full(problem: RoutingProblem, routes: dict) -> set:
    """The vehicles that may take no further visit: their group (e.g. an outlet on probation)
    already holds its limit of visits in `routes`."""
    full = set()
    for group, limit in problem.group_limits:
        if sum(len(routes.get(k, ())) for k in group) >= limit:
            full.update(group)
    return full


def greedy_start(problem: RoutingProblem) -> list[list[int]]:
    """A feasible warm start: visits by due time, each at its cheapest feasible insertion within
    its window (hard deadlines met; those that fit nowhere are left to the solver). One route
    per vehicle. Visits whose window closes (those that can still be on time) come before those
    with an open-ended one (late anyway, or with no due time), so an overdue backlog does not
    fill the technician-days a visit that can still be on time needs."""
    routes: dict = {}
    order = sorted(
        range(len(problem.visits)),
        key=lambda i: (
            not any(math.isfinite(b) for _, b in problem.visits[i].windows),
            problem.visits[i].deadline if problem.visits[i].deadline is not None else math.inf,
            -problem.visits[i].priority,
        ),
    )
    for i in order:
        # a hard deadline must be met; a soft one (a service target) may be passed within the
        # window, each minute beyond it costing like lateness (so the earliest fit wins)
        vi = problem.visits[i]
        ins = insert_visit(problem, routes, i, allow_late=vi.deadline is not None and not vi.deadline_hard)
        if ins is not None:
            apply_insertion(routes, i, ins)
    return [routes.get(k, []) for k in range(len(problem.vehicles))]


def apply_insertion(routes: dict, visit: int, ins: Insertion) -> dict:
    routes.setdefault(ins.vehicle, []).insert(ins.position, visit)
    return routes


def place_dropped(problem: RoutingProblem, plan, dues: list | None = None):
    """(problem, plan) with the plan's dropped visits inserted late where they fit, most urgent
    first. The returned problem is a copy in which those visits' windows are open-ended (their
    hard due time has passed or cannot be met); the others keep theirs, so no on-time visit is
    pushed past its due time."""
    relaxed = RoutingProblem(
        visits=list(problem.visits),
        vehicles=problem.vehicles,
        distance=problem.distance,
        travel_time=problem.travel_time,
        name=problem.name,
        group_limits=problem.group_limits,
        time_scale=problem.time_scale,
    )
    relaxed._np_matrices = getattr(problem, "_np_matrices", None)
    for i in plan.dropped:
        vi = relaxed.visits[i]
        relaxed.visits[i] = replace(vi, windows=((min(a for a, _ in vi.windows), math.inf),))
    routes = {r.vehicle: [s.visit for s in r.stops] for r in plan.routes}

    def key(i):
        d = dues[i] if dues is not None else problem.visits[i].deadline
        return (-problem.visits[i].priority, d if d is not None else math.inf)

    for i in sorted(plan.dropped, key=key):
        ins = insert_visit(relaxed, routes, i, allow_late=True, due=dues[i] if dues is not None else None)
        if ins is not None:
            apply_insertion(routes, i, ins)
    new = evaluate_routes(relaxed, [routes.get(k, []) for k in range(len(problem.vehicles))])
    new.objective, new.stats = plan.objective, dict(plan.stats or {}, placed_late=len(plan.dropped) - len(new.dropped))
    return relaxed, new
