"""Certification's rules: the outlet lifecycle (网点设立、考核、撤销, seed 003), technicians'
certificates (培训、考试、资格证, seeds 000/001) and network planning (服务市场调查, seed 003).

Plain Python: no nameko, no database session. `decide` says which state a step leads to (or
why it is refused); `lifecycle` builds on it one function per step, returning the changes and
events the service applies and records with who, when, why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, cast

from shared import tenancy
from shared.clock import LOCAL_TZ  # every tenant's calendar date is China's
from shared.errors import Forbidden, InvalidTransition, ValidationFailed

PROBATION_MONTHS = 3
PROBATION_JOB_LIMIT = 5  # open jobs of an outlet on probation when its agreement names no limit
CERTIFICATE_YEARS = 2
REMINDER_DAYS = 30


class OutletState:
    """Outlet states. Application: applied → center_reviewed → technical_reviewed → approved →
    (agreement) probation → effective. Revocation (撤点): revocation_requested →
    revocation_center_reviewed → revocation_technical_reviewed → revoking (accounts being
    cleared) → revoked. rejected ends an application."""

    APPLIED = "applied"
    CENTER_REVIEWED = "center_reviewed"
    TECHNICAL_REVIEWED = "technical_reviewed"
    APPROVED = "approved"
    PROBATION = "probation"
    EFFECTIVE = "effective"
    SUSPENDED = "suspended"
    REVOCATION_REQUESTED = "revocation_requested"
    REVOCATION_CENTER_REVIEWED = "revocation_center_reviewed"
    REVOCATION_TECHNICAL_REVIEWED = "revocation_technical_reviewed"
    REVOKING = "revoking"
    REVOKED = "revoked"
    REJECTED = "rejected"


STATES = (
    OutletState.APPLIED,
    OutletState.CENTER_REVIEWED,
    OutletState.TECHNICAL_REVIEWED,
    OutletState.APPROVED,
    OutletState.PROBATION,
    OutletState.EFFECTIVE,
    OutletState.SUSPENDED,
    OutletState.REVOCATION_REQUESTED,
    OutletState.REVOCATION_CENTER_REVIEWED,
    OutletState.REVOCATION_TECHNICAL_REVIEWED,
    OutletState.REVOKING,
    OutletState.REVOKED,
    OutletState.REJECTED,
)
# outlets that hold an agreement and work (they take jobs in dispatch, count for network planning)
OPERATING = (OutletState.PROBATION, OutletState.EFFECTIVE)
# states in which the outlet still operates as before while a revocation is reviewed
REVOCATION_REVIEW = (
    OutletState.REVOCATION_REQUESTED,
    OutletState.REVOCATION_CENTER_REVIEWED,
    OutletState.REVOCATION_TECHNICAL_REVIEWED,
)

# the outlet states dispatch has not heard of (it is told from the approval on)
UNKNOWN_TO_DISPATCH = (
    OutletState.APPLIED,
    OutletState.CENTER_REVIEWED,
    OutletState.TECHNICAL_REVIEWED,
    OutletState.REJECTED,
)

RESUME = "<resume>"  # target: the state the outlet was in before a suspension or a revocation form

REVOCATION_REASONS = ("breach", "poor_quality", "complaints", "outlet_request", "probation_refused")
ASSESSMENT_RESULTS = ("passed", "extended", "refused")
DECISIONS = ("pass", "reject")

TECHNICAL = tenancy.TECHNICAL_LEAD  # 技术管理科: technical management review
HEAD = tenancy.SERVICE_HEAD  # 顾客服务部部长: HQ service department head


@dataclass(frozen=True)
class Step:
    """One step of the lifecycle: from which states, by which roles (and duty), to which state.
    `target` is a state, RESUME, or a dict decision/result → state."""

    sources: tuple[str, ...]
    roles: tuple[str, ...]
    target: str | dict[str, str]
    duty: str | None = None
    choice: str | None = None  # the payload field that selects the target ("decision", "result")
    summary: str = ""


STEPS: dict[str, Step] = {
    "center_review": Step(
        (OutletState.APPLIED,),
        (tenancy.CENTER,),
        {"pass": OutletState.CENTER_REVIEWED, "reject": OutletState.REJECTED},
        choice="decision",
        summary="center review with site inspection (顾客服务中心审核、考察)",
    ),
    "technical_review": Step(
        (OutletState.CENTER_REVIEWED,),
        (tenancy.CENTER, tenancy.HQ),
        {"pass": OutletState.TECHNICAL_REVIEWED, "reject": OutletState.REJECTED},
        duty=TECHNICAL,
        choice="decision",
        summary="technical management review (技术管理科审核)",
    ),
    "head_approval": Step(
        (OutletState.TECHNICAL_REVIEWED,),
        (tenancy.HQ,),
        {"pass": OutletState.APPROVED, "reject": OutletState.REJECTED},
        duty=HEAD,
        choice="decision",
        summary="service department head approval (顾客服务部长审批)",
    ),
    "issue_agreement": Step(
        (OutletState.APPROVED,),
        (tenancy.CENTER, tenancy.HQ),
        OutletState.PROBATION,
        summary="agreement issued and confirmed (发放协议书并确认); 3-month probation",
    ),
    "assess_probation": Step(
        (OutletState.PROBATION,),
        (tenancy.CENTER,),
        {"passed": OutletState.EFFECTIVE, "extended": OutletState.PROBATION, "refused": OutletState.REVOKING},
        choice="result",
        summary="probation assessment (3个月考核)",
    ),
    "suspend": Step(OPERATING, (tenancy.CENTER, tenancy.HQ), OutletState.SUSPENDED, summary="suspension"),
    "reinstate": Step((OutletState.SUSPENDED,), (tenancy.CENTER, tenancy.HQ), RESUME, summary="reinstatement"),
    "request_revocation": Step(
        OPERATING + (OutletState.SUSPENDED,),
        (tenancy.CENTER, tenancy.HQ, tenancy.OUTLET),
        OutletState.REVOCATION_REQUESTED,
        summary="revocation form (撤点登记表)",
    ),
    "revocation_center_review": Step(
        (OutletState.REVOCATION_REQUESTED,),
        (tenancy.CENTER,),
        {"pass": OutletState.REVOCATION_CENTER_REVIEWED, "reject": RESUME},
        choice="decision",
        summary="center review of the revocation (顾客服务中心审核确认)",
    ),
    "revocation_technical_review": Step(
        (OutletState.REVOCATION_CENTER_REVIEWED,),
        (tenancy.CENTER, tenancy.HQ),
        {"pass": OutletState.REVOCATION_TECHNICAL_REVIEWED, "reject": RESUME},
        duty=TECHNICAL,
        choice="decision",
        summary="technical review of the revocation (技术管理科审核确认)",
    ),
    "revocation_approval": Step(
        (OutletState.REVOCATION_TECHNICAL_REVIEWED,),
        (tenancy.HQ,),
        {"pass": OutletState.REVOKING, "reject": RESUME},
        duty=HEAD,
        choice="decision",
        summary="head approval of the revocation (顾客服务部部长审批)",
    ),
    "request_clearing": Step(
        (OutletState.REVOKING,),
        (tenancy.CENTER, tenancy.HQ),
        OutletState.REVOKING,
        summary="ask settlement and parts again whether accounts are clear (清理帐目)",
    ),
    # facts from settlement, applied by the service itself
    "accounts_cleared": Step(
        (OutletState.REVOKING,),
        (tenancy.SERVICE,),
        OutletState.REVOKED,
        summary="accounts cleared: cooperation ends, the outlet is notified",
    ),
    "accounts_open": Step(
        (OutletState.REVOKING,),
        (tenancy.SERVICE,),
        OutletState.REVOKING,
        summary="open items listed on the outlet file",
    ),
}
USER_ACTIONS = tuple(a for a, s in STEPS.items() if s.roles != (tenancy.SERVICE,))


def allowed_actions(state: str, principal: tenancy.Principal) -> list[tuple[str, Step]]:
    """The steps `principal` may take on an outlet in `state`, in the lifecycle's order: exactly
    those `decide` lets through by role, duty and state (a choice of target is still to make)."""
    return [
        (action, step)
        for action, step in STEPS.items()
        if action in USER_ACTIONS
        and principal.role in step.roles
        and not (step.duty and principal.duty != step.duty)
        and state in step.sources
    ]


def decide(
    action: str, state: str, principal: tenancy.Principal, choice: str | None = None, resume: str | None = None
) -> str:
    """The state `action` leads to from `state` when `principal` takes it, or an error:
    unknown action or choice → ValidationFailed (422), wrong role or duty → Forbidden (403),
    wrong state → InvalidTransition (409)."""
    step = STEPS.get(action)
    if step is None:
        raise ValidationFailed(f"unknown action {action!r}", {"action": [f"one of {', '.join(USER_ACTIONS)}"]})
    if principal.role not in step.roles:
        raise Forbidden(
            f"role {principal.role} may not {action}", {"action": [f"{action} is for {' or '.join(step.roles)}"]}
        )
    if step.duty and principal.duty != step.duty:
        raise Forbidden(f"{action} needs the {step.duty} duty", {"action": [f"only a {step.duty} may {action}"]})
    if state not in step.sources:
        raise InvalidTransition(
            f"cannot {action} an outlet that is {state}",
            {"action": [f"not allowed from state {state}; allowed from {', '.join(step.sources)}"]},
        )
    target = step.target
    if isinstance(target, dict):
        if choice not in target:
            # a step with a choice of targets names the field that chooses
            raise ValidationFailed(
                f"{action} needs {step.choice}", {cast(str, step.choice): [f"one of {', '.join(target)}"]}
            )
        target = target[choice]
    if target == RESUME:
        if resume not in OPERATING + (OutletState.SUSPENDED,):
            raise InvalidTransition(f"no state to return to from {state}", {"action": ["nothing to resume"]})
        target = resume
    return target


def add_months(d: date, months: int) -> date:
    month = d.month - 1 + months
    year = d.year + month // 12
    month = month % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return date(year, month, min(d.day, last))


def local_date(at: datetime) -> date:
    """The calendar date in China of an aware instant."""
    return at.astimezone(LOCAL_TZ).date()


def probation_end(start: date, months: int = PROBATION_MONTHS) -> date:
    return add_months(start, months)


def check_agreement(agreement: dict[str, Any], today: date) -> dict[str, Any]:
    """Fill defaults of an agreement (number, dates) and check its dates."""
    valid_from = agreement.get("valid_from") or today
    valid_to = agreement.get("valid_to") or add_months(valid_from, 36)
    if valid_to <= valid_from:
        raise ValidationFailed(
            "agreement ends before it starts", {"agreement": {"valid_to": ["must be after valid_from"]}}
        )
    return dict(agreement, valid_from=valid_from, valid_to=valid_to)


def check_revocation_form(form: dict[str, Any] | None, principal: tenancy.Principal) -> dict[str, Any]:
    if not form:
        raise ValidationFailed("a revocation needs its form", {"revocation": ["required for request_revocation"]})
    if principal.role == tenancy.OUTLET and form["reason_code"] != "outlet_request":
        raise ValidationFailed(
            "an outlet may only ask to end the agreement itself",
            {"revocation": {"reason_code": ["outlets file outlet_request only"]}},
        )
    if form["reason_code"] == "outlet_request" and not form.get("written_request_ref"):
        raise ValidationFailed(
            "an outlet's request must be in writing",
            {"revocation": {"written_request_ref": ["required for outlet_request"]}},
        )
    if form["reason_code"] == "probation_refused":
        raise ValidationFailed(
            "probation_refused comes from the probation assessment",
            {"revocation": {"reason_code": ["not for a revocation form"]}},
        )
    return form


class OutletFacts(Protocol):
    """What the event rules read of an outlet: a lifecycle.OutletRecord or a row."""

    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def resume_status(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def grade(self) -> str | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...


def event_status(outlet: OutletFacts) -> str:
    """The status other services see (the catalogue's): applications are 'applied'; an outlet
    whose revocation is still being reviewed works as before."""
    if outlet.status in UNKNOWN_TO_DISPATCH:
        return OutletState.APPLIED
    if outlet.status in REVOCATION_REVIEW:
        return outlet.resume_status or OutletState.EFFECTIVE
    return outlet.status


def dispatch_knows(status: str) -> bool:
    return status not in UNKNOWN_TO_DISPATCH


def outlet_event(outlet: OutletFacts, at: datetime, **extra: Any) -> dict[str, Any]:
    """The body of an outlet.* event; `outlet` is a lifecycle.OutletRecord or a row (same names)."""
    return {
        "tenant_id": outlet.tenant_id,
        "outlet_id": outlet.id,
        "status": event_status(outlet),
        "at": at,
        "kind": outlet.kind,
        "grade": outlet.grade,
        "lat": outlet.lat,
        "lon": outlet.lon,
        **extra,
    }


def jsonable(value: Any) -> Any:
    """Dates and Decimals inside JSON columns as strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# ------------------------------------------------------------------ technicians
def certificate_valid_until(passed_on: date, years: int = CERTIFICATE_YEARS) -> date:
    """A certificate is valid for two years from the exam: through the same calendar date
    two years on (29 February → 28 February)."""
    try:
        return passed_on.replace(year=passed_on.year + years)
    except ValueError:
        return passed_on.replace(year=passed_on.year + years, day=28)


def is_expired(valid_until: date, today: date) -> bool:
    """Valid through `valid_until` inclusive, on the tenant's calendar date."""
    return today > valid_until


def is_expiring(valid_until: date, today: date, days: int = REMINDER_DAYS) -> bool:
    return not is_expired(valid_until, today) and valid_until - today <= timedelta(days=days)


def exam_passed(score: Decimal, pass_mark: Decimal) -> bool:
    return score >= pass_mark


def check_exam(score: Decimal, pass_mark: Decimal, taken_on: date, today: date) -> tuple[bool, date]:
    """(passed, valid until) of an exam; refused: a date after today, or a pass too old to certify."""
    if taken_on > today:
        raise ValidationFailed("exam date in the future", {"taken_on": ["must not be after today"]})
    valid_until = certificate_valid_until(taken_on)
    passed = exam_passed(score, pass_mark)
    if passed and is_expired(valid_until, today):
        raise ValidationFailed("a pass this old gives no valid certificate", {"taken_on": ["more than 2 years ago"]})
    return passed, valid_until


def line_eligibility(lines: set[str], certified: dict[str, int], minimum: int) -> dict[str, tuple[bool, int]]:
    """{line: (eligible, certified_count)} for every product line the outlet serves."""
    return {line: (certified.get(line, 0) >= minimum, certified.get(line, 0)) for line in sorted(lines)}


@dataclass(frozen=True)
class LineChange:
    product_line: str
    eligible: bool
    certified: int
    new: bool  # the line has no status yet
    announce: bool  # news for dispatch: the eligibility flipped, or a new line starts ineligible


def line_changes(
    lines: set[str], certified: dict[str, int], minimum: int, current: dict[str, tuple[bool, int]]
) -> list[LineChange]:
    """The line statuses to write; `current`: line → (eligible, certified) as recorded."""
    changes = []
    for line, (eligible, count) in line_eligibility(lines, certified, minimum).items():
        was = current.get(line)
        if was is None:
            changes.append(LineChange(line, eligible, count, True, not eligible))
        elif was != (eligible, count):
            changes.append(LineChange(line, eligible, count, False, was[0] != eligible))
    return changes


def line_event(outlet: OutletFacts, change: LineChange, minimum: int, at: datetime) -> dict[str, Any]:
    return outlet_event(
        outlet,
        at,
        product_line=change.product_line,
        eligible=change.eligible,
        reason=f"{change.certified} certified (minimum {minimum})",
    )


# ------------------------------------------------------------------ applications
STAFF_TECH_POSITIONS = ("engineer", "technician", "installer")  # staff of the form who are technicians


def applying_outlet_id(principal: tenancy.Principal, requested: str | None) -> str | None:
    """The outlet an application is for: an outlet applies for itself, a center for the outlet it
    names (None: the next free id)."""
    if principal.role == tenancy.OUTLET:
        if requested and requested != principal.outlet:
            raise ValidationFailed("an outlet applies for itself", {"outlet_id": ["must be your own outlet id"]})
        return principal.outlet
    if principal.role == tenancy.CENTER:
        return requested
    raise Forbidden(
        f"role {principal.role} cannot file an outlet application",
        {"role": ["the outlet itself or its center applies"]},
    )


def next_outlet_id(tenant: str, taken: set[str]) -> str:
    number = 1
    while f"{tenant}-O{number:02d}" in taken:
        number += 1
    return f"{tenant}-O{number:02d}"


def staff_with_technician_ids(outlet_id: str, staff: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form's staff, each technician with its id (given, or <outlet>-T<n> in form order)."""
    out, technicians = [], 0
    for member in staff:
        if member["position"] in STAFF_TECH_POSITIONS:
            technicians += 1
            member = dict(member, technician_id=member.get("technician_id") or f"{outlet_id}-T{technicians}")
        out.append(member)
    return out


# ------------------------------------------------------------------ network planning
@dataclass
class AreaPlan:
    tenant_id: str
    province: str
    city: str
    installed: int = 0
    planned_sales: int = 0
    repair_volume: Decimal = Decimal(0)
    districts: dict[str, Decimal] = field(default_factory=dict)
    outlets: list[str] = field(default_factory=list)
    needed: int = 0

    @property
    def gap(self) -> int:
        return self.needed - len(self.outlets)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "province": self.province,
            "city": self.city,
            "installed": self.installed,
            "planned_sales": self.planned_sales,
            "yearly_repairs": int(self.repair_volume.quantize(Decimal(1), ROUND_HALF_UP)),
            "outlets_needed": self.needed,
            "outlets_current": len(self.outlets),
            "outlet_ids": sorted(self.outlets),
            "gap": self.gap,
            "districts": {d: int(v.quantize(Decimal(1), ROUND_HALF_UP)) for d, v in sorted(self.districts.items())},
        }


def network_plan(
    base_rows: Iterable[Mapping[str, Any]],
    repair_rates: dict[str, Any],
    outlets: Iterable[Sequence[Any]],
    capacity: int,
) -> list[AreaPlan]:
    """Seed 003's market survey: per area (city), the yearly repair volume of the installed base
    plus next year's planned sales, each × its model's yearly repair rate; the outlets that
    volume needs at `capacity` repairs per outlet a year; against the operating outlets there.

    base_rows: dicts tenant_id, province, city, district, model, installed, planned_sales.
    repair_rates: model → Decimal repairs per unit a year. outlets: (id, tenant_id, province, city).
    """
    if capacity <= 0:
        raise ValidationFailed("capacity must be positive", {"capacity": ["must be > 0"]})
    areas: dict[tuple[str, str], AreaPlan] = {}

    def area_of(tenant: str, province: str, city: str) -> AreaPlan:
        key = (tenant, city)
        if key not in areas:
            areas[key] = AreaPlan(tenant, province, city)
        return areas[key]

    for row in base_rows:
        rate = repair_rates.get(row["model"])
        if rate is None:
            raise ValidationFailed(f"no repair rate for model {row['model']}", {"model": [f"unknown: {row['model']}"]})
        area = area_of(row["tenant_id"], row["province"], row["city"])
        volume = (Decimal(row["installed"]) + Decimal(row["planned_sales"])) * Decimal(rate)
        area.installed += int(row["installed"])
        area.planned_sales += int(row["planned_sales"])
        area.repair_volume += volume
        area.districts[row["district"]] = area.districts.get(row["district"], Decimal(0)) + volume
    for outlet_id, tenant, province, city in outlets:
        area_of(tenant, province, city).outlets.append(outlet_id)
    for area in areas.values():
        area.needed = math.ceil(area.repair_volume / Decimal(capacity)) if area.repair_volume > 0 else 0
    return sorted(areas.values(), key=lambda area: (-area.gap, area.tenant_id, area.city))


def plan_report(areas: list[AreaPlan], capacity: int, gaps_only: bool = False) -> dict[str, Any]:
    """The plan as answered: every area (or only those short of outlets) and the totals."""
    rows = [area.as_dict() for area in areas]
    if gaps_only:
        rows = [r for r in rows if r["gap"] > 0]
    return {
        "capacity": capacity,
        "areas": rows,
        "totals": {
            "yearly_repairs": sum(r["yearly_repairs"] for r in rows),
            "outlets_needed": sum(r["outlets_needed"] for r in rows),
            "outlets_current": sum(r["outlets_current"] for r in rows),
            "short": sum(max(r["gap"], 0) for r in rows),
        },
    }
