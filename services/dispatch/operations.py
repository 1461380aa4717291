"""What dispatch does to its tables, one function per use case, inside the caller's unit of work.

The service's entrypoints parse and authorise, then call these; the rules they apply are the
domain's (`domain`, `return_visits`). Every change that needs a re-plan records the tenant's
request in the same transaction (`request_replan`), so the planner never plans before the
change it is woken for is stored.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from services.dispatch import domain, planstate, queries, return_visits, signatures
from services.dispatch.domain import LOCAL_TZ, OPEN_VISIT, VisitStatus
from services.dispatch.models import OutletAssignment, OutletState, Technician, Visit, VisitSignature
from services.dispatch.schemas import VisitOut
from shared import metrics, tenancy
from shared.db import AwareView, as_utc, get_or_404, utcnow
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.events import ONSITE_KINDS

log = logging.getLogger(__name__)

SERVICE = "dispatch"

RELEASED = Counter(
    "fsm_dispatch_visits_released_total",
    "Planned visits taken back from an outlet or technician",
    ["service", "tenant", "reason"],
    registry=metrics.REGISTRY,
)

_visit_out = VisitOut()


# ---------------------------------------------------------------- visits as the others see them
def visit_event(visit: Visit, **extra) -> dict:
    """The body of a visit.* event about `visit` as it is now, with `extra` fields."""
    body = {
        "tenant_id": visit.tenant_id,
        "visit_id": visit.id,
        "ticket_id": visit.ticket_id,
        "ticket_number": visit.ticket_number,
        "outlet_id": visit.outlet_id,
        "technician_id": visit.technician_id,
        "at": utcnow(),
        "planned_arrival": as_utc(visit.planned_arrival),
        "route_order": visit.route_order,
        "planned_km": visit.planned_km,
        "product_line": visit.product_line,
        "kind": visit.kind,
    }
    if visit.status == VisitStatus.SCHEDULED and visit.customer_phone:  # the appointment SMS, no other fact
        body["customer_phone"] = visit.customer_phone
    body.update(extra)
    return body


def dump_visit(visit: Visit, now: datetime, signature: VisitSignature | None = None) -> dict:
    """A visit as the API shows it; with `signature`, the customer's signature as a data URL (the
    answer about one visit), else without it (the board)."""
    out = _visit_out.dump(AwareView(visit))
    out["late_risk"] = domain.late_risk(visit.status, as_utc(visit.onsite_due), as_utc(visit.planned_arrival), now)
    out["signed"] = bool(visit.signed)
    if signature is not None:
        out["signature"] = signatures.data_url(signature.png)
    else:
        out.pop("signature", None)
    return out


def visit_signature(uow, visit: Visit) -> VisitSignature | None:
    """The customer's signature kept with `visit` (None: not signed on screen)."""
    return uow.session.get(VisitSignature, visit.id) if visit.signed else None


def load_visit(uow, visit_id) -> Visit:
    return get_or_404(uow.session, Visit, visit_id, "visit_id")


def tech_view(t: Technician, today=None, blocked_lines=None) -> domain.TechView:
    """The planner's view of a technician: a product line its outlet may not take is no skill."""
    skills = tuple(s for s in (t.skills or ()) if not blocked_lines or s not in blocked_lines)
    return domain.TechView(
        id=t.id,
        tenant_id=t.tenant_id,
        outlet_id=t.outlet_id,
        skills=skills,
        certificates=dict(t.certificates or {}),
        lat=t.home_lat,
        lon=t.home_lon,
        capacity=t.daily_capacity,
        shift_start=domain.parse_hhmm(t.shift_start),
        shift_end=domain.parse_hhmm(t.shift_end),
        today=today,
    )


def request_replan(uow, tenant_id: str):
    """`tenant_id` needs a re-plan: recorded in `uow`'s transaction, committed with the change it
    is for. Any replica's planner tick picks it up."""
    with uow.session.no_autoflush:  # the change itself is flushed at commit, as before
        planstate.request(uow.session, tenant_id)


