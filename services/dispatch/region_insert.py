"""One new ticket of a big tenant placed at once in its region's plan (issue 19, point 4).

A tenant above DISPATCH_REGIONS_ABOVE is re-planned region by region (`region_plan`), a minute
of solving; a new ticket of it need not wait for that. The planner keeps the shape of the last
region plan (`RegionShape`: each region's home base, sector and technicians: `shapes_of`), and a
new visit is dealt as `region_plan.RegionBook.insert` deals one: its candidate regions
(`regions.candidate_regions`, nearest first, at most `tries`), into the first where it fits by its
SLA due time, else late into the nearest. Only that region's problem is built, from the visits
its technicians have scheduled now (`region_plan.region_input`, its own matrix: a few hundred
places, never the tenant's), and the visit is inserted by cheapest feasible insertion
(`insertion.insert_visit`) without pushing any planned stop past its deadline. Nothing is
solved; the tenant's batched re-plan still follows and may improve on it.

Plain Python over views: the planner reads the rows and writes the answer (`ticket_insert`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from services.dispatch.domain import TechView, VisitView, minutes_since
from services.dispatch.insertion import Insertion, apply_insertion, insert_visit
from services.dispatch.planning import Assignment, PlanningInput, read_plan
from services.dispatch.region_plan import TRIES, Context, RouteKey, region_input, routes_by_index, vehicle_key
from services.dispatch.regions import Region, candidate_regions, split_limits
from services.dispatch.routing_problem import evaluate_routes

if TYPE_CHECKING:
    from shared.geo.travel import TravelModel


@dataclass(frozen=True)
class RegionShape:
    """One region of a plan, without its visits: where its technicians live, which sector of
    their base it is, and who they are."""

    base: tuple[float, float]
    technicians: tuple[str, ...]
    sector: float = 0.0


def shapes_of(regions: Sequence[Region]) -> tuple[RegionShape, ...]:
    return tuple(RegionShape(r.base, tuple(t.id for t in r.techs), r.sector) for r in regions)


@dataclass(frozen=True)
class Candidate:
    """A region that could take the new visit: its index, its technicians (as they are now) and
    its share of the probation outlets' job limits."""

    index: int
    techs: tuple[TechView, ...]
    limits: Mapping[str, int]

    @property
    def technician_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.techs)


def candidates(
    visit: VisitView,
    shapes: Sequence[RegionShape],
    techs: Sequence[TechView],
    days: Sequence[date],
    outlet_status: Mapping[str, str | None],
    probation_full: set[str],
    travel: TravelModel,
    outlet_limits: Mapping[str, int] | None = None,
    tries: int = TRIES,
) -> list[Candidate]:
    """The regions to try for `visit`, in order (`regions.candidate_regions`); [] when none may
    take it. A technician no longer active is left out of its region; one added since the plan is
    in none (the next re-plan places it)."""
    by_id = {t.id: t for t in techs}
    regions = [Region(s.base, [by_id[t] for t in s.technicians if t in by_id], [], s.sector) for s in shapes]
    limits = split_limits(dict(outlet_limits) if outlet_limits else None, regions)
    found = candidate_regions(visit, regions, days, outlet_status, probation_full, travel)
    return [Candidate(r, tuple(regions[r].techs), limits[r]) for r in found[:tries]]


def with_techs(cands: Sequence[Candidate], techs: Sequence[TechView]) -> list[Candidate]:
    """`cands` with their technicians as `techs` has them (their day under way read since)."""
    by_id = {t.id: t for t in techs}
    return [replace(c, techs=tuple(by_id.get(t.id, t) for t in c.techs)) for c in cands]


@dataclass(frozen=True)
class Placed:
    """Where the new visit went: its region and technician-day, and the assignments of every
    stop of that technician-day (the new visit's among them: the others' arrivals may move)."""

    region: int
    vehicle: RouteKey
    assignments: list[Assignment]
    insertion: Insertion

    @property
    def late_minutes(self) -> float:
        return self.insertion.late_minutes


def _region_problem(
    ctx: Context, cand: Candidate, visits: Sequence[VisitView], new: VisitView, routes: Mapping[RouteKey, list[str]]
) -> tuple[PlanningInput, dict[int, list[int]], int] | None:
    """The region's problem with the new visit in it, its routes as they are planned, the new
    visit's index; None when no technician-day of the region may take it. A technician-day whose
    planned route holds a visit this build leaves out (its constraint no longer allows it there)
    takes no new visit: its real route is not known here."""
    # each planned visit stays where it is (the insertion moves none): held to its technician-day,
    # which also spares the build checking it against every other one
    where = {v: (t, date.fromisoformat(d)) for (t, d), ids in routes.items() for v in ids}
    held = [replace(v, frozen_vehicle=where[v.id]) if v.id in where else v for v in visits]
    inp = region_input(ctx, [*held, new], list(cand.techs), dict(cand.limits))
    index = {v.id: i for i, v in enumerate(inp.problem.visits)}
    i = index.get(new.id)
    if i is None:
        return None
    mine = {vehicle_key(inp, k): k for k in range(len(inp.vehicles))}
    broken = {mine[key] for key, ids in routes.items() if key in mine and any(v not in index for v in ids)}
    if broken:
        rv = inp.problem.visits[i]
        allowed = range(len(inp.vehicles)) if rv.allowed_vehicles is None else rv.allowed_vehicles
        inp.problem.visits[i] = replace(rv, allowed_vehicles=[k for k in allowed if k not in broken])
    start = {key: list(ids) for key, ids in routes.items()}
    return inp, routes_by_index(inp, start), i


def _placed(region: int, inp: PlanningInput, routes: dict[int, list[int]], i: int, ins: Insertion) -> Placed:
    apply_insertion(routes, i, ins)
    k = ins.vehicle
    plan = evaluate_routes(inp.problem, [routes[k] if j == k else [] for j in range(len(inp.vehicles))])
    assignments, _ = read_plan(inp, plan, place_late=False)
    return Placed(region, vehicle_key(inp, k), assignments, ins)


def place(
    new: VisitView,
    cands: Sequence[Candidate],
    region_visits: Mapping[int, Sequence[VisitView]],
    routes: Mapping[RouteKey, list[str]],
    ctx: Context,
) -> Placed | None:
    """Place `new` in the first candidate region where it fits by its SLA due time, else late in
    the nearest that may take it; None: it fits nowhere (left to the re-plan). `region_visits`:
    each candidate's scheduled visits (views as the planner reads them); `routes`: the planned
    order of each technician-day of those regions ({(technician id, ISO day): [visit ids]})."""
    due = minutes_since(ctx.now, new.due) if new.due is not None else None  # the SLA, not the target
    first = None
    for cand in cands:
        built = _region_problem(ctx, cand, region_visits.get(cand.index, ()), new, routes)
        if built is None:
            continue
        inp, rts, i = built
        ins = insert_visit(inp.problem, rts, i, allow_late=False, due=due)
        if ins is not None:
            return _placed(cand.index, inp, rts, i, ins)
        if first is None:
            first = (cand.index, built)
    if first is None:
        return None
    region, (inp, rts, i) = first
    rv = inp.problem.visits[i]  # late: its window left open, as `insertion.place_dropped` places one
    inp.problem.visits[i] = replace(rv, windows=((min(a for a, _ in rv.windows), math.inf),))
    ins = insert_visit(inp.problem, rts, i, allow_late=True, due=due)
    return None if ins is None else _placed(region, inp, rts, i, ins)
