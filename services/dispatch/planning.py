"""The routing problem of one tenant's re-plan, and its plan read back as assignments.

Plain Python: every technician-day over the horizon is a vehicle, every open visit a node with
its eligibility (allowed vehicles), its window (the customer's wished day to the SLA on-site
due time, hard where some technician-day can meet it) and a soft service target
(`_routing_visit`); `read_plan` turns the solver's routes back into assignments, placing what
the solver dropped late where it still fits. Times inside the routing problem are minutes since
the plan's start (`t0`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from services.dispatch.domain import (
    ASSIGNED_ELSEWHERE,
    DROP_PENALTY_KM,
    EARLY_KM_PER_MINUTE,
    HARD_DEADLINES,
    LATENESS_KM_PER_MINUTE,
    PINNED_ELSEWHERE,
    PRIORITY_WEIGHT,
    SAVABLE_PENALTY_CAP_KM,
    SERVE_WITHIN_MINUTES,
    TechDay,
    TechView,
    VisitView,
    eligible,
    horizon,
    minutes_since,
    tech_days,
    unmet_constraint,
)
from services.dispatch.insertion import place_dropped
from services.dispatch.routing_problem import RoutingProblem, matrices, time_scale_for
from services.dispatch.routing_problem import Vehicle as RVehicle
from services.dispatch.routing_problem import Visit as RVisit
from services.dispatch.targets import has_slack, service_target
from services.dispatch.travel import travel_matrices


def _reachable_by_due(
    visit: VisitView, loc: int, allowed: list, vehicles: list, minutes, end_index: dict, t0: datetime
) -> bool:
    """Whether some allowed technician-day, alone, gets there by the due time and home within
    its shift (an optimistic test: other visits ignored)."""
    due = minutes_since(t0, visit.due)
    earliest = minutes_since(t0, visit.window_start) if visit.window_start and visit.window_start > t0 else 0.0
    for k in allowed:
        veh = vehicles[k]
        arrive = max(minutes_since(t0, veh.start) + float(minutes[k][loc]), earliest)
        if arrive > due + 1e-6:
            continue
        back = float(minutes[loc][end_index.get(k, k)])
        if arrive + visit.service_minutes + back <= minutes_since(t0, veh.end) + 1e-6:
            return True
    return False


def _routing_visit(
    visit: VisitView,
    location: int,
    allowed: list,
    n_vehicles: int,
    t0: datetime,
    late_anyway: bool = False,
    serve_within: float = SERVE_WITHIN_MINUTES,
    slack_share: float = 0.0,
    min_slack: float = 0.0,
    day_ends: list[float] | None = None,
    wait_km_per_minute: float = EARLY_KM_PER_MINUTE,
) -> RVisit:
    """The routing node of a visit. With HARD_DEADLINES the SLA due time is the hard end of the
    visit's window, and the soft `deadline` is a service target `serve_within` minutes (the
    service: DISPATCH_TARGET_HOURS) after the visit becomes available (capped at the due time),
    costing 1 km per minute beyond it x priority: without it, hard deadlines alone let the search
    defer every visit to its last feasible day (measured in bench/dispatch.py: 131 of 283 visits
    checked in by the week's end), which eats the capacity later arrivals need."""
    earliest = minutes_since(t0, visit.window_start) if visit.window_start and visit.window_start > t0 else 0.0
    due = minutes_since(t0, visit.due) if visit.due else None
    weight = PRIORITY_WEIGHT.get(visit.priority, 1.0)
    common = dict(
        id=visit.id,
        location=location,
        demand=1,
        service=float(visit.service_minutes),
        priority=weight,
        allowed_vehicles=allowed if len(allowed) < n_vehicles else None,
        drop_penalty=DROP_PENALTY_KM * weight,
    )
    if visit.appointment is not None:
        # confirmed to the customer: arrive within the appointment's window (hard), early in it;
        # losing it is priced like a visit that can still be on time (`save_the_savable`)
        lo = max(earliest, minutes_since(t0, visit.appointment[0]))
        hi = max(lo, minutes_since(t0, visit.appointment[1]))
        return RVisit(
            windows=((lo, hi),), deadline=lo, deadline_hard=False, lateness_penalty=EARLY_KM_PER_MINUTE, **common
        )
    if not HARD_DEADLINES or late_anyway:
        # a visit no technician-day can reach by its due time (already overdue, or too far for
        # what is left of the horizon's shifts) is served as soon as it can be: each minute late
        # costs more than any detour (rather than dropping it and placing it wherever it is cheap)
        return RVisit(
            windows=((earliest, math.inf),),
            deadline=None if due is None else max(due, 0.0),
            deadline_hard=False,
            lateness_penalty=LATENESS_KM_PER_MINUTE,
            **common,
        )
    opened = visit.window_start or visit.received
    available = minutes_since(t0, opened) if opened is not None else 0.0
    target = service_target(available, due, 0.0, serve_within, slack_share, min_slack, day_ends)
    # the price of each minute past the target: `wait_km_per_minute` where the visit has the slack
    # the target policy is for (DISPATCH_TARGET_KM_PER_HOUR), else OR-Tools' default least price
    roomy = due is None or has_slack(available, due, min_slack)
    return RVisit(
        windows=((earliest, due if due is not None else math.inf),),
        deadline=target,
        deadline_hard=False,
        lateness_penalty=wait_km_per_minute if roomy else EARLY_KM_PER_MINUTE,
        **common,
    )


def save_the_savable(rvisits: list[RVisit], late: list[bool], km_max: float, vehicles: list[TechDay], t0) -> None:
    """Price a visit that can still be on time above everything else (in place): the objective
    is lexicographic in effect -- first the number of such visits that become late (the solver
    drops them from their hard window; `read_plan` then places them late), then the lateness and
    drops of visits late anyway (weighted by priority), then travel. So a visit's drop penalty,
    when it could still be on time, is a bound on all the rest of any plan's cost plus its own
    priority-weighted DROP_PENALTY_KM: no plan may trade one of them for any number of overdue
    visits (an imported backlog, say) or any detour. Capped so that OR-Tools' int64 objective
    (km x `routing.SCALE`) cannot overflow, however many visits."""
    if not rvisits:
        return
    end = max((minutes_since(t0, v.end) for v in vehicles), default=0.0)
    rest = km_max * (len(rvisits) + 2 * len(vehicles))  # any plan's travel
    for rv, late_anyway in zip(rvisits, late):
        weight = max(rv.priority, 0.0)
        if late_anyway:  # served (lateness from t0, at most to the horizon's end) or dropped
            rest += max(rv.drop_penalty or 0.0, LATENESS_KM_PER_MINUTE * weight * max(end, 0.0))
        else:  # the soft service target inside its window
            rest += EARLY_KM_PER_MINUTE * weight * max(end, 0.0)
    savable = min(rest + 1.0, SAVABLE_PENALTY_CAP_KM / (len(rvisits) + 1))
    for rv, late_anyway in zip(rvisits, late):
        if not late_anyway and rv.deadline is not None and math.isfinite(rv.windows[0][1]):
            rv.drop_penalty = savable + DROP_PENALTY_KM * max(rv.priority, 0.0)


@dataclass
class PlanningInput:
    problem: RoutingProblem
    t0: datetime
    vehicles: list[TechDay]
    visits: list[VisitView]
    excluded: dict = field(default_factory=dict)  # visit id -> reason it was left out
    unmet: dict = field(default_factory=dict)  # visit id -> why its dispatcher's constraint left it out
    points: list = field(default_factory=list)  # (lat, lon) of every location index


def due_minutes(inp: PlanningInput) -> list:
    """The SLA due time of each routing visit, minutes since t0 (None: no deadline)."""
    return [minutes_since(inp.t0, v.due) if v.due else None for v in inp.visits]


def build_problem(
    visits: list[VisitView],
    techs: list[TechView],
    outlet_status: dict,
    probation_full: set,
    now: datetime,
    calendar,
    travel,
    horizon_days: int = 6,
    outlet_limits: dict | None = None,
    serve_within_minutes: float = SERVE_WITHIN_MINUTES,
    target_slack_share: float = 0.0,
    target_min_slack_minutes: float = 0.0,
    target_day_end: bool = False,
    target_km_per_hour: float = 60.0 * EARLY_KM_PER_MINUTE,
) -> PlanningInput:
    """The routing problem of one tenant. `outlet_limits`: {outlet id: visits it may still take
    in this plan} for outlets on probation (their job limit less the visits already started)."""
    days = horizon(calendar, now, horizon_days)
    vehicles = tech_days(techs, days, now)
    homes = [v.origin for v in vehicles]  # location k = where vehicle k starts
    excluded, unmet = {}, {}
    rvisits, kept = [], []
    for visit in visits:
        allowed, reasons = [], set()
        for k, veh in enumerate(vehicles):
            why = eligible(veh.technician, visit, veh.day, outlet_status, probation_full)
            if why is None:
                allowed.append(k)
            else:
                reasons.add(why)
        if not allowed:
            excluded[visit.id] = "; ".join(sorted(reasons)) or "no technician in the horizon"
            # the dispatcher's constraint left no technician-day: say why the others could not
            own = sorted(reasons - {PINNED_ELSEWHERE, ASSIGNED_ELSEWHERE}) or ["no technician of it in the horizon"]
            unmet[visit.id] = unmet_constraint(visit, "; ".join(own))
            if unmet[visit.id]:
                excluded[visit.id] = unmet[visit.id]
            continue
        kept.append(visit)
    ends = {k: v.home for k, v in enumerate(vehicles) if v.start_point is not None}
    end_index = {k: len(homes) + len(kept) + i for i, k in enumerate(ends)}
    points = homes + [(v.lat, v.lon) for v in kept] + list(ends.values())
    km, minutes = travel_matrices(points, travel) if points else (np.zeros((0, 0)), np.zeros((0, 0)))
    t0 = now
    late = []  # per routing visit: no technician-day can reach it by its due time any more
    ends: dict = {}  # each planned day's last shift end: where a whole-day target ends
    for v in vehicles:
        ends[v.day] = max(ends.get(v.day, -math.inf), minutes_since(t0, v.end))
    day_ends = sorted(ends.values()) if target_day_end else None
    for i, visit in enumerate(kept):
        allowed = [
            k
            for k, veh in enumerate(vehicles)
            if eligible(veh.technician, visit, veh.day, outlet_status, probation_full) is None
        ]
        loc = len(homes) + i
        late_anyway = (
            visit.due is not None
            and visit.appointment is None
            and not _reachable_by_due(visit, loc, allowed, vehicles, minutes, end_index, t0)
        )
        rvisits.append(
            _routing_visit(
                visit,
                loc,
                allowed,
                len(vehicles),
                t0,
                late_anyway=late_anyway,
                serve_within=serve_within_minutes,
                slack_share=target_slack_share,
                min_slack=target_min_slack_minutes,
                day_ends=day_ends,
                wait_km_per_minute=target_km_per_hour / 60.0,
            )
        )
        late.append(late_anyway)
    save_the_savable(rvisits, late, float(km.max()) if km.size else 0.0, vehicles, t0)
    rvehicles = [
        RVehicle(
            id=f"{v.technician.id}@{v.day.isoformat()}",
            start=k,
            end=end_index.get(k, k),
            capacity=v.capacity or v.technician.capacity,
            shift=(minutes_since(t0, v.start), minutes_since(t0, v.end)),
        )
        for k, v in enumerate(vehicles)
    ]
    groups = []
    for outlet, limit in (outlet_limits or {}).items():
        members = [k for k, v in enumerate(vehicles) if v.technician.outlet_id == outlet]
        if members:
            groups.append((members, max(0, int(limit))))
    problem = RoutingProblem(
        visits=rvisits,
        vehicles=rvehicles,
        distance=km.tolist(),
        travel_time=minutes.tolist(),
        name="dispatch",
        group_limits=groups,
        # a price of waiting below OR-Tools' least (1 km/min at 1000 units a minute) needs
        # coarser time units: 6-second steps allow 0.01 km/min
        time_scale=time_scale_for(target_km_per_hour / 60.0),
    )
    unmet = {k: v for k, v in unmet.items() if v}
    return PlanningInput(problem, t0, vehicles, kept, excluded, unmet, points)


def add_visit(inp: PlanningInput, visit: VisitView, outlet_status: dict, probation_full: set, travel) -> int:
    """Append one new visit to a built problem (a new location row/column, its eligibility) and
    return its index in inp.problem.visits: the incremental step before `insert_visit`, so a new
    ticket need not rebuild the tenant's whole problem."""
    problem = inp.problem
    n = len(problem.distance)
    D, T = matrices(problem)
    pts = list(inp.points)
    km, minutes = travel_matrices(pts + [(visit.lat, visit.lon)], travel)
    inp.points.append((visit.lat, visit.lon))
    # both matrices are symmetric in this travel model
    new_d, new_t = km[-1, :].tolist(), minutes[-1, :].tolist()
    for i in range(n):
        problem.distance[i].append(new_d[i])
        problem.travel_time[i].append(new_t[i])
    problem.distance.append(new_d)
    problem.travel_time.append(new_t)
    Dn = np.empty((n + 1, n + 1))
    Dn[:n, :n], Dn[n, :], Dn[:, n] = D, km[-1, :], km[:, -1]
    Tn = np.empty((n + 1, n + 1))
    Tn[:n, :n], Tn[n, :], Tn[:, n] = T, minutes[-1, :], minutes[:, -1]
    problem._np_matrices = (problem.distance, Dn, Tn)
    allowed = [
        k
        for k, veh in enumerate(inp.vehicles)
        if eligible(veh.technician, visit, veh.day, outlet_status, probation_full) is None
    ]
    problem.visits.append(_routing_visit(visit, n, allowed, len(inp.vehicles), inp.t0))
    inp.visits.append(visit)
    return len(problem.visits) - 1


@dataclass(frozen=True)
class Assignment:
    visit_id: str
    technician_id: str
    outlet_id: str | None
    day: date
    arrival: datetime
    order: int
    km: float
    late_minutes: float


def read_plan(inp: PlanningInput, plan, place_late: bool = True) -> tuple[list[Assignment], dict]:
    """Assignments per visit and the dropped visits with their reason.

    With hard deadlines the solver drops what it cannot serve on time; those visits are then
    inserted late (cheapest feasible insertion, most urgent first) wherever a technician-day
    still has room, without delaying any planned visit past its deadline."""
    dues = due_minutes(inp)
    problem = inp.problem
    if place_late and plan is not None and plan.dropped:
        problem, plan = place_dropped(inp.problem, plan, dues)
    out = []
    for route in plan.routes:
        veh = inp.vehicles[route.vehicle]
        prev = route.vehicle  # home location index equals vehicle index
        for order, stop in enumerate(route.stops, start=1):
            rv = problem.visits[stop.visit]
            leg = problem.distance[prev][rv.location]
            prev = rv.location
            due = dues[stop.visit]
            late = max(0.0, stop.arrival - due) if due is not None else 0.0
            out.append(
                Assignment(
                    rv.id,
                    veh.technician.id,
                    veh.technician.outlet_id,
                    veh.day,
                    inp.t0 + timedelta(minutes=stop.arrival),
                    order,
                    round(leg, 2),
                    round(late, 1),
                )
            )
    dropped = {inp.problem.visits[i].id: drop_reason(inp.problem, i) for i in plan.dropped}
    return out, dropped


def drop_reason(problem: RoutingProblem, i: int) -> str:
    """Why a visit stayed unplanned: no eligible technician-day can even do it alone within a
    shift (too far, too long), or they can but are full."""
    D, T = matrices(problem)
    vi = problem.visits[i]
    allowed = range(len(problem.vehicles)) if vi.allowed_vehicles is None else vi.allowed_vehicles
    for k in allowed:
        veh = problem.vehicles[k]
        arrive = veh.shift[0] + T[veh.start, vi.location]
        earliest = min(a for a, _ in vi.windows)
        arrive = max(arrive, earliest)
        if arrive + vi.service + T[vi.location, veh.end] <= veh.shift[1] + 1e-6:
            return "no technician-day free within the horizon"
    return "out of reach: no eligible technician can get there and back within a shift"


def unmet_constraints(inp: PlanningInput, assignments: list[Assignment], dropped: dict) -> dict:
    """{visit id: why} for every visit whose dispatcher's constraint (pin, the center's outlet, a
    confirmed appointment) this plan does not keep: left unplaced (the reason says why), or placed
    outside its confirmed appointment's window (the solver could not keep it and it was placed
    late). A visit kept as asked is not in it."""
    views = {v.id: v for v in inp.visits}
    out = dict(inp.unmet)
    for visit_id, why in dropped.items():
        if visit_id in views:  # the solver found no room for it (the excluded ones are in inp.unmet)
            out[visit_id] = unmet_constraint(views[visit_id], why)
    for a in assignments:
        view = views.get(a.visit_id)
        if (
            view is not None
            and view.appointment is not None
            and not view.appointment[0] <= a.arrival <= view.appointment[1]
        ):
            out[a.visit_id] = unmet_constraint(view, "no technician-day free within its window")
    return {k: v for k, v in out.items() if v}
