"""Callbacks due (回访提醒): a planned callback — the service callback, 七天内用户追踪, the complaint's
三天内回访, a follow-up, a care call — is told to its caller (the center, or HQ for its cross
callbacks) once, when it comes due: `lead` before its due time (QA_CALLBACK_DUE_NOTICE_HOURS,
default 24), so the call can still be made in time. notify consumes ``callback.due``.

Plain Python over a callback record; `operations.remind_due_callbacks` stamps ``due_notified_at``
so each callback is told of once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.qa.domain import OPEN
from shared.clock import as_utc

DEFAULT_LEAD_HOURS = 24.0


def parse_lead(value: Any) -> timedelta:
    """QA_CALLBACK_DUE_NOTICE_HOURS: hours, 0 or more (blank: the default); ValueError naming the key."""
    if value in (None, ""):
        return timedelta(hours=DEFAULT_LEAD_HOURS)
    try:
        hours = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"QA_CALLBACK_DUE_NOTICE_HOURS: {value!r} is not a number of hours") from None
    if not 0 <= hours <= 24 * 30:
        raise ValueError(f"QA_CALLBACK_DUE_NOTICE_HOURS: {value!r} must be between 0 and 720")
    return timedelta(hours=hours)


def comes_due(callback: Any, now: datetime, lead: timedelta) -> bool:
    """Whether `callback` is to be told of now: still planned, not told of yet, due within `lead`."""
    if callback.status not in OPEN or callback.due_notified_at is not None:
        return False
    due = as_utc(callback.due_at)
    return due is not None and now >= due - lead


def due_event(callback: Any, number: str | None) -> dict[str, Any]:
    return {
        "tenant_id": callback.tenant_id,
        "callback_id": callback.id,
        "ticket_id": callback.ticket_id,
        "number": number,
        "purpose": callback.purpose,
        "caller": callback.caller,
        "due_at": as_utc(callback.due_at),
        "outlet_id": callback.outlet_id,
    }
