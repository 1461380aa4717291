"""What settlement reads: the lookups its use cases build on (a visit's live claim, the claim a
hold belongs to, open holds, SLA deductions, an outlet's grade, earlier claims of a serial) and
the answers of its entrypoints (claims, statements, an outlet's balance and open items, a
clearing request), as the dicts the RPCs return. Nothing here writes.

Amounts are stored in fen and answered as yuan strings (`yuan_text`).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from services.settlement import audit_levels, domain, money
from services.settlement.domain import Status
from services.settlement.models import (
    Claim,
    ClaimAudit,
    ClearingRequest,
    Deduction,
    Hold,
    OutletGrade,
    Payment,
    Statement,
    StatementLine,
)
from shared.db import as_utc, get_or_404


def yuan_text(fen) -> str:
    """An amount stored in fen as the API shows it: yuan to the fen, e.g. '315.00'."""
    return str(money.from_fen(fen))


# ---------------------------------------------------------------- lookups of the use cases
def live_claim(session, visit_id):
    """The one live claim of a visit (duplicates are not live), or None."""
    return session.scalars(select(Claim).where(Claim.visit_key == visit_id)).first()


def claim_audits(session, claim) -> list[ClaimAudit]:
    return session.scalars(select(ClaimAudit).where(ClaimAudit.claim_id == claim.id).order_by(ClaimAudit.id)).all()


def claim_for(session, visit_id, ticket_id, outlet_id):
    """The live claim a hold or deduction belongs to: by visit, else the ticket's latest."""
    if visit_id:
        claim = live_claim(session, visit_id)
        if claim is not None:
            return claim
    if ticket_id:
        stmt = select(Claim).where(Claim.ticket_id == ticket_id, Claim.visit_key.is_not(None))
        if outlet_id:
            stmt = stmt.where(Claim.outlet_id == outlet_id)
        return session.scalars(stmt.order_by(Claim.visit_at.desc())).first()
    return None


def hold(session, kind: str, ref: str):
    """The hold of this kind opened for `ref` (an RMA number, a callback id), or None."""
    return session.scalars(select(Hold).where(Hold.kind == kind, Hold.ref == ref)).first()


def open_holds(session, visit_id, ticket_id, outlet_id) -> list[Hold]:
    """The open holds on an outlet's visit: those of the visit, and those of its ticket that name no visit."""
    rows = session.scalars(select(Hold).where(Hold.status == "open", Hold.outlet_id == outlet_id)).all()
    return [h for h in rows if (h.visit_id and h.visit_id == visit_id) or (not h.visit_id and h.ticket_id == ticket_id)]


def claim_holds(session, claim_id, open_ones: bool) -> list[Hold]:
    """A claim's open holds (`open_ones`), or those released or converted."""
    state = Hold.status == "open" if open_ones else Hold.status != "open"
    return session.scalars(select(Hold).where(Hold.claim_id == claim_id, state)).all()


def sla_items(session, ticket_id, outlet_id) -> tuple:
    """(sla, amount, tariff line) of each SLA deduction charged to the outlet for the ticket."""
    rows = session.scalars(
        select(Deduction).where(
            Deduction.kind == "sla_breach", Deduction.ticket_id == ticket_id, Deduction.outlet_id == outlet_id
        )
    ).all()
    return tuple((d.rule.split(":", 1)[-1], money.from_fen(d.amount_fen), d.tariff_line) for d in rows)


def deduction(session, kind: str, ref: str):
    return session.scalars(select(Deduction).where(Deduction.kind == kind, Deduction.ref == ref)).first()


def outlet_grade(session, directory, outlet_id, at):
    """The outlet's grade at `at`: the last one certification published, else the directory's."""
    row = session.scalars(
        select(OutletGrade)
        .where(OutletGrade.outlet_id == outlet_id, OutletGrade.valid_from <= at)
        .order_by(OutletGrade.valid_from.desc(), OutletGrade.id.desc())
    ).first()
    if row is not None:
        return row.grade
    outlet = directory.outlets.get(outlet_id)
    return outlet.grade if outlet else None


def prior_claims(session, serial_no, claim_id, visit_date) -> tuple:
    """Live claims of the same serial number in the repeat-repair window before `visit_date`."""
    if not serial_no:
        return ()
    rows = session.execute(
        select(Claim.id, Claim.visit_date, Claim.fault).where(
            Claim.serial_no == serial_no,
            Claim.id != (claim_id or ""),
            Claim.visit_key.is_not(None),
            Claim.visit_date >= visit_date - timedelta(days=domain.REPEAT_WINDOW_DAYS),
            Claim.visit_date <= visit_date,
        )
    ).all()
    return tuple(domain.PriorClaim(r[0], r[1], r[2]) for r in rows)


