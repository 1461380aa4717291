"""Intake's rules: registering a ticket (受理/登记), the warranty decision, the SLA
deadlines, the ticket status and the complaint case workflow (seed 000: 投诉受理 → 立案 →
内查 → 派员预案 → 现场核实 → 商务谈判 → 整改单 → 退赔款 → 处理结果通知单 → 汇报 → 签协议或纪要).

Plain Python: no nameko, no database session. The service layer loads, calls these, persists.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from shared import tenancy
from shared.errors import InvalidTransition, ValidationFailed
from shared.tenants import TenantDirectory, WarrantyTerms

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
TRIAGE_TENANT = "HQ"  # tickets whose territory cannot be told wait here for HQ to route them

SAFETY_WORDS = ("安全", "起火", "着火", "冒烟", "漏电", "触电", "爆炸", "伤人", "烧毁")


# ---------------------------------------------------------------- warranty (保修)
@dataclass(frozen=True)
class WarrantyDecision:
    """保修 or 自费, and which remedy the purchase age still allows (15-day return, 30-day exchange)."""

    status: str  # warranty | self_paid | unknown
    remedy: str | None  # return | exchange | repair | None
    reason: str
    expires_on: date | None = None


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def decide_warranty(terms: WarrantyTerms, purchase_date: date | None, on_date: date) -> WarrantyDecision:
    if purchase_date is None:
        return WarrantyDecision("unknown", None, "purchase date not given")
    if purchase_date > on_date:
        raise ValidationFailed("purchase date is after the request",
                               {"purchase_date": ["must not be after the date of the request"]})
    age = (on_date - purchase_date).days
    expires = _add_years(purchase_date, terms.warranty_years)
    if age <= terms.return_days:
        return WarrantyDecision("warranty", "return", f"{age} days since purchase: within the "
                                f"{terms.return_days}-day return period", expires)
    if age <= terms.exchange_days:
        return WarrantyDecision("warranty", "exchange", f"{age} days since purchase: within the "
                                f"{terms.exchange_days}-day exchange period", expires)
    if on_date <= expires:
        return WarrantyDecision("warranty", "repair", f"within the {terms.warranty_years}-year "
                                f"warranty until {expires.isoformat()}", expires)
    return WarrantyDecision("self_paid", "repair", f"{terms.warranty_years}-year warranty "
                            f"ended {expires.isoformat()}", expires)


# ---------------------------------------------------------------- ticket status
class Status:
    TRIAGE = "triage"          # territory unknown (ambiguous address): HQ routes it
    REGISTERED = "registered"  # 登记: recorded, waiting to be accepted
    ACCEPTED = "accepted"      # 受理
    SCHEDULED = "scheduled"    # a visit is planned
    ON_SITE = "on_site"        # 上门: technician checked in
    RESOLVED = "resolved"      # work done / case settled, waiting for callback and close
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (Status.TRIAGE, Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED,
                 Status.ON_SITE, Status.RESOLVED)

STAFF = (tenancy.HQ, tenancy.CENTER)
SYSTEM = (tenancy.SERVICE,)

# action: (from statuses, to status, roles allowed)
TICKET_ACTIONS = {
    "accept": ((Status.REGISTERED,), Status.ACCEPTED, STAFF + SYSTEM),
    "reply_phone": (OPEN_STATUSES[1:], None, STAFF),
    "forward": (OPEN_STATUSES[1:], None, STAFF + SYSTEM),
    "assign_outlet": ((Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED), None, STAFF),
    "schedule": ((Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED), Status.SCHEDULED, SYSTEM + STAFF),
    "start_visit": ((Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE), Status.ON_SITE,
                    SYSTEM + STAFF),
    "resolve": ((Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE), Status.RESOLVED, SYSTEM + STAFF),
    "reopen": ((Status.RESOLVED, Status.CLOSED), Status.ACCEPTED, SYSTEM + STAFF),
    "close": ((Status.RESOLVED, Status.ACCEPTED), Status.CLOSED, STAFF + SYSTEM),
    "cancel": (OPEN_STATUSES, Status.CANCELLED, STAFF),
    "route": ((Status.TRIAGE,), Status.REGISTERED, (tenancy.HQ,)),
}


def check_ticket_action(action: str, status: str, role: str) -> str | None:
    """Return the new status (None: unchanged) or raise InvalidTransition."""
    if action not in TICKET_ACTIONS:
        raise InvalidTransition(f"unknown action {action!r}", {"action": ["unknown action"]})
    sources, target, roles = TICKET_ACTIONS[action]
    if role not in roles:
        raise InvalidTransition(f"role {role} may not {action} a ticket", {"action": [f"not allowed for role {role}"]})
    if status not in sources:
        raise InvalidTransition(f"cannot {action} a ticket that is {status}",
                                {"action": [f"not allowed from status {status}"]})
    return target


# ---------------------------------------------------------------- complaint case (产品异议处理流程)
class Case:
    ACCEPTED = "accepted"                    # 投诉受理
    REGISTERED = "registered"                # 立案
    INTERNAL_CHECK = "internal_check"        # 内查
    DISPATCH_PLAN = "dispatch_plan"          # 派员预案
    ONSITE_VERIFICATION = "onsite_verification"  # 现场核实
    NEGOTIATION = "negotiation"              # 商务谈判
    RECTIFICATION = "rectification"          # 整改单 (较大异议整改单 to the responsible plant)
    COMPENSATION = "compensation"            # 退赔款
    RESULT_NOTICE = "result_notice"          # 处理结果通知单
    REPORTED = "reported"                    # 汇报
    AGREEMENT = "agreement"                  # 签协议或纪要
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


CASE_STEPS = {
    # action: (from states, to state)
    "register": ((Case.ACCEPTED,), Case.REGISTERED),
    "internal_check": ((Case.REGISTERED,), Case.INTERNAL_CHECK),
    "plan_dispatch": ((Case.INTERNAL_CHECK,), Case.DISPATCH_PLAN),
    "verify_on_site": ((Case.DISPATCH_PLAN,), Case.ONSITE_VERIFICATION),
    "negotiate": ((Case.INTERNAL_CHECK, Case.ONSITE_VERIFICATION), Case.NEGOTIATION),
    "order_rectification": ((Case.NEGOTIATION,), Case.RECTIFICATION),
    "pay_compensation": ((Case.NEGOTIATION, Case.RECTIFICATION), Case.COMPENSATION),
    "notify_result": ((Case.NEGOTIATION, Case.RECTIFICATION, Case.COMPENSATION), Case.RESULT_NOTICE),
    "report": ((Case.RESULT_NOTICE,), Case.REPORTED),
    "sign_agreement": ((Case.REPORTED,), Case.AGREEMENT),
    "close_case": ((Case.AGREEMENT,), Case.CLOSED),
    "withdraw": ((Case.ACCEPTED, Case.REGISTERED, Case.INTERNAL_CHECK, Case.DISPATCH_PLAN,
                  Case.ONSITE_VERIFICATION, Case.NEGOTIATION), Case.WITHDRAWN),
}
CASE_ROLES = STAFF
# the step that fulfils the "solution plan within 24 h" commitment (seed 001)
PLAN_STEP = "plan_dispatch"
CASE_FINAL = (Case.CLOSED, Case.WITHDRAWN)


def check_case_step(action: str, state: str | None, role: str) -> str:
    if state is None:
        raise InvalidTransition("this ticket is not a complaint case", {"action": ["not a complaint"]})
    if action not in CASE_STEPS:
        raise InvalidTransition(f"unknown case step {action!r}", {"action": ["unknown case step"]})
    if role not in CASE_ROLES:
        raise InvalidTransition(f"role {role} may not {action}", {"action": [f"not allowed for role {role}"]})
    sources, target = CASE_STEPS[action]
    if state not in sources:
        raise InvalidTransition(f"cannot {action} a case that is {state}",
                                {"action": [f"not allowed from case state {state}"]})
    return target


# ---------------------------------------------------------------- registering
@dataclass
class Placement:
    """Where the customer is and who serves it."""

    tenant_id: str
    tier: str | None
    province: str | None
    city: str | None
    district: str | None
    adcode: str | None
    lat: float | None
    lon: float | None
    precision: str | None
    ambiguous: bool
    triage_reason: str | None = None


def place(geo_result, directory: TenantDirectory, principal: tenancy.Principal,
          requested_tenant: str | None = None) -> Placement:
    """Choose the tenant by territory (the center serving the province) and the SLA tier.

    A center may only register within its own territory; an address whose territory cannot be
    told goes to HQ triage (never silently placed) unless the caller is a center, whose own
    tenant then takes it.
    """
    g = geo_result
    territory = directory.tenant_for_province(g.province) if g.province else None
    if requested_tenant and requested_tenant not in directory.centers:
        raise ValidationFailed("unknown tenant", {"tenant_id": [f"no center {requested_tenant!r}"]})
    if principal.role == tenancy.CENTER:
        if territory and territory != principal.tenant:
            raise ValidationFailed("address is outside your territory",
                                   {"address": [f"{g.province} is served by center {territory}"]})
        tenant = principal.tenant
    elif requested_tenant:
        tenant = requested_tenant
    else:
        tenant = territory
    if tenant is None:
        reason = "ambiguous district name" if g.ambiguous else "province not recognised"
        return Placement(TRIAGE_TENANT, None, g.province, g.city, g.district, g.adcode, g.lat, g.lon,
                         g.precision, g.ambiguous, reason)
    tier = directory.tier(tenant, g.province, g.city, g.lat, g.lon) if g.province else None
    return Placement(tenant, tier, g.province, g.city, g.district, g.adcode, g.lat, g.lon,
                     g.precision, g.ambiguous, None)


def priority_for(kind: str, fault: str | None, safety: bool, batch_defect: bool) -> tuple[int, str | None]:
    """1 = safety, 2 = complaint or batch defect, 3 = normal. Returns (priority, escalation reason)."""
    text = fault or ""
    if safety or any(w in text for w in SAFETY_WORDS):
        return 1, "safety"
    if batch_defect:
        return 2, "batch_defect"
    if kind == "complaint":
        return 2, None
    return 3, None


def sla_deadlines(cmd: dict, tier: str | None, clock, policy, deadlines_fn) -> dict:
    """The ticket's deadlines; without a tier (territory unknown) there is no on-site deadline yet."""
    deadlines = deadlines_fn(clock, policy, kind=cmd["kind"], channel=cmd["channel"],
                             received_at=cmd["received_at"], tier=tier or "local",
                             wished_visit_at=cmd.get("wished_visit_at"))
    if tier is None:
        deadlines.pop("onsite", None)
    return deadlines


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ticket_number(tenant_id: str, received_at: datetime) -> str:
    """``C01-250101-7K3QX9MZ``: tenant, local date, 8 random base-32 characters (40 bits:
    a collision among 10,000 tickets of one tenant-day is about 1 in 20 million)."""
    local = received_at.astimezone(LOCAL_TZ)
    bits = uuid.uuid4().int
    suffix = "".join(_CROCKFORD[(bits >> (5 * i)) & 31] for i in range(8))
    return f"{tenant_id}-{local:%y%m%d}-{suffix}"


