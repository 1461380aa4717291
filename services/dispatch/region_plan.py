"""A big tenant's week planned region by region on parallel processes (issue 19, point 4).

`plan_regions` never builds the tenant's whole problem: `regions.partition` cuts it, from
coordinates, into regions of whole technicians and the visits they should take; each region's own
problem is built (`planning.build_problem`) and solved (`routing.solve`, one search) in a worker
process, two at a time on this machine's two cores.

Rounds, so that the cut does not lose visits that could be on time:
1. every region is solved (cheapest arc, then guided local search: `REGION_SEARCH`);
2. a visit a region left unplanned (the solver keeps every visit on time or drops it) is OFFERED
   to the next region of its candidates (`Partition.candidates`: regions with an eligible
   technician who can get there and back within a shift, nearest first); each region with
   offers is solved again, warm-started from its own plan with the offered visits inserted where
   they fit, so its plan only gets better (the objective prices an on-time visit above any km).
   Repeated while the budget lasts and visits have untried candidates;
3. each region's plan is read back (`planning.read_plan`): assignments, and the visits left with
   their reason (placed late where they fit, unless `place_late` is off).

Each visit is in exactly one region's problem at any time, each technician in one region: the
regions' plans together are one plan.

`RegionBook` keeps the regions' problems built for tickets arriving between re-plans: a new
visit is inserted (`planning.add_visit` + `insertion.insert_visit`) into the first of its
candidate regions where it fits on time (late in its nearest one if none).
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import multiprocessing as mp
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.dispatch.domain import SERVE_WITHIN_MINUTES, TechView, VisitView, Workdays, horizon, minutes_since
from services.dispatch.insertion import Insertion, apply_insertion, insert_visit
from services.dispatch.planning import (
    Assignment,
    PlanningInput,
    add_visit,
    build_problem,
    read_plan,
    unmet_constraints,
)
from services.dispatch.regions import (
    REGION_MAX_VISITS,
    Partition,
    Region,
    candidate_regions,
    partition,
    split_limits,
)
from services.dispatch.routing import solve
from services.dispatch.routing_problem import RoutingProblem, evaluate_routes

if TYPE_CHECKING:
    from shared.geo.travel import TravelModel

FIRST_ROUND_SHARE = 0.5  # of the solving budget for the first round; each later one gets half what is left
MIN_ROUND_SECONDS = 2.0
FINISH_RESERVE = 0.07  # of the budget kept for reading the plans back
# One search per region: cheapest arc then guided local search. Measured on a 154-visit region of
# bench/dispatch_scale.py (45 technician-days, 5 s): 131 visits on time, where the greedy warm
# start (`insertion.greedy_start`) led GLS to 94 (124 in 20 s) and savings or insertion first
# solutions to 106-110. So a region's first solve starts cold; a later one from its own plan.
REGION_SEARCH = {"fs": "PATH_CHEAPEST_ARC", "meta": "GLS", "lams": [0.1]}

RouteKey = tuple[str, str]  # (technician id, ISO day)
TRIES = 4  # candidate regions tried for an on-time place of a new visit


@dataclass(frozen=True)
class FixedDays:
    """The parent's planning horizon as a calendar for `build_problem` in a worker process (the
    tenant's calendar stays in the parent): exactly these days are working days."""

    days: tuple[date, ...]

    def is_workday(self, d: date) -> bool:
        return d in self.days


@dataclass(frozen=True)
class Context:
    """What every region's build shares."""

    outlet_status: dict[str, str | None]
    probation_full: frozenset[str]
    now: datetime
    days: tuple[date, ...]
    travel: TravelModel
    serve_within: float = SERVE_WITHIN_MINUTES
    # more of `planning.build_problem`'s keywords, as the planner gives them (the service target's)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RegionPlan:
    assignments: list[Assignment]
    dropped: dict[str, str]  # visit id -> why it stayed unplanned
    excluded: dict[str, str]  # visit id -> why no technician may take it
    regions: list[Region]  # final membership (visits moved to the region that took them)
    stats: dict[str, Any] = field(default_factory=dict)
    unmet: dict[str, str] = field(default_factory=dict)  # visit id -> why its dispatcher's constraint is not kept

    def routes(self) -> dict[tuple[str, date], list[str]]:
        """(technician id, day) -> visit ids in planned order."""
        out: dict[tuple[str, date], list[tuple[int, str]]] = {}
        for a in self.assignments:
            out.setdefault((a.technician_id, a.day), []).append((a.order, a.visit_id))
        return {k: [v for _, v in sorted(s)] for k, s in out.items()}


