"""Intake's rules: registering a ticket (受理/登记), the SLA deadlines, the ticket status and the
complaint case workflow (seed 000: 投诉受理 → 立案 → 内查 → 派员预案 → 现场核实 → 商务谈判 → 整改单 →
退赔款 → 处理结果通知单 → 汇报 → 签协议或纪要), what staff actions do to a ticket, and the SLA verdicts.
What the facts of other services (visit.*, callback.*, refund paid) do is in `facts`; the warranty
decision in `warranty`.

Plain Python: no nameko, no database session. Each rule takes plain records and values and returns
its decision (a `Registration`, an `Outcome`: changes, audit entry, events, commitments met);
`operations` applies it in the unit of work.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.intake.warranty import WarrantyDecision, decide_warranty
from shared import tenancy
from shared.clock import LOCAL_TZ as LOCAL_TZ  # the one local time zone; schemas read it from here
from shared.clock import as_utc
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.events import ONSITE_KINDS, VISIT_COMPLAINT_CATEGORIES
from shared.sla import SlaClock, SlaPolicy, ticket_deadlines
from shared.tenants import TenantDirectory

TRIAGE_TENANT = "HQ"  # tickets whose territory cannot be told wait here for HQ to route them

SAFETY_WORDS = ("安全", "起火", "着火", "冒烟", "漏电", "触电", "爆炸", "伤人", "烧毁")


# ---------------------------------------------------------------- ticket status
class Status:
    TRIAGE = "triage"  # territory unknown (ambiguous address): HQ routes it
    REGISTERED = "registered"  # 登记: recorded, waiting to be accepted
    ACCEPTED = "accepted"  # 受理
    SCHEDULED = "scheduled"  # a visit is planned
    ON_SITE = "on_site"  # 上门: technician checked in
    RESOLVED = "resolved"  # work done / case settled, waiting for callback and close
    CLOSED = "closed"
    CANCELLED = "cancelled"


OPEN_STATUSES = (Status.TRIAGE, Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE, Status.RESOLVED)

STAFF = (tenancy.HQ, tenancy.CENTER)
SYSTEM = (tenancy.SERVICE,)

# action: (from statuses, to status, roles allowed)
TICKET_ACTIONS = {
    "accept": ((Status.REGISTERED,), Status.ACCEPTED, STAFF + SYSTEM),
    "reply_phone": (OPEN_STATUSES[1:], None, STAFF),
    "forward": (OPEN_STATUSES[1:], None, STAFF + SYSTEM),
    "assign_outlet": ((Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED), None, STAFF),
    "schedule": ((Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED), Status.SCHEDULED, SYSTEM + STAFF),
    "start_visit": (
        (Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE),
        Status.ON_SITE,
        SYSTEM + STAFF,
    ),
    "resolve": ((Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE), Status.RESOLVED, SYSTEM + STAFF),
    "reopen": ((Status.RESOLVED, Status.CLOSED), Status.ACCEPTED, SYSTEM + STAFF),
    "close": ((Status.RESOLVED, Status.ACCEPTED), Status.CLOSED, STAFF + SYSTEM),
    "cancel": (OPEN_STATUSES, Status.CANCELLED, STAFF),
    "route": ((Status.TRIAGE, Status.REGISTERED), Status.REGISTERED, (tenancy.HQ,)),  # re-route: routing.py
}


def check_ticket_action(action: str, status: str, role: str) -> str | None:
    """Return the new status (None: unchanged) or raise InvalidTransition."""
    if action not in TICKET_ACTIONS:
        raise InvalidTransition(f"unknown action {action!r}", {"action": ["unknown action"]})
    sources, target, roles = TICKET_ACTIONS[action]
    if role not in roles:
        raise InvalidTransition(f"role {role} may not {action} a ticket", {"action": [f"not allowed for role {role}"]})
    if status not in sources:
        raise InvalidTransition(
            f"cannot {action} a ticket that is {status}", {"action": [f"not allowed from status {status}"]}
        )
    return target


# ---------------------------------------------------------------- complaint case (产品异议处理流程)
class Case:
    ACCEPTED = "accepted"  # 投诉受理
    REGISTERED = "registered"  # 立案
    INTERNAL_CHECK = "internal_check"  # 内查
    DISPATCH_PLAN = "dispatch_plan"  # 派员预案
    ONSITE_VERIFICATION = "onsite_verification"  # 现场核实
    NEGOTIATION = "negotiation"  # 商务谈判
    RECTIFICATION = "rectification"  # 整改单 (较大异议整改单 to the responsible plant)
    COMPENSATION = "compensation"  # 退赔款
    RESULT_NOTICE = "result_notice"  # 处理结果通知单
    REPORTED = "reported"  # 汇报
    AGREEMENT = "agreement"  # 签协议或纪要
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
    "withdraw": (
        (
            Case.ACCEPTED,
            Case.REGISTERED,
            Case.INTERNAL_CHECK,
            Case.DISPATCH_PLAN,
            Case.ONSITE_VERIFICATION,
            Case.NEGOTIATION,
        ),
        Case.WITHDRAWN,
    ),
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
        raise InvalidTransition(
            f"cannot {action} a case that is {state}", {"action": [f"not allowed from case state {state}"]}
        )
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


def place(
    geo_result: Any, directory: TenantDirectory, principal: tenancy.Principal, requested_tenant: str | None = None
) -> Placement:
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
            raise ValidationFailed(
                "address is outside your territory", {"address": [f"{g.province} is served by center {territory}"]}
            )
        tenant = principal.tenant
    elif requested_tenant:
        tenant = requested_tenant
    else:
        tenant = territory
    if tenant is None:
        reason = "ambiguous district name" if g.ambiguous else "province not recognised"
        return Placement(
            TRIAGE_TENANT,
            None,
            g.province,
            g.city,
            g.district,
            g.adcode,
            g.lat,
            g.lon,
            g.precision,
            g.ambiguous,
            reason,
        )
    tier = directory.tier(tenant, g.province, g.city, g.lat, g.lon) if g.province else None
    return Placement(
        tenant, tier, g.province, g.city, g.district, g.adcode, g.lat, g.lon, g.precision, g.ambiguous, None
    )


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


def needs_visit(kind: str, complaint_category: str | None) -> bool:
    """Someone goes on site: an on-site kind; a complaint only about the machine or work (untold: 产品质量异议)."""
    if kind == "complaint":
        return complaint_category is None or complaint_category in VISIT_COMPLAINT_CATEGORIES
    return kind in ONSITE_KINDS


def sla_deadlines(request: dict[str, Any], tier: str | None, clock: SlaClock, policy: SlaPolicy) -> dict[str, datetime]:
    """The ticket's deadlines; no on-site deadline without a tier (territory unknown) or a visit."""
    deadlines = ticket_deadlines(
        clock,
        policy,
        kind=request["kind"],
        channel=request["channel"],
        received_at=request["received_at"],
        tier=tier or "local",
        wished_visit_at=request.get("wished_visit_at"),
    )
    if tier is None or not needs_visit(request["kind"], request.get("complaint_category")):
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
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
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
        return now.astimezone(UTC)
    if role not in MAY_DATE_RECEIPT:
        raise ValidationFailed(
            "received_at may only be set by a service center, HQ or the hotline/fax bridge",
            {"received_at": [f"not allowed for role {role}: a request is received when it arrives"]},
        )
    if given > now + CLOCK_SKEW:
        raise ValidationFailed("received_at is in the future", {"received_at": ["must not be in the future"]})
    if given < EARLIEST_RECEIVED:
        raise ValidationFailed("received_at is before 2000", {"received_at": ["must not be before 2000-01-01"]})
    return given.astimezone(UTC)


