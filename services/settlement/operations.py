"""What settlement does to its tables, one function per use case, inside the caller's unit of
work: facts from other services become claims, holds and deductions; claims are priced and
audited (`domain`), resubmitted, given a receipt, decided at their level; tariff versions are
published. Statements and payments are `statements`; reads are `queries`; the rules are `domain`.

Pricing needs more than the database: the tariff book of the process and the tenant directory
(`Pricing`, handed in by the service).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import eventlet
from prometheus_client import Counter
from sqlalchemy import select, text

from services.settlement import domain, money, queries
from services.settlement.domain import Status
from services.settlement.models import (
    Claim,
    ClaimAudit,
    ClearingRequest,
    Deduction,
    Hold,
    OutletGrade,
    TariffVersionRow,
    TicketFact,
    VisitFact,
)
from services.settlement.tariff import TariffError
from shared import metrics
from shared.db import as_utc, utcnow
from shared.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed

log = logging.getLogger(__name__)

SERVICE = "settlement"
CLAIMS = Counter(
    "fsm_settlement_claims_total",
    "Fee claims created or decided, by tenant and outcome",
    ["service", "tenant", "outcome"],
    registry=metrics.REGISTRY,
)


@dataclass(frozen=True)
class Pricing:
    """What pricing a claim reads besides its unit of work: the tariff book of the process
    (`service.Tariffs`: `current(session)` and the `book` it last loaded) and the tenant directory."""

    tariffs: object
    directory: object

    def tariff(self, session, tenant, day):
        """The tariff in force for `tenant` on `day` (HQ's version with the tenant's override)."""
        try:
            return self.tariffs.current(session).in_force(tenant, day)
        except TariffError as exc:
            raise ValidationFailed(exc.message, exc.fields) from None


@dataclass(frozen=True)
class ChargedTo:
    """Who a deduction is charged to when there is no hold row to take it from."""

    outlet_id: str
    ticket_id: str | None
    visit_id: str | None
    tenant_id: str


def utc_instants(payload):
    """SQLite keeps wall-clock time: every instant of an event is stored in UTC."""
    for key, value in payload.items():
        if isinstance(value, datetime):
            payload[key] = value.astimezone(UTC)
    return payload


def one_ticket_at_a_time(session, ticket_id):
    """A ticket's facts are applied one at a time: its ticket.registered and a visit.completed
    arriving together would otherwise each miss the other (neither committed yet) and make no
    claim. On PostgreSQL a transaction-scoped advisory lock on the ticket, polled (a blocking
    wait would stop the eventlet hub, the holder included); SQLite units of work take turns."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256(f"settlement-ticket:{ticket_id}".encode()).digest()[:8], "big", signed=True)
    for _ in range(1200):  # 60 s
        if session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar():
            return
        eventlet.sleep(0.05)
    raise TimeoutError(f"the facts of ticket {ticket_id} stayed locked for 60 s")


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
        f"{payload['due_at'].date().isoformat()}",
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
    hold.release_reason = f"part received at {payload['location_id']} on {at.date().isoformat()}"
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
                f"part {hold.part_no} (RMA {hold.ref}) returned late on {at.date().isoformat()}",
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
        f"SLA {payload['sla']} of ticket {payload['number']} breached (due {payload['due_at'].isoformat()})",
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


# ================================================================ claims
def submit_claim(uow, pricing: Pricing, visit_id, cmd):
    """An outlet claims its fees for a completed visit (or amends the claim filed for it)."""
    visit = uow.session.get(VisitFact, visit_id)
    ticket = uow.session.get(TicketFact, visit.ticket_id)
    if ticket is None:
        raise Conflict(
            "the ticket of this visit is not known to settlement yet; try again shortly",
            {"visit_id": ["ticket facts not received"]},
        )
    if not visit.outlet_id:
        raise ValidationFailed("the visit has no outlet", {"visit_id": ["no outlet did this visit"]})
    existing = queries.live_claim(uow.session, visit.visit_id)
    if existing is None:
        return create_claim(uow, pricing, visit, ticket, cmd, "outlet", None)
    if (
        existing.source == "visit"
        and existing.status in (Status.CENTER_REVIEW, Status.REJECTED)
        and not existing.statement_id
        and not queries.claim_audits(uow.session, existing)
    ):
        # the claim filed from the visit, untouched by any auditor: the outlet's figures
        # (and e.g. the purchase date from its work order) replace it and it is audited again
        return reprice(uow, pricing, existing, visit, ticket, cmd)
    return create_claim(uow, pricing, visit, ticket, cmd, "outlet", existing.id)


