"""The reports QA generated and keeps (issue 18.5): each center's monthly report, HQ's roll-up of the
month and the quarterly satisfaction reports, with their content (JSON) and files (PDF, XLSX), one
per scope, kind and period (the schedule's step is idempotent). A center sees its own reports; the
roll-ups and the country's quarterly report belong to ``tenant_id = "HQ"``, which only HQ (all
tenants) sees.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.qa.models import Base
from shared.db import TenantScoped


class StoredReport(TenantScoped, Base):
    __tablename__ = "stored_reports"
    __scope__: dict = {}
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # monthly, quarterly
    period: Mapped[str] = mapped_column(String(8), index=True)  # YYYY-MM, YYYY-Qn
    title: Mapped[str] = mapped_column(String(128))
    content: Mapped[dict] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    generated_by: Mapped[str] = mapped_column(String(64))


class ReportJob(TenantScoped, Base):
    """HQ's request to make a month's stored reports (``POST /api/v1/reports/generate``), run in the
    background by qa's ``report_jobs`` timer (`services.qa.report_jobs`): pending, running, done
    or failed, with its progress (``done`` of ``total`` reports; ``made``: those newly stored).
    Owned by ``tenant_id = "HQ"``, so only HQ (all tenants) sees it.

    ``kind`` ``rollup``: HQ's on-demand roll-up of a month (``GET /api/v1/reports/monthly``,
    全国汇总), made in the background as well (collecting every center's figures takes longer
    than an RPC may wait); ``done`` of ``total`` counts the centers read, and the made roll-up
    is kept on the row (``content``, ``pdf``, ``xlsx``) for its download."""

    __tablename__ = "report_jobs"
    __scope__: dict = {}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(8), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="store", server_default="store")  # store, rollup
    quarter: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    made: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    content: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # a roll-up's, once made
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    xlsx: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