# ---------------------------------------------------------------- what a rule decides
Event = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Audit:
    """A ticket's audit entry (件件有记录); the service adds who and when."""

    action: str
    from_state: str | None
    to_state: str | None
    note: str | None = None
    data: dict[str, Any] | None = None


@dataclass
class Outcome:
    """What an action or a fact does to a ticket. The service applies, in this order: `changes`
    (attribute → value; ``assigned_outlet_id`` also moves the rows that copy it), `events`, the
    `audit` entry, the commitments `met` as (sla, at)."""

    changes: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    audit: Audit | None = None
    met: list[tuple[str, datetime]] = field(default_factory=list)


# ---------------------------------------------------------------- registering
REGISTRARS = (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE, tenancy.CUSTOMER)


def customer_key(name: str, phone: str) -> str:
    """The customer's id: the same name and phone on any channel are one customer."""
    return "cu_" + hashlib.sha1(f"{name}|{phone}".encode()).hexdigest()[:16]


def admit(cmd: dict[str, Any], principal: tenancy.Principal, now: datetime) -> dict[str, Any]:
    """The request as it is registered: who may register (Forbidden), when it was received (it
    starts the SLA clock), whose it is. A customer registers their own request through the portal
    and may not choose the center: the address's territory does."""
    if principal.role not in REGISTRARS:
        raise Forbidden(f"role {principal.role} cannot register tickets")
    request = dict(
        cmd,
        received_at=received_at(cmd.get("received_at"), now, principal.role),
        customer_id=customer_key(cmd["customer_name"], cmd["phone"]),
    )
    if principal.role == tenancy.CUSTOMER:
        if cmd.get("tenant_id"):
            raise ValidationFailed(
                "customers cannot choose the service center", {"tenant_id": ["not allowed for customers"]}
            )
        request.update(customer_id=principal.customer, channel="portal")
    return request