# ---------------------------------------------------------------- tickets
def open_visit(uow, payload: dict, service_minutes_table: dict | None) -> bool:
    """A registered ticket that needs someone on site becomes a visit (once per ticket); one
    without a location is unassignable at once. False: the ticket needs no visit."""
    if payload["kind"] not in ONSITE_KINDS or not payload.get("needs_visit", True):
        return False  # e.g. a complaint about fees or attitude: handled without a visit
    existing = uow.session.scalars(select(Visit).where(Visit.ticket_id == payload["ticket_id"])).first()
    if existing is None:
        visit = Visit(
            id=uuid.uuid4().hex,
            tenant_id=payload["tenant_id"],
            ticket_id=payload["ticket_id"],
            ticket_number=payload["number"],
            kind=payload["kind"],
            priority=payload["priority"],
            product_line=payload.get("product_line"),
            customer_phone=(payload.get("customer_phone") or None) and str(payload["customer_phone"])[:32],
            lat=payload.get("lat"),
            lon=payload.get("lon"),
            city=payload.get("city"),
            tier=payload.get("tier"),
            received_at=payload["received_at"],
            onsite_due=payload.get("onsite_due"),
            window_start=domain.wished_day_start(payload.get("wished_visit_at"), utcnow()),
            service_minutes=domain.service_minutes(payload["kind"], payload.get("product_line"), service_minutes_table),
            status=VisitStatus.UNPLANNED,
        )
        assigned = uow.session.get(OutletAssignment, payload["ticket_id"])
        if assigned is not None:  # the center's assign_outlet came in before the ticket's registration
            visit.required_outlet_id = assigned.outlet_id
        if visit.lat is None or visit.lon is None:
            visit.status, visit.unassignable_reason = VisitStatus.UNASSIGNABLE, "no location for the address"
            uow.emit("visit.unassignable", visit_event(visit, reason=visit.unassignable_reason))
        uow.session.add(visit)
    request_replan(uow, payload["tenant_id"])
    return True


def cancel_ticket_visits(uow, ticket_id: str):
    """A closed ticket: every visit of it still open is cancelled (a ticket may have several:
    return visits)."""
    tenants = set()
    for visit in uow.session.scalars(select(Visit).where(Visit.ticket_id == ticket_id, Visit.status.in_(OPEN_VISIT))):
        visit.status = VisitStatus.CANCELLED
        tenants.add(visit.tenant_id)
    for tenant in tenants:
        request_replan(uow, tenant)


def add_return_visit(uow, payload: dict, onsite_due) -> Visit | None:
    """The return visit (返修) a negative callback asks for (`return_visits.return_visit`), or
    None when the ticket's latest visit is not completed or one is still open."""
    visits = uow.session.scalars(select(Visit).where(Visit.ticket_id == payload["ticket_id"])).all()
    fields = return_visits.return_visit(visits, utcnow(), onsite_due)
    if fields is None:
        last = return_visits.latest_visit(visits)
        log.info(
            "ticket %s escalated (%s): no return visit (latest visit %s)",
            payload["ticket_id"],
            payload["reason"],
            last.status if last else "none",
        )
        return None
    visit = Visit(id=uuid.uuid4().hex, **fields)
    uow.session.add(visit)
    request_replan(uow, payload["tenant_id"])
    return visit


def ticket_visits(uow, visit: Visit) -> list[Visit]:
    """Every visit of `visit`'s ticket that `uow`'s principal sees."""
    return list(uow.session.scalars(select(Visit).where(Visit.ticket_id == visit.ticket_id)))


def return_visit_refusal(uow, visit: Visit, principal) -> return_visits.Refusal | None:
    """Why `principal` may not ask for a return visit to `visit` now (None: it may). `uow` acts for
    the visit's tenant: the ticket's other visits may be another outlet's, or nobody's yet."""
    outlet = principal.outlet if principal.role == tenancy.OUTLET else None
    return return_visits.request_refusal(visit, ticket_visits(uow, visit), outlet)


