"""Dispatch's rules about visits and technician-days: who may take a visit, the working days
ahead and each technician's day in them, what a visit costs the planner, the on-site lifecycle.

Plain Python: no nameko, no database. The rest of the planner's rules live beside this module:
`planning` (the routing problem of a re-plan and its plan read back), `en_route` (a day under
way), `return_visits`, `insertion` and `decomposition` (over `routing_problem`), `travel`.
Times inside the routing problem are minutes since the plan's start (`t0`); everything outside
it is UTC datetimes.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from shared.clock import LOCAL_TZ
from shared.errors import InvalidTransition, ValidationFailed

# minutes on site by ticket kind: one for each of shared.events.ONSITE_KINDS (the kinds that become visits)
SERVICE_MINUTES = {"repair": 90, "install": 120, "maintenance": 60, "complaint": 90}
PRIORITY_WEIGHT = {1: 4.0, 2: 2.0, 3: 1.0}
TAKES_JOBS = ("effective", "probation")
NO_JOBS = ("suspended", "revoking", "revoked")
LATE_RISK_HOURS = 4  # an unplanned visit due within this is at risk of being late

# costs are in road-km (the routing layer scales them); a minute late must cost more than
# any detour could save, and dropping a visit more than any lateness
LATENESS_KM_PER_MINUTE = 50.0
DROP_PENALTY_KM = 5_000_000.0
# A visit that can still be on time is dropped (made late) only at a price above every other cost
# of the plan (`planning.save_the_savable`): an overdue backlog never takes its slot. That price
# stays below this, divided by the number of visits, so OR-Tools' int64 objective (km x 1000)
# cannot overflow.
SAVABLE_PENALTY_CAP_KM = 2.0**62 / 1000 / 4
# The SLA deadline is HARD in the routing model (bench/dispatch.py): a visit is either on time or
# dropped there, so the search maximises the (priority-weighted) number of on-time visits and then
# minimises km. A soft, linear lateness cost minimises the SUM of late minutes instead, which under
# load spreads lateness over many visits (measured: 60% on time vs 89% for a greedy dispatcher).
# A visit no technician-day can reach by its due time is served as soon as it can be (a lateness
# cost, `planning._routing_visit`); one the solver drops for want of room is placed late afterwards
# by cheapest insertion (`planning.read_plan`).
HARD_DEADLINES = True
SERVE_WITHIN_MINUTES = 4 * 60.0  # service target after a visit becomes available (soft)
EARLY_KM_PER_MINUTE = 1.0  # cost per minute beyond that target (OR-Tools' smallest: 1/unit)

# The dispatcher's word (issue 19): a visit pinned to a technician, assigned by the center to an
# outlet, or whose arrival was confirmed to the customer keeps it in every re-plan; what eligibility
# says of the other technicians then, and how far a confirmed arrival may move without a reason.
PINNED_ELSEWHERE = "pinned to another technician"
ASSIGNED_ELSEWHERE = "assigned by the center to another outlet"
APPOINTMENT_SLACK_MINUTES = 60


def appointment_window(at: datetime) -> tuple[datetime, datetime]:
    """The arrival window a confirmed appointment at `at` keeps (the customer was told `at`)."""
    slack = timedelta(minutes=APPOINTMENT_SLACK_MINUTES)
    return at - slack, at + slack


def keeps_appointment(appointment_at: datetime | None, arrival: datetime | None) -> bool:
    """Whether a planned `arrival` keeps the confirmed appointment (none confirmed: it does)."""
    if appointment_at is None:
        return True
    if arrival is None:
        return False
    start, end = appointment_window(appointment_at)
    return start <= arrival <= end


def constraint_kind(pinned: str | None, outlet: str | None, appointment: datetime | None) -> str:
    """Which of the dispatcher's constraints a visit carries first: pin, outlet or appointment."""
    return "pin" if pinned else "outlet" if outlet else "appointment" if appointment else "none"


