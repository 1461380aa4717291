"""What QA does for the centers' assessments and the regions' grades, inside the caller's unit of
work: read a center's month from QA's tables, assess it (`assessment`, the rules), store it, rank
the centers. Kept apart from `operations` (the callbacks and scorecards) so each stays small.

The session acts for HQ or the service (every tenant); each read names its tenant.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from services.qa import assessment, benefit, domain, reports, scorecard
from services.qa.models import Callback as CallbackRow
from services.qa.models import (
    CenterAssessment,
    CenterFact,
    ClaimFact,
    Complaint,
    RegionInput,
    ServiceRecord,
    TicketInfo,
)
from shared.clock import as_utc

MONTH, YEAR = "month", "year"


def months_of(year: str, asof: datetime) -> list[str]:
    """The months of a year up to the one `asof` falls in (a year-end assessment asked in its
    December covers what has happened)."""
    last = domain.local_period(asof)
    return [m for m in (f"{year}-{n:02d}" for n in range(1, 13)) if m <= last]


# ---------------------------------------------------------------- reads
def center_month(session, tenant: str, month: str, asof: datetime) -> assessment.CenterMonth:
    """A center's month as QA recorded it: its jobs and their on-site punctuality, its own missed
    deadlines, the callbacks the center itself calls that fell due before `asof`, the satisfaction
    its customers gave in the month (any caller's) and the complaints its region received."""
    start, end = domain.month_bounds(month)
    records = session.execute(
        select(TicketInfo.tier, ServiceRecord.onsite_on_time, func.count(ServiceRecord.visit_id))
        .select_from(ServiceRecord)
        .outerjoin(TicketInfo, TicketInfo.id == ServiceRecord.ticket_id)
        .where(ServiceRecord.tenant_id == tenant, ServiceRecord.period == month)
        .group_by(TicketInfo.tier, ServiceRecord.onsite_on_time)
    ).all()
    punctual: dict[bool | None, int] = {}
    by_tier: dict[str, tuple[int, int]] = {}
    for tier, flag, n in records:
        punctual[flag] = punctual.get(flag, 0) + int(n)
        if flag is not None:  # a visit whose punctuality dispatch did not tell counts in no tier
            on_time, visits = by_tier.get(tier or "unknown", (0, 0))
            by_tier[tier or "unknown"] = (on_time + (int(n) if flag else 0), visits + int(n))
    late = session.execute(
        select(
            ServiceRecord.visit_id,
            ServiceRecord.ticket_id,
            ServiceRecord.outlet_id,
            ServiceRecord.completed_at,
            TicketInfo.number,
        )
        .select_from(ServiceRecord)
        .outerjoin(TicketInfo, TicketInfo.id == ServiceRecord.ticket_id)
        .where(
            ServiceRecord.tenant_id == tenant,
            ServiceRecord.period == month,
            ServiceRecord.onsite_on_time.is_(False),
        )
        .order_by(ServiceRecord.completed_at, ServiceRecord.visit_id)
    ).all()
    misses = session.scalars(
        select(CenterFact)
        .where(CenterFact.tenant_id == tenant, CenterFact.period == month, CenterFact.kind == "deadline_missed")
        .order_by(CenterFact.at, CenterFact.id)
    ).all()
    calls = session.execute(
        select(CallbackRow.id, CallbackRow.due_at, CallbackRow.done_at).where(
            CallbackRow.tenant_id == tenant,
            CallbackRow.caller == tenant,  # HQ's cross callbacks are HQ's, not the center's
            CallbackRow.period == month,
            CallbackRow.due_at < asof,
        )
    ).all()
    answers = session.scalars(
        select(CallbackRow.satisfaction).where(
            CallbackRow.tenant_id == tenant,
            CallbackRow.satisfaction.is_not(None),
            CallbackRow.done_at >= start,
            CallbackRow.done_at < end,
        )
    ).all()
    complaints = session.scalars(
        select(Complaint)
        .where(Complaint.tenant_id == tenant, Complaint.received_at >= start, Complaint.received_at < end)
        .order_by(Complaint.received_at)
    ).all()
    claims = session.scalars(
        select(ClaimFact).where(ClaimFact.tenant_id == tenant, ClaimFact.period == month).order_by(ClaimFact.claim_id)
    ).all()
    return assessment.CenterMonth(
        tenant,
        month,
        jobs=sum(punctual.values()),
        onsite_on_time=punctual.get(True, 0),
        onsite_late=punctual.get(False, 0),
        onsite_by_tier=by_tier,
        late_visits=tuple(
            assessment.LateVisit(
                visit, ticket, f"ticket:{number}" if number else f"visit:{visit}", as_utc(done), outlet
            )
            for visit, ticket, outlet, done, number in late
        ),
        misses=tuple(
            assessment.DeadlineMiss(row.ref, row.sla, as_utc(row.at), row.ticket_id, row.outlet_id) for row in misses
        ),
        callbacks=tuple(scorecard.DueCallback(i, as_utc(due), as_utc(done)) for i, due, done in calls),
        satisfaction=tuple(int(s) for s in answers),
        complaints=tuple(
            assessment.ComplaintFact(
                row.ticket_id,
                f"ticket:{row.number}",
                as_utc(row.received_at),
                row.cause,
                row.responsibility,
                row.level,
                row.department,
            )
            for row in complaints
        ),
        claims=tuple(benefit.ClaimFact(c.claim_id, c.outlet_id, c.status, Decimal(c.amount)) for c in claims),
    )


def record_claim(uow, payload: dict) -> bool:
    """Keep a fee claim's latest step from `claim.audited` (a step older than the one kept is
    ignored: steps may arrive out of order). Returns whether it changed the row."""
    at = as_utc(payload["at"])
    row = uow.session.get(ClaimFact, payload["claim_id"])
    if row is not None and as_utc(row.at) > at:
        return False
    row = row or ClaimFact(claim_id=payload["claim_id"], tenant_id=payload["tenant_id"])
    row.outlet_id, row.ticket_id = payload.get("outlet_id"), payload.get("ticket_id")
    row.status, row.amount = payload["status"], Decimal(str(payload["amount"]))
    row.period, row.at = domain.local_period(at), at
    uow.session.add(row)
    return True


def listed(session, *, period: str, tenant_id: str | None = None) -> list[CenterAssessment]:
    """Stored assessments of a period (the caller's tenant only, for a center), ranked first."""
    stmt = select(CenterAssessment).where(CenterAssessment.period == period)
    if tenant_id:
        stmt = stmt.where(CenterAssessment.tenant_id == tenant_id)
    order = (CenterAssessment.rated.desc(), CenterAssessment.rank, CenterAssessment.tenant_id)
    return session.scalars(stmt.order_by(*order)).all()


def due_periods(session, month: str) -> list[str]:
    """What the schedule assesses for a finished month: the month, when QA followed it (a job
    recorded) and it has not been assessed since it ended; after December, the year too (a year
    HQ assessed on demand before it ended is assessed again)."""
    followed = session.scalar(select(func.count(ServiceRecord.visit_id)).where(ServiceRecord.period == month))
    if not followed:
        return []
    wanted = [month] + ([month[:4]] if month.endswith("-12") else [])
    ended = domain.month_bounds(month)[1]
    done = set(
        session.scalars(
            select(CenterAssessment.period)
            .where(CenterAssessment.period.in_(wanted), CenterAssessment.computed_at >= ended)
            .distinct()
        ).all()
    )
    return [period for period in wanted if period not in done]


# ---------------------------------------------------------------- use cases
def assess(
    uow,
    tenants: list[str],
    period: str,
    *,
    asof: datetime,
    user: str,
    thresholds=None,
    minimum: int = assessment.MIN_JOBS,
) -> dict[str, dict]:
    """Every center's assessment of a month (YYYY-MM) or year (YYYY), ranked among the centers and
    stored (again, when assessed before); a month needs `minimum` jobs to be rated. Returns
    {tenant: assessment}."""
    kind = YEAR if len(period) == 4 else MONTH
    results = {}
    for tenant in tenants:
        if kind == MONTH:
            results[tenant] = assessment.assess_month(
                center_month(uow.session, tenant, period, asof), thresholds, minimum
            )
        else:
            months = {
                m: assessment.assess_month(center_month(uow.session, tenant, m, asof), thresholds, minimum)
                for m in months_of(period, asof)
            }
            results[tenant] = assessment.assess_year(months, thresholds)
    ranks = assessment.rank_centers(results)
    existing = {row.tenant_id: row for row in listed(uow.session, period=period)}
    for tenant, result in results.items():
        row = existing.get(tenant) or CenterAssessment(tenant_id=tenant, period=period, kind=kind)
        row.rated, row.score, row.stars, row.grade = result["rated"], result["score"], result["stars"], result["grade"]
        row.jobs, row.rank = result["jobs"], ranks.get(tenant)
        row.lines, row.kpis = reports.jsonable(result["lines"]), reports.jsonable(result["kpis"])
        row.departments = reports.jsonable(result["departments"])
        row.months = reports.jsonable(result.get("months"))
        row.computed_at, row.computed_by = asof, user
        uow.session.add(row)
    return results


def record_region(uow, tenant: str, inputs: dict, *, floors, user: str, now: datetime) -> RegionInput:
    """A region's competition and resources (HQ's), and its grade by `assessment.region_grade`;
    recorded again, the region's inputs and grade are replaced."""
    index, grade = assessment.region_grade(inputs["competition"], inputs["resources"], floors)
    row = uow.session.scalars(select(RegionInput).where(RegionInput.tenant_id == tenant)).first()
    row = row or RegionInput(tenant_id=tenant)
    row.competition, row.resources, row.region_index, row.grade = (
        inputs["competition"],
        inputs["resources"],
        index,
        grade,
    )
    row.note, row.recorded_at, row.recorded_by = inputs.get("note"), now, user
    uow.session.add(row)
    return row


def regions(session) -> list[RegionInput]:
    return session.scalars(select(RegionInput).order_by(RegionInput.tenant_id)).all()
