"""Certification's tables. Outlet data belongs to a tenant (TenantScoped); an outlet principal
sees its own outlet's rows only. Repair rates per model are reference data of HQ (not scoped)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped


class Base(DeclarativeBase):
    pass


class Outlet(TenantScoped, Base):
    """An authorised outlet (特约网点) and its file (网点档案): registration form, agreement,
    probation, grade, revocation and clearing."""

    __tablename__ = "outlets"
    __scope__ = {"outlet": "id"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="franchised")
    status: Mapped[str] = mapped_column(String(32), index=True)
    resume_status: Mapped[str | None] = mapped_column(String(32))  # before a suspension / revocation form
    grade: Mapped[str | None] = mapped_column(String(1))
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(256))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    legal_entity: Mapped[str | None] = mapped_column(String(128))
    licence_no: Mapped[str | None] = mapped_column(String(32))
    bank_account: Mapped[dict | None] = mapped_column(JSON)
    registration: Mapped[dict | None] = mapped_column(JSON)  # the whole registration form (网点情况登记表)
    product_lines: Mapped[list | None] = mapped_column(JSON)
    inspection: Mapped[dict | None] = mapped_column(JSON)  # the center's site inspection
    agreement: Mapped[dict | None] = mapped_column(JSON)  # number, valid_from, valid_to, terms
    job_limit: Mapped[int | None] = mapped_column(Integer)
    probation_until: Mapped[date | None] = mapped_column(Date)
    revocation: Mapped[dict | None] = mapped_column(JSON)  # the revocation form
    clearing_request_id: Mapped[str | None] = mapped_column(String(32))
    clearing_status: Mapped[str | None] = mapped_column(String(16))  # pending | open_items | cleared
    open_items: Mapped[list | None] = mapped_column(JSON)
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)
    applied_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class OutletStep(TenantScoped, Base):
    """Who did which step, when, why, with which attachments (the lifecycle's audit trail)."""

    __tablename__ = "outlet_steps"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(40))
    choice: Mapped[str | None] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    duty: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list | None] = mapped_column(JSON)
    data: Mapped[dict | None] = mapped_column(JSON)


class Assessment(TenantScoped, Base):
    """An assessment record (考核记录): the probation assessment, or a later one."""

    __tablename__ = "assessments"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    findings: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GradeRecord(TenantScoped, Base):
    """Grade history (网点分类): A/B/C per month from QA's scorecard, or as seeded."""

    __tablename__ = "grade_records"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32), index=True)
    month: Mapped[str | None] = mapped_column(String(7))
    grade: Mapped[str] = mapped_column(String(1))
    previous_grade: Mapped[str | None] = mapped_column(String(1))
    score: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MonthlyCount(TenantScoped, Base):
    """Monthly install and repair counts of an outlet (月度安装、维修量), from visit.completed."""

    __tablename__ = "monthly_counts"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (UniqueConstraint("outlet_id", "month", name="uq_monthly_count"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32), index=True)
    month: Mapped[str] = mapped_column(String(7))
    installs: Mapped[int] = mapped_column(Integer, default=0)
    repairs: Mapped[int] = mapped_column(Integer, default=0)
    others: Mapped[int] = mapped_column(Integer, default=0)


class Notice(TenantScoped, Base):
    """A notice to the outlet (通知被撤销网点), kept on its file."""

    __tablename__ = "notices"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outlet_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Technician(TenantScoped, Base):
    """A technician of an outlet (or of the center itself) in the qualification register."""

    __tablename__ = "technicians"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Certificate(TenantScoped, Base):
    """A technician's certificate for one product line: valid 2 years from the passed exam."""

    __tablename__ = "certificates"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (Index("ix_cert_status_until", "status", "valid_until"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    technician_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    product_line: Mapped[str] = mapped_column(String(64))
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # valid | expired | revoked | superseded
    exam_id: Mapped[str | None] = mapped_column(String(32))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminded_days: Mapped[int | None] = mapped_column(Integer)  # the nearest threshold reminded (expiry)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)


class TrainingPlan(TenantScoped, Base):
    """A training plan (培训计划) of a center for one product line and year (seed 003: annual,
    regional, new-product and special plans; seed 001: 3–4 classes a year). An HQ-wide plan is one
    row per center sharing `group_id` (HQ organises, each center's people attend)."""

    __tablename__ = "training_plans"
    __scope__ = {}
    __table_args__ = (Index("ix_training_plan_line_year", "product_line", "year"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32), index=True)
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # annual | regional | new_product | special
    organiser: Mapped[str] = mapped_column(String(16))  # hq | center
    product_line: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    launch_on: Mapped[date | None] = mapped_column(Date)  # a new product's market launch
    sessions: Mapped[list] = mapped_column(JSON)  # planned: [{title, planned_on, location}]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TrainingSession(TenantScoped, Base):
    """A training session (技术培训) for one product line; `plan_id` names the plan it was held
    under (none: an unplanned session, seed 001's 不定期培训)."""

    __tablename__ = "training_sessions"
    __scope__ = {}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_id: Mapped[str | None] = mapped_column(String(32), index=True)
    product_line: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    held_on: Mapped[date] = mapped_column(Date)
    trainer: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(128))
    attendees: Mapped[list | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))


class ExamResult(TenantScoped, Base):
    """An exam result of a technician for a product line; a pass issues a certificate."""

    __tablename__ = "exam_results"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    technician_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    product_line: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    pass_mark: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    passed: Mapped[bool] = mapped_column(Boolean)
    taken_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LineStatus(TenantScoped, Base):
    """Whether an outlet has its minimum of certified technicians for a product line."""

    __tablename__ = "line_status"
    __scope__ = {"outlet": "outlet_id"}

    outlet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_line: Mapped[str] = mapped_column(String(64), primary_key=True)
    eligible: Mapped[bool] = mapped_column(Boolean)
    certified: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class InstalledBase(TenantScoped, Base):
    """Installed units (社会保有量) and next year's planned sales per district and model."""

    __tablename__ = "installed_base"
    __scope__ = {}
    __table_args__ = (UniqueConstraint("tenant_id", "city", "district", "model", name="uq_installed_base"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    province: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(32))
    product_line: Mapped[str] = mapped_column(String(64))
    installed: Mapped[int] = mapped_column(Integer)
    planned_sales: Mapped[int] = mapped_column(Integer, default=0)


class RepairRate(Base):
    """Yearly repairs per installed unit of a model (维修率), from design and quality (HQ data)."""

    __tablename__ = "repair_rates"

    model: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_line: Mapped[str] = mapped_column(String(64))
    rate: Mapped[Decimal] = mapped_column(Numeric(8, 4))