def unmet_constraint(visit: VisitView, why: str) -> str | None:
    """Why the dispatcher's constraint on `visit` is not kept when the planner could not place it
    as asked (`why`: the planner's reason), or None when the visit carries no such constraint."""
    if visit.pinned_technician_id:
        return f"pinned technician {visit.pinned_technician_id} cannot take it: {why}"
    if visit.required_outlet_id:
        return f"outlet {visit.required_outlet_id} assigned by the center cannot take it: {why}"
    if visit.appointment is not None:
        start = visit.appointment[0] + timedelta(minutes=APPOINTMENT_SLACK_MINUTES)
        return f"confirmed appointment at {start.astimezone(LOCAL_TZ):%m-%d %H:%M} cannot be kept: {why}"
    return None


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
    skills: tuple[str, ...]
    certificates: dict[str, date | str]  # product line -> date valid until (or its ISO text)
    lat: float
    lon: float
    capacity: int
    shift_start: time
    shift_end: time
    today: TodayState | None = None


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
    frozen_vehicle: tuple[str, date] | None = None  # (technician id, local date) it must stay on
    current_outlet_id: str | None = None
    required_outlet_id: str | None = None  # the center assigned it to this outlet (assign_outlet)
    appointment: tuple[datetime, datetime] | None = None  # confirmed to the customer: arrive within
    received: datetime | None = None  # when the request came in (the slack of its soft target counts from it)


@dataclass(frozen=True)
class TechDay:
    technician: TechView
    day: date
    start: datetime
    end: datetime
    capacity: int = 0
    start_point: tuple[float, float] | None = None  # where the day starts if not at home (today: the last site)

    @property
    def home(self) -> tuple[float, float]:
        return (self.technician.lat, self.technician.lon)

    @property
    def origin(self) -> tuple[float, float]:
        return self.start_point or self.home


def parse_hhmm(text: str) -> time:
    try:
        hh, mm = text.split(":")
        return time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValidationFailed("invalid time of day", {"shift": [f"{text!r} is not HH:MM"]}) from None


def service_minutes(kind: str, product_line: str | None, table: Mapping[str, float | str] | None = None) -> int:
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


class Workdays(Protocol):
    """A calendar as the planner reads it (`shared.workcal.ChinaCalendar`, `region_plan.FixedDays`)."""

    def is_workday(self, d: date) -> bool: ...


