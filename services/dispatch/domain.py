"""Dispatch's rules: who may take a visit, the planning horizon of technician-days, and the
routing problem handed to OR-Tools (`services.dispatch.routing`).

Plain Python: no nameko, no database. Times inside the routing problem are minutes since
the plan's start (`t0`); everything outside it is UTC datetimes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np

from services.dispatch.routing import RoutingProblem, Vehicle as RVehicle, Visit as RVisit
from shared.clock import as_utc
from shared.errors import InvalidTransition, ValidationFailed

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

SERVICE_MINUTES = {"repair": 90, "install": 120, "maintenance": 60, "complaint": 90}
ONSITE_KINDS = tuple(SERVICE_MINUTES)
PRIORITY_WEIGHT = {1: 4.0, 2: 2.0, 3: 1.0}
TAKES_JOBS = ("effective", "probation")
NO_JOBS = ("suspended", "revoking", "revoked")

# costs are in road-km (the routing layer scales them); a minute late must cost more than
# any detour could save, and dropping a visit more than any lateness
LATENESS_KM_PER_MINUTE = 50.0
DROP_PENALTY_KM = 5_000_000.0
# The SLA deadline is HARD in the routing model (bench/dispatch.py): a visit is either on time or
# dropped there, so the search maximises the (priority-weighted) number of on-time visits and then
# minimises km. A soft, linear lateness cost minimises the SUM of late minutes instead, which under
# load spreads lateness over many visits (measured: 60% on time vs 89% for a greedy dispatcher).
# A visit no technician-day can reach by its due time is served as soon as it can be (a lateness
# cost, `_routing_visit`); one the solver drops for want of room is placed late afterwards by
# cheapest insertion (`read_plan`).
HARD_DEADLINES = True
SERVE_WITHIN_MINUTES = 4 * 60.0    # service target after a visit becomes available (soft)
EARLY_KM_PER_MINUTE = 1.0          # cost per minute beyond that target (OR-Tools' smallest: 1/unit)

# China's mainland bounding box, for check-in positions
CHINA_LAT = (17.5, 54.0)
CHINA_LON = (73.0, 135.5)


class VisitStatus:
    UNPLANNED = "unplanned"
    SCHEDULED = "scheduled"
    STARTED = "started"
    COMPLETED = "completed"
    UNASSIGNABLE = "unassignable"
    CANCELLED = "cancelled"


OPEN_VISIT = (VisitStatus.UNPLANNED, VisitStatus.SCHEDULED, VisitStatus.UNASSIGNABLE)


@dataclass(frozen=True)
class TechView:
    id: str
    tenant_id: str
    outlet_id: str | None
    skills: tuple
    certificates: dict  # product line -> date valid until
    lat: float
    lon: float
    capacity: int
    shift_start: time
    shift_end: time
    today: "TodayState | None" = None


@dataclass(frozen=True)
class TodayState:
    """Where a technician is and what is left of today: the place and end of the last visit
    started or done today, and how many of today's visits are already used."""

    lat: float
    lon: float
    busy_until: datetime
    used: int


@dataclass(frozen=True)
class VisitView:
    id: str
    product_line: str | None
    kind: str
    priority: int
    lat: float
    lon: float
    due: datetime | None
    window_start: datetime | None
    service_minutes: int
    pinned_technician_id: str | None = None
    frozen_vehicle: tuple | None = None  # (technician id, local date) it must stay on
    current_outlet_id: str | None = None


@dataclass(frozen=True)
class TechDay:
    technician: TechView
    day: date
    start: datetime
    end: datetime
    capacity: int = 0
    start_point: tuple | None = None  # where the day starts if not at home (today: the last site)

    @property
    def home(self) -> tuple:
        return (self.technician.lat, self.technician.lon)

    @property
    def origin(self) -> tuple:
        return self.start_point or self.home


def parse_hhmm(text: str) -> time:
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValidationFailed("invalid time of day", {"shift": [f"{text!r} is not HH:MM"]}) from None