def request_return_visit(uow, visit_id: str, principal, data: dict, now: datetime, onsite_due, is_workday) -> Visit:
    """The return visit the outlet (`principal`) asks for to its checked-out visit
    (`return_visits.requested_return_visit`), pinned to the technician who did it while that one may
    still take it. `uow` acts for the visit's tenant (`return_visit_refusal`)."""
    visit = load_visit(uow, visit_id)
    refusal = return_visit_refusal(uow, visit, principal)
    if refusal is not None:
        raise refusal.error
    tech = uow.session.get(Technician, visit.technician_id) if visit.technician_id else None
    today = now.astimezone(LOCAL_TZ).date()
    pinned = tech.id if tech is not None and pin_refusal(uow, tech, visit, today) is None else None
    fields = return_visits.requested_return_visit(
        visit, now, onsite_due, data["reason"], data.get("wished_date"), principal.user, pinned, is_workday
    )
    returning = Visit(id=uuid.uuid4().hex, **fields)
    uow.session.add(returning)
    # the visit's version moves with it: of two requests at once one commits, the other is a 409
    flag_modified(visit, "return_of")
    request_replan(uow, visit.tenant_id)
    return returning


# ---------------------------------------------------------------- outlets and certificates
def release(uow, visit: Visit, reason: str):
    """A planned, not started visit goes back to the planner; `visit.released` (with the outlet
    and technician it had) tells parts and intake in the same transaction."""
    outlet_id, technician_id = visit.outlet_id, visit.technician_id
    visit.status, visit.technician_id, visit.outlet_id = VisitStatus.UNPLANNED, None, None
    visit.planned_arrival = visit.route_order = visit.planned_km = None
    uow.emit(
        "visit.released", visit_event(visit, outlet_id=outlet_id, technician_id=technician_id, reason=reason[:128])
    )
    RELEASED.labels(SERVICE, visit.tenant_id, reason.split(":")[0]).inc()


def change_outlet(uow, payload: dict, event: str) -> int:
    """An outlet status event (`event`): the outlet's state follows it; what it may no longer take
    (`domain.outlet_change`) goes back to the planner and loses its pins. Returns how many
    visits were released."""
    state = uow.session.get(OutletState, payload["outlet_id"])
    if state is None:
        state = OutletState(
            outlet_id=payload["outlet_id"],
            tenant_id=payload["tenant_id"],
            kind=payload.get("kind") or "franchised",
            lat=payload.get("lat"),
            lon=payload.get("lon"),
        )
        uow.session.add(state)
    state.status, state.updated_at = payload["status"], payload["at"]
    if payload["status"] == "probation":
        state.job_limit = payload.get("job_limit")
    blocked, withdrawal = domain.outlet_change(
        event, payload["status"], payload.get("product_line"), payload.get("eligible"), set(state.blocked_lines or ())
    )
    if blocked is not None:
        state.blocked_lines = blocked
    released = 0
    if withdrawal is not None:
        for visit in uow.session.scalars(
            select(Visit).where(Visit.outlet_id == payload["outlet_id"], Visit.status == VisitStatus.SCHEDULED)
        ):
            if withdrawal.covers(visit.product_line):
                release(uow, visit, withdrawal.reason)
                released += 1
        # a pin to one of its technicians would leave the visit with nobody
        staff = select(Technician.id).where(Technician.outlet_id == payload["outlet_id"])
        for visit in uow.session.scalars(
            select(Visit).where(Visit.pinned_technician_id.in_(staff), Visit.status.in_(OPEN_VISIT))
        ):
            if withdrawal.covers(visit.product_line):
                visit.pinned_technician_id = None
    request_replan(uow, payload["tenant_id"])
    return released


