"""Big routing problems solved as independent areas (plain Python around `routing.solve`).

A tenant's week of 1,000 visits does not fit one OR-Tools model in the time a re-plan has:
`solve_decomposed` cuts it by area (`decompose`), solves the parts on parallel processes and
merges them, offering what a part dropped to every vehicle by cheapest insertion.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing as mp
import time

import numpy as np

from services.dispatch.insertion import apply_insertion, insert_visit
from services.dispatch.routing import solve
from services.dispatch.routing_problem import RoutingPlan, RoutingProblem, Vehicle, Visit, evaluate_routes, matrices

DECOMPOSE_ABOVE = 250  # visits; smaller problems go to routing.solve as one model
AREA_MAX_VISITS = 160  # target size of one sub-problem


def decompose(problem: RoutingProblem, max_visits: int = AREA_MAX_VISITS) -> list[tuple[list[int], list[int]]]:
    """Split a big problem by AREA: each visit goes to the base (vehicle start location) of its
    nearest allowed vehicle; a base with more than `max_visits` visits is cut into angular sectors
    around it, its technician-days dealt round-robin per day to the sectors. Returns
    [(visit indices, vehicle indices)]. Why area, not day: technicians only reach visits around
    their own base within a day, so areas barely interact, while every area still sees all days
    and the solver keeps choosing the day against the deadlines."""
    D, _ = matrices(problem)
    # every technician-day has a start location of its own (`planning.build_problem`): a base is
    # a PLACE, the first start location at zero distance standing for all of them (grouping by
    # location index made each base one technician's Monday, with all the base's visits)
    canon: dict[int, int] = {}
    for v in problem.vehicles:
        if v.start not in canon:
            canon[v.start] = next((b for b in set(canon.values()) if D[b, v.start] < 1e-9), v.start)
    starts = np.array([v.start for v in problem.vehicles])
    bases = sorted(set(canon.values()))
    by_base_veh = {b: [k for k, v in enumerate(problem.vehicles) if canon[v.start] == b] for b in bases}
    base_visits: dict[int, list[int]] = {b: [] for b in bases}
    for i, vi in enumerate(problem.visits):
        cand = (
            starts
            if vi.allowed_vehicles is None
            else starts[list(vi.allowed_vehicles)]
            if vi.allowed_vehicles
            else None
        )
        if cand is None or len(cand) == 0:
            continue
        b = canon[int(cand[np.argmin(D[cand, vi.location])])]
        base_visits[b].append(i)
    parts = []
    for b in bases:
        vis, vehs = base_visits[b], by_base_veh[b]
        if not vis:
            continue
        m = max(1, math.ceil(len(vis) / max_visits))
        m = min(m, max(1, len(vehs) // max(1, len({problem.vehicles[k].shift[0] for k in vehs}))))
        if m == 1:
            parts.append((vis, vehs))
            continue
        # sectors by bearing around the base (locations carry no coordinates here: use the
        # travel matrix' two farthest visits as axes, good enough to separate directions)
        a = vis[int(np.argmax(D[b, [problem.visits[i].location for i in vis]]))]
        la = problem.visits[a].location
        ang = []
        for i in vis:
            li = problem.visits[i].location
            x = D[b, li]
            y = D[la, li]
            # law of cosines: angle at the base between a and i
            c = (D[b, la] ** 2 + x**2 - y**2) / (2 * D[b, la] * x + 1e-9)
            ang.append((math.acos(max(-1.0, min(1.0, c))), i))
        ang.sort()
        chunk = math.ceil(len(vis) / m)
        sectors = [[i for _, i in ang[j * chunk : (j + 1) * chunk]] for j in range(m)]
        by_day: dict[float, list[int]] = {}
        for k in sorted(vehs, key=lambda k: (problem.vehicles[k].shift[0], str(problem.vehicles[k].id))):
            by_day.setdefault(problem.vehicles[k].shift[0], []).append(k)
        sector_veh: list[list[int]] = [[] for _ in range(m)]
        for day_vehs in by_day.values():
            for j, k in enumerate(day_vehs):
                sector_veh[j % m].append(k)
        # technicians in proportion to the sector's visits would be better; equal counts suffice
        parts.extend((s, v) for s, v in zip(sectors, sector_veh) if s)
    return parts


def subproblem(problem: RoutingProblem, visits: list[int], vehicles: list[int]) -> RoutingProblem:
    """The sub-problem over some visits and vehicles, with compact location indices."""
    D, T = matrices(problem)
    locs = []
    for k in vehicles:
        for loc in (problem.vehicles[k].start, problem.vehicles[k].end):
            if loc not in locs:
                locs.append(loc)
    locs += [problem.visits[i].location for i in visits]
    index = {loc: j for j, loc in enumerate(locs)}
    vmap = {k: j for j, k in enumerate(vehicles)}
    vs = []
    for i in visits:
        v = problem.visits[i]
        allowed = None if v.allowed_vehicles is None else [vmap[k] for k in v.allowed_vehicles if k in vmap]
        vs.append(
            Visit(
                id=i,
                location=index[v.location],
                demand=v.demand,
                windows=v.windows,
                service=v.service,
                deadline=v.deadline,
                deadline_hard=v.deadline_hard,
                lateness_penalty=v.lateness_penalty,
                priority=v.priority,
                allowed_vehicles=allowed,
                drop_penalty=v.drop_penalty,
            )
        )
    vh = [
        Vehicle(
            id=k,
            start=index[problem.vehicles[k].start],
            end=index[problem.vehicles[k].end],
            capacity=problem.vehicles[k].capacity,
            shift=problem.vehicles[k].shift,
            fixed_cost=problem.vehicles[k].fixed_cost,
        )
        for k in vehicles
    ]
    ix = np.array(locs)
    # a group split over parts would get its whole limit in each; an outlet's technicians share a
    # home base, so areas keep them together
    groups = [([vmap[k] for k in group if k in vmap], limit) for group, limit in problem.group_limits]
    return RoutingProblem(
        visits=vs,
        vehicles=vh,
        distance=D[np.ix_(ix, ix)].tolist(),
        travel_time=T[np.ix_(ix, ix)].tolist(),
        name=f"{problem.name}-part",
        group_limits=[(g, lim) for g, lim in groups if g],
        time_scale=problem.time_scale,
    )


def _solve_part(args: tuple[RoutingProblem, float]) -> tuple[list[list[int]], list[int]]:
    """One part solved (in a worker process): its routes as the whole problem's visit indices (a
    part's visit ids), and the part's vehicle of each."""
    sub, seconds = args
    plan = solve(sub, seconds, workers=1)
    return [[sub.visits[s.visit].id for s in r.stops] for r in plan.routes], [r.vehicle for r in plan.routes]


def _due(visit: Visit) -> float:
    """A visit's deadline, inf when it has none (the order dropped visits are offered in)."""
    return visit.deadline if visit.deadline is not None else math.inf