def service_minutes(kind: str, product_line: str | None, table: dict | None = None) -> int:
    table = table or {}
    key = f"{product_line}:{kind}"
    return int(table.get(key) or table.get(kind) or SERVICE_MINUTES.get(kind, 90))


def certified(tech: TechView, product_line: str | None, on: date) -> bool:
    if product_line is None:
        return True
    until = tech.certificates.get(product_line)
    if until is None:
        return False
    if isinstance(until, str):
        until = date.fromisoformat(until)
    return until >= on


def horizon(calendar, now: datetime, days: int) -> list[date]:
    """The next `days` working days starting today (local), on the tenant's calendar."""
    out = []
    d = now.astimezone(LOCAL_TZ).date()
    while len(out) < days:
        if calendar.is_workday(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def tech_days(techs, days, now: datetime) -> list[TechDay]:
    out = []
    for tech in techs:
        for d in days:
            start = datetime.combine(d, tech.shift_start, LOCAL_TZ).astimezone(timezone.utc)
            end = datetime.combine(d, tech.shift_end, LOCAL_TZ).astimezone(timezone.utc)
            if end <= now + timedelta(minutes=30):
                continue
            begin, capacity, origin = max(start, now), tech.capacity, None
            state = tech.today
            if state is not None and d == state.busy_until.astimezone(LOCAL_TZ).date():
                # the day is under way: it goes on from the last site, after that job, with what is left
                begin, capacity, origin = max(begin, state.busy_until), tech.capacity - state.used, (state.lat, state.lon)
                if capacity <= 0 or end - begin <= timedelta(minutes=30):
                    continue
            out.append(TechDay(tech, d, begin, end, capacity, origin))
    return out


def eligible(tech: TechView, visit: VisitView, day: date, outlet_status: dict,
             probation_full: set) -> str | None:
    """None if `tech` may do `visit` on `day`, else the reason why not."""
    if visit.pinned_technician_id and visit.pinned_technician_id != tech.id:
        return "pinned to another technician"
    if visit.frozen_vehicle and visit.frozen_vehicle != (tech.id, day):
        return "frozen"
    if tech.outlet_id is not None:
        status = outlet_status.get(tech.outlet_id)
        if status not in TAKES_JOBS:
            return f"outlet {tech.outlet_id} is {status or 'unknown'}"
        if tech.outlet_id in probation_full and visit.current_outlet_id != tech.outlet_id:
            return f"outlet {tech.outlet_id} on probation is at its job limit"
    if visit.product_line and visit.product_line not in tech.skills:
        return f"no skill for {visit.product_line}"
    if not certified(tech, visit.product_line, day):
        return f"no valid certificate for {visit.product_line}"
    return None


def travel_matrices(points, travel) -> tuple[np.ndarray, np.ndarray]:
    """Road km and driving minutes between all points (haversine × detour, the travel model's
    speed profile). Vectorised: 1,000 points take milliseconds, geodesic would take seconds;
    haversine differs from the ellipsoid by under 0.5%."""
    pts = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = pts[:, 0][:, None], pts[:, 1][:, None]
    dlat = lat - lat.T
    dlon = lon - lon.T
    a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1))) * travel.detour_factor
    urban = np.minimum(km, travel.urban_km) / travel.urban_speed_kmh
    rural = np.maximum(km - travel.urban_km, 0) / travel.speed_kmh
    minutes = 60.0 * (travel.base_minutes / 60.0 + urban + rural)
    same = km < 1e-6
    minutes[same] = 0.0
    km[same] = 0.0
    return km, minutes