def change_certificate(uow, payload: dict, valid: bool, reason: str | None = None) -> int | None:
    """A technician's certificate for a product line was granted (`valid`) or withdrawn; when
    withdrawn, its planned, not started visits of that line go back to the planner (a frozen
    plan would keep them on it) and lose their pins. Returns how many visits were released;
    None: the technician is unknown here (nothing changes)."""
    tech = uow.session.get(Technician, payload["technician_id"])
    if tech is None:
        log.warning("certificate event for unknown technician %s", payload["technician_id"])
        return None
    certs = dict(tech.certificates or {})
    released = 0
    if valid and payload.get("valid_until"):
        certs[payload["product_line"]] = payload["valid_until"].isoformat()
    else:
        certs.pop(payload["product_line"], None)
        for visit in uow.session.scalars(
            select(Visit).where(
                Visit.technician_id == tech.id,
                Visit.product_line == payload["product_line"],
                Visit.status == VisitStatus.SCHEDULED,
            )
        ):
            release(uow, visit, reason or "certificate_withdrawn")
            released += 1
        for visit in uow.session.scalars(
            select(Visit).where(
                Visit.pinned_technician_id == tech.id,
                Visit.product_line == payload["product_line"],
                Visit.status.in_(OPEN_VISIT),
            )
        ):
            visit.pinned_technician_id = None
    tech.certificates = certs
    request_replan(uow, payload["tenant_id"])
    return released


# ---------------------------------------------------------------- technicians
def technician_tenant(directory, principal, data: dict) -> str:
    """The tenant a technician record belongs to (its outlet's center, else the one given or the
    caller's), checked against the directory and what the caller may see."""
    if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE):
        raise Forbidden(f"role {principal.role} cannot manage technicians")
    tenant = data.get("tenant_id") or principal.tenant
    if data.get("outlet_id"):
        outlet = directory.outlets.get(data["outlet_id"])
        if outlet is None:
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r}"]})
        tenant = outlet.center
    if tenant not in directory.centers:
        raise ValidationFailed("unknown tenant", {"tenant_id": ["give the center or the outlet"]})
    if not principal.sees_tenant(tenant):  # another center's outlet does not exist for the caller
        field = "outlet_id" if data.get("outlet_id") else "tenant_id"
        raise ValidationFailed(f"unknown {field}", {field: [f"no {data.get(field)!r} in your tenant"]})
    unknown = [s for s in data["skills"] if s not in directory.product_lines]
    if unknown:
        raise ValidationFailed("unknown product line", {"skills": [f"unknown: {', '.join(unknown)}"]})
    return tenant


def upsert_technician(uow, directory, tenant: str, data: dict) -> Technician:
    seed_outlets(uow, directory, tenant)
    tech = uow.session.get(Technician, data["id"])
    if tech is None:
        tech = Technician(id=data["id"], tenant_id=tenant)
        uow.session.add(tech)
    elif tech.tenant_id != tenant:
        raise ValidationFailed("technician belongs to another tenant", {"id": ["already used"]})
    tech.outlet_id, tech.name, tech.skills = data.get("outlet_id"), data["name"], data["skills"]
    tech.certificates = {k: v.isoformat() for k, v in data["certificates"].items()}
    tech.home_lat, tech.home_lon = data["home_lat"], data["home_lon"]
    tech.daily_capacity, tech.active = data["daily_capacity"], data["active"]
    tech.shift_start, tech.shift_end = data["shift_start"], data["shift_end"]
    request_replan(uow, tenant)
    return tech


def seed_outlets(uow, directory, tenant: str):
    """Outlet states start from the tenants file; certification events change them later."""
    have = {s.outlet_id for s in queries.outlet_states(uow.session, tenant)}
    for outlet in directory.outlets_of(tenant):
        if outlet.id not in have:
            uow.session.add(
                OutletState(
                    outlet_id=outlet.id,
                    tenant_id=tenant,
                    kind=outlet.kind,
                    status=outlet.status,
                    lat=outlet.lat,
                    lon=outlet.lon,
                    updated_at=utcnow(),
                )
            )


def technician_route(session, technician_id: str, day) -> dict:
    """A technician's local day as an ordered route."""
    tech = session.get(Technician, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} not found")
    start = domain.local_day_start(day)
    rows = queries.technician_day(session, technician_id, start, start + timedelta(days=1))
    stops = [
        {
            "order": i,
            "visit_id": v.id,
            "ticket_number": v.ticket_number,
            "kind": v.kind,
            "product_line": v.product_line,
            "lat": v.lat,
            "lon": v.lon,
            "city": v.city,
            "planned_arrival": as_utc(v.planned_arrival).astimezone(LOCAL_TZ).isoformat(),
            "service_minutes": v.service_minutes,
            "leg_km": v.planned_km,
            "status": v.status,
            "onsite_due": as_utc(v.onsite_due).astimezone(LOCAL_TZ).isoformat() if v.onsite_due else None,
        }
        for i, v in enumerate(rows, start=1)
    ]
    return {
        "technician_id": tech.id,
        "outlet_id": tech.outlet_id,
        "date": day.isoformat(),
        "home": {"lat": tech.home_lat, "lon": tech.home_lon},
        "stops": stops,
        "planned_km": round(sum(s["leg_km"] or 0 for s in stops), 2),
    }