def visit_wish(wish: date | datetime | None, clock: SlaClock) -> datetime | None:
    """When the customer wishes the visit, in UTC: a day means by its closing time."""
    if wish is None or isinstance(wish, datetime):
        return wish and wish.astimezone(UTC)
    return clock.closing(wish)


@dataclass
class Registration:
    """The registration decision: the new ticket's columns, its SLA deadlines, its audit entry, the
    commitments met at once, whether `ticket.registered` announces it, and the other events."""

    placement: Placement
    warranty: WarrantyDecision
    ticket: dict[str, Any]
    deadlines: dict[str, datetime]
    audit: Audit
    met: list[tuple[str, datetime]]
    announce: bool
    events: list[Event]


def register(
    request: dict[str, Any], geo_result: Any, principal: tenancy.Principal, now: datetime, policies: Any
) -> Registration:
    """Decide tenant, tier, warranty, priority, escalation, status and SLA deadlines for an admitted
    `request` (see `admit`). `policies` has the tenant `directory`, the SLA `clock` and
    `sla_policy(tenant_id)`. A ticket placed in a center's territory is forwarded to it at once
    (the 1-hour forwarding rule) and announced; one in triage waits for HQ to route it."""
    directory: TenantDirectory = policies.directory
    placement = place(geo_result, directory, principal, request.get("tenant_id"))
    received = request["received_at"]
    terms = directory.warranty_terms(request.get("product_line"))
    warranty = decide_warranty(terms, request.get("purchase_date"), received.astimezone(LOCAL_TZ).date())
    priority, escalation = priority_for(
        request["kind"], request.get("fault"), request.get("safety", False), request.get("batch_defect", False)
    )
    tenant = placement.tenant_id
    deadlines = sla_deadlines(
        request, placement.tier, policies.clock, policies.sla_policy(tenant if tenant in directory.centers else None)
    )
    placed = tenant != TRIAGE_TENANT
    status = Status.REGISTERED if placed else Status.TRIAGE
    p = placement
    ticket = dict(
        id=uuid.uuid4().hex,
        number=ticket_number(tenant, received),
        tenant_id=tenant,
        external_ref=request.get("external_ref"),
        kind=request["kind"],
        channel=request["channel"],
        status=status,
        case_state=Case.ACCEPTED if request["kind"] == "complaint" else None,
        complaint_category=request.get("complaint_category"),
        priority=priority,
        escalation=escalation,
        customer_id=request["customer_id"],
        customer_name=request["customer_name"],
        phone=request["phone"],
        address=request["address"],
        postcode=request.get("postcode"),
        province=p.province,
        city=p.city,
        district=p.district,
        adcode=p.adcode,
        lat=p.lat,
        lon=p.lon,
        geo_precision=p.precision,
        geo_ambiguous=p.ambiguous,
        triage_reason=p.triage_reason,
        tier=p.tier,
        product_line=request.get("product_line"),
        model=request.get("model"),
        serial_no=request.get("serial_no"),
        purchase_date=request.get("purchase_date"),
        fault=request.get("fault"),
        wished_visit_at=visit_wish(request.get("wished_visit_at"), policies.clock),
        warranty=warranty.status,
        warranty_remedy=warranty.remedy,
        warranty_reason=warranty.reason,
        owner_user=principal.user,
        received_at=received,
        registered_at=now,
    )
    events = (
        [("ticket.escalated", _escalated(tenant, ticket["id"], ticket["number"], escalation, "management"))]
        if escalation
        else []
    )
    return Registration(
        placement,
        warranty,
        ticket,
        deadlines,
        Audit("register", None, status, p.triage_reason, {"warranty": warranty.reason}),
        [("forward", now)] if placed else [],
        placed,
        events,
    )


