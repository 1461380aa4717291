"""Dispatch's reads that are more than a lookup, run on the caller's session (so scoped to its
principal like every ORM statement: shared.db)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, not_, or_, select

from services.dispatch.domain import LATE_RISK_HOURS, OPEN_VISIT, VisitStatus
from services.dispatch.models import OutletState, PlanRun, Technician, Visit

BOARD_FILTERS = ("status", "outlet_id", "technician_id", "ticket_id")


def late_risk(now: datetime):
    """`domain.late_risk` as a SQL condition on visits (never NULL, so it can be negated)."""
    soon = now + timedelta(hours=LATE_RISK_HOURS)
    return or_(
        and_(
            Visit.status.in_((VisitStatus.UNPLANNED, VisitStatus.UNASSIGNABLE)),
            Visit.onsite_due.is_not(None),
            Visit.onsite_due < soon,
        ),
        and_(
            Visit.status == VisitStatus.SCHEDULED,
            Visit.onsite_due.is_not(None),
            Visit.planned_arrival.is_not(None),
            Visit.planned_arrival > Visit.onsite_due,
        ),
    )


def at_risk_by_tenant(session, now: datetime) -> dict[str, int]:
    """Per tenant: open visits at risk of missing their on-site due time (`late_risk`)."""
    rows = session.execute(select(Visit.tenant_id, func.count()).where(late_risk(now)).group_by(Visit.tenant_id)).all()
    return {tenant: int(n) for tenant, n in rows}


@dataclass
class BoardPage:
    visits: list  # the page, by on-site due time
    total: int  # visits matching the filters
    by_status: dict  # of those, how many in each status
    late_risk: int  # of those, how many at risk of being late


def board(session, filters: dict, now: datetime, limit: int, offset: int) -> BoardPage:
    """The dispatch board: visits matching `filters` (BOARD_FILTERS by equality, `late_risk`
    true/false), ordered by on-site due time, one page of them and the counts over all."""
    where = [getattr(Visit, key) == filters[key] for key in BOARD_FILTERS if filters.get(key)]
    risk = late_risk(now)
    if filters.get("late_risk") is not None:
        where.append(risk if filters["late_risk"] else not_(risk))
    page = session.scalars(
        select(Visit).where(*where).order_by(Visit.onsite_due, Visit.id).limit(limit).offset(offset)
    ).all()
    counts = session.execute(
        select(Visit.status, func.count(), func.sum(case((risk, 1), else_=0)))
        .where(*where)
        .group_by(Visit.status)
        .order_by(Visit.status)
    ).all()
    by_status = {status: int(n) for status, n, _ in counts}
    return BoardPage(page, sum(by_status.values()), by_status, sum(int(r or 0) for _, _, r in counts))


def technician_day(session, technician_id: str, start: datetime, end: datetime) -> list:
    """A technician's visits planned to arrive in [start, end), in the order it reaches them."""
    return session.scalars(
        select(Visit)
        .where(Visit.technician_id == technician_id, Visit.planned_arrival >= start, Visit.planned_arrival < end)
        .order_by(Visit.planned_arrival)
    ).all()


def latest_plan_runs(session, limit: int) -> list:
    return session.scalars(select(PlanRun).order_by(PlanRun.id.desc()).limit(int(limit))).all()


def technicians(session, outlet_id: str | None = None) -> list:
    """The technicians the caller sees (of one outlet when given), by id."""
    stmt = select(Technician).order_by(Technician.id)
    if outlet_id:
        stmt = stmt.where(Technician.outlet_id == outlet_id)
    return list(session.scalars(stmt))


# ---------------------------------------------------------------- what a re-plan reads
def _of(technician_ids) -> list:
    """A condition on visits' technician: any (None), or one of `technician_ids`."""
    return [] if technician_ids is None else [Visit.technician_id.in_(list(technician_ids))]


def visits_started_since(session, tenant: str, since: datetime, technician_ids=None) -> list:
    """The tenant's visits started (or done) since `since`, in the order they started (of these
    technicians only, when given)."""
    return session.scalars(
        select(Visit)
        .where(
            Visit.tenant_id == tenant,
            Visit.status.in_((VisitStatus.STARTED, VisitStatus.COMPLETED)),
            Visit.started_at >= since,
            *_of(technician_ids),
        )
        .order_by(Visit.started_at)
    ).all()


def first_visits_between(session, tenant: str, start: datetime, end: datetime, technician_ids=None) -> dict:
    """{technician id: its first scheduled, not started visit planned to arrive in [start, end)}
    (of these technicians only, when given)."""
    first = {}
    for v in session.scalars(
        select(Visit)
        .where(
            Visit.tenant_id == tenant,
            Visit.status == VisitStatus.SCHEDULED,
            Visit.technician_id.is_not(None),
            Visit.planned_arrival >= start,
            Visit.planned_arrival < end,
            *_of(technician_ids),
        )
        .order_by(Visit.planned_arrival, Visit.route_order)
    ):
        first.setdefault(v.technician_id, v)
    return first


def technician_homes(session, technician_ids) -> dict:
    """{technician id: (home lat, home lon)}."""
    return {
        t.id: (t.home_lat, t.home_lon)
        for t in session.scalars(select(Technician).where(Technician.id.in_(list(technician_ids))))
    }


def outlet_states(session, tenant: str) -> list:
    return list(session.scalars(select(OutletState).where(OutletState.tenant_id == tenant)))


def active_technicians(session, tenant: str) -> list:
    return list(session.scalars(select(Technician).where(Technician.tenant_id == tenant, Technician.active.is_(True))))


def started_by_outlet(session, tenant: str) -> dict:
    """{outlet id: how many of its visits are started (on site now)}."""
    return dict(
        session.execute(
            select(Visit.outlet_id, func.count())
            .where(Visit.tenant_id == tenant, Visit.status == VisitStatus.STARTED)
            .group_by(Visit.outlet_id)
        ).all()
    )


def open_visits(session, tenant: str) -> list:
    """The tenant's visits a re-plan may place: unplanned, scheduled (not started) or unassignable."""
    return list(session.scalars(select(Visit).where(Visit.tenant_id == tenant, Visit.status.in_(OPEN_VISIT))))


def scheduled_for(session, tenant: str, technician_ids) -> list:
    """The tenant's visits scheduled (not started) on these technicians."""
    return list(
        session.scalars(
            select(Visit).where(
                Visit.tenant_id == tenant,
                Visit.status == VisitStatus.SCHEDULED,
                Visit.technician_id.in_(list(technician_ids)),
            )
        )
    )
