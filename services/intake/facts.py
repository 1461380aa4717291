"""What the facts of other services (visit.*, callback.*, refund paid) do to a ticket: each rule takes
the ticket as it is and the fact, and returns an `Outcome` (changes, audit entry, events, commitments
met) that `operations` applies in the unit of work. Plain Python, like `domain`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain import OPEN_STATUSES, Audit, Case, Outcome, Status, escalated_event
from shared.clock import as_utc

# ---------------------------------------------------------------- facts from other services
SCHEDULABLE = (Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED)
WORKABLE = (Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE)


def visit_scheduled(ticket: Any, fact: dict[str, Any]) -> Outcome | None:
    """A visit was planned: a ticket not yet on site is scheduled, remembering the status it leaves
    (a release returns it there), and follows the visit's outlet. Any other ticket: nothing."""
    if ticket.status not in SCHEDULABLE:
        return None
    changes: dict[str, Any] = {"status": Status.SCHEDULED}
    if ticket.status != Status.SCHEDULED:
        changes["status_before_scheduled"] = ticket.status
    if fact.get("outlet_id"):
        changes["assigned_outlet_id"] = fact["outlet_id"]
    return Outcome(
        changes,
        audit=Audit(
            "visit_scheduled",
            ticket.status,
            Status.SCHEDULED,
            data={
                "visit_id": fact["visit_id"],
                "technician_id": fact.get("technician_id"),
                "outlet_id": fact.get("outlet_id"),
                "at": fact["at"].isoformat(),
            },
        ),
    )


def visit_released(ticket: Any, fact: dict[str, Any], scheduled_at: list[datetime]) -> Outcome:
    """Dispatch took a planned visit back (outlet suspended or revoked, line or certificate lost):
    a scheduled ticket returns to the status it had before (accepted if that is unknown) and leaves
    the visit's outlet. `scheduled_at`: when this visit was scheduled, as audited; visit.scheduled
    and visit.released travel on separate queues, so a scheduling newer than the release stands
    and the release is only audited, as stale."""
    stale = any(at > fact["at"] for at in scheduled_at)
    data = {
        "visit_id": fact["visit_id"],
        "outlet_id": fact.get("outlet_id"),
        "technician_id": fact.get("technician_id"),
        "reason": fact.get("reason"),
    }
    changes: dict[str, Any] = {}
    if stale:
        data["stale"] = True
    else:
        if ticket.status == Status.SCHEDULED:
            prior = ticket.status_before_scheduled
            changes["status"] = prior if prior in (Status.REGISTERED, Status.ACCEPTED) else Status.ACCEPTED
        if fact.get("outlet_id") and ticket.assigned_outlet_id == fact["outlet_id"]:
            changes["assigned_outlet_id"] = None
    return Outcome(
        changes,
        audit=Audit("visit_released", ticket.status, changes.get("status", ticket.status), fact.get("reason"), data),
    )


def visit_started(ticket: Any, fact: dict[str, Any]) -> Outcome:
    """The technician checked in: the first check-in is the on-site time and meets the on-site
    commitment; an open ticket past triage is on site."""
    changes: dict[str, Any] = {} if ticket.onsite_at else {"onsite_at": fact["at"]}
    if ticket.status in OPEN_STATUSES[1:]:
        changes["status"] = Status.ON_SITE
    return Outcome(
        changes,
        audit=Audit(
            "visit_started", ticket.status, changes.get("status", ticket.status), data={"visit_id": fact["visit_id"]}
        ),
        met=[("onsite", fact["at"])],
    )


def visit_completed(ticket: Any, fact: dict[str, Any]) -> Outcome:
    """The technician checked out, work done: a ticket being worked on is resolved; the ledger's
    服务方式 is on site, 服务内容 the work the check-out recorded, 服务人员 its technician (the
    latest visit's, a return visit's after the first)."""
    status = Status.RESOLVED if ticket.status in WORKABLE else ticket.status
    changes: dict[str, Any] = {
        "service_mode": "onsite",
        "work_done": fact.get("work_done") or ticket.work_done,
        "technician_name": fact.get("technician_name") or fact.get("technician_id") or ticket.technician_name,
    }
    if status != ticket.status:
        changes["status"] = status
    return Outcome(
        changes,
        audit=Audit("visit_completed", ticket.status, status, data={"visit_id": fact["visit_id"]}),
    )


def callback_completed(ticket: Any, fact: dict[str, Any]) -> Outcome:
    """A callback reached the customer (qa's ``callback.completed``): its answers are the ledger's
    回访记录, unless a later callback's are kept already (the facts may arrive out of order)."""
    latest = ticket.callback_at is None or as_utc(ticket.callback_at) <= fact["at"]
    changes = (
        {
            "callback_at": fact["at"],
            "callback_satisfaction": fact.get("satisfaction"),
            "callback_negative": fact["negative"],
            "callback_comment": fact.get("comment"),
        }
        if latest
        else {}
    )
    return Outcome(
        changes,
        audit=Audit(
            "callback_completed",
            ticket.status,
            ticket.status,
            fact.get("comment"),
            {
                "callback_id": fact["callback_id"],
                "satisfaction": fact.get("satisfaction"),
                "negative": fact["negative"],
                "superseded": not latest,
            },
        ),
    )


def callback_negative(ticket: Any, fact: dict[str, Any]) -> Outcome:
    """A dissatisfied callback: a resolved or closed ticket is reopened (accepted), and the center
    is told (escalation)."""
    changes = (
        {"status": Status.ACCEPTED, "closed_at": None} if ticket.status in (Status.RESOLVED, Status.CLOSED) else {}
    )
    return Outcome(
        changes,
        [("ticket.escalated", escalated_event(ticket, "negative_callback", "center"))],
        Audit(
            "callback_negative",
            ticket.status,
            changes.get("status", ticket.status),
            fact.get("reason"),
            {"callback_id": fact["callback_id"]},
        ),
    )


def callback_closed(ticket: Any, fact: dict[str, Any], return_visit_completed: bool) -> Outcome:
    """QA closed a negative callback. Resolved, and a return visit completed since the negative
    callback (`return_visit_completed`): a ticket still reopened goes back to resolved. Otherwise
    (upheld, or no completed return visit yet) only the audit entry; the center resolves and closes
    by hand."""
    resolved = (
        fact["outcome"] == "resolved"
        and return_visit_completed
        and ticket.status in (Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE)
    )
    status = Status.RESOLVED if resolved else ticket.status
    return Outcome(
        {"status": status} if resolved else {},
        audit=Audit(
            "callback_closed",
            ticket.status,
            status,
            fact["outcome"],
            {
                "callback_id": fact["callback_id"],
                "outcome": fact["outcome"],
                "return_visit_completed": return_visit_completed,
            },
        ),
    )


def refund_paid(ticket: Any, fact: dict[str, Any]) -> Outcome:
    """Settlement paid the refund or compensation (退赔款): a case in negotiation or rectification
    moves to compensation."""
    case = Case.COMPENSATION if ticket.case_state in (Case.NEGOTIATION, Case.RECTIFICATION) else ticket.case_state
    return Outcome(
        {"case_state": case} if case != ticket.case_state else {},
        audit=Audit("refund_paid", ticket.case_state, case, data={"amount": str(fact["amount"])}),
    )