# ---------------------------------------------------------------- staff actions (transitions)
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


def transition(ticket: Any, cmd: dict[str, Any], role: str, now: datetime, directory: TenantDirectory) -> Outcome:
    """A ticket action or a complaint case step by `role` (raises InvalidTransition, or
    ValidationFailed for a wrong outlet or a route without a tenant). A case step accepts a
    registered ticket; a case that ends (closed, withdrawn) closes the ticket. `route` itself (the
    new placement) is the service's: this decides the status."""
    action = cmd["action"]
    out = Outcome()
    if action in CASE_STEPS:
        case = check_case_step(action, ticket.case_state, role)
        out.changes["case_state"] = case
        if case in CASE_FINAL:
            out.changes.update(status=Status.CLOSED, closed_at=now)
            out.events.append(("ticket.closed", closed_event(ticket, case, now)))
        elif ticket.status == Status.REGISTERED:
            # 受理 comes before 立案 (seed 000): a first case step is the acceptance and meets it
            out.changes["status"] = Status.ACCEPTED
            out.met.append(("accept", now))
        out.audit = Audit(
            action,
            ticket.case_state,
            case,
            cmd["note"],
            {"attachments": cmd["attachments"], "cause": cmd["cause"], "responsibility": cmd["responsibility"]},
        )
    else:
        target = check_ticket_action(action, ticket.status, role)
        if action == "assign_outlet":
            outlet = directory.outlets.get(cmd["outlet_id"] or "")
            if outlet is None or outlet.center != ticket.tenant_id:
                raise ValidationFailed(
                    "unknown outlet", {"outlet_id": [f"no outlet {cmd['outlet_id']!r} in {ticket.tenant_id}"]}
                )
            out.changes["assigned_outlet_id"] = cmd["outlet_id"]
            # dispatch keeps it: only that outlet's technicians take the ticket's visits
            out.events.append(("ticket.outlet_assigned", outlet_assigned_event(ticket, cmd["outlet_id"], now)))
        elif action == "route" and not cmd["tenant_id"]:
            raise ValidationFailed("route needs a tenant", {"tenant_id": ["required for route"]})
        if target:
            out.changes["status"] = target
        if action in ("close", "cancel"):
            out.changes["closed_at"] = now
            out.events.append(
                ("ticket.closed", closed_event(ticket, "cancelled" if action == "cancel" else "resolved", now))
            )
        out.audit = Audit(
            action,
            ticket.status,
            target or ticket.status,
            cmd["note"],
            {"attachments": cmd["attachments"], "outlet_id": cmd["outlet_id"]},
        )
    sla = SLA_FULFILLED_BY.get(action)
    if sla:
        out.met.append((sla, now))
    return out


