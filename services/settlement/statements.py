"""Settlement's statements (月结算单), payments, balances and open items: the entrypoints of
`SettlementService` that deal with an outlet's account, kept in their own module (a mixin,
as the gateway's route tables are)."""
from __future__ import annotations

import base64
import uuid
from datetime import timedelta, timezone

from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.settlement import documents, domain, money
from services.settlement.domain import Status
from services.settlement.models import Claim, ClearingRequest, Deduction, Hold, Payment, Statement, StatementLine
from services.settlement.schemas import BalanceQuery, IssueAll, IssueStatement, PaymentIn, StatementQuery
from shared import metrics, tenancy
from shared.db import as_utc, get_or_404, utcnow
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.rpc import rpc
from shared.validation import load

STATEMENTS = Counter("fsm_settlement_statements_total", "Monthly statements issued", ["service", "tenant"],
                     registry=metrics.REGISTRY)
STATEMENT_FEN = Counter("fsm_settlement_statement_fen_total", "Sum of issued statement totals (fen, absolute)",
                        ["service", "tenant"], registry=metrics.REGISTRY)

_aware = as_utc
M = money.from_fen


class StatementEntrypoints:
    """Mixed into `SettlementService` (which provides db, policies and the claim helpers)."""

    @rpc
    def issue_statement(self, payload):
        cmd = load(IssueStatement(), payload)
        principal = self._statement_issuer()
        outlet = self.policies.directory.outlets.get(cmd["outlet_id"])
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {cmd['outlet_id']!r}"]})
        self._check_month(cmd["month"])
        issued = Conflict("the statement of this month is issued already", {"month": ["issued already"]})
        with self.db.uow(principal) as uow:
            if uow.session.scalars(select(Statement.id).where(Statement.outlet_id == outlet.id,
                                                              Statement.month == cmd["month"])).first():
                raise issued
            try:
                st = self._issue(uow, outlet, cmd["month"], principal, allow_empty=True)
                uow.commit()
            except IntegrityError:  # issued at the same moment by someone else
                raise issued from None
            return self._dump_statement(uow, st)

    @rpc
    def issue_statements(self, payload):
        """Every outlet of the tenant (HQ: every tenant, or the one named) with something to settle."""
        cmd = load(IssueAll(), payload)
        principal = self._statement_issuer()
        self._check_month(cmd["month"])
        tenants = [cmd["tenant_id"]] if cmd["tenant_id"] else (
            [principal.tenant] if principal.tenant else list(self.policies.directory.centers))
        issued = []
        for tenant in tenants:
            if not principal.sees_tenant(tenant):
                raise ValidationFailed("unknown tenant", {"tenant_id": [f"no tenant {tenant!r}"]})
            for outlet in self.policies.directory.outlets_of(tenant):
                with self.db.uow(principal) as uow:
                    done = uow.session.scalars(select(Statement.id).where(
                        Statement.outlet_id == outlet.id, Statement.month == cmd["month"])).first()
                    if done:
                        continue
                    st = self._issue(uow, outlet, cmd["month"], principal, allow_empty=False)
                    if st is None:
                        continue
                    uow.commit()
                    issued.append({"statement_id": st.id, "outlet_id": st.outlet_id, "total": str(M(st.total_fen)),
                                   "lines": uow.session.scalar(select(func.count(StatementLine.id)).where(
                                       StatementLine.statement_id == st.id))})
        return {"month": cmd["month"], "issued": issued}

    def _statement_issuer(self):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE):
            raise Forbidden(f"role {principal.role} cannot issue statements")
        return principal

    @staticmethod
    def _check_month(month):
        now_month = utcnow().astimezone(domain.LOCAL_TZ).strftime("%Y-%m")
        if month > now_month:
            raise ValidationFailed("the month has not begun", {"month": [f"must not be after {now_month}"]})

    def _issue(self, uow, outlet, month, principal, allow_empty):
        now = utcnow()
        start, end = domain.month_bounds(month)
        last_day = domain.month_last_day(month)
        self._convert_expired_part_holds(uow, outlet, now)
        claims = uow.session.scalars(select(Claim).where(
            Claim.outlet_id == outlet.id, Claim.status == Status.APPROVED, Claim.statement_id.is_(None),
            Claim.held.is_(False), Claim.visit_date <= last_day)).all()
        claims = [c for c in claims if c.payer == domain.WARRANTY or c.receipt_fen is not None]
        deductions = uow.session.scalars(select(Deduction).where(
            Deduction.outlet_id == outlet.id, Deduction.statement_id.is_(None), Deduction.effective_at < end)).all()
        if not claims and not deductions and not allow_empty:
            return None
        lines, total = domain.build_statement(
            [self._statement_claim(c) for c in claims],
            [domain.StatementDeduction(d.ref, d.kind, M(d.amount_fen), d.tariff_line, d.rule, d.reason)
             for d in deductions])
        st = Statement(id="ST" + uuid.uuid4().hex[:18], tenant_id=outlet.center, outlet_id=outlet.id, month=month,
                       issued_at=now, issued_by=principal.user, total_fen=money.to_fen(total), paid_fen=0,
                       status="issued")
        uow.session.add(st)
        for seq, l in enumerate(lines, 1):
            uow.session.add(StatementLine(tenant_id=outlet.center, statement_id=st.id, outlet_id=outlet.id, seq=seq,
                                          kind=l.kind, ref=l.ref, claim_id=l.claim_id, description=l.description,
                                          amount_fen=money.to_fen(l.amount), tariff_line=l.tariff_line, rule=l.rule))
        for c in claims:
            c.statement_id = st.id
        for d in deductions:
            d.statement_id = st.id
        STATEMENTS.labels(self.name, outlet.center).inc()
        STATEMENT_FEN.labels(self.name, outlet.center).inc(abs(st.total_fen))
        uow.emit("statement.issued", {"tenant_id": outlet.center, "statement_id": st.id, "outlet_id": outlet.id,
                                      "month": month, "total": total, "at": now})
        uow.session.flush()
        return st

    @staticmethod
    def _statement_claim(c):
        adjustments = tuple((a["rule"], a["reason"], money.money(a["delta"])) for a in (c.adjustments or []))
        return domain.StatementClaim(
            claim_id=c.id, visit_id=c.visit_id, ticket_id=c.ticket_id, visit_date=c.visit_date, payer=c.payer,
            claimed=M(c.claimed_fen), approved=M(c.approved_fen), adjustments=adjustments,
            hold_released=bool(c.was_held), receipt=None if c.receipt_fen is None else M(c.receipt_fen),
            center_share=None if c.center_share_fen is None else M(c.center_share_fen), share_line=c.share_line,
            tariff_ref=c.tariff_ref)

    def _convert_expired_part_holds(self, uow, outlet, now):
        """A part still not back `part_return_grace_days` after its due date: its value is
        deducted and the claim is released (held, then deducted)."""
        holds = uow.session.scalars(select(Hold).where(Hold.outlet_id == outlet.id, Hold.kind == "part_return",
                                                       Hold.status == "open")).all()
        for hold in holds:
            due = _aware(hold.due_at)
            tariff = self._tariff(uow, hold.tenant_id, domain.local_date(due))
            limit = due + timedelta(days=int(tariff.values["part_return_grace_days"]))
            if limit > now:
                continue
            if hold.unit_cost_fen is not None:
                value, line = M(hold.unit_cost_fen), f"parts:unit_cost/{hold.part_no}"
            else:
                value, line = tariff.dec("unreturned_part_value"), tariff.line_id("unreturned_part_value")
            self._deduct(uow, "part_not_returned", hold.ref, hold, value, line, "part_not_returned",
                         f"part {hold.part_no} (RMA {hold.ref}) not returned {tariff.values['part_return_grace_days']} "
                         f"days after its due date {due.date().isoformat()}", limit)
            hold.status, hold.released_at = "converted", now
            hold.release_reason = "value deducted"
            claim = uow.session.get(Claim, hold.claim_id) if hold.claim_id else None
            if claim is not None:
                self._refresh_holds(uow, claim)
        uow.session.flush()

    @rpc
    def list_statements(self, query=None):
        q = load(StatementQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Statement)
            if q["outlet_id"]:
                stmt = stmt.where(Statement.outlet_id == q["outlet_id"])
            if q["month"]:
                stmt = stmt.where(Statement.month == q["month"])
            total = uow.session.scalar(stmt.with_only_columns(func.count(Statement.id)))
            rows = uow.session.scalars(stmt.order_by(Statement.month.desc(), Statement.outlet_id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._dump_statement(uow, s, lines=False) for s in rows], "total": total,
                    "limit": q["limit"], "offset": q["offset"]}

    @rpc
    def get_statement(self, statement_id):
        with self.db.uow() as uow:
            return self._dump_statement(uow, get_or_404(uow.session, Statement, statement_id, "statement_id"))

    @rpc
    def statement_file(self, statement_id, fmt):
        """The statement as XLSX or PDF: {filename, content_type, data (base64)}."""
        if fmt not in ("xlsx", "pdf"):
            raise ValidationFailed("unknown format", {"format": ["xlsx or pdf"]})
        st = self.get_statement(statement_id)
        data = documents.xlsx(st) if fmt == "xlsx" else documents.pdf(st)
        ctype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if fmt == "xlsx"
                 else "application/pdf")
        return {"filename": f"statement-{st['outlet_id']}-{st['month']}.{fmt}", "content_type": ctype,
                "data": base64.b64encode(data).decode("ascii"), "size": len(data)}

    @rpc
    def record_payment(self, statement_id, payload):
        cmd = load(PaymentIn(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden(f"role {principal.role} cannot record payments")
        with self.db.uow() as uow:
            st = get_or_404(uow.session, Statement, statement_id, "statement_id")
            outstanding = st.total_fen - st.paid_fen
            amount = money.to_fen(cmd["amount"])
            if amount == 0 or outstanding == 0 or (amount > 0) != (outstanding > 0) or abs(amount) > abs(outstanding):
                raise ValidationFailed("payment does not fit the statement",
                                       {"amount": [f"outstanding is {M(outstanding)}"]})
            uow.session.add(Payment(id="PY" + uuid.uuid4().hex[:18], tenant_id=st.tenant_id, statement_id=st.id,
                                    outlet_id=st.outlet_id, amount_fen=amount, paid_at=cmd["paid_at"] or utcnow(),
                                    reference=cmd["reference"], recorded_by=principal.user))
            st.paid_fen += amount
            st.status = "paid" if st.paid_fen == st.total_fen else "partially_paid"
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("a payment with this reference exists", {"reference": ["duplicate"]}) from None
            return self._dump_statement(uow, st)

    @rpc
    def balance(self, outlet_id, query=None):
        """An outlet's account at a moment: statements issued minus payments, and what is on the way."""
        q = load(BalanceQuery(), query or {})
        principal = self.db.principal
        if principal.role == tenancy.OUTLET and principal.outlet != outlet_id:
            raise NotFound(f"outlet {outlet_id} not found")
        outlet = self.policies.directory.outlets.get(outlet_id)
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise NotFound(f"outlet {outlet_id} not found")
        at = (q["at"] or utcnow()).astimezone(timezone.utc)
        with self.db.uow() as uow:
            s = uow.session
            issued = s.scalar(select(func.coalesce(func.sum(Statement.total_fen), 0)).where(
                Statement.outlet_id == outlet_id, Statement.issued_at <= at))
            paid = s.scalar(select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
                Payment.outlet_id == outlet_id, Payment.paid_at <= at))
            base = select(func.coalesce(func.sum(Claim.approved_fen), 0)).where(Claim.outlet_id == outlet_id)
            unstated = s.scalar(base.where(Claim.status == Status.APPROVED, Claim.statement_id.is_(None),
                                           Claim.held.is_(False), Claim.payer == domain.WARRANTY))
            held = s.scalar(base.where(Claim.held.is_(True), Claim.statement_id.is_(None),
                                       Claim.status != Status.REJECTED))
            review = s.scalar(base.where(Claim.status.in_(domain.OPEN_STATUSES)))
            pending_ded = s.scalar(select(func.coalesce(func.sum(Deduction.amount_fen), 0)).where(
                Deduction.outlet_id == outlet_id, Deduction.statement_id.is_(None)))
        return {"outlet_id": outlet_id, "at": at.isoformat(), "statements_total": str(M(issued)),
                "paid": str(M(paid)), "balance": str(M(issued - paid)), "approved_unstated": str(M(unstated)),
                "held": str(M(held)), "in_review": str(M(review)), "deductions_pending": str(M(pending_ded))}

    @rpc
    def open_items(self, outlet_id):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE):
            raise Forbidden("only the center or HQ see an outlet's open items")
        outlet = self.policies.directory.outlets.get(outlet_id)
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise NotFound(f"outlet {outlet_id} not found")
        with self.db.uow() as uow:
            return self._open_items(uow, outlet_id)

    def _open_items(self, uow, outlet_id):
        s = uow.session
        items = []
        for c in s.scalars(select(Claim).where(Claim.outlet_id == outlet_id, Claim.status != Status.REJECTED,
                                               Claim.statement_id.is_(None)).order_by(Claim.visit_date)):
            if c.status in domain.OPEN_STATUSES:
                what = f"claim in audit ({c.status})"
            elif c.held:
                what = "claim approved but held"
            elif c.payer == domain.SELF_PAID and c.receipt_fen is None:
                what = "self-paid claim without the customer's receipt"
            else:
                what = "approved claim not yet on a statement"
            items.append({"kind": "claim", "ref": c.id, "description": what, "amount": str(M(c.approved_fen))})
        for h in s.scalars(select(Hold).where(Hold.outlet_id == outlet_id, Hold.status == "open")):
            items.append({"kind": "hold", "ref": h.ref, "description": f"{h.kind} hold: {h.reason}", "amount": None})
        for d in s.scalars(select(Deduction).where(Deduction.outlet_id == outlet_id, Deduction.statement_id.is_(None))):
            items.append({"kind": "deduction", "ref": d.ref, "description": d.reason, "amount": str(-M(d.amount_fen))})
        for st in s.scalars(select(Statement).where(Statement.outlet_id == outlet_id,
                                                    Statement.paid_fen != Statement.total_fen)):
            items.append({"kind": "balance", "ref": st.id, "description": f"statement {st.month} not fully paid",
                          "amount": str(M(st.total_fen - st.paid_fen))})
        return items

    @rpc
    def clearing(self, request_id):
        with self.db.uow() as uow:
            req = get_or_404(uow.session, ClearingRequest, request_id, "request_id")
            return {"request_id": req.request_id, "outlet_id": req.outlet_id, "answer": req.answer,
                    "open_items": req.open_items, "parts_received": req.parts_items is not None,
                    "requested": req.requested_at is not None}

    @staticmethod
    def _dump_statement(uow, st, lines=True):
        out = {"id": st.id, "tenant_id": st.tenant_id, "outlet_id": st.outlet_id, "month": st.month,
               "issued_at": _aware(st.issued_at).isoformat(), "issued_by": st.issued_by,
               "total": str(M(st.total_fen)), "paid": str(M(st.paid_fen)),
               "outstanding": str(M(st.total_fen - st.paid_fen)), "status": st.status}
        if lines:
            rows = uow.session.scalars(select(StatementLine).where(StatementLine.statement_id == st.id)
                                       .order_by(StatementLine.seq)).all()
            out["lines"] = [{"seq": l.seq, "kind": l.kind, "ref": l.ref, "claim_id": l.claim_id,
                             "description": l.description, "amount": str(M(l.amount_fen)),
                             "tariff_line": l.tariff_line, "rule": l.rule} for l in rows]
            out["payments"] = [{"amount": str(M(p.amount_fen)), "reference": p.reference,
                                "paid_at": _aware(p.paid_at).isoformat()}
                               for p in uow.session.scalars(select(Payment).where(Payment.statement_id == st.id)
                                                            .order_by(Payment.paid_at))]
        return out
