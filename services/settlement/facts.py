"""What the facts of other services (ticket, visit, part overdue/received, callbacks, SLA breaches,
grade changes, account clearing) do to settlement: claims opened, holds placed and released,
deductions. Each handler runs in the caller's unit of work; the rules are in `domain`.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import select

from services.settlement import domain, money, queries
from services.settlement.models import (
    ClearingRequest,
    Hold,
    OutletGrade,
    TicketFact,
    VisitFact,
)
from services.settlement.operations import (
    ChargedTo,
    Pricing,
    create_claim,
    deduct,
    one_ticket_at_a_time,
    refresh_claim_of,
    refresh_holds,
    utc_instants,
)
from shared.db import utcnow

log = logging.getLogger(__name__)


# ================================================================ facts from other services
def record_ticket(uow, pricing: Pricing, payload):
    """ticket.registered: keep the ticket's facts; visits of it that came first are claimed now."""
    utc_instants(payload)
    one_ticket_at_a_time(uow.session, payload["ticket_id"])
    fact = uow.session.get(TicketFact, payload["ticket_id"]) or TicketFact(ticket_id=payload["ticket_id"])
    fact.tenant_id = payload["tenant_id"]
    fact.number, fact.kind = payload["number"], payload["kind"]
    for key in ("product_line", "model", "serial_no", "fault", "tier", "purchase_date"):
        setattr(fact, key, payload.get(key))
    fact.warranty, fact.received_at = payload["warranty"], payload["received_at"]
    uow.session.add(fact)
    uow.session.flush()
    waiting = uow.session.scalars(select(VisitFact).where(VisitFact.ticket_id == fact.ticket_id)).all()
    for visit in waiting:
        claim_from_visit(uow, pricing, visit, fact)


def record_visit(uow, pricing: Pricing, payload):
    """visit.completed: keep the visit's facts and claim its fees once the ticket is known."""
    utc_instants(payload)
    one_ticket_at_a_time(uow.session, payload["ticket_id"])
    visit = uow.session.get(VisitFact, payload["visit_id"])
    if visit is None:  # the same visit delivered again under another id keeps the first
        visit = VisitFact(
            visit_id=payload["visit_id"],
            tenant_id=payload["tenant_id"],
            ticket_id=payload["ticket_id"],
            outlet_id=payload.get("outlet_id"),
            technician_id=payload.get("technician_id"),
            at=payload["at"],
            planned_km=payload.get("planned_km"),
            product_line=payload.get("product_line"),
            kind=payload.get("kind"),
            parts_used=payload.get("parts_used") or [],
            customer_confirmed=payload.get("customer_confirmed"),
            onsite_on_time=payload.get("onsite_on_time"),
        )
        uow.session.add(visit)
        uow.session.flush()
    ticket = uow.session.get(TicketFact, visit.ticket_id)
    if ticket is not None:
        claim_from_visit(uow, pricing, visit, ticket)


def claim_from_visit(uow, pricing: Pricing, visit, ticket):
    """The claim filed from a completed visit, once per visit."""
    if not visit.outlet_id:
        log.info("visit %s has no outlet: nothing to claim", visit.visit_id)
        return None
    existing = queries.live_claim(uow.session, visit.visit_id)
    if existing is not None:
        return existing
    return create_claim(uow, pricing, visit, ticket, None, "visit", None)


def part_overdue(uow, payload):
    """parts.return_overdue: the claim of the visit is held until the old part is back."""
    utc_instants(payload)
    if queries.hold(uow.session, "part_return", payload["rma_no"]) is not None:
        return
    unit = payload.get("unit_cost")
    hold = Hold(
        id=uuid.uuid4().hex,
        kind="part_return",
        ref=payload["rma_no"],
        tenant_id=payload["tenant_id"],
        visit_id=payload.get("visit_id"),
        ticket_id=payload.get("ticket_id"),
        outlet_id=payload["outlet_id"],
        part_no=payload["part_no"],
        unit_cost_fen=None if unit is None else money.to_fen(unit),
        reason=f"part {payload['part_no']} (RMA {payload['rma_no']}) not returned by "
        f"{domain.local_date(payload['due_at']).isoformat()}",
        due_at=payload["due_at"],
        opened_at=payload["detected_at"],
        status="open",
    )
    claim = queries.claim_for(uow.session, hold.visit_id, hold.ticket_id, hold.outlet_id)
    hold.claim_id = claim.id if claim else None
    uow.session.add(hold)
    uow.session.flush()
    if claim is not None:
        refresh_holds(uow, claim)


def part_received(uow, pricing: Pricing, payload):
    """parts.return_received: the hold is released; a late return costs the tariff's fee."""
    utc_instants(payload)
    hold = queries.hold(uow.session, "part_return", payload["rma_no"])
    if hold is None or hold.status != "open":
        return
    at = payload["received_at"]
    hold.status, hold.released_at = "released", at
    hold.release_reason = f"part received at {payload['location_id']} on {domain.local_date(at).isoformat()}"
    if payload["late"]:
        tariff = pricing.tariff(uow.session, hold.tenant_id, domain.local_date(at))
        fee = tariff.dec("late_part_return_fee")
        if fee > 0:
            deduct(
                uow,
                "late_part_return",
                hold.ref,
                hold,
                fee,
                tariff.line_id("late_part_return_fee"),
                "late_part_return",
                f"part {hold.part_no} (RMA {hold.ref}) returned late on {domain.local_date(at).isoformat()}",
                at,
            )
    refresh_claim_of(uow, hold)