def statement_of(session, outlet_id, month):
    """The id of the outlet's statement of `month`, if one was issued."""
    return session.scalars(
        select(Statement.id).where(Statement.outlet_id == outlet_id, Statement.month == month)
    ).first()


# ---------------------------------------------------------------- claims
def claim_out(session, c: Claim, detail=False) -> dict:
    out = {
        "id": c.id,
        "tenant_id": c.tenant_id,
        "outlet_id": c.outlet_id,
        "visit_id": c.visit_id,
        "ticket_id": c.ticket_id,
        "source": c.source,
        "visit_at": as_utc(c.visit_at).isoformat(),
        "visit_date": c.visit_date.isoformat(),
        "kind": c.kind,
        "product_line": c.product_line,
        "fault": c.fault,
        "fault_class": c.fault_class,
        "serial_no": c.serial_no,
        "tier": c.tier,
        "payer": c.payer,
        "warranty": c.warranty,
        "grade": c.grade,
        "km": c.km,
        "travel_days": c.travel_days,
        "parts_count": c.parts_count,
        "tariff_versions": c.tariff_versions,
        "price_lines": c.price_lines,
        "claimed_lines": c.claimed_lines,
        "tariff_total": yuan_text(c.tariff_fen),
        "claimed_total": yuan_text(c.claimed_fen),
        "approved": yuan_text(c.approved_fen),
        "adjustments": c.adjustments,
        "rules": c.rules,
        "status": c.status,
        "level": audit_levels.LEVEL_OF_STATUS.get(c.status),
        "flagged": bool(c.flagged),
        "held": bool(c.held),
        "duplicate": c.visit_key is None,
        "receipt": None
        if c.receipt_fen is None
        else {
            "receipt_no": c.receipt_no,
            "amount": yuan_text(c.receipt_fen),
            "outlet_share": yuan_text(c.outlet_share_fen),
            "center_share": yuan_text(c.center_share_fen),
            "tariff_line": c.share_line,
        },
        "statement_id": c.statement_id,
        "version": c.version,
        "created_at": as_utc(c.created_at).isoformat(),
        "decided_at": c.decided_at and as_utc(c.decided_at).isoformat(),
    }
    if detail:
        out["audits"] = [
            {
                "level": a.level,
                "action": a.action,
                "user": a.user,
                "role": a.role,
                "duty": a.duty,
                "amount_before": yuan_text(a.amount_before_fen),
                "amount_after": yuan_text(a.amount_after_fen),
                "reason": a.reason,
                "at": as_utc(a.at).isoformat(),
            }
            for a in claim_audits(session, c)
        ]
        out["holds"] = [
            {"kind": h.kind, "ref": h.ref, "status": h.status, "reason": h.reason, "release_reason": h.release_reason}
            for h in session.scalars(select(Hold).where(Hold.claim_id == c.id))
        ]
    return out


