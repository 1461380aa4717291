"""SLA at risk (时效预警): the watchdog's warning before a deadline is breached, so the people who
can still meet it hear of it (notify consumes ``sla.at_risk``).

A deadline is at risk once `share` of its window — from the request's receipt to the due time —
has passed (SLA_AT_RISK_SHARE, default 0.8), while it is neither met nor breached and its ticket
is still open. Each deadline warns once: `operations.mark_at_risk` stamps ``at_risk_at``, and a
deadline already stamped, past due (the breach is the news then) or of a complaint case that is
over gives nothing.

Plain Python over a ticket and a deadline record; no session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain import CASE_FINAL, OPEN_STATUSES, Event
from shared.clock import as_utc

DEFAULT_SHARE = 0.8


def parse_share(value: Any) -> float:
    """SLA_AT_RISK_SHARE: a fraction strictly between 0 and 1 (blank: the default); ValueError
    naming the key otherwise."""
    if value in (None, ""):
        return DEFAULT_SHARE
    try:
        share = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"SLA_AT_RISK_SHARE: {value!r} is not a number") from None
    if not 0 < share < 1:
        raise ValueError(f"SLA_AT_RISK_SHARE: {value!r} must be between 0 and 1 (exclusive)")
    return share


def at_risk_from(received_at: datetime, due_at: datetime, share: float) -> datetime:
    """The instant `share` of the window from `received_at` to `due_at` has passed (a window that
    is empty or negative, e.g. a back-dated request: the due time itself)."""
    start, due = _utc(received_at), _utc(due_at)
    if due <= start:
        return due
    return start + (due - start) * share


def at_risk(ticket: Any, deadline: Any, now: datetime, share: float) -> list[Event]:
    """The watchdog's ``sla.at_risk`` for `deadline` of `ticket` at `now`, at most once; [] when it
    is not (yet) at risk, met, breached, warned already, past due, or its ticket is over."""
    if deadline.met_at is not None or deadline.breached_at is not None or deadline.at_risk_at is not None:
        return []
    if ticket.status not in OPEN_STATUSES or ticket.case_state in CASE_FINAL:
        return []
    due = _utc(deadline.due_at)
    if now >= due or now < at_risk_from(ticket.received_at, due, share):
        return []
    return [("sla.at_risk", at_risk_event(ticket, deadline, now, share))]


def _utc(value: datetime) -> datetime:
    out = as_utc(value)
    assert out is not None, "a deadline and a receipt always have a time"
    return out


def at_risk_event(t: Any, d: Any, at: datetime, share: float) -> dict[str, Any]:
    return {
        "tenant_id": t.tenant_id,
        "ticket_id": t.id,
        "number": t.number,
        "kind": t.kind,
        "sla": d.sla,
        "due_at": as_utc(d.due_at),
        "detected_at": at,
        "share": share,
        "assigned_outlet_id": t.assigned_outlet_id,
    }
