"""QA's reads that are more than a lookup: the callback work list and overdue counts, the
complaints an analysis covers, what a scorecard is computed from, and the report figures.

Each function takes the unit of work's session, which is scoped to the caller (an unfiltered
query still returns only the caller's rows), and returns plain rows. The report figures are
counted by the database (GROUP BY over a WHERE on the month range), not row by row in Python.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from services.qa import complaint_rules, domain, sampling, scorecard
from services.qa.models import (
    Callback,
    CenterFact,
    Complaint,
    Scorecard,
    ScoreFactRow,
    ServiceRecord,
    SlaBreach,
    TicketInfo,
)
from shared.clock import LOCAL_TZ, as_utc


class local_month(FunctionElement):
    """``YYYY-MM`` of a UTC timestamp column in local time (`shared.clock.LOCAL_TZ`)."""

    type = String()
    name = "local_month"
    inherit_cache = True


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw):
    return f"to_char(timezone('{LOCAL_TZ.key}', {compiler.process(element.clauses, **kw)}), 'YYYY-MM')"


@compiles(local_month, "sqlite")
def _local_month_sqlite(element, compiler, **kw):
    # SQLite keeps UTC wall times; China's offset has been +8 all year since 1991 (no DST)
    hours = int(datetime(2000, 1, 1, tzinfo=LOCAL_TZ).utcoffset().total_seconds() // 3600)
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, '{hours:+d} hours')"


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0)).cast(Integer)


def _in_period(stmt, column, month=None, since=None):
    """A ``YYYY-MM`` period column in the asked month (or from `since` on)."""
    if month:
        return stmt.where(column == month)
    if since:
        return stmt.where(column >= since)
    return stmt


def _of_tenant(stmt, column, tenant_id):
    return stmt.where(column == tenant_id) if tenant_id else stmt


# ---------------------------------------------------------------- the callback agent's lists
def work_list(session, *, caller, status, purpose, tenant_id, overdue, now, limit, offset):
    """One page of callbacks (due first) and how many there are in all."""
    stmt = select(Callback)
    if caller:
        stmt = stmt.where(Callback.caller == caller)
    if status != "all":
        stmt = stmt.where(Callback.status == status)
    if purpose:
        stmt = stmt.where(Callback.purpose == purpose)
    stmt = _of_tenant(stmt, Callback.tenant_id, tenant_id)
    if overdue is True:
        stmt = stmt.where(Callback.status == "planned", Callback.due_at < now)
    elif overdue is False:
        stmt = stmt.where(Callback.due_at >= now)
    total = session.scalar(stmt.with_only_columns(func.count(Callback.id)))
    rows = session.scalars(stmt.order_by(Callback.due_at, Callback.id).limit(limit).offset(offset)).all()
    return total, rows


def overdue_counts(session, *, caller, now) -> list[tuple[str, str, int]]:
    """(tenant, caller, planned callbacks past due)."""
    stmt = select(Callback.tenant_id, Callback.caller, func.count(Callback.id)).where(
        Callback.status == "planned", Callback.due_at < now
    )
    if caller:
        stmt = stmt.where(Callback.caller == caller)
    return [tuple(row) for row in session.execute(stmt.group_by(Callback.tenant_id, Callback.caller)).all()]


def open_counts(session, *, now) -> dict[str, tuple[int, int]]:
    """Per tenant: (callbacks still open, of those past due), every caller's."""
    overdue = func.sum(case((Callback.due_at < now, 1), else_=0))
    stmt = (
        select(Callback.tenant_id, func.count(Callback.id), overdue)
        .where(Callback.status.in_(domain.OPEN))
        .group_by(Callback.tenant_id)
    )
    return {tenant: (int(n), int(late or 0)) for tenant, n, late in session.execute(stmt).all()}


# ---------------------------------------------------------------- sampling (services.qa.sampling)
def _covered(stmt, stratum: str):
    """The service records a sampler covers: its own kind of outlet (HQ's: every outlet)."""
    if stratum == sampling.SELF_RUN:
        return stmt.where(ServiceRecord.outlet_kind == sampling.SELF_RUN)
    if stratum == sampling.FRANCHISED:
        return stmt.where(ServiceRecord.outlet_kind != sampling.SELF_RUN)
    return stmt


def sampler_jobs(session, stratum: str, period: str) -> dict[str, list[str]]:
    """{outlet: its completed jobs of the period} in a sampler's population."""
    stmt = _covered(select(ServiceRecord.outlet_id, ServiceRecord.visit_id), stratum)
    out: dict[str, list[str]] = {}
    for outlet_id, visit_id in session.execute(stmt.where(ServiceRecord.period == period)).all():
        out.setdefault(outlet_id, []).append(visit_id)
    return out


def sampler_selected(session, stratum: str, period: str) -> list[tuple[str, str]]:
    """(outlet, job) a sampler has planned a service callback for in the period."""
    stmt = select(Callback.outlet_id, Callback.visit_id).where(
        Callback.period == period, Callback.purpose == "service", Callback.stratum == stratum
    )
    return [tuple(row) for row in session.execute(stmt).all()]