def horizon(calendar: Workdays, now: datetime, days: int) -> list[date]:
    """The next `days` working days starting today (local), on the tenant's calendar."""
    out: list[date] = []
    d = now.astimezone(LOCAL_TZ).date()
    while len(out) < days:
        if calendar.is_workday(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def tech_days(techs: Iterable[TechView], days: Sequence[date], now: datetime) -> list[TechDay]:
    out: list[TechDay] = []
    for tech in techs:
        for d in days:
            start = datetime.combine(d, tech.shift_start, LOCAL_TZ).astimezone(UTC)
            end = datetime.combine(d, tech.shift_end, LOCAL_TZ).astimezone(UTC)
            if end <= now + timedelta(minutes=30):
                continue
            begin, capacity, origin = max(start, now), tech.capacity, None
            state = tech.today
            if state is not None and d == state.busy_until.astimezone(LOCAL_TZ).date():
                # the day is under way: it goes on from the last site, after that job, with what is left
                begin, capacity, origin = (
                    max(begin, state.busy_until),
                    tech.capacity - state.used,
                    (state.lat, state.lon),
                )
                if capacity <= 0 or end - begin <= timedelta(minutes=30):
                    continue
            out.append(TechDay(tech, d, begin, end, capacity, origin))
    return out


def eligible(
    tech: TechView, visit: VisitView, day: date, outlet_status: Mapping[str, str | None], probation_full: set[str]
) -> str | None:
    """None if `tech` may do `visit` on `day`, else the reason why not."""
    if visit.pinned_technician_id and visit.pinned_technician_id != tech.id:
        return PINNED_ELSEWHERE
    if visit.frozen_vehicle and visit.frozen_vehicle != (tech.id, day):
        return "frozen"
    if visit.required_outlet_id and tech.outlet_id != visit.required_outlet_id:
        return ASSIGNED_ELSEWHERE
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


def minutes_since(t0: datetime, at: datetime) -> float:
    return (at - t0).total_seconds() / 60.0


def local_day_start(day: date) -> datetime:
    """00:00 of a local (Asia/Shanghai) day, in UTC."""
    return datetime.combine(day, datetime.min.time(), LOCAL_TZ).astimezone(UTC)


def wished_day_start(wish: datetime | None, now: datetime) -> datetime | None:
    """The customer's wished visit day opens the visit's window (intake sends a wished date as
    that day's closing time); a wish already past does not hold the visit back."""
    if wish is None:
        return None
    start = local_day_start(wish.astimezone(LOCAL_TZ).date())
    return start if start > now else None


def late_risk(status: str, due: datetime | None, arrival: datetime | None, now: datetime) -> bool:
    """Whether a visit risks missing its on-site due time: not planned (or unassignable) and due
    within LATE_RISK_HOURS, or planned to arrive after it. (`queries.late_risk` says the same in SQL.)"""
    if status in (VisitStatus.UNPLANNED, VisitStatus.UNASSIGNABLE):
        return due is not None and due < now + timedelta(hours=LATE_RISK_HOURS)
    if status == VisitStatus.SCHEDULED:
        return due is not None and arrival is not None and arrival > due
    return False


# ------------------------------------------------------------------ outlets
@dataclass(frozen=True)
class Withdrawal:
    """What an outlet may no longer take from now on: all its jobs (`lines` None) or those of
    some product lines. Its planned, not started visits go back to the planner for `reason`."""

    lines: tuple[str, ...] | None
    reason: str

    def covers(self, product_line: str | None) -> bool:
        return self.lines is None or product_line in self.lines


def outlet_change(
    event: str, status: str, line: str | None, line_eligible: bool | None, blocked: set[str]
) -> tuple[list[str] | None, Withdrawal | None]:
    """What an outlet status event (`event`: outlet.<status> or outlet.line_eligibility, for
    product line `line`) changes: the product lines the outlet may not take afterwards (None:
    unchanged), and what it withdraws (None: nothing) -- every job when it is suspended or worse,
    the jobs of a line it may no longer take."""
    blocked = set(blocked)
    new_blocked: list[str] | None = None
    line_event = event == "outlet.line_eligibility"
    if line_event and line:
        if line_eligible:
            blocked.discard(line)
        else:
            blocked.add(line)
        new_blocked = sorted(blocked)
    if status in NO_JOBS:
        return new_blocked, Withdrawal(None, f"outlet_{status}")
    if line_event and line in blocked:
        return new_blocked, Withdrawal((line,), f"line_ineligible:{line}")
    return new_blocked, None


# ------------------------------------------------------------------ on-site lifecycle
def check_position(lat: float | None, lon: float | None) -> None:
    if lat is None or lon is None:
        return
    if not (CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LON[0] <= lon <= CHINA_LON[1]):
        raise ValidationFailed(
            "position outside China", {"lat": ["outside mainland China"], "lon": ["outside mainland China"]}
        )


def check_in(status: str, at: datetime, now: datetime, scheduled_at: datetime | None) -> None:
    if status not in (VisitStatus.SCHEDULED,):
        raise InvalidTransition(f"cannot check in to a visit that is {status}", {"action": [f"visit is {status}"]})
    if at > now + timedelta(minutes=5):
        raise ValidationFailed("check-in in the future", {"at": ["must not be in the future"]})


def check_out(status: str, at: datetime, started_at: datetime | None, now: datetime) -> None:
    if status != VisitStatus.STARTED:
        raise InvalidTransition(f"cannot check out of a visit that is {status}", {"action": [f"visit is {status}"]})
    if at > now + timedelta(minutes=5):
        raise ValidationFailed("check-out in the future", {"at": ["must not be in the future"]})
    if started_at is not None and at < started_at:
        raise ValidationFailed("check-out before check-in", {"at": ["must be after the check-in"]})


def onsite_on_time(due: datetime | None, at: datetime) -> bool:
    """A check-in at `at` meets the on-site commitment (no due time: it does)."""
    return due is None or at <= due


# Names that moved to the modules beside this one and that bench/dispatch.py and
# bench/dispatch_scale.py (not owned by dispatch) still reach as `domain.<name>`: looked up on
# first use, since importing those modules here would be circular. New code imports them from
# their own modules.
_MOVED = {
    "build_problem": "planning",
    "due_minutes": "planning",
    "add_visit": "planning",
    "insert_visit": "insertion",
    "apply_insertion": "insertion",
    "en_route_point": "en_route",
    "travel_matrices": "travel",
    "solve_decomposed": "decomposition",
}


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"services.dispatch.{module}"), name)