def claim_facts(session, pricing: Pricing, visit, ticket, cmd) -> domain.ClaimFacts:
    """What the domain prices and audits: the visit, its ticket and what the outlet claims."""
    cmd = cmd or {}
    parts = sum(int(p.get("quantity") or 1) for p in (visit.parts_used or []))
    at = as_utc(visit.at)
    return domain.ClaimFacts(
        tenant_id=visit.tenant_id,
        outlet_id=visit.outlet_id,
        visit_id=visit.visit_id,
        ticket_id=visit.ticket_id,
        visit_date=domain.local_date(at),
        kind=visit.kind or ticket.kind,
        product_line=visit.product_line or ticket.product_line,
        fault=ticket.fault,
        serial_no=ticket.serial_no,
        tier=ticket.tier,
        planned_km=visit.planned_km,
        actual_km=cmd.get("actual_km"),
        parts_count=parts,
        travel_days=cmd.get("travel_days"),
        grade=queries.outlet_grade(session, pricing.directory, visit.outlet_id, at),
        warranty=ticket.warranty,
        purchase_date=cmd.get("purchase_date") or ticket.purchase_date,
        customer_confirmed=visit.customer_confirmed,
        claimed=dict(cmd.get("claimed") or {}) or None,
    )


def _open_hold_facts(holds) -> dict:
    """The open holds as the audit rules see them."""
    return {
        "open_part_holds": tuple((h.ref, h.part_no, as_utc(h.due_at).date()) for h in holds if h.kind == "part_return"),
        "open_callback_holds": tuple((h.ref, h.reason) for h in holds if h.kind == "callback"),
    }


def audit_context(session, pricing: Pricing, facts: domain.ClaimFacts, claim_id, duplicate_of) -> domain.AuditContext:
    terms = pricing.directory.warranty_terms(facts.product_line)
    holds = queries.open_holds(session, facts.visit_id, facts.ticket_id, facts.outlet_id)
    return domain.AuditContext(
        warranty_years=terms.warranty_years,
        duplicate_of=duplicate_of,
        prior_same_serial=queries.prior_claims(session, facts.serial_no, claim_id, facts.visit_date),
        sla_deductions=queries.sla_items(session, facts.ticket_id, facts.outlet_id),
        **_open_hold_facts(holds),
    )


def create_claim(uow, pricing: Pricing, visit, ticket, cmd, source, duplicate_of):
    now = utcnow()
    facts = claim_facts(uow.session, pricing, visit, ticket, cmd)
    claim = Claim(
        id="CL" + uuid.uuid4().hex[:18],
        tenant_id=visit.tenant_id,
        outlet_id=visit.outlet_id,
        visit_id=visit.visit_id,
        visit_key=None if duplicate_of else visit.visit_id,
        ticket_id=visit.ticket_id,
        source=source,
        visit_at=visit.at,
        created_at=now,
        adjustments=[],
        was_held=False,
    )
    price_and_audit(uow, pricing, claim, facts, cmd, duplicate_of)
    uow.session.add(claim)
    uow.session.flush()
    if not duplicate_of:
        for hold in queries.open_holds(uow.session, facts.visit_id, facts.ticket_id, facts.outlet_id):
            hold.claim_id = hold.claim_id or claim.id
    CLAIMS.labels(SERVICE, claim.tenant_id, claim.status).inc()
    emit_audited(uow, claim, "rules", "created" if claim.status != Status.REJECTED else "rejected")
    return claim


def reprice(uow, pricing: Pricing, claim, visit, ticket, cmd):
    facts = claim_facts(uow.session, pricing, visit, ticket, cmd)
    # one UPDATE (one version) for the whole resubmission: the queries of the re-audit must not
    # flush the claim half-changed
    with uow.session.no_autoflush:
        claim.source, claim.adjustments = "outlet", []
        price_and_audit(uow, pricing, claim, facts, cmd, None)
    emit_audited(uow, claim, "rules", "resubmitted")
    return claim


