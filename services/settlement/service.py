"""Settlement: outlets' fee claims priced from the tariff, audited by named rules and three
levels (center → technical lead → HQ), holds and deductions from parts, QA and SLA facts,
monthly statements with XLSX/PDF downloads, payments, balances and account clearing.

Entrypoints stay thin: load with a schema, call the domain, persist through the unit of work.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date, datetime, timedelta, timezone

import eventlet
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from services.settlement import domain, money
from services.settlement.domain import Status
from services.settlement.models import (Base, Claim, ClaimAudit, ClearingRequest, Deduction, Hold, OutletGrade,
                                        TariffVersionRow, TicketFact, VisitFact)
from services.settlement.schemas import AuditIn, ClaimQuery, Receipt, SubmitClaim, TariffQuery
from services.settlement.statements import StatementEntrypoints
from services.settlement.tariff import TariffBook, TariffError, parse_version
from shared import metrics, tenancy, web
from shared.db import Database, as_utc, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from shared.messaging import ALL, consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

CLAIMS = Counter("fsm_settlement_claims_total", "Fee claims created or decided, by tenant and outcome",
                 ["service", "tenant", "outcome"], registry=metrics.REGISTRY)

_aware = as_utc
M = money.from_fen


def _utc_instants(payload):
    """SQLite keeps wall-clock time: every instant of an event is stored in UTC."""
    for key, value in payload.items():
        if isinstance(value, datetime):
            payload[key] = value.astimezone(timezone.utc)
    return payload


def _one_ticket_at_a_time(session, ticket_id):
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


class Tariffs(DependencyProvider):
    """The tariff book of this process, loaded from the database (seeded from the YAML default
    the first time) and reloaded when the stored versions change."""

    def setup(self):
        self.book = None
        self.stamp = None
        self.document = TariffBook.load()

    def start(self):
        """Seed the default tariff once, before any worker runs (a replica starting at the
        same moment may have done it: then there is nothing to do)."""
        store = next(dep.store for dep in self.container.dependencies if isinstance(dep, Database))
        with store.session(tenancy.service_principal("settlement")) as session:
            if session.scalar(select(func.count(TariffVersionRow.id))):
                return
            for v in self.document.versions:
                session.add(TariffVersionRow(id=v.id, tenant_id=v.tenant, valid_from=v.valid_from,
                                             valid_to=v.valid_to, body=v.body, created_at=utcnow(),
                                             created_by="seed"))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    def get_dependency(self, worker_ctx):
        return self

    def current(self, session) -> TariffBook:
        stamp = tuple(session.execute(select(func.count(TariffVersionRow.id),
                                             func.max(TariffVersionRow.created_at))).one())
        if self.book is None or stamp != self.stamp:
            rows = session.scalars(select(TariffVersionRow).order_by(TariffVersionRow.valid_from)).all()
            versions = [parse_version({"id": r.id, "tenant": r.tenant_id, "valid_from": r.valid_from,
                                       "valid_to": r.valid_to, **r.body}) for r in rows]
            self.book = TariffBook(versions, self.document.fault_classes, self.document.kinds)
            self.stamp = stamp
        return self.book


class SettlementService(StatementEntrypoints, web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "settlement"

    db = Database(Base.metadata, migrations_package="services.settlement.migrations")
    policies = PolicyProvider()
    tariffs = Tariffs()

    # ================================================================ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant (see
    # shared.messaging.consume: claim, commit and retries of transient errors are done there).
    # Every instant of an event is stored in UTC first (`_utc_instants`).
    @consume("intake", "ticket.registered", scope=ALL)
    def on_ticket_registered(self, uow, payload):
        # all tenants: HQ may route a ticket to another center, and its facts move with it
        _utc_instants(payload)
        _one_ticket_at_a_time(uow.session, payload["ticket_id"])
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
            self._claim_from_visit(uow, visit, fact)

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        _utc_instants(payload)
        _one_ticket_at_a_time(uow.session, payload["ticket_id"])
        visit = uow.session.get(VisitFact, payload["visit_id"])
        if visit is None:  # the same visit delivered again under another id keeps the first
            visit = VisitFact(
                visit_id=payload["visit_id"], tenant_id=payload["tenant_id"], ticket_id=payload["ticket_id"],
                outlet_id=payload.get("outlet_id"), technician_id=payload.get("technician_id"),
                at=payload["at"], planned_km=payload.get("planned_km"), product_line=payload.get("product_line"),
                kind=payload.get("kind"), parts_used=payload.get("parts_used") or [],
                customer_confirmed=payload.get("customer_confirmed"), onsite_on_time=payload.get("onsite_on_time"))
            uow.session.add(visit)
            uow.session.flush()
        ticket = uow.session.get(TicketFact, visit.ticket_id)
        if ticket is not None:
            self._claim_from_visit(uow, visit, ticket)

    def _claim_from_visit(self, uow, visit, ticket):
        if not visit.outlet_id:
            log.info("visit %s has no outlet: nothing to claim", visit.visit_id)
            return None
        existing = self._live_claim(uow, visit.visit_id)
        if existing is not None:  # idempotent: one claim per visit
            return existing
        return self._create_claim(uow, visit, ticket, None, "visit", None)

    @consume("parts", "parts.return_overdue")
    def on_part_overdue(self, uow, payload):
        _utc_instants(payload)
        hold = uow.session.scalars(select(Hold).where(Hold.kind == "part_return",
                                                      Hold.ref == payload["rma_no"])).first()
        if hold is None:
            unit = payload.get("unit_cost")
            hold = Hold(id=uuid.uuid4().hex, kind="part_return", ref=payload["rma_no"], tenant_id=payload["tenant_id"],
                        visit_id=payload.get("visit_id"), ticket_id=payload.get("ticket_id"),
                        outlet_id=payload["outlet_id"], part_no=payload["part_no"],
                        unit_cost_fen=None if unit is None else money.to_fen(unit),
                        reason=f"part {payload['part_no']} (RMA {payload['rma_no']}) not returned by "
                               f"{payload['due_at'].date().isoformat()}",
                        due_at=payload["due_at"], opened_at=payload["detected_at"], status="open")
            claim = self._claim_for(uow, hold.visit_id, hold.ticket_id, hold.outlet_id)
            hold.claim_id = claim.id if claim else None
            uow.session.add(hold)
            uow.session.flush()
            if claim is not None:
                self._refresh_holds(uow, claim)

    @consume("parts", "parts.return_received")
    def on_part_received(self, uow, payload):
        _utc_instants(payload)
        hold = uow.session.scalars(select(Hold).where(Hold.kind == "part_return",
                                                      Hold.ref == payload["rma_no"])).first()
        if hold is not None and hold.status == "open":
            at = payload["received_at"]
            hold.status, hold.released_at = "released", at
            hold.release_reason = f"part received at {payload['location_id']} on {at.date().isoformat()}"
            if payload["late"]:
                tariff = self._tariff(uow, hold.tenant_id, domain.local_date(at))
                fee = tariff.dec("late_part_return_fee")
                if fee > 0:
                    self._deduct(uow, "late_part_return", hold.ref, hold, fee,
                                 tariff.line_id("late_part_return_fee"), "late_part_return",
                                 f"part {hold.part_no} (RMA {hold.ref}) returned late on {at.date().isoformat()}",
                                 at)
            claim = uow.session.get(Claim, hold.claim_id) if hold.claim_id else None
            if claim is not None:
                self._refresh_holds(uow, claim)

    @consume("qa", "callback.negative")
    def on_callback_negative(self, uow, payload):
        _utc_instants(payload)
        exists = uow.session.scalars(select(Hold).where(Hold.kind == "callback",
                                                        Hold.ref == payload["callback_id"])).first()
        if exists is None:
            claim = self._claim_for(uow, payload.get("visit_id"), payload["ticket_id"], payload.get("outlet_id"))
            outlet = payload.get("outlet_id") or (claim.outlet_id if claim else None)
            if outlet is None:
                log.warning("negative callback %s names no outlet and no claim", payload["callback_id"])
            else:
                uow.session.add(Hold(
                    id=uuid.uuid4().hex, kind="callback", ref=payload["callback_id"], tenant_id=payload["tenant_id"],
                    claim_id=claim.id if claim else None, visit_id=payload.get("visit_id"),
                    ticket_id=payload["ticket_id"], outlet_id=outlet,
                    reason=payload.get("reason") or f"satisfaction {payload.get('satisfaction')}",
                    opened_at=payload.get("at") or utcnow(), status="open"))
                uow.session.flush()
                if claim is not None:
                    self._refresh_holds(uow, claim)

    @consume("qa", "callback.closed")
    def on_callback_closed(self, uow, payload):
        _utc_instants(payload)
        hold = uow.session.scalars(select(Hold).where(Hold.kind == "callback",
                                                      Hold.ref == payload["callback_id"])).first()
        if hold is not None and hold.status == "open":
            hold.status, hold.released_at = "released", payload["at"]
            hold.release_reason = f"QA closed the callback ({payload['outcome']})"
            claim = uow.session.get(Claim, hold.claim_id) if hold.claim_id else None
            if claim is not None:
                self._refresh_holds(uow, claim)

    @consume("intake", "sla.breached")
    def on_sla_breached(self, uow, payload):
        outlet = payload.get("assigned_outlet_id")
        if not outlet:
            return  # no outlet had the job: the center's own breach, nothing to deduct
        _utc_instants(payload)
        at = payload["detected_at"]
        tariff = self._tariff(uow, payload["tenant_id"], domain.local_date(at))
        amount, line = tariff.sla_deduction(payload["sla"])
        if amount > 0:
            ref = f"{payload['ticket_id']}:{payload['sla']}"
            target = _Target(outlet, payload["ticket_id"], None, payload["tenant_id"])
            self._deduct(uow, "sla_breach", ref, target, amount, line, f"sla_breach:{payload['sla']}",
                         f"SLA {payload['sla']} of ticket {payload['number']} breached "
                         f"(due {payload['due_at'].isoformat()})", at)
            uow.session.flush()
            claim = self._claim_for(uow, None, payload["ticket_id"], outlet)
            if claim is not None:
                claim.rules = domain.refresh_rule(claim.rules, domain.rule_sla_breach(
                    None, domain.AuditContext(sla_deductions=self._sla_items(uow, claim))))

    @consume("certification", "outlet.grade_changed")
    def on_grade_changed(self, uow, payload):
        if not payload.get("grade"):
            return
        _utc_instants(payload)
        uow.session.add(OutletGrade(tenant_id=payload["tenant_id"], outlet_id=payload["outlet_id"],
                                    grade=payload["grade"], valid_from=payload["at"]))

    @consume("certification", "account.clearing_requested", consumer="clearing")
    def on_clearing_requested(self, uow, payload):
        self._clearing(uow, payload, requested=True)

    @consume("parts", "parts.outlet_balance")
    def on_parts_balance(self, uow, payload):
        self._clearing(uow, payload, requested=False)

    def _clearing(self, uow, payload, requested):
        _utc_instants(payload)
        req = uow.session.get(ClearingRequest, payload["request_id"])
        if req is None:
            req = ClearingRequest(request_id=payload["request_id"], tenant_id=payload["tenant_id"],
                                  outlet_id=payload["outlet_id"])
            uow.session.add(req)
        if requested:
            req.requested_at = payload["at"]
        else:
            req.parts_items = [{**i, "amount": None if i.get("amount") is None else str(i["amount"])}
                               for i in payload["open_items"]]
            req.parts_at = payload["at"]
        if req.requested_at is not None and req.parts_items is not None and req.answered_at is None:
            own = self._open_items(uow, req.outlet_id)
            items = own + [dict(i, source="parts") for i in req.parts_items]
            req.answer = domain.clearing_answer(own, req.parts_items)
            req.open_items, req.answered_at = items, utcnow()
            uow.emit(req.answer, {"tenant_id": req.tenant_id, "outlet_id": req.outlet_id,
                                  "request_id": req.request_id, "at": req.answered_at,
                                  "open_items": [{k: i.get(k) for k in ("kind", "ref", "description", "amount")}
                                                 for i in items]})

    # ================================================================ claims
    @rpc
    def submit_claim(self, payload):
        """An outlet claims its fees for a completed visit (or amends the claim filed for it)."""
        cmd = load(SubmitClaim(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.OUTLET, tenancy.CENTER, tenancy.HQ):
            raise Forbidden(f"role {principal.role} cannot submit claims")
        with self.db.uow() as uow:  # the caller's own view: another outlet's visit is not found
            visit = get_or_404(uow.session, VisitFact, cmd["visit_id"], "visit_id")
            tenant = visit.tenant_id
        with self.db.uow(principal.acting_for(tenant)) as uow:
            visit = uow.session.get(VisitFact, cmd["visit_id"])
            ticket = uow.session.get(TicketFact, visit.ticket_id)
            if ticket is None:
                raise Conflict("the ticket of this visit is not known to settlement yet; try again shortly",
                               {"visit_id": ["ticket facts not received"]})
            if not visit.outlet_id:
                raise ValidationFailed("the visit has no outlet", {"visit_id": ["no outlet did this visit"]})
            existing = self._live_claim(uow, visit.visit_id)
            if existing is None:
                claim = self._create_claim(uow, visit, ticket, cmd, "outlet", None)
            elif (existing.source == "visit" and existing.status in (Status.CENTER_REVIEW, Status.REJECTED)
                  and not existing.statement_id and not self._audits(uow, existing)):
                # the claim filed from the visit, untouched by any auditor: the outlet's figures
                # (and e.g. the purchase date from its work order) replace it and it is audited again
                claim = self._reprice(uow, existing, visit, ticket, cmd)
            else:
                claim = self._create_claim(uow, visit, ticket, cmd, "outlet", existing.id)
            uow.commit()
            return self._dump(uow, claim, detail=True)

    def _facts(self, uow, visit, ticket, cmd):
        cmd = cmd or {}
        parts = sum(int(p.get("quantity") or 1) for p in (visit.parts_used or []))
        at = _aware(visit.at)
        return domain.ClaimFacts(
            tenant_id=visit.tenant_id, outlet_id=visit.outlet_id, visit_id=visit.visit_id, ticket_id=visit.ticket_id,
            visit_date=domain.local_date(at), kind=visit.kind or ticket.kind,
            product_line=visit.product_line or ticket.product_line, fault=ticket.fault, serial_no=ticket.serial_no,
            tier=ticket.tier, planned_km=visit.planned_km, actual_km=cmd.get("actual_km"), parts_count=parts,
            travel_days=cmd.get("travel_days"), grade=self._grade(uow, visit.outlet_id, at),
            warranty=ticket.warranty, purchase_date=cmd.get("purchase_date") or ticket.purchase_date,
            customer_confirmed=visit.customer_confirmed, claimed=self._claimed(cmd))

    @staticmethod
    def _claimed(cmd):
        claimed = dict(cmd.get("claimed") or {})
        return claimed or None

    def _context(self, uow, facts, claim_id, duplicate_of):
        terms = self.policies.directory.warranty_terms(facts.product_line)
        prior = ()
        if facts.serial_no:
            rows = uow.session.execute(select(Claim.id, Claim.visit_date, Claim.fault).where(
                Claim.serial_no == facts.serial_no, Claim.id != (claim_id or ""), Claim.visit_key.is_not(None),
                Claim.visit_date >= facts.visit_date - timedelta(days=domain.REPEAT_WINDOW_DAYS),
                Claim.visit_date <= facts.visit_date)).all()
            prior = tuple(domain.PriorClaim(r[0], r[1], r[2]) for r in rows)
        holds = self._open_holds(uow, facts.visit_id, facts.ticket_id, facts.outlet_id)
        return domain.AuditContext(
            warranty_years=terms.warranty_years, duplicate_of=duplicate_of, prior_same_serial=prior,
            open_part_holds=tuple((h.ref, h.part_no, _aware(h.due_at).date()) for h in holds if h.kind == "part_return"),
            open_callback_holds=tuple((h.ref, h.reason) for h in holds if h.kind == "callback"),
            sla_deductions=self._sla_items(uow, facts))

    def _create_claim(self, uow, visit, ticket, cmd, source, duplicate_of):
        facts = self._facts(uow, visit, ticket, cmd)
        claim = Claim(id="CL" + uuid.uuid4().hex[:18], tenant_id=visit.tenant_id, outlet_id=visit.outlet_id,
                      visit_id=visit.visit_id, visit_key=None if duplicate_of else visit.visit_id,
                      ticket_id=visit.ticket_id, source=source, visit_at=visit.at, created_at=utcnow(),
                      adjustments=[], was_held=False)
        self._price_and_audit(uow, claim, facts, cmd, duplicate_of)
        uow.session.add(claim)
        uow.session.flush()
        if not duplicate_of:
            for hold in self._open_holds(uow, facts.visit_id, facts.ticket_id, facts.outlet_id):
                hold.claim_id = hold.claim_id or claim.id
        CLAIMS.labels(self.name, claim.tenant_id, claim.status).inc()
        self._emit_audited(uow, claim, "rules", "created" if claim.status != Status.REJECTED else "rejected")
        return claim

    def _reprice(self, uow, claim, visit, ticket, cmd):
        facts = self._facts(uow, visit, ticket, cmd)
        # one UPDATE (one version) for the whole resubmission: the queries of the re-audit must not
        # flush the claim half-changed
        with uow.session.no_autoflush:
            claim.source, claim.adjustments = "outlet", []
            self._price_and_audit(uow, claim, facts, cmd, None)
        self._emit_audited(uow, claim, "rules", "resubmitted")
        return claim

    def _price_and_audit(self, uow, claim, facts, cmd, duplicate_of):
        cmd = cmd or {}
        tariff = self._tariff(uow, facts.tenant_id, facts.visit_date)
        book = self.tariffs.book
        priced = domain.price(facts, tariff, book)
        ctx = self._context(uow, facts, claim.id, duplicate_of)
        result = domain.audit(facts, priced, ctx)
        claim.visit_date, claim.kind, claim.product_line = facts.visit_date, facts.kind, facts.product_line
        claim.fault, claim.fault_class, claim.serial_no, claim.tier = facts.fault, priced.fault_class, facts.serial_no, facts.tier
        claim.warranty, claim.purchase_date = facts.warranty, facts.purchase_date
        claim.payer = domain.SELF_PAID if facts.warranty == domain.SELF_PAID else domain.WARRANTY
        claim.customer_confirmed, claim.grade = facts.customer_confirmed, priced.grade
        claim.km, claim.actual_km, claim.parts_count = priced.km, facts.actual_km, facts.parts_count
        claim.travel_days = priced.travel_days
        claim.tariff_versions = list(priced.tariff_versions)
        claim.price_lines = [l.as_dict() for l in priced.lines]
        claim.tariff_ref = priced.tariff_ref
        claim.claimed_lines = {k: str(v) for k, v in (facts.claimed or {}).items()} or None
        claim.tariff_fen = money.to_fen(priced.total)
        claim.claimed_fen = money.to_fen(result.claimed_total)
        claim.approved_fen = money.to_fen(result.allowed_total)
        cap = next(r for r in result.results if r.rule == "tariff_cap")
        if cap.outcome == domain.CAP:
            claim.adjustments = [{"rule": "tariff_cap", "reason": cap.reason, "delta": str(cap.amount)}]
        claim.rules = [r.as_dict() for r in result.results]
        claim.status, claim.flagged, claim.held = result.status, result.flagged, result.held
        claim.was_held = bool(claim.was_held) or result.held
        claim.note = cmd.get("note")
        claim.decided_at = utcnow() if result.status == Status.REJECTED else None
        if claim.payer == domain.SELF_PAID and cmd.get("receipt_no"):
            self._set_receipt(claim, cmd["receipt_no"], cmd["receipt_amount"], tariff)

    def _set_receipt(self, claim, receipt_no, amount, tariff):
        outlet, center, line = domain.self_paid_split(amount, tariff)
        claim.receipt_no, claim.receipt_fen = receipt_no, money.to_fen(amount)
        claim.outlet_share_fen, claim.center_share_fen, claim.share_line = money.to_fen(outlet), money.to_fen(center), line

    @rpc
    def record_receipt(self, claim_id, payload):
        """The customer's receipt for a self-paid job (自费收据): the outlet's share is computed."""
        cmd = load(Receipt(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.OUTLET, tenancy.CENTER, tenancy.HQ):
            raise Forbidden(f"role {principal.role} cannot record receipts")
        with self.db.uow() as uow:
            claim = get_or_404(uow.session, Claim, claim_id, "claim_id")
            if claim.payer != domain.SELF_PAID:
                raise InvalidTransition("a warranty claim is paid by the maker: no customer receipt",
                                        {"claim_id": ["not a self-paid claim"]})
            if claim.statement_id:
                raise InvalidTransition("the claim is on a statement already", {"claim_id": ["settled"]})
            self._set_receipt(claim, cmd["receipt_no"], cmd["amount"],
                              self._tariff(uow, claim.tenant_id, claim.visit_date))
            uow.commit()
            return self._dump(uow, claim, detail=True)

    @rpc
    def audit_claim(self, claim_id, payload):
        """One audit level decides: approve, adjust (amount and reason) or reject (reason)."""
        cmd = load(AuditIn(), payload)
        principal = self.db.principal
        if not domain.may_act_at(cmd["level"], principal.role, principal.duty):
            who = principal.role + (f"/{principal.duty}" if principal.duty else "")
            raise Forbidden(f"{who} cannot audit at the {cmd['level']} level", {"level": ["not your level"]})
        with self.db.uow() as uow:
            claim = get_or_404(uow.session, Claim, claim_id, "claim_id")
            if cmd["expected_version"] is not None and cmd["expected_version"] != claim.version:
                raise Conflict("the claim changed since you read it",
                               {"expected_version": [f"current version is {claim.version}"]})
            prior = tuple(a.user for a in self._audits(uow, claim))
            try:
                step = domain.audit_step(claim.status, cmd["level"], cmd["action"], principal.role, principal.duty,
                                         principal.user, M(claim.approved_fen), M(claim.tariff_fen), prior,
                                         claim.flagged, cmd["amount"], cmd["reason"])
            except domain.AuditRefused as exc:
                if exc.kind == "role":
                    raise Forbidden(exc.message, exc.fields or {"level": [exc.message]}) from None
                if exc.kind == "level":
                    raise InvalidTransition(exc.message, {"level": [exc.message]}) from None
                raise ValidationFailed(exc.message, exc.fields) from None
            before = claim.approved_fen
            after = money.to_fen(step.amount)
            if after != before:
                claim.adjustments = list(claim.adjustments or []) + [
                    {"rule": f"audit:{step.level}", "reason": f"{step.level} adjusted: {cmd['reason']}",
                     "delta": str(M(after - before))}]
            claim.approved_fen, claim.status = after, step.status
            if step.status in (Status.APPROVED, Status.REJECTED):
                claim.decided_at = utcnow()
                CLAIMS.labels(self.name, claim.tenant_id, step.status).inc()
            uow.session.add(ClaimAudit(tenant_id=claim.tenant_id, claim_id=claim.id, outlet_id=claim.outlet_id,
                                       level=step.level, action=cmd["action"], user=principal.user,
                                       role=principal.role, duty=principal.duty, amount_before_fen=before,
                                       amount_after_fen=after, reason=cmd["reason"], at=utcnow()))
            self._emit_audited(uow, claim, step.level, cmd["action"])
            uow.commit()
            return self._dump(uow, claim, detail=True)

    @rpc
    def get_claim(self, claim_id):
        with self.db.uow() as uow:
            return self._dump(uow, get_or_404(uow.session, Claim, claim_id, "claim_id"), detail=True)

    @rpc
    def claim_for_visit(self, visit_id):
        with self.db.uow() as uow:
            claim = self._live_claim(uow, visit_id)
            if claim is None:
                raise NotFound(f"no claim for visit {visit_id}")
            return self._dump(uow, claim, detail=True)

    @rpc
    def list_claims(self, query=None):
        q = load(ClaimQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Claim)
            if q["status"]:
                stmt = stmt.where(Claim.status == q["status"])
            if q["outlet_id"]:
                stmt = stmt.where(Claim.outlet_id == q["outlet_id"])
            if q["held"] is not None:
                stmt = stmt.where(Claim.held == q["held"])
            if q["month"]:
                first = date.fromisoformat(q["month"] + "-01")
                stmt = stmt.where(Claim.visit_date >= first, Claim.visit_date <= domain.month_last_day(q["month"]))
            total = uow.session.scalar(stmt.with_only_columns(func.count(Claim.id)))
            rows = uow.session.scalars(stmt.order_by(Claim.visit_date.desc(), Claim.id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._dump(uow, c) for c in rows], "total": total,
                    "limit": q["limit"], "offset": q["offset"]}

    # ================================================================ tariffs
    @rpc
    def tariff_in_force(self, query=None):
        q = load(TariffQuery(), query or {})
        principal = self.db.principal
        tenant = q["tenant_id"] or principal.tenant
        if tenant and not principal.sees_tenant(tenant):
            raise NotFound(f"tenant {tenant} not found")
        day = q["on"] or utcnow().astimezone(domain.LOCAL_TZ).date()
        with self.db.uow() as uow:
            tariff = self._tariff(uow, tenant, day)
        return {"tenant_id": tenant, "on": day.isoformat(), "versions": list(tariff.versions),
                "values": tariff.values, "sources": tariff.sources}

    @rpc
    def publish_tariff(self, payload):
        """HQ adds a tariff version (HQ default or a tenant's override) for a validity period."""
        principal = self.db.principal
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ publishes tariffs")
        if not isinstance(payload, dict):
            raise ValidationFailed("tariff must be an object", {"_schema": ["must be a JSON object"]})
        try:
            version = parse_version(payload)
        except TariffError as exc:
            raise ValidationFailed(exc.message, exc.fields) from None
        if version.tenant and version.tenant not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant": [f"no center {version.tenant!r}"]})
        with self.db.uow() as uow:
            book = self.tariffs.current(uow.session)
            if uow.session.get(TariffVersionRow, version.id) is not None:
                raise Conflict("a tariff version with this id exists", {"id": ["exists"]})
            try:
                book.check_overlap(version)
                if version.tenant is None:
                    pass
                else:  # an override must sit on an HQ version for its whole period
                    book.in_force(None, version.valid_from)
            except TariffError as exc:
                raise ValidationFailed(exc.message, exc.fields) from None
            uow.session.add(TariffVersionRow(id=version.id, tenant_id=version.tenant, valid_from=version.valid_from,
                                             valid_to=version.valid_to, body=version.body, created_at=utcnow(),
                                             created_by=principal.user))
            uow.commit()
        return {"id": version.id, "tenant": version.tenant, "valid_from": version.valid_from.isoformat(),
                "valid_to": version.valid_to and version.valid_to.isoformat()}

    # ================================================================ helpers
    def _tariff(self, uow, tenant, day):
        try:
            return self.tariffs.current(uow.session).in_force(tenant, day)
        except TariffError as exc:
            raise ValidationFailed(exc.message, exc.fields) from None

    def _grade(self, uow, outlet_id, at):
        row = uow.session.scalars(select(OutletGrade).where(OutletGrade.outlet_id == outlet_id,
                                                            OutletGrade.valid_from <= at)
                                  .order_by(OutletGrade.valid_from.desc(), OutletGrade.id.desc())).first()
        if row is not None:
            return row.grade
        outlet = self.policies.directory.outlets.get(outlet_id)
        return outlet.grade if outlet else None

    @staticmethod
    def _live_claim(uow, visit_id):
        return uow.session.scalars(select(Claim).where(Claim.visit_key == visit_id)).first()

    @staticmethod
    def _audits(uow, claim):
        return uow.session.scalars(select(ClaimAudit).where(ClaimAudit.claim_id == claim.id)
                                   .order_by(ClaimAudit.id)).all()

    @staticmethod
    def _claim_for(uow, visit_id, ticket_id, outlet_id):
        """The live claim a hold or deduction belongs to: by visit, else the ticket's latest."""
        if visit_id:
            claim = uow.session.scalars(select(Claim).where(Claim.visit_key == visit_id)).first()
            if claim is not None:
                return claim
        if ticket_id:
            stmt = select(Claim).where(Claim.ticket_id == ticket_id, Claim.visit_key.is_not(None))
            if outlet_id:
                stmt = stmt.where(Claim.outlet_id == outlet_id)
            return uow.session.scalars(stmt.order_by(Claim.visit_at.desc())).first()
        return None

    @staticmethod
    def _open_holds(uow, visit_id, ticket_id, outlet_id):
        rows = uow.session.scalars(select(Hold).where(Hold.status == "open", Hold.outlet_id == outlet_id)).all()
        return [h for h in rows if (h.visit_id and h.visit_id == visit_id)
                or (not h.visit_id and h.ticket_id == ticket_id)]

    @staticmethod
    def _sla_items(uow, facts):
        rows = uow.session.scalars(select(Deduction).where(Deduction.kind == "sla_breach",
                                                           Deduction.ticket_id == facts.ticket_id,
                                                           Deduction.outlet_id == facts.outlet_id)).all()
        return tuple((d.rule.split(":", 1)[-1], M(d.amount_fen), d.tariff_line) for d in rows)

    def _refresh_holds(self, uow, claim):
        """Re-run the two hold rules of a claim after a hold opened or closed."""
        holds = uow.session.scalars(select(Hold).where(Hold.claim_id == claim.id, Hold.status == "open")).all()
        ctx = domain.AuditContext(
            open_part_holds=tuple((h.ref, h.part_no, _aware(h.due_at).date()) for h in holds if h.kind == "part_return"),
            open_callback_holds=tuple((h.ref, h.reason) for h in holds if h.kind == "callback"))
        rules = domain.refresh_rule(claim.rules, domain.rule_part_return(None, ctx))
        released = [h for h in uow.session.scalars(select(Hold).where(Hold.claim_id == claim.id,
                                                                       Hold.status != "open"))]
        if not ctx.open_part_holds and any(h.kind == "part_return" for h in released):
            last = [h for h in released if h.kind == "part_return"]
            rules = domain.refresh_rule(rules, domain.RuleResult(
                "part_return", domain.PASS, "; ".join(f"{h.ref}: {h.release_reason}" for h in last)))
        rules = domain.refresh_rule(rules, domain.rule_negative_callback(None, ctx))
        if not ctx.open_callback_holds and any(h.kind == "callback" for h in released):
            rules = domain.refresh_rule(rules, domain.RuleResult(
                "negative_callback", domain.PASS,
                "; ".join(f"{h.ref}: {h.release_reason}" for h in released if h.kind == "callback")))
        claim.rules = rules
        claim.held = bool(holds)
        if holds:
            if claim.statement_id:
                log.warning("hold on claim %s that is already on statement %s", claim.id, claim.statement_id)
            claim.was_held = True

    @staticmethod
    def _deduct(uow, kind, ref, target, amount, line, rule, reason, at):
        exists = uow.session.scalars(select(Deduction).where(Deduction.kind == kind, Deduction.ref == ref)).first()
        if exists is not None:
            return exists
        d = Deduction(id="DD" + uuid.uuid4().hex[:18], tenant_id=target.tenant_id, kind=kind, ref=ref,
                      outlet_id=target.outlet_id, ticket_id=target.ticket_id, visit_id=target.visit_id,
                      amount_fen=money.to_fen(amount), tariff_line=line, rule=rule, reason=reason, effective_at=at)
        uow.session.add(d)
        return d

    def _emit_audited(self, uow, claim, level, action):
        uow.emit("claim.audited", {"tenant_id": claim.tenant_id, "claim_id": claim.id, "outlet_id": claim.outlet_id,
                                   "visit_id": claim.visit_id, "ticket_id": claim.ticket_id, "level": level,
                                   "action": action, "status": claim.status, "amount": M(claim.approved_fen),
                                   "at": utcnow()})

    def _dump(self, uow, c, detail=False):
        out = {"id": c.id, "tenant_id": c.tenant_id, "outlet_id": c.outlet_id, "visit_id": c.visit_id,
               "ticket_id": c.ticket_id, "source": c.source, "visit_at": _aware(c.visit_at).isoformat(),
               "visit_date": c.visit_date.isoformat(), "kind": c.kind, "product_line": c.product_line,
               "fault": c.fault, "fault_class": c.fault_class, "serial_no": c.serial_no, "tier": c.tier,
               "payer": c.payer, "warranty": c.warranty, "grade": c.grade, "km": c.km, "travel_days": c.travel_days,
               "parts_count": c.parts_count, "tariff_versions": c.tariff_versions, "price_lines": c.price_lines,
               "claimed_lines": c.claimed_lines, "tariff_total": str(M(c.tariff_fen)),
               "claimed_total": str(M(c.claimed_fen)), "approved": str(M(c.approved_fen)),
               "adjustments": c.adjustments, "rules": c.rules, "status": c.status,
               "level": domain.LEVEL_OF_STATUS.get(c.status), "flagged": bool(c.flagged), "held": bool(c.held),
               "duplicate": c.visit_key is None,
               "receipt": None if c.receipt_fen is None else {
                   "receipt_no": c.receipt_no, "amount": str(M(c.receipt_fen)),
                   "outlet_share": str(M(c.outlet_share_fen)), "center_share": str(M(c.center_share_fen)),
                   "tariff_line": c.share_line},
               "statement_id": c.statement_id, "version": c.version,
               "created_at": _aware(c.created_at).isoformat(),
               "decided_at": c.decided_at and _aware(c.decided_at).isoformat()}
        if detail:
            out["audits"] = [{"level": a.level, "action": a.action, "user": a.user, "role": a.role, "duty": a.duty,
                              "amount_before": str(M(a.amount_before_fen)), "amount_after": str(M(a.amount_after_fen)),
                              "reason": a.reason, "at": _aware(a.at).isoformat()} for a in self._audits(uow, c)]
            out["holds"] = [{"kind": h.kind, "ref": h.ref, "status": h.status, "reason": h.reason,
                             "release_reason": h.release_reason}
                            for h in uow.session.scalars(select(Hold).where(Hold.claim_id == c.id))]
        return out


class _Target:
    """Who a deduction is charged to when there is no hold row to take it from."""

    def __init__(self, outlet_id, ticket_id, visit_id, tenant_id):
        self.outlet_id, self.ticket_id, self.visit_id, self.tenant_id = outlet_id, ticket_id, visit_id, tenant_id
