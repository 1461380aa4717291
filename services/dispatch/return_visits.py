"""Return visits (返修): a negative callback on a ticket whose visit is done sends someone again.

Plain Python over plain visit records (rows or any attribute bags).
"""

from __future__ import annotations

from datetime import datetime

from services.dispatch.domain import OPEN_VISIT, VisitStatus
from shared.clock import as_utc

# the escalation reason (intake's ticket.escalated) that asks for a return visit
RETURN_VISIT_REASON = "negative_callback"


def latest_visit(visits):
    """A ticket's current visit: the open (or started) one if any, else the most recently received
    one that was not cancelled (None: no such visit)."""
    open_ = [v for v in visits if v.status in OPEN_VISIT or v.status == VisitStatus.STARTED]
    pool = open_ or [v for v in visits if v.status != VisitStatus.CANCELLED]
    if not pool:
        return None
    return max(pool, key=lambda v: (as_utc(v.received_at), as_utc(v.completed_at) or as_utc(v.received_at)))


def return_visit(visits, now: datetime, onsite_due) -> dict | None:
    """The return visit (返修) a negative callback asks for, as the fields of a new visit, or None.

    Only when the ticket's latest visit is completed and none is open (a callback on a ticket
    whose visit is still open, or that has none, changes nothing); it copies that visit (kind,
    place, product line, tier, service minutes), one priority step more urgent, received now and
    due by `onsite_due(tier, now)` (the tenant's on-site SLA for its tier, counted from now),
    unplanned."""
    last = latest_visit(visits)
    if last is None or last.status != VisitStatus.COMPLETED:
        return None
    return dict(
        tenant_id=last.tenant_id,
        ticket_id=last.ticket_id,
        ticket_number=last.ticket_number,
        kind=last.kind,
        priority=max(1, last.priority - 1),
        product_line=last.product_line,
        lat=last.lat,
        lon=last.lon,
        city=last.city,
        tier=last.tier,
        received_at=now,
        onsite_due=onsite_due(last.tier, now),
        window_start=None,
        service_minutes=last.service_minutes,
        status=VisitStatus.UNPLANNED,
        return_of=last.id,
    )