def solve_decomposed(
    problem: RoutingProblem,
    time_limit_s: float,
    workers: int = 2,
    max_visits: int = AREA_MAX_VISITS,
    small: int = DECOMPOSE_ABOVE,
) -> RoutingPlan:
    """Solve a big problem as independent area sub-problems on `workers` processes, then merge:
    the visits a part dropped are offered to every vehicle by cheapest insertion (on time only;
    `planning.read_plan` places the rest late). Small problems go to routing.solve unchanged."""
    if len(problem.visits) <= small:
        return solve(problem, time_limit_s, workers=workers)
    t_start = time.time()
    parts = decompose(problem, max_visits)
    subs = [(subproblem(problem, v, k), v, k) for v, k in parts]
    total = sum(len(v) for v, _ in parts) or 1
    # CPU-seconds in proportion to size; keep ~12% of the budget for start-up, merge and insertion
    budget = max(1.0, (time_limit_s - (time.time() - t_start)) * 0.88)
    order = sorted(range(len(subs)), key=lambda j: -len(subs[j][1]))
    jobs = [(subs[j][0], max(1.0, budget * min(workers, len(subs)) * len(subs[j][1]) / total)) for j in order]
    # longest-processing-time first on `workers` processes: cap each part so the makespan fits
    loads = [0.0] * max(1, workers)
    capped = []
    for sub, sec in jobs:
        w = loads.index(min(loads))
        sec = max(1.0, min(sec, budget - loads[w]))
        loads[w] += sec
        capped.append((sub, sec))
    routes: dict[int, list[int]] = {}
    if workers <= 1:
        results = [_solve_part(j) for j in capped]
    else:
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            results = list(pool.map(_solve_part, capped))
    for idx, (stop_lists, sub_vehicles) in enumerate(results):
        vehs = subs[order[idx]][2]
        for stops, k in zip(stop_lists, sub_vehicles):
            routes[vehs[k]] = list(stops)
    plan = evaluate_routes(problem, [routes.get(k, []) for k in range(len(problem.vehicles))])
    for i in sorted(plan.dropped, key=lambda i: _due(problem.visits[i])):
        ins = insert_visit(problem, routes, i, allow_late=True)  # the window holds the due time
        if ins is not None:
            apply_insertion(routes, i, ins)
    plan = evaluate_routes(problem, [routes.get(k, []) for k in range(len(problem.vehicles))])
    plan.stats = {
        "wall_s": time.time() - t_start,
        "parts": [len(v) for v, _ in parts],
        "found": True,
        "method": "area-decomposed",
        "part_seconds": [round(s, 1) for _, s in capped],
    }
    return plan