def sampler_history(session, stratum: str, periods: list[str]) -> list[tuple[str, int, int]]:
    """(outlet, jobs, selected) of a sampler over earlier periods: what `sampling.carry` counts."""
    jobs = session.execute(
        _covered(select(ServiceRecord.outlet_id, func.count(ServiceRecord.visit_id)), stratum)
        .where(ServiceRecord.period.in_(periods))
        .group_by(ServiceRecord.outlet_id)
    ).all()
    chosen = dict(
        session.execute(
            select(Callback.outlet_id, func.count(Callback.id))
            .where(Callback.period.in_(periods), Callback.purpose == "service", Callback.stratum == stratum)
            .group_by(Callback.outlet_id)
        ).all()
    )
    return [(outlet_id, int(n), int(chosen.get(outlet_id, 0))) for outlet_id, n in jobs]


def care_selected(session, month: str) -> list[tuple[str, str]]:
    """(outlet, ticket) on a month's care-call list."""
    stmt = select(Callback.outlet_id, Callback.ticket_id).where(Callback.purpose == "care", Callback.period == month)
    return [tuple(row) for row in session.execute(stmt).all()]


def care_history(session, periods: list[str]) -> list[tuple[str, int, int]]:
    """(outlet, customers served, care calls listed) over earlier months, per outlet and month."""
    served = session.execute(
        select(ServiceRecord.outlet_id, func.count(func.distinct(ServiceRecord.ticket_id)))
        .where(ServiceRecord.period.in_(periods))
        .group_by(ServiceRecord.outlet_id, ServiceRecord.period)
    ).all()
    listed = dict(
        session.execute(
            select(Callback.outlet_id, func.count(Callback.id))
            .where(Callback.period.in_(periods), Callback.purpose == "care")
            .group_by(Callback.outlet_id)
        ).all()
    )
    rows = [(outlet_id, int(n), 0) for outlet_id, n in served]
    return rows + [(outlet_id, 0, int(n)) for outlet_id, n in listed.items()]


# ---------------------------------------------------------------- complaints
def complaints(session, *, tenant_id=None, since=None, until=None) -> list[complaint_rules.ComplaintRecord]:
    """The complaints received from the month `since` through the month `until`."""
    stmt = _of_tenant(select(Complaint), Complaint.tenant_id, tenant_id)
    if since:
        stmt = stmt.where(Complaint.received_at >= domain.month_bounds(since)[0])
    if until:
        stmt = stmt.where(Complaint.received_at < domain.month_bounds(until)[1])
    return [
        complaint_rules.ComplaintRecord(
            ticket_id=row.ticket_id,
            tenant_id=row.tenant_id,
            number=row.number,
            received_at=as_utc(row.received_at),
            closed_at=as_utc(row.closed_at),
            outcome=row.outcome,
            cause=row.cause,
            responsibility=row.responsibility,
            level=row.level,
            product_line=row.product_line,
            model=row.model,
            outlet_id=row.outlet_id,
            serial_no=row.serial_no,
            recurrence_status=row.recurrence_status,
            recurrence_ticket_id=row.recurrence_ticket_id,
        )
        for row in session.scalars(stmt.order_by(Complaint.received_at)).all()
    ]


def later_request_on_machine(session, complaint: Complaint) -> str | None:
    """A request for the same machine received after the complaint closed, within its re-check period."""
    if not complaint.serial_no:
        return None
    return session.scalars(
        select(TicketInfo.id).where(
            TicketInfo.serial_no == complaint.serial_no,
            TicketInfo.id != complaint.ticket_id,
            TicketInfo.tenant_id == complaint.tenant_id,
            TicketInfo.received_at > complaint.closed_at,
            TicketInfo.received_at <= complaint.recurrence_due,
        )
    ).first()


# ---------------------------------------------------------------- what a scorecard counts
def score_facts(session, outlet_id: str, month: str, *, with_void: bool = False) -> list[ScoreFactRow]:
    stmt = select(ScoreFactRow).where(ScoreFactRow.outlet_id == outlet_id, ScoreFactRow.period == month)
    if not with_void:
        return session.scalars(stmt.where(ScoreFactRow.void.is_(False)).order_by(ScoreFactRow.id)).all()
    return session.scalars(stmt.order_by(ScoreFactRow.at, ScoreFactRow.id)).all()


def staff_callbacks_due(session, outlet_id: str, month: str, asof: datetime) -> list[scorecard.DueCallback]:
    """The outlet's own-tier service callbacks of a month that were due before `asof`."""
    rows = session.execute(
        select(Callback.id, Callback.due_at, Callback.done_at).where(
            Callback.outlet_id == outlet_id,
            Callback.period == month,
            Callback.purpose == "service",
            Callback.stratum.in_(domain.STAFF_STRATA),
            Callback.due_at < asof,
        )
    ).all()
    return [scorecard.DueCallback(callback_id, as_utc(due), as_utc(done)) for callback_id, due, done in rows]