def callback_negative(uow, payload):
    """callback.negative: the visit's claim is held until QA closes the callback."""
    utc_instants(payload)
    if queries.hold(uow.session, "callback", payload["callback_id"]) is not None:
        return
    claim = queries.claim_for(uow.session, payload.get("visit_id"), payload["ticket_id"], payload.get("outlet_id"))
    outlet = payload.get("outlet_id") or (claim.outlet_id if claim else None)
    if outlet is None:
        log.warning("negative callback %s names no outlet and no claim", payload["callback_id"])
        return
    uow.session.add(
        Hold(
            id=uuid.uuid4().hex,
            kind="callback",
            ref=payload["callback_id"],
            tenant_id=payload["tenant_id"],
            claim_id=claim.id if claim else None,
            visit_id=payload.get("visit_id"),
            ticket_id=payload["ticket_id"],
            outlet_id=outlet,
            reason=payload.get("reason") or f"satisfaction {payload.get('satisfaction')}",
            opened_at=payload.get("at") or utcnow(),
            status="open",
        )
    )
    uow.session.flush()
    if claim is not None:
        refresh_holds(uow, claim)


def callback_closed(uow, payload):
    """callback.closed: QA closed the callback, its hold is released."""
    utc_instants(payload)
    hold = queries.hold(uow.session, "callback", payload["callback_id"])
    if hold is None or hold.status != "open":
        return
    hold.status, hold.released_at = "released", payload["at"]
    hold.release_reason = f"QA closed the callback ({payload['outcome']})"
    refresh_claim_of(uow, hold)


def sla_breached(uow, pricing: Pricing, payload):
    """sla.breached: the outlet that had the job pays the tariff's deduction for that SLA."""
    outlet = payload.get("assigned_outlet_id")
    if not outlet:
        return  # no outlet had the job: the center's own breach, nothing to deduct
    utc_instants(payload)
    at = payload["detected_at"]
    tariff = pricing.tariff(uow.session, payload["tenant_id"], domain.local_date(at))
    amount, line = tariff.sla_deduction(payload["sla"])
    if amount <= 0:
        return
    target = ChargedTo(outlet, payload["ticket_id"], None, payload["tenant_id"])
    deduct(
        uow,
        "sla_breach",
        f"{payload['ticket_id']}:{payload['sla']}",
        target,
        amount,
        line,
        f"sla_breach:{payload['sla']}",
        f"SLA {payload['sla']} of ticket {payload['number']} breached (due {domain.local_minute(payload['due_at'])})",
        at,
    )
    uow.session.flush()
    claim = queries.claim_for(uow.session, None, payload["ticket_id"], outlet)
    if claim is not None:
        claim.rules = domain.refresh_rule(
            claim.rules,
            domain.rule_sla_breach(
                None,
                domain.AuditContext(sla_deductions=queries.sla_items(uow.session, claim.ticket_id, claim.outlet_id)),
            ),
        )


def grade_changed(uow, payload):
    """outlet.grade_changed: the grade that prices the outlet's claims from then on."""
    if not payload.get("grade"):
        return
    utc_instants(payload)
    uow.session.add(
        OutletGrade(
            tenant_id=payload["tenant_id"],
            outlet_id=payload["outlet_id"],
            grade=payload["grade"],
            valid_from=payload["at"],
        )
    )


def clearing_fact(uow, payload, requested: bool, now):
    """account.clearing_requested (`requested`) or parts' answer to it: once both are in, the
    outlet's account is answered cleared or with its open items (settlement's and parts')."""
    utc_instants(payload)
    req = uow.session.get(ClearingRequest, payload["request_id"])
    if req is None:
        req = ClearingRequest(
            request_id=payload["request_id"], tenant_id=payload["tenant_id"], outlet_id=payload["outlet_id"]
        )
        uow.session.add(req)
    if requested:
        req.requested_at = payload["at"]
    else:
        req.parts_items = [
            {**i, "amount": None if i.get("amount") is None else str(i["amount"])} for i in payload["open_items"]
        ]
        req.parts_at = payload["at"]
    if req.requested_at is None or req.parts_items is None or req.answered_at is not None:
        return
    own = queries.open_items(uow.session, req.outlet_id)
    items = own + [dict(i, source="parts") for i in req.parts_items]
    req.answer = domain.clearing_answer(own, req.parts_items)
    req.open_items, req.answered_at = items, now
    uow.emit(
        req.answer,
        {
            "tenant_id": req.tenant_id,
            "outlet_id": req.outlet_id,
            "request_id": req.request_id,
            "at": req.answered_at,
            "open_items": [{k: i.get(k) for k in ("kind", "ref", "description", "amount")} for i in items],
        },
    )
