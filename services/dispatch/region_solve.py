"""A big tenant's re-plan, region by region, in the solver process (issue 19, point 4).

A tenant with more than DISPATCH_REGIONS_ABOVE open visits is not built as one routing problem:
its travel matrices alone (every place to every place) take gigabytes at a few thousand visits,
and one OR-Tools model of that size finds no good plan in any time a re-plan has. The planner
(`planner.planning_input`) reads the tenant as always, then builds with `builder`: at or below
the threshold `planning.build_problem` as before; above it a `RegionInput`, which holds the
visits and technicians only (no matrix). The planner hands its `RegionJob` to `run_in_child` like
any problem; the solver process (`solver_worker`) runs `run_job`: `region_plan.plan_regions` cuts
the tenant into regions by the technicians' home bases, builds each region's own problem and
solves the regions on DISPATCH_WORKERS processes of its own (in the solver's process group, so a
stop ends them with it: `solver_worker.interrupt`), offering what a region drops to its
neighbours, and reads every region's plan back (`planning.read_plan`, `unmet_constraints`).
`read_back` gives the planner the same assignments, dropped visits with their reason and unmet
constraints as a whole-tenant solve, written by the same `apply_plan`.

The dispatcher's word is kept as in one model: each region's build checks every visit's
eligibility (skills, certificates, outlet status, a pin, the center's outlet, a frozen day, a
confirmed appointment's window), and `regions.partition` puts a pinned visit where its technician
is; a probation outlet's job limit is shared out between the regions of its technicians.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.dispatch import planning
from services.dispatch.domain import SERVE_WITHIN_MINUTES, TechDay, TechView, VisitView, Workdays, horizon, tech_days
from services.dispatch.region_insert import RegionShape, shapes_of

if TYPE_CHECKING:
    from services.dispatch.routing_problem import RoutingPlan
    from shared.geo.travel import TravelModel

log = logging.getLogger(__name__)

REGIONS_ABOVE = 1500  # open visits of a tenant above which it is planned region by region
REGIONS_TIME_LIMIT = 60.0  # s for such a plan (issue 19.4: 5,000 visits within 120 s)


@dataclass
class RegionJob:
    """What the solver process needs to plan a tenant region by region: no travel matrix (each
    region's own is built there). `visits` and `vehicles` as a routing problem's, so the planner
    counts them as it does a problem's."""

    visits: list[VisitView]
    techs: list[TechView]
    outlet_status: dict[str, str | None]
    probation_full: set[str]
    now: datetime
    days: tuple[date, ...]  # the planning horizon on the tenant's calendar
    travel: TravelModel
    vehicles: list[TechDay]  # the tenant's technician-days (counted on the plan run)
    outlet_limits: dict[str, int] | None = None
    serve_within_minutes: float = SERVE_WITHIN_MINUTES
    options: dict[str, Any] = field(default_factory=dict)  # more keywords of `planning.build_problem`
    time_limit: float = REGIONS_TIME_LIMIT
    workers: int = 2


@dataclass
class RegionInput:
    """`planning_input`'s answer for a big tenant, in place of a `planning.PlanningInput`: why
    a visit was left out (no technician may take it) is found by each region's build."""

    problem: RegionJob
    excluded: dict[str, str] = field(default_factory=dict)


@dataclass
class RegionResult:
    """The merged plan of every region, as the solver process returns it."""

    assignments: list[planning.Assignment]
    dropped: dict[str, str]  # visit id -> why it stayed unplanned
    excluded: dict[str, str]  # visit id -> why no technician may take it
    unmet: dict[str, str]  # visit id -> why its dispatcher's constraint is not kept
    stats: dict[str, Any] = field(default_factory=dict)
    shapes: tuple[RegionShape, ...] = ()  # the regions, kept for a new ticket (`region_insert`)


def builder(
    above: int, time_limit: float = REGIONS_TIME_LIMIT, workers: int = 2
) -> Callable[..., planning.PlanningInput | RegionInput]:
    """`planning_input`'s build: `planning.build_problem` for a tenant of at most `above` open
    visits, a `RegionInput` (solved by `run_job` in the solver process) for a bigger one."""
    if above < 1:
        raise ValueError(f"DISPATCH_REGIONS_ABOVE must be at least 1, got {above}")

    def build(
        visits: list[VisitView],
        techs: list[TechView],
        outlet_status: dict[str, str | None],
        probation_full: set[str],
        now: datetime,
        calendar: Workdays,
        travel: TravelModel,
        horizon_days: int = 6,
        outlet_limits: dict[str, int] | None = None,
        serve_within_minutes: float = SERVE_WITHIN_MINUTES,
        **options: Any,
    ) -> planning.PlanningInput | RegionInput:
        if len(visits) <= above:
            return planning.build_problem(
                visits,
                techs,
                outlet_status,
                probation_full,
                now,
                calendar,
                travel,
                horizon_days,
                outlet_limits=outlet_limits,
                serve_within_minutes=serve_within_minutes,
                **options,
            )
        days = tuple(horizon(calendar, now, horizon_days))  # the calendar stays in the service
        log.info("%d open visits (above %d): planned region by region within %.0f s", len(visits), above, time_limit)
        job = RegionJob(
            list(visits),
            list(techs),
            dict(outlet_status),
            set(probation_full),
            now,
            days,
            travel,
            tech_days(techs, days, now),
            dict(outlet_limits) if outlet_limits else None,
            serve_within_minutes,
            options,
            time_limit,
            workers,
        )
        return RegionInput(job)

    return build


def run_job(job: RegionJob) -> RegionResult:
    """In the solver process: the tenant planned region by region (`region_plan.plan_regions`,
    its region processes started from here, in this process's group)."""
    from services.dispatch.region_plan import FixedDays, plan_regions

    plan = plan_regions(
        job.visits,
        job.techs,
        job.outlet_status,
        job.probation_full,
        job.now,
        FixedDays(job.days),
        job.travel,
        len(job.days),
        job.time_limit,
        job.workers,
        job.outlet_limits,
        job.serve_within_minutes,
        build_options=job.options,
    )
    return RegionResult(plan.assignments, plan.dropped, plan.excluded, plan.unmet, plan.stats, shapes_of(plan.regions))


def read_back(
    inp: planning.PlanningInput | RegionInput, plan: RoutingPlan | RegionResult | None
) -> tuple[list[planning.Assignment], dict[str, str], dict[str, str]]:
    """(assignments, dropped visits with their reason, unmet constraints) of a solved plan: a
    whole-tenant solve read with `planning.read_plan`, a region plan as its regions read it."""
    if isinstance(plan, RegionResult):
        return list(plan.assignments), {**plan.dropped, **plan.excluded, **inp.excluded}, dict(plan.unmet)
    assert isinstance(inp, planning.PlanningInput), "a region plan's input is read with its plan"
    assignments, dropped = planning.read_plan(inp, plan) if plan is not None else ([], {})
    dropped.update(inp.excluded)
    return assignments, dropped, planning.unmet_constraints(inp, assignments, dropped)


def summary(plan: RoutingPlan | RegionResult | None) -> dict[str, int]:
    """What a plan run's answer adds for a region plan: how many regions, how many rounds."""
    if not isinstance(plan, RegionResult):
        return {}
    return {"regions": len(plan.stats.get("regions", ())), "region_rounds": len(plan.stats.get("rounds", ()))}