def price_and_audit(uow, pricing: Pricing, claim, facts: domain.ClaimFacts, cmd, duplicate_of):
    """Price the claim from the tariff in force on its visit day, run every audit rule, store both."""
    cmd = cmd or {}
    tariff = pricing.tariff(uow.session, facts.tenant_id, facts.visit_date)
    priced = domain.price(facts, tariff, pricing.tariffs.book)
    result = domain.audit(facts, priced, audit_context(uow.session, pricing, facts, claim.id, duplicate_of))
    claim.visit_date, claim.kind, claim.product_line = facts.visit_date, facts.kind, facts.product_line
    claim.fault, claim.fault_class = facts.fault, priced.fault_class
    claim.serial_no, claim.tier = facts.serial_no, facts.tier
    claim.warranty, claim.purchase_date = facts.warranty, facts.purchase_date
    claim.payer = domain.payer_of(facts.warranty)
    claim.customer_confirmed, claim.grade = facts.customer_confirmed, priced.grade
    claim.km, claim.actual_km, claim.parts_count = priced.km, facts.actual_km, facts.parts_count
    claim.travel_days = priced.travel_days
    claim.tariff_versions = list(priced.tariff_versions)
    claim.price_lines = [line.as_dict() for line in priced.lines]
    claim.tariff_ref = priced.tariff_ref
    claim.claimed_lines = {k: str(v) for k, v in (facts.claimed or {}).items()} or None
    claim.tariff_fen = money.to_fen(priced.total)
    claim.claimed_fen = money.to_fen(result.claimed_total)
    claim.approved_fen = money.to_fen(result.allowed_total)
    capped = domain.cap_adjustment(result)
    if capped is not None:
        claim.adjustments = [capped]
    claim.rules = [r.as_dict() for r in result.results]
    claim.status, claim.flagged, claim.held = result.status, result.flagged, result.held
    claim.was_held = bool(claim.was_held) or result.held
    claim.note = cmd.get("note")
    claim.decided_at = utcnow() if result.status == Status.REJECTED else None
    if claim.payer == domain.SELF_PAID and cmd.get("receipt_no"):
        set_receipt(claim, cmd["receipt_no"], cmd["receipt_amount"], tariff)


def set_receipt(claim, receipt_no, amount, tariff):
    """The customer's receipt of a self-paid job (自费收据) and the outlet's and center's shares."""
    outlet, center, line = domain.self_paid_split(amount, tariff)
    claim.receipt_no, claim.receipt_fen = receipt_no, money.to_fen(amount)
    claim.outlet_share_fen, claim.center_share_fen, claim.share_line = money.to_fen(outlet), money.to_fen(center), line


def record_receipt(uow, pricing: Pricing, claim, cmd):
    if claim.payer != domain.SELF_PAID:
        raise InvalidTransition(
            "a warranty claim is paid by the maker: no customer receipt", {"claim_id": ["not a self-paid claim"]}
        )
    if claim.statement_id:
        raise InvalidTransition("the claim is on a statement already", {"claim_id": ["settled"]})
    set_receipt(claim, cmd["receipt_no"], cmd["amount"], pricing.tariff(uow.session, claim.tenant_id, claim.visit_date))


def check_auditor(principal, level):
    """Only who may act at a level audits there (the domain's `may_act_at`)."""
    if not domain.may_act_at(level, principal.role, principal.duty):
        who = principal.role + (f"/{principal.duty}" if principal.duty else "")
        raise Forbidden(f"{who} cannot audit at the {level} level", {"level": ["not your level"]})


def check_version(claim, expected_version):
    if expected_version is not None and expected_version != claim.version:
        raise Conflict(
            "the claim changed since you read it", {"expected_version": [f"current version is {claim.version}"]}
        )


def _refusal(exc: domain.AuditRefused):
    """The domain's refusal of an audit step as the error the caller gets (403, 409 or 422)."""
    if exc.kind == "role":
        return Forbidden(exc.message, exc.fields or {"level": [exc.message]})
    if exc.kind == "level":
        return InvalidTransition(exc.message, {"level": [exc.message]})
    return ValidationFailed(exc.message, exc.fields)