# ---------------------------------------------------------------- SLA commitments
def deadline_met(deadline: Any, sla: str, at: datetime) -> str | None:
    """What `at` does to `deadline` for commitment `sla`: "met", "late" (it is also a breach unless
    one was recorded already), or None (another commitment, or met before)."""
    if deadline.sla != sla or deadline.met_at is not None:
        return None
    due = as_utc(deadline.due_at)
    return "late" if due is not None and at > due else "met"


def breach(ticket: Any, deadline: Any, now: datetime) -> list[Event]:
    """The watchdog's events for an open deadline past due: sla.breached, and an escalation to
    management for a complaint or a safety case. None for a complaint case already over."""
    if ticket.case_state in CASE_FINAL:
        return []
    events = [("sla.breached", breach_event(ticket, deadline, now))]
    if ticket.kind == "complaint" or ticket.priority == 1:
        events.append(("ticket.escalated", escalated_event(ticket, f"sla_breached:{deadline.sla}", "management")))
    return events


# ---------------------------------------------------------------- event bodies
def registered_event(t: Any) -> dict[str, Any]:
    return {
        "tenant_id": t.tenant_id,
        "ticket_id": t.id,
        "number": t.number,
        "kind": t.kind,
        "channel": t.channel,
        "priority": t.priority,
        "received_at": as_utc(t.received_at),
        "product_line": t.product_line,
        "model": t.model,
        "serial_no": t.serial_no,
        "fault": t.fault,
        "warranty": t.warranty,
        "tier": t.tier,
        "province": t.province,
        "city": t.city,
        "district": t.district,
        "lat": t.lat,
        "lon": t.lon,
        "geo_ambiguous": bool(t.geo_ambiguous),
        "onsite_due": next((as_utc(d.due_at) for d in t.deadlines if d.sla == "onsite"), None),
        "wished_visit_at": t.wished_visit_at and as_utc(t.wished_visit_at),
        "purchase_date": t.purchase_date,
        "complaint_category": t.complaint_category,
        "needs_visit": needs_visit(t.kind, t.complaint_category),
        "customer_phone": t.phone,  # for the appointment SMS only: dispatch puts it on visit.scheduled
    }


def closed_event(t: Any, outcome: str, closed_at: datetime) -> dict[str, Any]:
    return {
        "tenant_id": t.tenant_id,
        "ticket_id": t.id,
        "number": t.number,
        "kind": t.kind,
        "closed_at": as_utc(closed_at),
        "outcome": outcome,
        "assigned_outlet_id": t.assigned_outlet_id,
    }


def outlet_assigned_event(t: Any, outlet_id: str, at: datetime) -> dict[str, Any]:
    return {"tenant_id": t.tenant_id, "ticket_id": t.id, "number": t.number, "outlet_id": outlet_id, "at": at}


def breach_event(t: Any, d: Any, at: datetime) -> dict[str, Any]:
    return {
        "tenant_id": t.tenant_id,
        "ticket_id": t.id,
        "number": t.number,
        "sla": d.sla,
        "due_at": as_utc(d.due_at),
        "detected_at": at,
        "assigned_outlet_id": t.assigned_outlet_id,
    }


def escalated_event(t: Any, reason: str, level: str) -> dict[str, Any]:
    return _escalated(t.tenant_id, t.id, t.number, reason, level)


def _escalated(tenant_id: str, ticket_id: str, number: str, reason: str, level: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "ticket_id": ticket_id, "number": number, "reason": reason, "level": level}