def en_route_point(origin: tuple, dest: tuple, arrival: datetime, now: datetime, travel) -> tuple:
    """Where a technician driving from `origin` to `dest`, due there at `arrival`, is at `now`:
    the point on the way from which the rest of the drive takes exactly `arrival - now` by the
    travel model. Defined this way (not as a share of the distance), a re-plan that keeps the
    technician on the same drive plans the same arrival, however often it runs."""
    remaining = minutes_since(now, arrival)
    if remaining <= 0:
        return tuple(dest)
    (la0, lo0), (la1, lo1) = origin, dest

    def at(f):
        return (la0 + (la1 - la0) * f, lo0 + (lo1 - lo0) * f)

    if float(travel_matrices([tuple(origin), tuple(dest)], travel)[1][0][1]) <= remaining:
        return tuple(origin)
    lo, hi = 0.0, 1.0  # the drive left from at(f) shrinks as f grows
    for _ in range(40):
        mid = (lo + hi) / 2
        if float(travel_matrices([at(mid), tuple(dest)], travel)[1][0][1]) > remaining:
            lo = mid
        else:
            hi = mid
    return at(hi)


def on_the_road(state: TodayState | None, home: tuple | None, site: tuple, arrival: datetime,
                due: datetime | None, service_minutes: int, now: datetime, travel):
    """Whether a technician is already driving to its next visit, and where its day goes on.

    `state`: its day so far (None: it starts from `home`); the visit at `site`, planned for
    `arrival`. None when the technician is still on site or its planned departure (arrival less
    the drive) has not come. Otherwise (redirectable, TodayState):
    - committed (False): the visit leaves the re-plan (a re-plan would otherwise restart the drive
      from where it began at every run and push the arrival back each time); the day goes on from
      that site after that job;
    - redirectable (True): the visit will be late anyway, so the car may be sent to a visit that
      can still be on time. The visit stays in the re-plan and the day goes on from the point
      reached on the road, now (`en_route_point`: a re-plan that keeps the drive plans the same
      arrival)."""
    if state is not None and state.busy_until > now:
        return None  # still on site: not on the road yet
    here = (state.lat, state.lon) if state is not None else home
    if here is None or here[0] is None:
        return None
    drive = float(travel_matrices([tuple(here), tuple(site)], travel)[1][0][1])
    if arrival - timedelta(minutes=drive) > now:
        return None
    used = state.used if state is not None else 0
    if due is not None and arrival > due:
        lat, lon = en_route_point(here, site, arrival, now, travel)
        return True, TodayState(lat, lon, now, used)
    return False, TodayState(site[0], site[1], max(arrival, now) + timedelta(minutes=service_minutes), used + 1)


def _reachable_by_due(visit: VisitView, loc: int, allowed: list, vehicles: list, minutes, end_index: dict,
                      t0: datetime) -> bool:
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


def _routing_visit(visit: VisitView, location: int, allowed: list, n_vehicles: int, t0: datetime,
                   late_anyway: bool = False, serve_within: float = SERVE_WITHIN_MINUTES) -> RVisit:
    """The routing node of a visit. With HARD_DEADLINES the SLA due time is the hard end of the
    visit's window, and the soft `deadline` is a service target `serve_within` minutes (the
    service: DISPATCH_TARGET_HOURS) after the visit becomes available (capped at the due time),
    costing 1 km per minute beyond it x priority: without it, hard deadlines alone let the search defer every visit to its last feasible day
    (measured in bench/dispatch.py: 131 of 283 visits checked in by the week's end), which eats the
    capacity later arrivals need."""
    earliest = minutes_since(t0, visit.window_start) if visit.window_start and visit.window_start > t0 else 0.0
    due = minutes_since(t0, visit.due) if visit.due else None
    weight = PRIORITY_WEIGHT.get(visit.priority, 1.0)
    common = dict(id=visit.id, location=location, demand=1, service=float(visit.service_minutes), priority=weight,
                  allowed_vehicles=allowed if len(allowed) < n_vehicles else None,
                  drop_penalty=DROP_PENALTY_KM * weight)
    if not HARD_DEADLINES or late_anyway:
        # a visit no technician-day can reach by its due time (already overdue, or too far for
        # what is left of the horizon's shifts) is served as soon as it can be: each minute late
        # costs more than any detour (rather than dropping it and placing it wherever it is cheap)
        return RVisit(windows=((earliest, math.inf),), deadline=None if due is None else max(due, 0.0),
                      deadline_hard=False, lateness_penalty=LATENESS_KM_PER_MINUTE, **common)
    target = earliest + serve_within
    if due is not None:
        target = min(target, max(due, earliest))
    return RVisit(windows=((earliest, due if due is not None else math.inf),), deadline=target,
                  deadline_hard=False, lateness_penalty=EARLY_KM_PER_MINUTE, **common)


