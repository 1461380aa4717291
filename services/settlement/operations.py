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
from sqlalchemy import text

from services.settlement import audit_levels, domain, money, queries
from services.settlement.domain import Status
from services.settlement.models import (
    Claim,
    ClaimAudit,
    Deduction,
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
    if not audit_levels.may_act_at(level, principal.role, principal.duty):
        who = principal.role + (f"/{principal.duty}" if principal.duty else "")
        raise Forbidden(f"{who} cannot audit at the {level} level", {"level": ["not your level"]})


def check_version(claim, expected_version):
    if expected_version is not None and expected_version != claim.version:
        raise Conflict(
            "the claim changed since you read it", {"expected_version": [f"current version is {claim.version}"]}
        )


def _refusal(exc: audit_levels.AuditRefused):
    """The domain's refusal of an audit step as the error the caller gets (403, 409 or 422)."""
    if exc.kind == "role":
        return Forbidden(exc.message, exc.fields or {"level": [exc.message]})
    if exc.kind == "level":
        return InvalidTransition(exc.message, {"level": [exc.message]})
    return ValidationFailed(exc.message, exc.fields)


def decide(uow, claim, cmd, principal, prior_auditors: tuple, now):
    """One audit level decides (`audit_levels.audit_step`); the step is recorded and published."""
    try:
        step = audit_levels.audit_step(
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
    except audit_levels.AuditRefused as exc:
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
