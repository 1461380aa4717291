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
    # the archive's customer (客户档案) and product (产品档案) the request was linked to (archive.py)
    customer_record_id: Mapped[str | None] = mapped_column(String(32), index=True)
    product_id: Mapped[str | None] = mapped_column(String(32), index=True)
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

    owner_user: Mapped[str] = mapped_column(String(64))  # 首问负责制: whoever took it first (hand_over moves it)
    # complaint handling (complaints.py): the responsibility decided in the case (seed 002: own, other
    # department, grey zone awaiting HQ's ruling), who decided and when, HQ's ruling of a grey zone
    responsibility: Mapped[str | None] = mapped_column(String(32))
    responsibility_by: Mapped[str | None] = mapped_column(String(64))
    responsibility_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grey_zone_ruled_by: Mapped[str | None] = mapped_column(String(64))
    grey_zone_ruled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # a major quality or safety issue escalated to the tenant's named managers (seeds 001, 004): the
    # level reached (index in COMPLAINT_ESCALATION), its manager's user, until when they must acknowledge
    escalation_level: Mapped[int | None] = mapped_column(Integer)
    escalation_manager: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalation_ack_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    escalation_acked_by: Mapped[str | None] = mapped_column(String(64))
    escalation_acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the countermeasure against recurrence (防止再发生对策) and when to check the defect has not recurred
    countermeasure: Mapped[str | None] = mapped_column(Text)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
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
    # when the watchdog warned it was at risk (sla.at_risk, once: sla_watch.at_risk)
    at_risk_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
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


class Customer(TenantScoped, Base):
    """A customer of a center (客户信息卡 / 客户档案, seed 001): identity across channels and tickets,
    contacts, addresses, consent to be contacted; flagged when it may duplicate another (archive.py)."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    company: Mapped[str | None] = mapped_column(String(128))
    phones: Mapped[list] = mapped_column(JSON, default=list)
    email: Mapped[str | None] = mapped_column(String(128))
    addresses: Mapped[list] = mapped_column(JSON, default=list)
    external_ids: Mapped[list] = mapped_column(JSON, default=list)
    consent_to_contact: Mapped[bool | None] = mapped_column(Boolean)
    # possible duplicates, for a person to decide (SQL NULL when none, so it can be filtered)
    duplicate_of: Mapped[list | None] = mapped_column(JSON(none_as_null=True))
    duplicate_reason: Mapped[str | None] = mapped_column(String(128))
    # who decided a flagged customer is no duplicate (kept apart), and when
    duplicate_decided_by: Mapped[str | None] = mapped_column(String(64))
    duplicate_decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(String(32))
    merged_by: Mapped[str | None] = mapped_column(String(64))
    merged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_on: Mapped[date] = mapped_column(Date, index=True)  # last reviewed (每年更新一次)


class CustomerKey(TenantScoped, Base):
    """What identifies a customer exactly: an unmasked phone or an external id (matched per tenant)."""

    __tablename__ = "customer_keys"
    __table_args__ = (Index("ix_customer_key_lookup", "tenant_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # phone | external_id
    value: Mapped[str] = mapped_column(String(64))


class InstalledProduct(TenantScoped, Base):
    """A machine a customer has (产品档案): known by its serial (出厂编号)."""

    __tablename__ = "installed_products"
    __table_args__ = (Index("ix_product_serial", "tenant_id", "serial_no"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str] = mapped_column(String(64))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    installed_on: Mapped[date | None] = mapped_column(Date)
    warranty_until: Mapped[date | None] = mapped_column(Date)
    installed_by_outlet_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
