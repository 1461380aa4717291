"""What certification does to its training tables: plans, the sessions held under them, and the
training an exam rests on. The rules are `training`'s; this module reads the rows they need and
writes what they decide, inside the caller's unit of work (and tenancy)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from services.certification import training
from services.certification.models import Technician, TrainingPlan, TrainingSession
from shared import tenancy
from shared.db import within_tenant
from shared.errors import Conflict, ValidationFailed


def _draft(data: dict, tenant: str | None) -> training.PlanDraft:
    return training.PlanDraft(
        year=data["year"],
        kind=data["kind"],
        product_line=data["product_line"],
        sessions=tuple(
            training.PlannedSession(s["title"], s["planned_on"], s.get("location")) for s in data["sessions"]
        ),
        tenant_id=tenant,
        launch_on=data.get("launch_on"),
    )


def create_plan(session, data: dict, principal, tenants: list[str], now: datetime) -> tuple[list, list[str]]:
    """A plan for one center, or (HQ, no tenant) the same plan for every center in `tenants`;
    one plan per center, year, line and kind. Returns (plans, warnings)."""
    tenant = data.get("tenant_id")
    warnings = training.check_plan(_draft(data, tenant), principal.role)
    targets = [tenant] if tenant is not None else list(tenants)
    group = uuid.uuid4().hex
    plans = []
    for center in targets:
        with within_tenant(session, center):  # each center's plan read and written as that center's
            plans.append(_add_plan(session, data, principal, center, group, now))
    return plans, warnings


def _add_plan(session, data: dict, principal, center: str, group: str, now: datetime) -> TrainingPlan:
    taken = session.scalar(
        select(TrainingPlan.id).where(
            TrainingPlan.year == data["year"],
            TrainingPlan.product_line == data["product_line"],
            TrainingPlan.kind == data["kind"],
        )
    )
    if taken is not None and data["kind"] != "special":
        raise Conflict(
            "the center has this plan already",
            {"product_line": [f"{center} has a {data['kind']} {data['product_line']} plan for {data['year']}"]},
        )
    plan = TrainingPlan(
        id=uuid.uuid4().hex,
        tenant_id=center,
        group_id=group,
        year=data["year"],
        kind=data["kind"],
        organiser="hq" if principal.role == tenancy.HQ else "center",
        product_line=data["product_line"],
        title=data["title"],
        launch_on=data.get("launch_on"),
        sessions=[
            {"title": s["title"], "planned_on": s["planned_on"].isoformat(), "location": s.get("location")}
            for s in sorted(data["sessions"], key=lambda s: s["planned_on"])
        ],
        created_by=principal.user,
        created_at=now,
    )
    session.add(plan)
    session.flush()
    return plan


def plan_sessions(session, plan: TrainingPlan) -> list[TrainingSession]:
    return list(
        session.scalars(
            select(TrainingSession)
            .where(TrainingSession.plan_id == plan.id)
            .order_by(TrainingSession.held_on, TrainingSession.id)
        )
    )


def planned(plan: TrainingPlan) -> list[training.PlannedSession]:
    return [
        training.PlannedSession(s["title"], date.fromisoformat(s["planned_on"]), s.get("location"))
        for s in plan.sessions or ()
    ]


def plan_out(session, plan: TrainingPlan, today: date) -> dict[str, Any]:
    held = plan_sessions(session, plan)
    return {
        "id": plan.id,
        "group_id": plan.group_id,
        "tenant_id": plan.tenant_id,
        "year": plan.year,
        "kind": plan.kind,
        "kind_name": training.KIND_NAMES.get(plan.kind, plan.kind),
        "organiser": plan.organiser,
        "product_line": plan.product_line,
        "title": plan.title,
        "launch_on": plan.launch_on,
        "planned_sessions": [
            {"title": s.title, "planned_on": s.planned_on, "location": s.location} for s in planned(plan)
        ],
        "sessions": [
            {
                "id": t.id,
                "title": t.title,
                "held_on": t.held_on,
                "trainer": t.trainer,
                "location": t.location,
                "attendees": list(t.attendees or ()),
            }
            for t in held
        ],
        "progress": training.progress(planned(plan), [t.held_on for t in held], today),
        "created_by": plan.created_by,
    }


def list_plans(session, query: dict, today: date) -> dict[str, Any]:
    """The plans the caller sees (a center: its own; HQ: all, or one center's through within_tenant),
    with each center-year's warnings where a line's regular sessions are not the seed's 3–4."""

    def read() -> list[TrainingPlan]:
        stmt = select(TrainingPlan).order_by(TrainingPlan.year, TrainingPlan.product_line, TrainingPlan.tenant_id)
        if query.get("year") is not None:
            stmt = stmt.where(TrainingPlan.year == query["year"])
        if query.get("product_line"):
            stmt = stmt.where(TrainingPlan.product_line == query["product_line"])
        return list(session.scalars(stmt))

    if query.get("tenant_id"):
        with within_tenant(session, query["tenant_id"]):
            plans = read()
            items = [plan_out(session, p, today) for p in plans]
    else:
        plans = read()
        items = [plan_out(session, p, today) for p in plans]
    regular: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for p in plans:
        entry = regular.setdefault((p.tenant_id, p.year), [])
        if p.kind in ("annual", "regional"):
            entry.append((p.product_line, len(p.sessions or ())))
    warnings = [
        f"{tenant} {text}"
        for (tenant, year), lines in sorted(regular.items())
        for text in training.year_warnings(year, lines, {line for line, _ in lines})
    ]
    return {"items": items, "total": len(items), "warnings": warnings}


def check_session_plan(session, data: dict) -> TrainingPlan | None:
    """The plan a session is recorded under (None: an unplanned session); 422 if it does not fit."""
    if not data.get("plan_id"):
        return None
    plan = session.get(TrainingPlan, data["plan_id"])
    if plan is None:
        raise ValidationFailed("unknown training plan", {"plan_id": ["no such plan"]})
    errors = training.session_fits_plan(plan.product_line, plan.year, data["product_line"], data["held_on"])
    if errors:
        raise ValidationFailed("the session does not fit its plan", errors)
    return plan


def _held(t: TrainingSession) -> training.HeldSession:
    return training.HeldSession(t.id, t.product_line, t.held_on, t.plan_id, tuple(t.attendees or ()))


def exam_session(session, data: dict, tech: Technician, taken_on: date, mode: str) -> str | None:
    """The training session the exam rests on (training.session_for_exam), read inside the
    technician's center."""
    with within_tenant(session, tech.tenant_id):
        plan_ids = list(
            session.scalars(
                select(TrainingPlan.id).where(
                    TrainingPlan.product_line == data["product_line"], TrainingPlan.year == taken_on.year
                )
            )
        )
        named_id = data.get("session_id")
        named_row = session.get(TrainingSession, named_id) if named_id else None
        if named_row is not None and named_row.tenant_id != tech.tenant_id:
            named_row = None
        attended = [
            _held(t)
            for t in session.scalars(
                select(TrainingSession).where(
                    TrainingSession.product_line == data["product_line"], TrainingSession.held_on <= taken_on
                )
            )
        ]
    return training.session_for_exam(
        tech.id,
        data["product_line"],
        taken_on,
        _held(named_row) if named_row is not None else None,
        named_id,
        attended,
        plan_ids,
        mode,
    )
