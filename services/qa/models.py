"""QA's tables. Every row belongs to a tenant (TenantScoped): the session scopes reads and checks writes.

Outlets see their own service records, score facts and scorecards (``__scope__``); callbacks and
complaints are the centers' and HQ's work and show nothing to an outlet.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped


class Base(DeclarativeBase):
    pass


class ServiceRecord(TenantScoped, Base):
    """A completed job (visit.completed): the population the callback quotas are drawn from."""

    __tablename__ = "service_records"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (Index("ix_service_outlet_period", "outlet_id", "period"),)

    visit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str] = mapped_column(String(32))
    outlet_kind: Mapped[str] = mapped_column(String(16))
    technician_id: Mapped[str | None] = mapped_column(String(32))
    product_line: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(16))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    period: Mapped[str] = mapped_column(String(7))
    customer_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    onsite_on_time: Mapped[bool | None] = mapped_column(Boolean)


class TicketInfo(TenantScoped, Base):
    """What QA keeps of intake's tickets: tier (on-time report), serial (recurrence), closure."""

    __tablename__ = "tickets"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(16))
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str | None] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outlet_id: Mapped[str | None] = mapped_column(String(32))


class Callback(TenantScoped, Base):
    """A planned customer callback (回访) and its result."""

    __tablename__ = "callbacks"
    __scope__: dict = {}
    __table_args__ = (
        Index("ix_callback_queue", "tenant_id", "caller", "status", "due_at"),
        Index("ix_callback_stratum", "outlet_id", "period", "purpose", "stratum"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_key: Mapped[str] = mapped_column(String(96), unique=True)  # one callback per reason to call
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    visit_id: Mapped[str | None] = mapped_column(String(32))
    outlet_id: Mapped[str | None] = mapped_column(String(32))
    purpose: Mapped[str] = mapped_column(String(16))
    stratum: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    caller: Mapped[str] = mapped_column(String(16))  # the center that calls, or HQ
    period: Mapped[str] = mapped_column(String(7))
    service_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sample_key: Mapped[str | None] = mapped_column(String(16))  # the hash prefix that ranked it
    parent_id: Mapped[str | None] = mapped_column(String(32))  # a follow-up's negative callback
    status: Mapped[str] = mapped_column(String(16), default="planned")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # callback.due told
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_by: Mapped[str | None] = mapped_column(String(64))
    onsite_within_24h: Mapped[bool | None] = mapped_column(Boolean)
    service_delivered: Mapped[bool | None] = mapped_column(Boolean)
    fee_schedule_shown: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    reason_codes: Mapped[list | None] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_outcome: Mapped[str | None] = mapped_column(String(16))
    close_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class Complaint(TenantScoped, Base):
    """A complaint ticket as QA analyses it: cause, responsibility, level, cycle, recurrence."""

    __tablename__ = "complaints"
    __scope__: dict = {}

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str | None] = mapped_column(String(64), index=True)
    fault: Mapped[str | None] = mapped_column(Text)
    outlet_id: Mapped[str | None] = mapped_column(String(32))
    cause: Mapped[str | None] = mapped_column(String(32))
    responsibility: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    classified_by: Mapped[str | None] = mapped_column(String(64))
    classified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recurrence_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recurrence_status: Mapped[str | None] = mapped_column(String(16))  # pending, none, recurred
    recurrence_ticket_id: Mapped[str | None] = mapped_column(String(32))


class ScoreFactRow(TenantScoped, Base):
    """A fact that moves an outlet's scorecard line, with where it came from (traceability)."""

    __tablename__ = "score_facts"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (Index("ix_fact_outlet_period", "outlet_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fact_key: Mapped[str] = mapped_column(String(128), unique=True)  # idempotent recording
    occurrence_key: Mapped[str] = mapped_column(String(128))  # what counts once
    outlet_id: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(96))
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(32))
    recorded_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    void: Mapped[bool] = mapped_column(Boolean, default=False)  # a reclassified complaint


class SlaBreach(TenantScoped, Base):
    __tablename__ = "sla_breaches"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (UniqueConstraint("ticket_id", "sla"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    sla: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outlet_id: Mapped[str | None] = mapped_column(String(32))


class CenterFact(TenantScoped, Base):
    """A fact the regional center answers for, not an outlet: a deadline it owns missed
    (acceptance, phone reply, web forwarding, a complaint's plan and cycle; `domain.deadline_owner`),
    kept for the center's own assessment. Outlets see none of them."""

    __tablename__ = "center_facts"
    __scope__: dict = {}
    __table_args__ = (Index("ix_center_fact_period", "tenant_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fact_key: Mapped[str] = mapped_column(String(128), unique=True)  # idempotent recording
    kind: Mapped[str] = mapped_column(String(32))
    sla: Mapped[str | None] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(7))
    ref: Mapped[str] = mapped_column(String(96))
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    outlet_id: Mapped[str | None] = mapped_column(String(32))  # the ticket's outlet, not charged
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)


class Scorecard(TenantScoped, Base):
    """An outlet's published monthly scorecard (out of 100) with its lines and their facts; a month
    with too few jobs is not rated (未评: `rated` false, no score, stars, grade or rank)."""

    __tablename__ = "scorecards"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (UniqueConstraint("outlet_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32))
    month: Mapped[str] = mapped_column(String(7), index=True)
    rated: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    stars: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(1))
    jobs: Mapped[int] = mapped_column(Integer, default=0)
    lines: Mapped[list] = mapped_column(JSON)
    rank_in_tenant: Mapped[int | None] = mapped_column(Integer)
    rank_nationwide: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(64))


class CenterAssessment(TenantScoped, Base):
    """A regional center's assessment (考核, `assessment`): a month (``period`` YYYY-MM) or a year
    (YYYY, 年终考核), its score on seed 001's table with each line's facts, its KPIs and departments'
    complaint counts, and its rank among the centers. Centers see their own; outlets none."""

    __tablename__ = "center_assessments"
    __scope__: dict = {}
    __table_args__ = (UniqueConstraint("tenant_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # month, year
    rated: Mapped[bool] = mapped_column(Boolean, default=True)
    score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    stars: Mapped[int | None] = mapped_column(Integer)
    grade: Mapped[str | None] = mapped_column(String(1))
    jobs: Mapped[int] = mapped_column(Integer, default=0)
    rank: Mapped[int | None] = mapped_column(Integer)
    lines: Mapped[list] = mapped_column(JSON)
    kpis: Mapped[dict] = mapped_column(JSON)
    departments: Mapped[list] = mapped_column(JSON)
    months: Mapped[dict | None] = mapped_column(JSON)  # a year's months and their scores
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    computed_by: Mapped[str] = mapped_column(String(64))


class ClaimFact(TenantScoped, Base):
    """A settlement fee claim as QA keeps it from `claim.audited` (its latest step): the center's
    benefit indicators (`benefit`) count the claims and fees decided in a month."""

    __tablename__ = "claim_facts"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (Index("ix_claim_facts_tenant_period", "tenant_id", "period"),)

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    period: Mapped[str] = mapped_column(String(7))  # China's month of the latest step
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegionInput(TenantScoped, Base):
    """Seed 003's grading inputs of a region (a regional center's territory), recorded by HQ:
    competition and the company's resources (0-100 each), and the grade computed from them."""

    __tablename__ = "region_inputs"
    __scope__: dict = {}
    __table_args__ = (UniqueConstraint("tenant_id"),)  # the region's current inputs

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    competition: Mapped[int] = mapped_column(Integer)
    resources: Mapped[int] = mapped_column(Integer)
    region_index: Mapped[Decimal] = mapped_column(Numeric(4, 1))  # the mean the grade is read from
    grade: Mapped[str] = mapped_column(String(1))
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(64))