# a worker's job: context, visits, technicians, limits, start routes, seconds, finish, place_late
Job = tuple[Context, list[VisitView], list[TechView], dict[str, int], dict[RouteKey, list[str]], float, bool, bool]


def region_input(ctx: Context, visits: list[VisitView], techs: list[TechView], limits: dict[str, int]) -> PlanningInput:
    return build_problem(
        visits,
        techs,
        ctx.outlet_status,
        set(ctx.probation_full),
        ctx.now,
        FixedDays(ctx.days),
        ctx.travel,
        len(ctx.days),
        limits or None,
        ctx.serve_within,
        **ctx.options,
    )


def vehicle_key(inp: PlanningInput, k: int) -> RouteKey:
    return (inp.vehicles[k].technician.id, inp.vehicles[k].day.isoformat())


def routes_by_index(inp: PlanningInput, start: Mapping[RouteKey, Sequence[str]]) -> dict[int, list[int]]:
    """{(technician id, ISO day): [visit ids]} as {vehicle index: [visit indices]} of `inp`."""
    index = {v.id: i for i, v in enumerate(inp.problem.visits)}
    out: dict[int, list[int]] = {}
    for k in range(len(inp.vehicles)):
        seq = [index[v] for v in start.get(vehicle_key(inp, k), ()) if v in index]
        if seq:
            out[k] = seq
    return out


def warm_start(problem: RoutingProblem, routes: dict[int, list[int]]) -> list[list[int]]:
    """`routes` with every visit not in them inserted where it fits (hard due times kept), in the
    order `insertion.greedy_start` uses: visits that can still be on time first, by due time."""
    routes = {k: list(v) for k, v in routes.items()}
    placed = {i for seq in routes.values() for i in seq}
    order = sorted(
        (i for i in range(len(problem.visits)) if i not in placed),
        key=lambda i: (
            not any(math.isfinite(b) for _, b in problem.visits[i].windows),
            problem.visits[i].deadline if problem.visits[i].deadline is not None else math.inf,
            -problem.visits[i].priority,
        ),
    )
    for i in order:
        vi = problem.visits[i]
        ins = insert_visit(problem, routes, i, allow_late=vi.deadline is not None and not vi.deadline_hard)
        if ins is not None:
            apply_insertion(routes, i, ins)
    return [routes.get(k, []) for k in range(len(problem.vehicles))]


def _job(args: Job) -> dict[str, Any]:
    """Worker: build one region's problem; solve it from `start` (or only read `start` back with
    `finish`). Returns routes keyed by (technician id, ISO day), so nothing index-bound crosses."""
    ctx, visits, techs, limits, start, seconds, finish, place_late = args
    t0 = time.time()
    inp = region_input(ctx, visits, techs, limits)
    problem = inp.problem
    routes = routes_by_index(inp, start)
    build_s = time.time() - t0
    if finish:
        plan = evaluate_routes(problem, [routes.get(k, []) for k in range(len(problem.vehicles))])
        assignments, dropped = read_plan(inp, plan, place_late=place_late)
        return {
            "assignments": assignments,
            "dropped": dropped,
            "excluded": dict(inp.excluded),
            "unmet": unmet_constraints(inp, assignments, dropped),
        }
    initial = warm_start(problem, routes) if routes else None
    plan = solve(problem, max(0.5, seconds - build_s), workers=1, configs=[REGION_SEARCH], initial_routes=initial)
    if initial is not None:
        start_plan = evaluate_routes(problem, initial)
        if not plan.stats.get("found", True) or len(plan.dropped) > len(start_plan.dropped):
            plan = start_plan  # never worse than the warm start (which holds the previous round's plan)
    out = {vehicle_key(inp, r.vehicle): [problem.visits[s.visit].id for s in r.stops] for r in plan.routes if r.stops}
    return {
        "routes": out,
        "dropped": [problem.visits[i].id for i in plan.dropped],
        "excluded": dict(inp.excluded),
        "wall_s": time.time() - t0,
    }


