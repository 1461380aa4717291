"""Notify's table: every notice to a person, with its delivery status. A notice belongs to the
tenant of the fact it tells of (TenantScoped: the session scopes reads and checks writes); an
outlet sees its own notices only (``__scope__``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped


class Base(DeclarativeBase):
    pass


class Notice(TenantScoped, Base):
    """One notice (通知) by one channel to one address. (event_id, recipient, channel) is unique,
    so the same fact never gives the same person the same notice twice."""

    __tablename__ = "notices"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", "channel", name="uq_notice_event_recipient_channel"),
        Index("ix_notice_due", "status", "next_attempt_at"),
        Index("ix_notice_inbox", "tenant_id", "audience", "channel", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))
    audience_id: Mapped[str] = mapped_column(String(64))
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    recipient: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(8))
    address: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    # what the notice is about when later facts may tell of it again ("visit:<id>"), and the time
    # it told (the planned arrival): a re-plan is news only when that time moves (domain.replan_kind)
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    about_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Preference(TenantScoped, Base):
    """One portal user's notice preferences (preferences.py): channels per kind, their own e-mail
    and phone, their quiet hours. The row is the user's (``username``); its tenant and outlet are
    the user's, so the session scopes it as it scopes notices (HQ users: tenant ``HQ``)."""

    __tablename__ = "preferences"
    __scope__ = {"outlet": "outlet_id"}

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    outlet_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    quiet_hours: Mapped[str | None] = mapped_column(String(16))
    channels: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