def jobs(session, outlet_id: str | None = None, month: str | None = None) -> int:
    """Completed jobs QA recorded for an outlet's month (or every outlet's)."""
    stmt = select(func.count(ServiceRecord.visit_id)).where(ServiceRecord.period == month)
    if outlet_id:
        stmt = stmt.where(ServiceRecord.outlet_id == outlet_id)
    return session.scalar(stmt)


# ---------------------------------------------------------------- report figures
def ontime_figures(session, *, tenant_id=None, month=None, since=None):
    """Completed visits per (tenant, SLA tier, on time?) in the period, and on-site SLA breaches per
    (tenant, tier) (all of them: a breach has no period of its own)."""
    visits = (
        select(
            ServiceRecord.tenant_id, TicketInfo.tier, ServiceRecord.onsite_on_time, func.count(ServiceRecord.visit_id)
        )
        .select_from(ServiceRecord)
        .outerjoin(TicketInfo, TicketInfo.id == ServiceRecord.ticket_id)
    )
    visits = _in_period(_of_tenant(visits, ServiceRecord.tenant_id, tenant_id), ServiceRecord.period, month, since)
    visits = visits.group_by(ServiceRecord.tenant_id, TicketInfo.tier, ServiceRecord.onsite_on_time)
    breaches = (
        select(SlaBreach.tenant_id, TicketInfo.tier, func.count(SlaBreach.id))
        .select_from(SlaBreach)
        .outerjoin(TicketInfo, TicketInfo.id == SlaBreach.ticket_id)
        .where(SlaBreach.sla == "onsite")
    )
    breaches = _of_tenant(breaches, SlaBreach.tenant_id, tenant_id).group_by(SlaBreach.tenant_id, TicketInfo.tier)
    return (
        [tuple(row) for row in session.execute(visits).all()],
        [tuple(row) for row in session.execute(breaches).all()],
    )


def callback_figures(session, *, now, tenant_id=None, month=None, since=None) -> list[dict]:
    """Per (tenant, tier): planned, done on time, done late, overdue, open (not yet due), negative."""
    done = Callback.done_at.is_not(None)
    stmt = select(
        Callback.tenant_id.label("tenant_id"),
        Callback.stratum.label("stratum"),
        func.count(Callback.id).label("planned"),
        _count_if(done & (Callback.done_at <= Callback.due_at)).label("done_on_time"),
        _count_if(done & (Callback.done_at > Callback.due_at)).label("done_late"),
        _count_if(~done & (Callback.due_at < now)).label("overdue"),
        _count_if(~done & (Callback.due_at >= now)).label("open"),
        _count_if(Callback.negative.is_(True)).label("negative"),
    )
    stmt = _in_period(_of_tenant(stmt, Callback.tenant_id, tenant_id), Callback.period, month, since)
    stmt = stmt.group_by(Callback.tenant_id, Callback.stratum).order_by(Callback.tenant_id, Callback.stratum)
    return [dict(row._mapping) for row in session.execute(stmt).all()]


def satisfaction_figures(session, *, tenant_id=None, month=None, since=None) -> list[dict]:
    """Per (tenant, local month of the answer): answers, the sum of their 1-5 scores, negative
    answers and how many gave each score (s1..s5)."""
    answered = local_month(Callback.done_at)
    stmt = select(
        Callback.tenant_id.label("tenant_id"),
        answered.label("month"),
        func.count(Callback.id).label("answers"),
        func.sum(Callback.satisfaction).label("total"),
        _count_if(Callback.negative.is_(True)).label("negative"),
        *[_count_if(Callback.satisfaction == score).label(f"s{score}") for score in range(1, 6)],
    ).where(Callback.satisfaction.is_not(None))
    stmt = _of_tenant(stmt, Callback.tenant_id, tenant_id)
    if month:
        start, end = domain.month_bounds(month)
        stmt = stmt.where(Callback.done_at >= start, Callback.done_at < end)
    if since:
        stmt = stmt.where(Callback.done_at >= domain.month_bounds(since)[0])
    stmt = stmt.group_by(Callback.tenant_id, answered).order_by(Callback.tenant_id, answered)
    return [dict(row._mapping) for row in session.execute(stmt).all()]


def ranking(session, *, tenant_id=None, month=None) -> list[Scorecard]:
    """Published scorecards of a month (the latest published month when none is asked), the rated
    best first, then the not rated (未评) by outlet."""
    month = month or session.scalar(select(func.max(Scorecard.month)))
    stmt = _of_tenant(select(Scorecard).where(Scorecard.month == month), Scorecard.tenant_id, tenant_id)
    return session.scalars(stmt.order_by(Scorecard.rated.desc(), Scorecard.rank_nationwide, Scorecard.outlet_id)).all()


def center_facts(session, *, tenant_id=None, month: str) -> list[CenterFact]:
    """The facts centers answer for in a month (the caller's tenant, or one asked by HQ)."""
    stmt = _of_tenant(select(CenterFact).where(CenterFact.period == month), CenterFact.tenant_id, tenant_id)
    return session.scalars(stmt.order_by(CenterFact.at, CenterFact.id)).all()