def _slices(sizes: list[int], budget: float, workers: int) -> list[float]:
    """Seconds per job in proportion to its size, so that longest-first on `workers` processes
    ends within about `budget`."""
    total = sum(sizes) or 1
    w = max(1, min(workers, len(sizes)))
    loads = [0.0] * w
    out = [0.0] * len(sizes)
    for j in sorted(range(len(sizes)), key=lambda j: -sizes[j]):
        p = loads.index(min(loads))
        sec = max(0.5, min(budget * w * sizes[j] / total, budget - loads[p]))
        loads[p] += sec
        out[j] = sec
    return out


def _run(pool: cf.ProcessPoolExecutor | None, jobs: list[Job]) -> list[dict[str, Any]]:
    """Jobs longest first (the pool hands them out as processes free up), results in job order."""
    order = sorted(range(len(jobs)), key=lambda j: -jobs[j][5])
    if pool is None:
        done = {j: _job(jobs[j]) for j in order}
    else:
        futures = {j: pool.submit(_job, jobs[j]) for j in order}
        done = {j: f.result() for j, f in futures.items()}
    return [done[j] for j in range(len(jobs))]


def plan_regions(
    visits: list[VisitView],
    techs: list[TechView],
    outlet_status: Mapping[str, str | None],
    probation_full: set[str],
    now: datetime,
    calendar: Workdays,
    travel: TravelModel,
    horizon_days: int = 6,
    time_limit_s: float = 60.0,
    workers: int = 2,
    outlet_limits: Mapping[str, int] | None = None,
    serve_within_minutes: float = SERVE_WITHIN_MINUTES,
    place_late: bool = True,
    max_visits: int = REGION_MAX_VISITS,
    build_options: Mapping[str, Any] | None = None,
) -> RegionPlan:
    """Plan a tenant region by region within about `time_limit_s` (see the module docstring);
    `build_options`: more keywords of every region's `planning.build_problem`."""
    t_start = time.time()
    deadline = t_start + time_limit_s
    days = tuple(horizon(calendar, now, horizon_days))
    ctx = Context(
        dict(outlet_status),
        frozenset(probation_full),
        now,
        days,
        travel,
        serve_within_minutes,
        dict(build_options or {}),
    )
    part: Partition = partition(visits, techs, days, outlet_status, probation_full, travel, max_visits)
    regions = [Region(r.base, r.techs, list(r.visits), r.sector) for r in part.regions]
    limits = split_limits(outlet_limits, regions)
    tried = {v.id: 1 for v in visits}  # next candidate to offer each visit to
    routes: list[dict[RouteKey, list[str]]] = [{} for _ in regions]
    parked: list[set[str]] = [set() for _ in regions]  # dropped with no region left to offer them to
    rounds = []
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) if workers > 1 else None
    try:
        todo = [r for r in range(len(regions)) if regions[r].visits]
        budget = (time_limit_s * (1 - FINISH_RESERVE) - (time.time() - t_start)) * FIRST_ROUND_SHARE
        while todo:
            t_round = time.time()
            secs = _slices([len(regions[r].visits) for r in todo], budget, workers)
            jobs = [
                (ctx, [v for v in regions[r].visits if v.id not in parked[r]], regions[r].techs, limits[r], routes[r])
                + (s, False, place_late)
                for r, s in zip(todo, secs)
            ]
            results = _run(pool, jobs)
            offers: dict[int, list[tuple[VisitView, int]]] = {}
            for r, res in zip(todo, results):
                routes[r] = res["routes"]
                by_id = {v.id: v for v in regions[r].visits}
                for vid in res["dropped"]:
                    cands = part.candidates.get(vid, [r])
                    if tried[vid] < len(cands):
                        offers.setdefault(cands[tried[vid]], []).append((by_id[vid], r))
                        tried[vid] += 1
                    else:
                        parked[r].add(vid)
            served = sum(len(s) for rr in routes for s in rr.values())
            rounds.append(
                {"jobs": len(jobs), "seconds": round(time.time() - t_round, 1), "served": served, "offered": 0}
            )
            left = deadline - time.time() - time_limit_s * FINISH_RESERVE
            budget = left / 2 if left / 2 >= MIN_ROUND_SECONDS else left
            if not offers or budget < MIN_ROUND_SECONDS:
                # no round follows: an offered visit stays, unplanned, with the region that dropped it
                for vs in offers.values():
                    for v, source in vs:
                        parked[source].add(v.id)
                break
            for target, vs in offers.items():
                for v, source in vs:
                    regions[source].visits.remove(v)
                    regions[target].visits.append(v)
            rounds[-1]["offered"] = sum(len(vs) for vs in offers.values())
            todo = sorted(offers)  # a region solves again only with offers; its parked visits sit out
        finish = [
            (ctx, regions[r].visits, regions[r].techs, limits[r], routes[r], 0.0, True, place_late)
            for r in range(len(regions))
            if regions[r].visits
        ]
        results = _run(pool, finish)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    assignments, dropped, excluded, unmet = [], {}, {}, {}
    for res in results:
        assignments.extend(res["assignments"])
        dropped.update(res["dropped"])
        excluded.update(res["excluded"])
        unmet.update(res["unmet"])
    return RegionPlan(
        assignments,
        dropped,
        excluded,
        regions,
        {
            "wall_s": round(time.time() - t_start, 2),
            "regions": [len(r.visits) for r in regions],
            "rounds": rounds,
            "method": "regions",
        },
        unmet,
    )