# ---------------------------------------------------------------- the dispatcher's word
def assign_outlet(uow, payload: dict) -> int:
    """The center assigned the ticket to an outlet (intake's assign_outlet): its open visits keep
    that outlet as a constraint in every re-plan (only its technicians take them; a pin to
    another outlet's technician is dropped). The number of visits it applies to. The assignment
    is kept for the ticket, so a visit opened later (the events may arrive in either order) takes
    it too."""
    assigned = uow.session.get(OutletAssignment, payload["ticket_id"])
    if assigned is None:
        assigned = OutletAssignment(ticket_id=payload["ticket_id"], tenant_id=payload["tenant_id"])
        uow.session.add(assigned)
    assigned.outlet_id, assigned.assigned_at = payload["outlet_id"], utcnow()
    visits = uow.session.scalars(
        select(Visit).where(Visit.ticket_id == payload["ticket_id"], Visit.status.in_(OPEN_VISIT))
    ).all()
    for visit in visits:
        visit.required_outlet_id = payload["outlet_id"]
        if visit.pinned_technician_id:
            tech = uow.session.get(Technician, visit.pinned_technician_id)
            if tech is None or tech.outlet_id != payload["outlet_id"]:
                visit.pinned_technician_id = None
        request_replan(uow, visit.tenant_id)
    return len(visits)


def note_constraint(uow, visit: Visit, why: str | None) -> None:
    """Record whether the plan keeps `visit`'s constraint (pin, outlet, confirmed appointment):
    `why` it cannot (None: kept), shown on the board; dispatch.constraint_unmet when it becomes
    unmet or its reason changes."""
    why = why[:255] if why else None
    if why and why != visit.constraint_unmet:
        uow.emit(
            "dispatch.constraint_unmet",
            {
                "tenant_id": visit.tenant_id,
                "visit_id": visit.id,
                "ticket_id": visit.ticket_id,
                "constraint": domain.constraint_kind(
                    visit.pinned_technician_id, visit.required_outlet_id, visit.appointment_at
                ),
                "required_outlet_id": visit.required_outlet_id,
                "pinned_technician_id": visit.pinned_technician_id,
                "reason": why,
                "at": utcnow(),
            },
        )
    visit.constraint_unmet = why


def confirm_appointment(uow, visit: Visit) -> Visit:
    """The customer was told the planned arrival (预约确认): re-plans keep the visit within
    `domain.appointment_window` of it unless a re-plan with a reason moves it."""
    if visit.status != VisitStatus.SCHEDULED or visit.planned_arrival is None:
        raise ValidationFailed(
            "only a planned visit has an appointment to confirm", {"visit_id": [f"visit is {visit.status}"]}
        )
    visit.appointment_at = visit.planned_arrival
    visit.appointment_moved_from = visit.appointment_moved_reason = None  # the new time is the customer's now
    return visit


# ---------------------------------------------------------------- dispatcher's override
def require_dispatcher(principal):
    if principal.role not in (tenancy.HQ, tenancy.CENTER):
        raise Forbidden("only a dispatcher (center) or HQ overrides the plan")
    return principal


def pin(uow, visit: Visit, technician_id: str, today) -> Visit:
    """Keep `visit` on one technician in every re-plan, if the optimiser's own rules let it."""
    if visit.status not in OPEN_VISIT:
        raise ValidationFailed("visit is not open", {"visit_id": [f"visit is {visit.status}"]})
    tech = uow.session.get(Technician, technician_id)
    if tech is None or tech.tenant_id != visit.tenant_id:
        raise ValidationFailed("unknown technician", {"technician_id": ["no such technician in this tenant"]})
    why = pin_refusal(uow, tech, visit, today)
    if why:
        raise ValidationFailed("technician cannot take this visit", {"technician_id": [why]})
    visit.pinned_technician_id = tech.id
    request_replan(uow, visit.tenant_id)
    return tech


