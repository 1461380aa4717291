"""The return and exchange case's table (退换机; rules in returns.py), on intake's metadata."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.intake.models import Base
from shared.db import TenantScoped


class ReturnCase(TenantScoped, Base):
    """A return (15 天包退) or exchange (30 天包换) of a machine (退换机, seed 003; rules in returns.py):
        requested, inspected, decided, the machine back in the warehouse, refunded or (the replacement
        asked of parts, perhaps waiting for stock) replaced, closed; or, the replacement awaiting stock
    cancelled, refunded instead or withdrawn."""

    __tablename__ = "return_cases"
    __table_args__ = (Index("ix_return_case_tenant_step", "tenant_id", "step"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # return | exchange
    step: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(64))
    serial_no: Mapped[str] = mapped_column(String(64))
    purchase_date: Mapped[date] = mapped_column(Date)
    installed_on: Mapped[date | None] = mapped_column(Date)
    days: Mapped[int] = mapped_column(Integer)  # since purchase (or installation) to the request
    counted_from: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    quality_fault: Mapped[bool | None] = mapped_column(Boolean)
    finding: Mapped[str | None] = mapped_column(Text)
    inspected_by: Mapped[str | None] = mapped_column(String(64))
    inspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    refund_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    received_by: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    refund_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    refund_paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replacement_serial: Mapped[str | None] = mapped_column(String(64))  # wanted, then the unit parts sent
    replacement_requested_by: Mapped[str | None] = mapped_column(String(64))
    replacement_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    awaiting_stock_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # parts said short
    replaced_by: Mapped[str | None] = mapped_column(String(64))
    replaced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replacement_cancelled_by: Mapped[str | None] = mapped_column(String(64))
    replacement_cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    replacement_cancel_reason: Mapped[str | None] = mapped_column(Text)
    replacement_cancel_outcome: Mapped[str | None] = mapped_column(String(16))  # refund | withdraw
    closed_by: Mapped[str | None] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