def _undo_add(inp: PlanningInput) -> None:
    """Take back the last `planning.add_visit` (the visit went to another region): its routing
    visit, its matrix row and column, its point."""
    problem = inp.problem
    problem.visits.pop()
    inp.visits.pop()
    inp.points.pop()
    for m in (problem.distance, problem.travel_time):
        m.pop()
        for row in m:
            row.pop()
    cached = getattr(problem, "_np_matrices", None)
    if cached is not None:
        n = len(problem.distance)
        problem._np_matrices = (problem.distance, cached[1][:n, :n], cached[2][:n, :n])


class RegionBook:
    """The regions of a plan kept built between re-plans, so one new ticket is placed without
    rebuilding or re-solving anything: into the first of its candidate regions
    (`regions.candidate_regions`, at most `tries`) where it fits on time, else late into the
    nearest (or left unplanned there). The visit joins exactly one region's problem."""

    def __init__(
        self, plan: RegionPlan, ctx: Context, outlet_limits: Mapping[str, int] | None = None, tries: int = TRIES
    ) -> None:
        self.ctx, self.tries = ctx, tries
        self.regions = plan.regions
        limits = split_limits(outlet_limits, self.regions)
        self.inputs = [region_input(ctx, r.visits, r.techs, limits[j]) for j, r in enumerate(self.regions)]
        by_key = {(t, d.isoformat()): vs for (t, d), vs in plan.routes().items()}
        self.routes = [routes_by_index(inp, by_key) for inp in self.inputs]

    def insert(self, visit: VisitView, allow_late: bool = True) -> tuple[int, Insertion | None] | None:
        """(region, insertion or None if it fits nowhere there); None: no region may take it. On
        time means by the visit's SLA due time (`Insertion.late_minutes` is measured from it)."""
        ctx = self.ctx
        cands = candidate_regions(visit, self.regions, ctx.days, ctx.outlet_status, set(ctx.probation_full), ctx.travel)
        if not cands:
            return None
        due = minutes_since(ctx.now, visit.due) if visit.due is not None else None  # the SLA, not the target
        for r in cands[: self.tries]:
            inp = self.inputs[r]
            i = add_visit(inp, visit, ctx.outlet_status, set(ctx.probation_full), ctx.travel)
            ins = insert_visit(inp.problem, self.routes[r], i, allow_late=False, due=due)
            if ins is not None:
                apply_insertion(self.routes[r], i, ins)
                self.regions[r].visits.append(visit)
                return r, ins
            _undo_add(inp)
        r = cands[0]
        inp = self.inputs[r]
        i = add_visit(inp, visit, ctx.outlet_status, set(ctx.probation_full), ctx.travel)
        ins = insert_visit(inp.problem, self.routes[r], i, allow_late=allow_late, due=due)
        if ins is not None:
            apply_insertion(self.routes[r], i, ins)
        self.regions[r].visits.append(visit)
        return r, ins