def unpin(uow, visit: Visit):
    visit.pinned_technician_id = None
    request_replan(uow, visit.tenant_id)


def pin_refusal(uow, tech: Technician, visit: Visit, today) -> str | None:
    """Why `tech` may not be pinned to `visit` (None: it may): the optimiser's own rules."""
    if not tech.active:
        return "technician is not active"
    states, blocked = {}, None
    if tech.outlet_id:
        state = uow.session.get(OutletState, tech.outlet_id)
        states[tech.outlet_id] = state.status if state is not None else None
        blocked = set(state.blocked_lines or ()) if state is not None else None
    view = domain.VisitView(
        id=visit.id,
        product_line=visit.product_line,
        kind=visit.kind,
        priority=visit.priority,
        lat=visit.lat,
        lon=visit.lon,
        due=None,
        window_start=None,
        service_minutes=visit.service_minutes,
        required_outlet_id=visit.required_outlet_id,  # the center's outlet: a pin stays within it
    )
    return domain.eligible(tech_view(tech, blocked_lines=blocked), view, today, states, set())


# ---------------------------------------------------------------- on site
def on_site_actor(principal, visit: Visit, technician_id: str | None):
    """The outlet doing the job checks in and out (the scoped session already hides others'
    visits); HQ and centers may record it on the outlet's behalf."""
    if principal.role == tenancy.OUTLET:
        if visit.outlet_id != principal.outlet:
            raise NotFound(f"visit {visit.id} not found")
    elif principal.role not in (tenancy.HQ, tenancy.CENTER):
        raise Forbidden(f"role {principal.role} cannot record on-site work")
    if technician_id and technician_id != visit.technician_id:
        raise ValidationFailed(
            "not this visit's technician", {"technician_id": ["the visit is planned for another technician"]}
        )


def check_in(uow, visit: Visit, data: dict, now: datetime):
    at = (data["at"] or now).astimezone(UTC)
    domain.check_in(visit.status, at, now, as_utc(visit.planned_arrival))
    visit.status, visit.started_at = VisitStatus.STARTED, at
    visit.checkin_lat, visit.checkin_lon = data["lat"], data["lon"]
    visit.onsite_on_time = domain.onsite_on_time(as_utc(visit.onsite_due), at)
    uow.emit(
        "visit.started",
        visit_event(visit, at=at, lat=data["lat"], lon=data["lon"], onsite_on_time=visit.onsite_on_time),
    )


def check_out(uow, visit: Visit, data: dict, now: datetime):
    at = (data["at"] or now).astimezone(UTC)
    domain.check_out(visit.status, at, as_utc(visit.started_at), now)
    visit.status, visit.completed_at = VisitStatus.COMPLETED, at
    visit.work_done, visit.parts_used = data["work_done"], data["parts_used"]
    visit.customer_confirmed = data["customer_confirmed"]
    if data.get("signature"):
        drawn = signatures.decode(data["signature"])  # the schema has checked it
        uow.session.add(
            VisitSignature(
                tenant_id=visit.tenant_id,
                visit_id=visit.id,
                outlet_id=visit.outlet_id,
                png=drawn.png,
                width=drawn.width,
                height=drawn.height,
                signed_at=at,
            )
        )
        visit.signed = True
    uow.emit(
        "visit.completed",
        visit_event(
            visit,
            at=at,
            work_done=data["work_done"],
            parts_used=data["parts_used"],
            customer_confirmed=data["customer_confirmed"],
            onsite_on_time=visit.onsite_on_time,
            technician_name=technician_name(uow, visit),
        ),
    )


def technician_name(uow, visit: Visit) -> str | None:
    """The name of the visit's technician (the ledger's 服务人员), None without one."""
    technician = uow.session.get(Technician, visit.technician_id) if visit.technician_id else None
    return technician.name if technician is not None else None
