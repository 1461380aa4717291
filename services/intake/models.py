"""Intake's tables. Every row belongs to a tenant (TenantScoped): the session scopes reads and checks writes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import TenantScoped


class Base(DeclarativeBase):
    pass


class Ticket(TenantScoped, Base):
    """A customer's request: repair, install, maintenance, complaint or consultation (客户服务工作单)."""

    __tablename__ = "tickets"
    __scope__ = {"outlet": "assigned_outlet_id", "customer": "customer_id"}
    __table_args__ = (
        UniqueConstraint("channel", "external_ref", name="uq_ticket_external_ref"),
        Index("ix_ticket_tenant_status", "tenant_id", "status"),
        Index("ix_ticket_tenant_received", "tenant_id", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    external_ref: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # the status a released visit returns the ticket to: what it was when visit.scheduled came
    status_before_scheduled: Mapped[str | None] = mapped_column(String(16))
    case_state: Mapped[str | None] = mapped_column(String(32))
    complaint_category: Mapped[str | None] = mapped_column(String(32))  # 投诉类别 (shared.events)
    priority: Mapped[int] = mapped_column(Integer)
    escalation: Mapped[str | None] = mapped_column(String(32))

    customer_id: Mapped[str] = mapped_column(String(32), index=True)
    customer_name: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(256))
    postcode: Mapped[str | None] = mapped_column(String(8))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    adcode: Mapped[str | None] = mapped_column(String(6))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    geo_precision: Mapped[str | None] = mapped_column(String(16))
    geo_ambiguous: Mapped[bool] = mapped_column(Boolean, default=False)
    triage_reason: Mapped[str | None] = mapped_column(String(64))
    tier: Mapped[str | None] = mapped_column(String(16))

    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str | None] = mapped_column(String(64), index=True)
    purchase_date: Mapped[date | None] = mapped_column(Date)
    fault: Mapped[str | None] = mapped_column(Text)
    wished_visit_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    warranty: Mapped[str] = mapped_column(String(16))
    warranty_remedy: Mapped[str | None] = mapped_column(String(16))
    warranty_reason: Mapped[str | None] = mapped_column(String(128))

    # how it was served, as the ledger (服务信息台帐) says: 服务方式 (ledger_cells.SERVICE_MODES), the
    # check-out's 服务内容 and 服务人员, and the latest callback's answers (回访记录)
    service_mode: Mapped[str | None] = mapped_column(String(16))
    work_done: Mapped[str | None] = mapped_column(Text)
    technician_name: Mapped[str | None] = mapped_column(String(64))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_satisfaction: Mapped[int | None] = mapped_column(Integer)
    callback_negative: Mapped[bool | None] = mapped_column(Boolean)
    callback_comment: Mapped[str | None] = mapped_column(Text)

    owner_user: Mapped[str] = mapped_column(String(64))  # 首问负责制: whoever took it first
    assigned_outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onsite_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    deadlines: Mapped[list[SlaDeadline]] = relationship(
        back_populates="ticket", lazy="selectin", order_by="SlaDeadline.due_at"
    )
    __mapper_args__ = {"version_id_col": version}


class SlaDeadline(TenantScoped, Base):
    """One commitment of a ticket with its due time and whether and when it was met."""

    __tablename__ = "sla_deadlines"
    __scope__ = {"outlet": "assigned_outlet_id", "customer": "customer_id"}
    __table_args__ = (UniqueConstraint("ticket_id", "sla"), Index("ix_sla_open", "met_at", "breached_at", "due_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    sla: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    met_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # copies of the ticket's scope columns, so outlets and customers see their own deadlines only
    assigned_outlet_id: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(32))

    ticket: Mapped[Ticket] = relationship(back_populates="deadlines")


class AuditEntry(TenantScoped, Base):
    """Who did what to a ticket, when, and why (件件有记录)."""

    __tablename__ = "audit_entries"
    __scope__ = {"outlet": "assigned_outlet_id", "customer": "customer_id"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    assigned_outlet_id: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(32))

    ticket: Mapped[Ticket] = relationship()
