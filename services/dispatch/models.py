"""Dispatch's tables: technicians, outlets' eligibility, visits, plan runs and the planner's state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped


class Base(DeclarativeBase):
    pass


class Technician(TenantScoped, Base):
    """A technician of an outlet (or of the center when outlet_id is empty)."""

    __tablename__ = "technicians"
    __scope__ = {"outlet": "outlet_id"}

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list] = mapped_column(JSON, default=list)  # product lines
    certificates: Mapped[dict] = mapped_column(JSON, default=dict)  # product line -> valid until (ISO date)
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    daily_capacity: Mapped[int] = mapped_column(Integer, default=4)
    shift_start: Mapped[str] = mapped_column(String(5), default="08:30")  # local time
    shift_end: Mapped[str] = mapped_column(String(5), default="18:00")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OutletState(TenantScoped, Base):
    """Whether an outlet may take jobs, as the certification events say."""

    __tablename__ = "outlet_states"
    __scope__ = {"outlet": "outlet_id"}

    outlet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="franchised")
    status: Mapped[str] = mapped_column(String(16))  # effective | probation | suspended | revoking | revoked
    # on probation: the open jobs it may hold at once (None: the PROBATION_MAX_JOBS default)
    job_limit: Mapped[int | None] = mapped_column(Integer)
    # product lines it may not take (too few certified technicians: outlet.line_eligibility)
    blocked_lines: Mapped[list | None] = mapped_column(JSON)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Visit(TenantScoped, Base):
    """An on-site visit for a ticket (上门服务)."""

    __tablename__ = "visits"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (Index("ix_visit_tenant_status", "tenant_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # a ticket may have several visits: the first one, then return visits (返修) after a negative
    # callback; at most one of them is open at a time
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    ticket_number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer)
    product_line: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(32))
    tier: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    onsite_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    window_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    service_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(
        String(16)
    )  # unplanned | scheduled | started | completed | unassignable | cancelled
    unassignable_reason: Mapped[str | None] = mapped_column(String(128))
    technician_id: Mapped[str | None] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    pinned_technician_id: Mapped[str | None] = mapped_column(String(32))
    planned_arrival: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    route_order: Mapped[int | None] = mapped_column(Integer)
    planned_km: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checkin_lat: Mapped[float | None] = mapped_column(Float)
    checkin_lon: Mapped[float | None] = mapped_column(Float)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    work_done: Mapped[str | None] = mapped_column(Text)
    parts_used: Mapped[list | None] = mapped_column(JSON)
    customer_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    # the customer's phone from ticket.registered, only for visit.scheduled (notify's appointment SMS)
    customer_phone: Mapped[str | None] = mapped_column(String(32))
    signed: Mapped[bool | None] = mapped_column(Boolean)  # a VisitSignature row exists
    onsite_on_time: Mapped[bool | None] = mapped_column(Boolean)
    # a return visit: the completed visit it goes back for (None: the ticket's first visit)
    return_of: Mapped[str | None] = mapped_column(String(32))
    # a return visit the outlet asked for (return_visits.requested_return_visit): its reason and
    # who asked (None: one after a negative callback, or no return visit)
    return_reason: Mapped[str | None] = mapped_column(String(500))
    return_requested_by: Mapped[str | None] = mapped_column(String(64))
    # the plan run that last placed it (scheduled or unassignable)
    plan_run_id: Mapped[int | None] = mapped_column(Integer)
    # the dispatcher's word: the outlet the center assigned (intake's assign_outlet: only its
    # technicians take the visit), the arrival confirmed to the customer (re-plans keep it within
    # domain.APPOINTMENT_SLACK_MINUTES unless a re-plan with a reason moves it), and why the
    # planner cannot keep such a constraint or a pin (None: kept)
    required_outlet_id: Mapped[str | None] = mapped_column(String(32))
    appointment_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    constraint_unmet: Mapped[str | None] = mapped_column(String(255))
    # a confirmed appointment a re-plan with a reason moved: the time the customer had been told
    # and the re-plan's reason (cleared when the new arrival is confirmed), shown on the board
    appointment_moved_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    appointment_moved_reason: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}


class OutletAssignment(TenantScoped, Base):
    """The center's assign_outlet for a ticket (intake's ticket.outlet_assigned), kept so that a
    visit opened after the event arrived (events of two types may come in either order) still
    gets its outlet as a constraint: the fact is never lost for want of a visit."""

    __tablename__ = "outlet_assignments"

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(32))
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VisitSignature(TenantScoped, Base):
    """The customer's signature drawn on screen at a visit's check-out: a PNG (checked by
    `signatures.decode`), kept beside the visit rather than in it, so the board never loads it."""

    __tablename__ = "visit_signatures"
    __scope__ = {"outlet": "outlet_id"}

    visit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32), index=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PlanRun(TenantScoped, Base):
    """One re-optimisation of a tenant's plan, with what it cost and found."""

    __tablename__ = "plan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seconds: Mapped[float] = mapped_column(Float)
    visits: Mapped[int] = mapped_column(Integer)
    vehicles: Mapped[int] = mapped_column(Integer)
    scheduled: Mapped[int] = mapped_column(Integer)
    dropped: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)
    planned_km: Mapped[float] = mapped_column(Float)
    trigger: Mapped[str] = mapped_column(String(32))
    # when the plan was written (started_at: when its solve began), and by which replica
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(String(128))
    # a dispatcher's re-plan that may move visits whose appointment was confirmed: why, and how
    # many it moved (None: a re-plan that kept every confirmed appointment)
    reason: Mapped[str | None] = mapped_column(String(500))
    moved_confirmed: Mapped[int | None] = mapped_column(Integer)


class PlanRequest(Base):
    """The planner's state of a tenant, kept in the database so that any replica can act on it:
    a change waits for a re-plan since `requested_at` (set in the transaction of the change; NULL:
    nothing waiting), a re-plan under way since `planning_since` (by `planning_holder`; left set
    by a replica that died while planning, so another one plans again), the last re-plan ended
    at `last_planned_at` (the periodic re-plan counts from it). Times are the wall clock's, not
    the product clock's."""

    __tablename__ = "plan_requests"

    tenant_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planning_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    planning_holder: Mapped[str | None] = mapped_column(String(128))
    last_planned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
