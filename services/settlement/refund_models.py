"""The refunds and compensations settlement pays (退赔款; rules in refunds.py), on settlement's metadata."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.settlement.models import Base
from shared.db import TenantScoped


class Refund(TenantScoped, Base):
    """A refund of a returned machine or a complaint's compensation, approved in intake
    (refund.requested), paid by HQ's settlement department (结算部门): settlement.refund_paid."""

    __tablename__ = "refunds"
    __scope__ = {}
    __table_args__ = (Index("ix_refund_tenant_status", "tenant_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # intake's refund_id
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    return_case_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # return | compensation
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # requested | paid
    paid_by: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_ref: Mapped[str | None] = mapped_column(String(64))