def due_minutes(inp: "PlanningInput") -> list:
    """The SLA due time of each routing visit, minutes since t0 (None: no deadline)."""
    return [minutes_since(inp.t0, v.due) if v.due else None for v in inp.visits]


@dataclass
class PlanningInput:
    problem: RoutingProblem
    t0: datetime
    vehicles: list[TechDay]
    visits: list[VisitView]
    excluded: dict = field(default_factory=dict)  # visit id -> reason it was left out
    points: list = field(default_factory=list)  # (lat, lon) of every location index


def minutes_since(t0: datetime, at: datetime) -> float:
    return (at - t0).total_seconds() / 60.0


def build_problem(visits: list[VisitView], techs: list[TechView], outlet_status: dict,
                  probation_full: set, now: datetime, calendar, travel, horizon_days: int = 6,
                  outlet_limits: dict | None = None,
                  serve_within_minutes: float = SERVE_WITHIN_MINUTES) -> PlanningInput:
    """The routing problem of one tenant. `outlet_limits`: {outlet id: visits it may still take
    in this plan} for outlets on probation (their job limit less the visits already started)."""
    days = horizon(calendar, now, horizon_days)
    vehicles = tech_days(techs, days, now)
    homes = [v.origin for v in vehicles]  # location k = where vehicle k starts
    excluded = {}
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
            continue
        kept.append(visit)
    ends = {k: v.home for k, v in enumerate(vehicles) if v.start_point is not None}
    end_index = {k: len(homes) + len(kept) + i for i, k in enumerate(ends)}
    points = homes + [(v.lat, v.lon) for v in kept] + list(ends.values())
    km, minutes = travel_matrices(points, travel) if points else (np.zeros((0, 0)), np.zeros((0, 0)))
    t0 = now
    for i, visit in enumerate(kept):
        allowed = [k for k, veh in enumerate(vehicles)
                   if eligible(veh.technician, visit, veh.day, outlet_status, probation_full) is None]
        loc = len(homes) + i
        late_anyway = visit.due is not None and not _reachable_by_due(
            visit, loc, allowed, vehicles, minutes, end_index, t0)
        rvisits.append(_routing_visit(visit, loc, allowed, len(vehicles), t0, late_anyway=late_anyway,
                                      serve_within=serve_within_minutes))
    rvehicles = [RVehicle(id=f"{v.technician.id}@{v.day.isoformat()}", start=k, end=end_index.get(k, k),
                          capacity=v.capacity or v.technician.capacity,
                          shift=(minutes_since(t0, v.start), minutes_since(t0, v.end)))
                 for k, v in enumerate(vehicles)]
    groups = []
    for outlet, limit in (outlet_limits or {}).items():
        members = [k for k, v in enumerate(vehicles) if v.technician.outlet_id == outlet]
        if members:
            groups.append((members, max(0, int(limit))))
    problem = RoutingProblem(visits=rvisits, vehicles=rvehicles, distance=km.tolist(),
                             travel_time=minutes.tolist(), name="dispatch", group_limits=groups)
    return PlanningInput(problem, t0, vehicles, kept, excluded, points)


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
            out.append(Assignment(rv.id, veh.technician.id, veh.technician.outlet_id, veh.day,
                                  inp.t0 + timedelta(minutes=stop.arrival), order, round(leg, 2),
                                  round(late, 1)))
    dropped = {inp.problem.visits[i].id: drop_reason(inp.problem, i) for i in plan.dropped}
    return out, dropped


def drop_reason(problem: RoutingProblem, i: int) -> str:
    """Why a visit stayed unplanned: no eligible technician-day can even do it alone within a
    shift (too far, too long), or they can but are full."""
    D, T = _matrices(problem)
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


