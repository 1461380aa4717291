"""Settlement's statements (月结算单) and payments: the use cases of an outlet's account, inside
the caller's unit of work. A statement takes the approved claims not yet settled and the
pending deductions (`domain.build_statement` makes its lines); a part still not back past its
grace is deducted first."""

from __future__ import annotations

import uuid

from prometheus_client import Counter
from sqlalchemy import select

from services.settlement import domain, money
from services.settlement.domain import Status
from services.settlement.models import Claim, Deduction, Hold, Payment, Statement, StatementLine
from services.settlement.operations import SERVICE, Pricing, deduct, refresh_claim_of
from shared import metrics
from shared.db import as_utc
from shared.errors import ValidationFailed

STATEMENTS = Counter(
    "fsm_settlement_statements_total", "Monthly statements issued", ["service", "tenant"], registry=metrics.REGISTRY
)
STATEMENT_FEN = Counter(
    "fsm_settlement_statement_fen_total",
    "Sum of issued statement totals (fen, absolute)",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)


def issue(uow, pricing: Pricing, outlet, month, user, allow_empty, now):
    """The outlet's statement of `month`: approved claims not yet settled and pending deductions
    (parts still not back past their grace are deducted first). None when there is nothing to
    settle and not `allow_empty`."""
    start, end = domain.month_bounds(month)
    last_day = domain.month_last_day(month)
    convert_expired_part_holds(uow, pricing, outlet, now)
    claims = uow.session.scalars(
        select(Claim).where(
            Claim.outlet_id == outlet.id,
            Claim.status == Status.APPROVED,
            Claim.statement_id.is_(None),
            Claim.held.is_(False),
            Claim.visit_date <= last_day,
        )
    ).all()
    claims = [c for c in claims if c.payer == domain.WARRANTY or c.receipt_fen is not None]
    deductions = uow.session.scalars(
        select(Deduction).where(
            Deduction.outlet_id == outlet.id, Deduction.statement_id.is_(None), Deduction.effective_at < end
        )
    ).all()
    if not claims and not deductions and not allow_empty:
        return None
    lines, total = domain.build_statement(
        [_statement_claim(c) for c in claims],
        [
            domain.StatementDeduction(d.ref, d.kind, money.from_fen(d.amount_fen), d.tariff_line, d.rule, d.reason)
            for d in deductions
        ],
    )
    st = Statement(
        id="ST" + uuid.uuid4().hex[:18],
        tenant_id=outlet.center,
        outlet_id=outlet.id,
        month=month,
        issued_at=now,
        issued_by=user,
        total_fen=money.to_fen(total),
        paid_fen=0,
        status="issued",
    )
    uow.session.add(st)
    for seq, line in enumerate(lines, 1):
        uow.session.add(
            StatementLine(
                tenant_id=outlet.center,
                statement_id=st.id,
                outlet_id=outlet.id,
                seq=seq,
                kind=line.kind,
                ref=line.ref,
                claim_id=line.claim_id,
                description=line.description,
                amount_fen=money.to_fen(line.amount),
                tariff_line=line.tariff_line,
                rule=line.rule,
            )
        )
    for c in claims:
        c.statement_id = st.id
    for d in deductions:
        d.statement_id = st.id
    STATEMENTS.labels(SERVICE, outlet.center).inc()
    STATEMENT_FEN.labels(SERVICE, outlet.center).inc(abs(st.total_fen))
    uow.emit(
        "statement.issued",
        {
            "tenant_id": outlet.center,
            "statement_id": st.id,
            "outlet_id": outlet.id,
            "outlet_name": outlet.name,
            "month": month,
            "total": total,
            "at": now,
        },
    )
    uow.session.flush()
    return st


def _statement_claim(c) -> domain.StatementClaim:
    yuan = money.from_fen
    adjustments = tuple((a["rule"], a["reason"], money.money(a["delta"])) for a in (c.adjustments or []))
    return domain.StatementClaim(
        claim_id=c.id,
        visit_id=c.visit_id,
        ticket_id=c.ticket_id,
        visit_date=c.visit_date,
        payer=c.payer,
        claimed=yuan(c.claimed_fen),
        approved=yuan(c.approved_fen),
        adjustments=adjustments,
        hold_released=bool(c.was_held),
        receipt=None if c.receipt_fen is None else yuan(c.receipt_fen),
        center_share=None if c.center_share_fen is None else yuan(c.center_share_fen),
        share_line=c.share_line,
        tariff_ref=c.tariff_ref,
    )


def convert_expired_part_holds(uow, pricing: Pricing, outlet, now):
    """A part still not back `part_return_grace_days` after its due date: its value is
    deducted and the claim is released (held, then deducted)."""
    holds = uow.session.scalars(
        select(Hold).where(Hold.outlet_id == outlet.id, Hold.kind == "part_return", Hold.status == "open")
    ).all()
    for hold in holds:
        due = as_utc(hold.due_at)
        tariff = pricing.tariff(uow.session, hold.tenant_id, domain.local_date(due))
        limit = domain.unreturned_deadline(due, tariff.values["part_return_grace_days"])
        if limit > now:
            continue
        if hold.unit_cost_fen is not None:
            value, line = money.from_fen(hold.unit_cost_fen), f"parts:unit_cost/{hold.part_no}"
        else:
            value, line = tariff.dec("unreturned_part_value"), tariff.line_id("unreturned_part_value")
        deduct(
            uow,
            "part_not_returned",
            hold.ref,
            hold,
            value,
            line,
            "part_not_returned",
            f"part {hold.part_no} (RMA {hold.ref}) not returned {tariff.values['part_return_grace_days']} "
            f"days after its due date {domain.local_date(due).isoformat()}",
            limit,
        )
        hold.status, hold.released_at = "converted", now
        hold.release_reason = "value deducted"
        refresh_claim_of(uow, hold)
    uow.session.flush()


def record_payment(uow, st, cmd, user, now):
    """A payment against a statement (HQ pays the outlet, or the outlet pays back a negative one)."""
    outstanding = st.total_fen - st.paid_fen
    amount = money.to_fen(cmd["amount"])
    if not domain.payment_fits(amount, outstanding):
        raise ValidationFailed(
            "payment does not fit the statement", {"amount": [f"outstanding is {money.from_fen(outstanding)}"]}
        )
    uow.session.add(
        Payment(
            id="PY" + uuid.uuid4().hex[:18],
            tenant_id=st.tenant_id,
            statement_id=st.id,
            outlet_id=st.outlet_id,
            amount_fen=amount,
            paid_at=cmd["paid_at"] or now,
            reference=cmd["reference"],
            recorded_by=user,
        )
    )
    st.paid_fen += amount
    st.status = domain.statement_status(st.paid_fen, st.total_fen)