# ---------------------------------------------------------------- when a request was received
CLOCK_SKEW = timedelta(minutes=5)
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Who may say when a request was received (it starts the SLA clock, so an earlier time back-dates
# it): staff entering a call or a fax afterwards or importing a CSV export (center, HQ), and the
# hotline/fax bridge (a service principal). A customer's or an outlet's request is received now.
MAY_DATE_RECEIPT = STAFF + SYSTEM


def received_at(given: datetime | None, now: datetime, role: str) -> datetime:
    """When the request was received, in UTC: `given` where the caller may say so, else `now`.

    Refused (ValidationFailed naming received_at): any time from a caller who may not date a
    request, a time in the future beyond `CLOCK_SKEW`, a time before 2000.
    """
    if given is None:
        return now.astimezone(timezone.utc)
    if role not in MAY_DATE_RECEIPT:
        raise ValidationFailed("received_at may only be set by a service center, HQ or the hotline/fax bridge",
                               {"received_at": [f"not allowed for role {role}: a request is received when it "
                                                "arrives"]})
    if given > now + CLOCK_SKEW:
        raise ValidationFailed("received_at is in the future", {"received_at": ["must not be in the future"]})
    if given < EARLIEST_RECEIVED:
        raise ValidationFailed("received_at is before 2000", {"received_at": ["must not be before 2000-01-01"]})
    return given.astimezone(timezone.utc)


@dataclass
class Registration:
    """Everything decided when a ticket is registered, ready to be persisted."""

    placement: Placement
    warranty: WarrantyDecision
    priority: int
    escalation: str | None
    deadlines: dict = field(default_factory=dict)
    case_state: str | None = None
    status: str = Status.REGISTERED


def register(cmd: dict, geo_result, directory: TenantDirectory, principal: tenancy.Principal,
             clock, policy_for, deadlines_fn) -> Registration:
    """Decide tenant, tier, warranty, priority and SLA deadlines for a new ticket.

    `policy_for(tenant_id)` gives the tenant's SlaPolicy; `deadlines_fn` is
    `shared.sla.ticket_deadlines`.
    """
    placement = place(geo_result, directory, principal, cmd.get("tenant_id"))
    received = cmd["received_at"]
    terms = directory.warranty_terms(cmd.get("product_line"))
    warranty = decide_warranty(terms, cmd.get("purchase_date"), received.astimezone(LOCAL_TZ).date())
    priority, escalation = priority_for(cmd["kind"], cmd.get("fault"), cmd.get("safety", False),
                                        cmd.get("batch_defect", False))
    policy_tenant = placement.tenant_id if placement.tenant_id in directory.centers else None
    policy = policy_for(policy_tenant)
    deadlines = sla_deadlines(cmd, placement.tier, clock, policy, deadlines_fn)
    status = Status.TRIAGE if placement.tenant_id == TRIAGE_TENANT else Status.REGISTERED
    case_state = Case.ACCEPTED if cmd["kind"] == "complaint" else None
    return Registration(placement, warranty, priority, escalation, deadlines, case_state, status)


# which action fulfils which SLA deadline
SLA_FULFILLED_BY = {
    "accept": "accept",
    "reply_phone": "phone_reply",
    "forward": "forward",
    "start_visit": "onsite",
    "verify_on_site": "onsite",
    PLAN_STEP: "complaint_plan",
    "close_case": "complaint_close",
    "withdraw": "complaint_close",
}