# ------------------------------------------------------------------ on-site lifecycle
def latest_visit(visits):
    """A ticket's current visit: the open (or started) one if any, else the most recently received
    one that was not cancelled (None: no such visit)."""
    open_ = [v for v in visits if v.status in OPEN_VISIT or v.status == VisitStatus.STARTED]
    pool = open_ or [v for v in visits if v.status != VisitStatus.CANCELLED]
    if not pool:
        return None
    return max(pool, key=lambda v: (as_utc(v.received_at), as_utc(v.completed_at) or as_utc(v.received_at)))


def return_visit(visits, now: datetime, onsite_due) -> dict | None:
    """The return visit (返修) a negative callback asks for, as the fields of a new visit, or None.

    Only when the ticket's latest visit is completed and none is open (a callback on a ticket
    whose visit is still open, or that has none, changes nothing); it copies that visit (kind,
    place, product line, tier, service minutes), one priority step more urgent, received now and
    due by `onsite_due(tier, now)` (the tenant's on-site SLA for its tier, counted from now),
    unplanned."""
    last = latest_visit(visits)
    if last is None or last.status != VisitStatus.COMPLETED:
        return None
    return dict(tenant_id=last.tenant_id, ticket_id=last.ticket_id, ticket_number=last.ticket_number,
                kind=last.kind, priority=max(1, last.priority - 1), product_line=last.product_line,
                lat=last.lat, lon=last.lon, city=last.city, tier=last.tier, received_at=now,
                onsite_due=onsite_due(last.tier, now), window_start=None, service_minutes=last.service_minutes,
                status=VisitStatus.UNPLANNED, return_of=last.id)


def check_position(lat, lon):
    if lat is None or lon is None:
        return
    if not (CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LON[0] <= lon <= CHINA_LON[1]):
        raise ValidationFailed("position outside China", {"lat": ["outside mainland China"], "lon": ["outside mainland China"]})


def check_in(status: str, at: datetime, now: datetime, scheduled_at: datetime | None):
    if status not in (VisitStatus.SCHEDULED,):
        raise InvalidTransition(f"cannot check in to a visit that is {status}", {"action": [f"visit is {status}"]})
    if at > now + timedelta(minutes=5):
        raise ValidationFailed("check-in in the future", {"at": ["must not be in the future"]})


def check_out(status: str, at: datetime, started_at: datetime | None, now: datetime):
    if status != VisitStatus.STARTED:
        raise InvalidTransition(f"cannot check out of a visit that is {status}", {"action": [f"visit is {status}"]})
    if at > now + timedelta(minutes=5):
        raise ValidationFailed("check-out in the future", {"at": ["must not be in the future"]})
    if started_at is not None and at < started_at:
        raise ValidationFailed("check-out before check-in", {"at": ["must be after the check-in"]})


# ------------------------------------------------------------------ insertion
@dataclass
class Insertion:
    vehicle: int
    position: int        # index in the vehicle's visit list where the visit goes
    added_km: float
    arrival: float       # minutes since t0
    late_minutes: float
    cost: float          # added km + lateness penalty


def _matrices(problem):
    """The problem's matrices as numpy arrays, converted once per problem object."""
    cached = getattr(problem, "_np_matrices", None)
    if cached is None or cached[0] is not problem.distance:
        cached = (problem.distance, np.asarray(problem.distance, dtype=float),
                  np.asarray(problem.travel_time, dtype=float))
        problem._np_matrices = cached
    return cached[1], cached[2]


def _schedule(problem, D, T, k, seq):
    """Arrivals along vehicle k's sequence of visit indices; (arrivals, end time, km) or None if
    a stop's window cannot be met. Same arithmetic as routing.evaluate_routes."""
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