def decide(uow, claim, cmd, principal, prior_auditors: tuple, now):
    """One audit level decides (`domain.audit_step`); the step is recorded and published."""
    try:
        step = domain.audit_step(
            claim.status,
            cmd["level"],
            cmd["action"],
            principal.role,
            principal.duty,
            principal.user,
            money.from_fen(claim.approved_fen),
            money.from_fen(claim.tariff_fen),
            prior_auditors,
            claim.flagged,
            cmd["amount"],
            cmd["reason"],
        )
    except domain.AuditRefused as exc:
        raise _refusal(exc) from None
    before, after = claim.approved_fen, money.to_fen(step.amount)
    if after != before:
        claim.adjustments = list(claim.adjustments or []) + [
            {
                "rule": f"audit:{step.level}",
                "reason": f"{step.level} adjusted: {cmd['reason']}",
                "delta": str(money.from_fen(after - before)),
            }
        ]
    claim.approved_fen, claim.status = after, step.status
    if step.status in (Status.APPROVED, Status.REJECTED):
        claim.decided_at = now
        CLAIMS.labels(SERVICE, claim.tenant_id, step.status).inc()
    uow.session.add(
        ClaimAudit(
            tenant_id=claim.tenant_id,
            claim_id=claim.id,
            outlet_id=claim.outlet_id,
            level=step.level,
            action=cmd["action"],
            user=principal.user,
            role=principal.role,
            duty=principal.duty,
            amount_before_fen=before,
            amount_after_fen=after,
            reason=cmd["reason"],
            at=now,
        )
    )
    emit_audited(uow, claim, step.level, cmd["action"])


def emit_audited(uow, claim, level, action):
    uow.emit(
        "claim.audited",
        {
            "tenant_id": claim.tenant_id,
            "claim_id": claim.id,
            "outlet_id": claim.outlet_id,
            "visit_id": claim.visit_id,
            "ticket_id": claim.ticket_id,
            "level": level,
            "action": action,
            "status": claim.status,
            "amount": money.from_fen(claim.approved_fen),
            "at": utcnow(),
        },
    )


# ================================================================ holds and deductions
def refresh_claim_of(uow, hold):
    claim = uow.session.get(Claim, hold.claim_id) if hold.claim_id else None
    if claim is not None:
        refresh_holds(uow, claim)


def refresh_holds(uow, claim):
    """Re-run the two hold rules of a claim after a hold opened or closed."""
    holds = queries.claim_holds(uow.session, claim.id, open_ones=True)
    released = tuple(
        (h.kind, h.ref, h.release_reason) for h in queries.claim_holds(uow.session, claim.id, open_ones=False)
    )
    claim.rules = domain.hold_rules(claim.rules, domain.AuditContext(**_open_hold_facts(holds)), released)
    claim.held = bool(holds)
    if holds:
        if claim.statement_id:
            log.warning("hold on claim %s that is already on statement %s", claim.id, claim.statement_id)
        claim.was_held = True


def deduct(uow, kind, ref, target, amount, line, rule, reason, at):
    """A deduction from the outlet's next statement, once per (kind, ref)."""
    exists = queries.deduction(uow.session, kind, ref)
    if exists is not None:
        return exists
    d = Deduction(
        id="DD" + uuid.uuid4().hex[:18],
        tenant_id=target.tenant_id,
        kind=kind,
        ref=ref,
        outlet_id=target.outlet_id,
        ticket_id=target.ticket_id,
        visit_id=target.visit_id,
        amount_fen=money.to_fen(amount),
        tariff_line=line,
        rule=rule,
        reason=reason,
        effective_at=at,
    )
    uow.session.add(d)
    return d


# ================================================================ tariffs
def publish_tariff(uow, tariffs, version, user, now):
    """HQ adds a tariff version (HQ default or a tenant's override) for a validity period."""
    book = tariffs.current(uow.session)
    if uow.session.get(TariffVersionRow, version.id) is not None:
        raise Conflict("a tariff version with this id exists", {"id": ["exists"]})
    try:
        book.check_overlap(version)
        if version.tenant is not None:  # an override must sit on an HQ version for its whole period
            book.in_force(None, version.valid_from)
    except TariffError as exc:
        raise ValidationFailed(exc.message, exc.fields) from None
    uow.session.add(
        TariffVersionRow(
            id=version.id,
            tenant_id=version.tenant,
            valid_from=version.valid_from,
            valid_to=version.valid_to,
            body=version.body,
            created_at=now,
            created_by=user,
        )
    )
