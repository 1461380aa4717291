"""What the monthly report reads (issue 18.5): QA's own rows (on-site arrivals, complaints, callbacks,
satisfaction, scorecards) from its session, and over RPC what the other services own: intake's
tickets (customers and products served) and SLA deadlines, parts' movements, settlement's claims
and statements. Thin I/O: `monthly_report` assembles.

Each remote read runs as the caller acting inside one center (the RPC carries that principal, so
each service scopes it by its own tenancy, no filter here); a service that does not answer (or
refuses) leaves its section ``missing`` with the reason, the report is made without it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.qa import assessing, complaint_rules, domain, monthly_report, queries, reports
from shared.clock import LOCAL_TZ
from shared.errors import DomainError

PAGE = 2000  # rows per page of a remote list
MAX_ROWS = 100_000  # a month of one center beyond this is cut (and said so)
SLA_MONTHS_BACK = 52  # intake's SLA report reaches this many months back


def _pages(call: Callable[[dict[str, Any]], dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = call(dict(query, limit=PAGE, offset=len(items)))
        items += page["items"]
        if not page["items"] or len(items) >= page["total"] or len(items) >= MAX_ROWS:
            return items


def guarded(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A section, or `missing` with why (a service away, a refusal): never the report's failure."""
    try:
        return read()
    except DomainError as exc:
        return monthly_report.missing(f"{type(exc).__name__}: {exc}")


def months_back(month: str, now: datetime) -> int:
    """How many months intake's report must cover, up to now's, to include `month` (0: future)."""
    year, mon = (int(x) for x in month.split("-"))
    local = now.astimezone(LOCAL_TZ)
    return (local.year - year) * 12 + local.month - mon + 1


# ---------------------------------------------------------------- the other services' sections
def served(intake: Any, month: str) -> dict[str, Any]:
    start, end = domain.month_bounds(month)
    query = {"received_from": start.isoformat(), "received_to": end.isoformat()}
    return monthly_report.served(_pages(intake.list_tickets, query))


def sla(intake: Any, tenant_id: str, month: str, now: datetime) -> dict[str, Any]:
    back = months_back(month, now)
    if back > SLA_MONTHS_BACK:
        return monthly_report.missing(f"intake's SLA report reaches {SLA_MONTHS_BACK} months back")
    if back < 1:
        return monthly_report.sla_by_tier([])
    answer = intake.sla_report({"period": "month", "periods": back})
    first = f"{month}-01"
    return monthly_report.sla_by_tier(
        r for r in answer["rows"] if r["start"] == first and r.get("tenant_id") in (tenant_id, None)
    )


def parts(parts_rpc: Any, month: str) -> dict[str, Any]:
    return monthly_report.parts(_pages(parts_rpc.movements, {"month": month}))


def money(settlement: Any, month: str) -> dict[str, Any]:
    claims = _pages(settlement.list_claims, {"month": month})
    statements = _pages(settlement.list_statements, {"month": month})
    return monthly_report.money(claims, statements)


# ---------------------------------------------------------------- QA's own sections
def own_sections(session: Any, tenant_id: str, month: str, now: datetime, outlet_names: dict[str, str]) -> dict:
    visits, breaches = queries.ontime_figures(session, tenant_id=tenant_id, month=month)
    complaints = queries.complaints(session, tenant_id=tenant_id, since=month, until=month)
    cycles = [
        complaint_rules.cycle_days(c.received_at, c.closed_at)
        for c in complaints
        if c.closed_at is not None and c.outcome != "cancelled"
    ]
    return {
        "assessment": assessment(session, tenant_id, month),
        "onsite": monthly_report.onsite_by_tier(reports.ontime_rows(visits, [])),
        "complaints": monthly_report.complaints((c.cause for c in complaints), complaint_rules.cycle_summary(cycles)),
        "callbacks": monthly_report.callbacks(
            queries.callback_figures(session, now=now, tenant_id=tenant_id, month=month),
            queries.satisfaction_figures(session, tenant_id=tenant_id, month=month),
        ),
        "outlets": monthly_report.outlets(
            [
                {
                    "outlet_id": s.outlet_id,
                    "rated": s.rated,
                    "score": s.score,
                    "stars": s.stars,
                    "grade": s.grade,
                    "jobs": s.jobs,
                    "rank_in_tenant": s.rank_in_tenant,
                }
                for s in queries.ranking(session, tenant_id=tenant_id, month=month)
            ],
            outlet_names,
        ),
    }


def assessment(session: Any, tenant_id: str, month: str) -> dict[str, Any]:
    rows = assessing.listed(session, period=month, tenant_id=tenant_id)
    if not rows:
        return monthly_report.assessment(None)
    row = rows[0]
    return monthly_report.assessment(
        {"rated": row.rated, "score": row.score, "stars": row.stars, "grade": row.grade, "rank": row.rank}
    )


def satisfaction_figures(session: Any, tenant_id: str | None, months: list[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for month in months:
        rows += queries.satisfaction_figures(session, tenant_id=tenant_id, month=month)
    return rows