def insert_visit(problem: RoutingProblem, routes: dict, visit: int, allow_late: bool = True,
                 lateness_km_per_minute: float = LATENESS_KM_PER_MINUTE, due: float | None = None):
    """Cheapest feasible insertion of one visit (index into problem.visits) into the current routes
    ({vehicle index: [visit indices]}, e.g. RoutingPlan.visit_lists()); returns an `Insertion` or None.

    Honours the visit's allowed vehicles (eligibility, frozen/pinned), each vehicle's capacity and
    shift (back home by the shift's end), the visits' windows, and deadline propagation along the
    route: no planned stop may be pushed past max(its deadline, its current arrival) (a hard
    deadline never; a window's end never). The new visit must arrive by its deadline (`due` if
    given, else its `deadline`) unless `allow_late`; lateness costs `lateness_km_per_minute` x
    priority per minute. The model's hard due time is the end of the window (see `_routing_visit`). Plain Python over the problem's matrices:
    O(vehicles x stops^2); a 300-vehicle, 1,000-visit plan takes milliseconds to tens of ms.
    Does not modify `routes` (see `apply_insertion`)."""
    D, T = _matrices(problem)
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
        if best is not None and D[veh.start, loc] + D[loc, veh.end] - D[veh.start, veh.end] > best.cost + 1e-9 \
                and not seq:
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
            if any(a > lim + 1e-6 for a, lim in zip(arr[:pos] + arr[pos + 1:], limits)):
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
    per vehicle."""
    routes: dict = {}
    order = sorted(range(len(problem.visits)),
                   key=lambda i: (problem.visits[i].deadline if problem.visits[i].deadline is not None
                                  else math.inf, -problem.visits[i].priority))
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
    from dataclasses import replace

    from services.dispatch.routing import evaluate_routes

    relaxed = RoutingProblem(visits=list(problem.visits), vehicles=problem.vehicles, distance=problem.distance,
                             travel_time=problem.travel_time, name=problem.name,
                             group_limits=problem.group_limits)
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

def add_visit(inp: PlanningInput, visit: VisitView, outlet_status: dict, probation_full: set, travel) -> int:
    """Append one new visit to a built problem (a new location row/column, its eligibility) and
    return its index in inp.problem.visits: the incremental step before `insert_visit`, so a new
    ticket need not rebuild the tenant's whole problem."""
    problem = inp.problem
    n = len(problem.distance)
    D, T = _matrices(problem)
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
    allowed = [k for k, veh in enumerate(inp.vehicles)
               if eligible(veh.technician, visit, veh.day, outlet_status, probation_full) is None]
    problem.visits.append(_routing_visit(visit, n, allowed, len(inp.vehicles), inp.t0))
    inp.visits.append(visit)
    return len(problem.visits) - 1


# ------------------------------------------------------------------ decomposition
DECOMPOSE_ABOVE = 250      # visits; smaller problems go to routing.solve as one model
AREA_MAX_VISITS = 160      # target size of one sub-problem


def decompose(problem: RoutingProblem, max_visits: int = AREA_MAX_VISITS) -> list[tuple[list[int], list[int]]]:
    """Split a big problem by AREA: each visit goes to the base (vehicle start location) of its
    nearest allowed vehicle; a base with more than `max_visits` visits is cut into angular sectors
    around it, its technician-days dealt round-robin per day to the sectors. Returns
    [(visit indices, vehicle indices)]. Why area, not day: technicians only reach visits around
    their own base within a day, so areas barely interact, while every area still sees all days
    and the solver keeps choosing the day against the deadlines."""
    D, _ = _matrices(problem)
    starts = np.array([v.start for v in problem.vehicles])
    bases = sorted(set(starts.tolist()))
    by_base_veh = {b: [k for k, v in enumerate(problem.vehicles) if v.start == b] for b in bases}
    base_visits = {b: [] for b in bases}
    for i, vi in enumerate(problem.visits):
        cand = starts if vi.allowed_vehicles is None else starts[list(vi.allowed_vehicles)] if vi.allowed_vehicles else None
        if cand is None or len(cand) == 0:
            continue
        b = int(cand[np.argmin(D[cand, vi.location])])
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
            c = (D[b, la] ** 2 + x ** 2 - y ** 2) / (2 * D[b, la] * x + 1e-9)
            ang.append((math.acos(max(-1.0, min(1.0, c))), i))
        ang.sort()
        chunk = math.ceil(len(vis) / m)
        sectors = [[i for _, i in ang[j * chunk:(j + 1) * chunk]] for j in range(m)]
        by_day = {}
        for k in sorted(vehs, key=lambda k: (problem.vehicles[k].shift[0], str(problem.vehicles[k].id))):
            by_day.setdefault(problem.vehicles[k].shift[0], []).append(k)
        sector_veh = [[] for _ in range(m)]
        for day_vehs in by_day.values():
            for j, k in enumerate(day_vehs):
                sector_veh[j % m].append(k)
        # technicians in proportion to the sector's visits would be better; equal counts suffice
        parts.extend((s, v) for s, v in zip(sectors, sector_veh) if s)
    return parts


