"""Settlement's tables. Amounts are integer fen (`*_fen`), converted to Decimal yuan by
`services.settlement.money`. Every row that belongs to a center is TenantScoped; an outlet
sees its own rows (``outlet_id``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped

OUTLET_SCOPE = {"outlet": "outlet_id"}


class Base(DeclarativeBase):
    pass


class TariffVersionRow(Base):
    """A tariff version (HQ default: tenant_id NULL). Policy, readable by every center."""

    __tablename__ = "tariff_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(16), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))


class TicketFact(TenantScoped, Base):
    """What settlement keeps of `ticket.registered`: the facts a claim is priced on."""

    __tablename__ = "ticket_facts"
    __scope__ = {}

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str | None] = mapped_column(String(64), index=True)
    fault: Mapped[str | None] = mapped_column(Text)
    warranty: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(16))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VisitFact(TenantScoped, Base):
    """A completed visit (`visit.completed`), waiting for or priced into a claim."""

    __tablename__ = "visit_facts"
    __scope__ = OUTLET_SCOPE

    visit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(16), index=True)
    technician_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    planned_km: Mapped[float | None] = mapped_column(Float)
    product_line: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(16))
    parts_used: Mapped[list | None] = mapped_column(JSON)
    customer_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    onsite_on_time: Mapped[bool | None] = mapped_column(Boolean)


class OutletGrade(TenantScoped, Base):
    """An outlet's grade (A/B/C) from a date: seeded from the directory, moved by outlet.grade_changed."""

    __tablename__ = "outlet_grades"
    __scope__ = OUTLET_SCOPE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(16), index=True)
    grade: Mapped[str] = mapped_column(String(1))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Claim(TenantScoped, Base):
    """An outlet's fee claim for one visit (网点服务费结算单), priced and audited."""

    __tablename__ = "claims"
    __scope__ = OUTLET_SCOPE
    __table_args__ = (
        # one live claim per visit: duplicates keep visit_key NULL (and are rejected)
        UniqueConstraint("visit_key", name="uq_claim_visit_key"),
        Index("ix_claim_tenant_status", "tenant_id", "status"),
        Index("ix_claim_outlet_status", "outlet_id", "status"),
        Index("ix_claim_serial", "serial_no", "visit_date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(16))
    visit_id: Mapped[str] = mapped_column(String(32), index=True)
    visit_key: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(8))  # visit (from visit.completed) | outlet
    visit_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    visit_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str | None] = mapped_column(String(16))
    product_line: Mapped[str | None] = mapped_column(String(64))
    fault: Mapped[str | None] = mapped_column(Text)
    fault_class: Mapped[str | None] = mapped_column(String(32))
    serial_no: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str | None] = mapped_column(String(16))
    payer: Mapped[str] = mapped_column(String(16))  # warranty | self_paid
    warranty: Mapped[str] = mapped_column(String(16))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    customer_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    grade: Mapped[str | None] = mapped_column(String(1))
    km: Mapped[float | None] = mapped_column(Float)
    actual_km: Mapped[float | None] = mapped_column(Float)
    parts_count: Mapped[int] = mapped_column(Integer, default=0)
    travel_days: Mapped[int | None] = mapped_column(Integer)
    tariff_versions: Mapped[list] = mapped_column(JSON)
    price_lines: Mapped[list] = mapped_column(JSON)  # [{code, amount, tariff_line, rule}]
    tariff_ref: Mapped[str] = mapped_column(Text)  # the price lines' tariff lines, comma-separated
    claimed_lines: Mapped[dict | None] = mapped_column(JSON)  # outlet's figures {code: "amount"}
    tariff_fen: Mapped[int] = mapped_column(BigInteger)
    claimed_fen: Mapped[int] = mapped_column(BigInteger)
    approved_fen: Mapped[int] = mapped_column(BigInteger)
    adjustments: Mapped[list] = mapped_column(JSON)  # [{rule, reason, delta}]
    rules: Mapped[list] = mapped_column(JSON)  # [{rule, outcome, reason, amount}]
    status: Mapped[str] = mapped_column(String(16))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    was_held: Mapped[bool] = mapped_column(Boolean, default=False)
    receipt_no: Mapped[str | None] = mapped_column(String(64))
    receipt_fen: Mapped[int | None] = mapped_column(BigInteger)
    outlet_share_fen: Mapped[int | None] = mapped_column(BigInteger)
    center_share_fen: Mapped[int | None] = mapped_column(BigInteger)
    share_line: Mapped[str | None] = mapped_column(String(64))
    statement_id: Mapped[str | None] = mapped_column(String(32), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # SQLAlchemy's version counter: every UPDATE of a claim adds one and is made WHERE version is
    # the one read, so two decisions on the same claim at once cannot both win (the loser gets
    # StaleDataError, answered 409 by shared.rpc); the same column the API shows as "version"
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class ClaimAudit(TenantScoped, Base):
    """One audit step on a claim: the level, who, what, the amount before and after, why."""

    __tablename__ = "claim_audits"
    __scope__ = OUTLET_SCOPE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    claim_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    duty: Mapped[str | None] = mapped_column(String(32))
    amount_before_fen: Mapped[int] = mapped_column(BigInteger)
    amount_after_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Hold(TenantScoped, Base):
    """A claim held back from payment: a returnable part overdue, or a negative callback open."""

    __tablename__ = "holds"
    __scope__ = OUTLET_SCOPE
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_hold_kind_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # part_return | callback
    ref: Mapped[str] = mapped_column(String(64))  # rma_no | callback_id
    claim_id: Mapped[str | None] = mapped_column(String(32), index=True)
    visit_id: Mapped[str | None] = mapped_column(String(32), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str] = mapped_column(String(16), index=True)
    part_no: Mapped[str | None] = mapped_column(String(64))
    unit_cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # open | released | converted
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(Text)


class Deduction(TenantScoped, Base):
    """An amount taken off an outlet's statement (考核扣款), traceable to its tariff line."""

    __tablename__ = "deductions"
    __scope__ = OUTLET_SCOPE
    __table_args__ = (UniqueConstraint("kind", "ref", name="uq_deduction_kind_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # sla_breach | part_not_returned | late_part_return
    ref: Mapped[str] = mapped_column(String(96))
    outlet_id: Mapped[str] = mapped_column(String(16), index=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32), index=True)
    visit_id: Mapped[str | None] = mapped_column(String(32))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    tariff_line: Mapped[str] = mapped_column(String(96))
    rule: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    statement_id: Mapped[str | None] = mapped_column(String(32), index=True)


class Statement(TenantScoped, Base):
    """An outlet's monthly statement (月结算单)."""

    __tablename__ = "statements"
    __scope__ = OUTLET_SCOPE
    __table_args__ = (UniqueConstraint("outlet_id", "month", name="uq_statement_outlet_month"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    issued_by: Mapped[str] = mapped_column(String(64))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    paid_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))  # issued | partially_paid | paid


class StatementLine(TenantScoped, Base):
    __tablename__ = "statement_lines"
    __scope__ = OUTLET_SCOPE

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(96))
    claim_id: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    tariff_line: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(64))


class Payment(TenantScoped, Base):
    __tablename__ = "payments"
    __scope__ = OUTLET_SCOPE
    __table_args__ = (UniqueConstraint("statement_id", "reference", name="uq_payment_reference"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str] = mapped_column(String(16), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reference: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(64))


class ClearingRequest(TenantScoped, Base):
    """A revoking outlet's account clearing: certification's request plus parts' balance."""

    __tablename__ = "clearing_requests"
    __scope__ = OUTLET_SCOPE

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    parts_items: Mapped[list | None] = mapped_column(JSON)
    parts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer: Mapped[str | None] = mapped_column(String(24))
    open_items: Mapped[list | None] = mapped_column(JSON)