def claims(session, q: dict) -> dict:
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
    total = session.scalar(stmt.with_only_columns(func.count(Claim.id)))
    rows = session.scalars(stmt.order_by(Claim.visit_date.desc(), Claim.id).limit(q["limit"]).offset(q["offset"])).all()
    return {"items": [claim_out(session, c) for c in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


# ---------------------------------------------------------------- statements
def statement_out(session, st: Statement, lines=True) -> dict:
    out = {
        "id": st.id,
        "tenant_id": st.tenant_id,
        "outlet_id": st.outlet_id,
        "month": st.month,
        "issued_at": as_utc(st.issued_at).isoformat(),
        "issued_by": st.issued_by,
        "total": yuan_text(st.total_fen),
        "paid": yuan_text(st.paid_fen),
        "outstanding": yuan_text(st.total_fen - st.paid_fen),
        "status": st.status,
    }
    if lines:
        rows = session.scalars(
            select(StatementLine).where(StatementLine.statement_id == st.id).order_by(StatementLine.seq)
        ).all()
        out["lines"] = [
            {
                "seq": l.seq,
                "kind": l.kind,
                "ref": l.ref,
                "claim_id": l.claim_id,
                "description": l.description,
                "amount": yuan_text(l.amount_fen),
                "tariff_line": l.tariff_line,
                "rule": l.rule,
            }
            for l in rows
        ]
        out["payments"] = [
            {"amount": yuan_text(p.amount_fen), "reference": p.reference, "paid_at": as_utc(p.paid_at).isoformat()}
            for p in session.scalars(select(Payment).where(Payment.statement_id == st.id).order_by(Payment.paid_at))
        ]
    return out


def statements(session, q: dict) -> dict:
    stmt = select(Statement)
    if q["outlet_id"]:
        stmt = stmt.where(Statement.outlet_id == q["outlet_id"])
    if q["month"]:
        stmt = stmt.where(Statement.month == q["month"])
    total = session.scalar(stmt.with_only_columns(func.count(Statement.id)))
    rows = session.scalars(
        stmt.order_by(Statement.month.desc(), Statement.outlet_id).limit(q["limit"]).offset(q["offset"])
    ).all()
    return {
        "items": [statement_out(session, s, lines=False) for s in rows],
        "total": total,
        "limit": q["limit"],
        "offset": q["offset"],
    }


def statement_lines_count(session, statement_id) -> int:
    return session.scalar(select(func.count(StatementLine.id)).where(StatementLine.statement_id == statement_id))


# ---------------------------------------------------------------- an outlet's account
def balance(session, outlet_id, at) -> dict:
    """An outlet's account at `at`: statements issued minus payments, and what is on the way."""

    def total(column, *where):
        return session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where))

    of_outlet = Claim.outlet_id == outlet_id
    issued = total(Statement.total_fen, Statement.outlet_id == outlet_id, Statement.issued_at <= at)
    paid = total(Payment.amount_fen, Payment.outlet_id == outlet_id, Payment.paid_at <= at)
    unstated = total(
        Claim.approved_fen,
        of_outlet,
        Claim.status == Status.APPROVED,
        Claim.statement_id.is_(None),
        Claim.held.is_(False),
        Claim.payer == domain.WARRANTY,
    )
    held = total(
        Claim.approved_fen,
        of_outlet,
        Claim.held.is_(True),
        Claim.statement_id.is_(None),
        Claim.status != Status.REJECTED,
    )
    review = total(Claim.approved_fen, of_outlet, Claim.status.in_(domain.OPEN_STATUSES))
    pending = total(Deduction.amount_fen, Deduction.outlet_id == outlet_id, Deduction.statement_id.is_(None))
    return {
        "outlet_id": outlet_id,
        "at": at.isoformat(),
        "statements_total": yuan_text(issued),
        "paid": yuan_text(paid),
        "balance": yuan_text(issued - paid),
        "approved_unstated": yuan_text(unstated),
        "held": yuan_text(held),
        "in_review": yuan_text(review),
        "deductions_pending": yuan_text(pending),
    }


def open_items(session, outlet_id) -> list[dict]:
    """What keeps an outlet's account open: claims not yet on a statement, open holds, pending
    deductions, statements not fully paid."""
    items = []
    for c in session.scalars(
        select(Claim)
        .where(Claim.outlet_id == outlet_id, Claim.status != Status.REJECTED, Claim.statement_id.is_(None))
        .order_by(Claim.visit_date)
    ):
        items.append(
            {
                "kind": "claim",
                "ref": c.id,
                "description": domain.open_claim_description(
                    c.status, bool(c.held), c.payer, c.receipt_fen is not None
                ),
                "amount": yuan_text(c.approved_fen),
            }
        )
    for h in session.scalars(select(Hold).where(Hold.outlet_id == outlet_id, Hold.status == "open")):
        items.append({"kind": "hold", "ref": h.ref, "description": f"{h.kind} hold: {h.reason}", "amount": None})
    for d in session.scalars(
        select(Deduction).where(Deduction.outlet_id == outlet_id, Deduction.statement_id.is_(None))
    ):
        items.append(
            {"kind": "deduction", "ref": d.ref, "description": d.reason, "amount": str(-money.from_fen(d.amount_fen))}
        )
    for st in session.scalars(
        select(Statement).where(Statement.outlet_id == outlet_id, Statement.paid_fen != Statement.total_fen)
    ):
        items.append(
            {
                "kind": "balance",
                "ref": st.id,
                "description": f"statement {st.month} not fully paid",
                "amount": yuan_text(st.total_fen - st.paid_fen),
            }
        )
    return items


def clearing(session, request_id) -> dict:
    req = get_or_404(session, ClearingRequest, request_id, "request_id")
    return {
        "request_id": req.request_id,
        "outlet_id": req.outlet_id,
        "answer": req.answer,
        "open_items": req.open_items,
        "parts_received": req.parts_items is not None,
        "requested": req.requested_at is not None,
    }