def subproblem(problem: RoutingProblem, visits: list[int], vehicles: list[int]) -> RoutingProblem:
    """The sub-problem over some visits and vehicles, with compact location indices."""
    from services.dispatch.routing import RoutingProblem as RP, Vehicle as RV, Visit as RVi

    D, T = _matrices(problem)
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
        vs.append(RVi(id=i, location=index[v.location], demand=v.demand, windows=v.windows, service=v.service,
                      deadline=v.deadline, deadline_hard=v.deadline_hard, lateness_penalty=v.lateness_penalty,
                      priority=v.priority, allowed_vehicles=allowed, drop_penalty=v.drop_penalty))
    vh = [RV(id=k, start=index[problem.vehicles[k].start], end=index[problem.vehicles[k].end],
             capacity=problem.vehicles[k].capacity, shift=problem.vehicles[k].shift,
             fixed_cost=problem.vehicles[k].fixed_cost) for k in vehicles]
    ix = np.array(locs)
    # a group split over parts would get its whole limit in each; an outlet's technicians share a
    # home base, so areas keep them together
    groups = [([vmap[k] for k in group if k in vmap], limit) for group, limit in problem.group_limits]
    return RP(visits=vs, vehicles=vh, distance=D[np.ix_(ix, ix)].tolist(), travel_time=T[np.ix_(ix, ix)].tolist(),
              name=f"{problem.name}-part", group_limits=[(g, lim) for g, lim in groups if g])


def _solve_part(args):
    from services.dispatch.routing import solve

    sub, seconds = args
    plan = solve(sub, seconds, workers=1)
    return [[sub.visits[s.visit].id for s in r.stops] for r in plan.routes], [r.vehicle for r in plan.routes]


def solve_decomposed(problem: RoutingProblem, time_limit_s: float, workers: int = 2,
                     max_visits: int = AREA_MAX_VISITS, small: int = DECOMPOSE_ABOVE):
    """Solve a big problem as independent area sub-problems on `workers` processes, then merge:
    the visits a part dropped are offered to every vehicle by cheapest insertion (on time only;
    `read_plan` places the rest late). Small problems go to routing.solve unchanged."""
    import concurrent.futures as cf
    import multiprocessing as mp
    import time as _t

    from services.dispatch.routing import evaluate_routes, solve

    if len(problem.visits) <= small:
        return solve(problem, time_limit_s, workers=workers)
    t_start = _t.time()
    parts = decompose(problem, max_visits)
    subs = [(subproblem(problem, v, k), v, k) for v, k in parts]
    total = sum(len(v) for v, _ in parts) or 1
    # CPU-seconds in proportion to size; keep ~12% of the budget for start-up, merge and insertion
    budget = max(1.0, (time_limit_s - (_t.time() - t_start)) * 0.88)
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
    routes = {}
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
    for i in sorted(plan.dropped, key=lambda i: problem.visits[i].deadline if problem.visits[i].deadline is not None else math.inf):
        ins = insert_visit(problem, routes, i, allow_late=True)  # the window holds the due time
        if ins is not None:
            apply_insertion(routes, i, ins)
    plan = evaluate_routes(problem, [routes.get(k, []) for k in range(len(problem.vehicles))])
    plan.stats = {"wall_s": _t.time() - t_start, "parts": [len(v) for v, _ in parts], "found": True,
                  "method": "area-decomposed", "part_seconds": [round(s, 1) for _, s in capped]}
    return plan
