"""Return visits (返修): a negative callback on a ticket whose visit is done sends someone again,
and so does the outlet's own request after its check-out (二次上门).

Plain Python over plain visit records (rows or any attribute bags: `VisitRecord`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from services.dispatch.domain import OPEN_VISIT, VisitStatus, local_day_start
from shared.clock import LOCAL_TZ, as_utc
from shared.errors import Conflict, DomainError, Forbidden, InvalidTransition, NotFound, ValidationFailed

# the escalation reason (intake's ticket.escalated) that asks for a return visit
RETURN_VISIT_REASON = "negative_callback"


class VisitRecord(Protocol):
    """What these rules read of a visit: a models.Visit row, or any attribute bag with these."""

    @property
    def id(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def ticket_id(self) -> str: ...
    @property
    def ticket_number(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def product_line(self) -> str | None: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def city(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def received_at(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def service_minutes(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def outlet_id(self) -> str | None: ...
    @property
    def return_of(self) -> str | None: ...


# the tenant's on-site due time of a visit of a tier (None: unknown) received at a moment
OnsiteDue = Callable[[str | None, datetime], datetime]


def latest_visit(visits: Iterable[VisitRecord]) -> VisitRecord | None:
    """A ticket's current visit: the open (or started) one if any, else the most recently received
    one that was not cancelled (None: no such visit)."""
    visits = list(visits)
    open_ = [v for v in visits if v.status in OPEN_VISIT or v.status == VisitStatus.STARTED]
    pool = open_ or [v for v in visits if v.status != VisitStatus.CANCELLED]
    if not pool:
        return None
    return max(pool, key=_recency)


def _recency(visit: VisitRecord) -> tuple[datetime, datetime]:
    """When `visit` was received and completed (received, if not completed), in UTC."""
    received = as_utc(visit.received_at)
    assert received is not None  # a visit is always received
    return received, as_utc(visit.completed_at) or received


def return_visit(visits: Iterable[VisitRecord], now: datetime, onsite_due: OnsiteDue) -> dict[str, Any] | None:
    """The return visit (返修) a negative callback asks for, as the fields of a new visit, or None.

    Only when the ticket's latest visit is completed and none is open (a callback on a ticket
    whose visit is still open, or that has none, changes nothing); it copies that visit (kind,
    place, product line, tier, service minutes), one priority step more urgent, received now and
    due by `onsite_due(tier, now)` (the tenant's on-site SLA for its tier, counted from now),
    unplanned."""
    last = latest_visit(visits)
    if last is None or last.status != VisitStatus.COMPLETED:
        return None
    return dict(_copy(last, now, onsite_due(last.tier, now)), priority=max(1, last.priority - 1))


def _copy(visit: VisitRecord, now: datetime, due: datetime) -> dict[str, Any]:
    """A new, unplanned visit going back to `visit`: its kind, place, product line, tier, priority
    and service minutes, received `now`, due by `due`."""
    return dict(
        tenant_id=visit.tenant_id,
        ticket_id=visit.ticket_id,
        ticket_number=visit.ticket_number,
        kind=visit.kind,
        priority=visit.priority,
        product_line=visit.product_line,
        lat=visit.lat,
        lon=visit.lon,
        city=visit.city,
        tier=visit.tier,
        received_at=now,
        onsite_due=due,
        window_start=None,
        service_minutes=visit.service_minutes,
        status=VisitStatus.UNPLANNED,
        return_of=visit.id,
    )


# ------------------------------------------------------------------ an outlet asks to go back
# A return visit the outlet asks for (申请返修/二次上门: the part arrives later, the fault came
# back) after it checked a visit out. "Open" means not yet checked out and not cancelled:
# unplanned, scheduled, unassignable or started. A ticket has at most one open visit (models.Visit),
# so while one is open (this visit's return visit, or any other visit of its ticket) the request
# is refused, naming the visit; once that one is checked out or cancelled the outlet may ask again.
OPEN_RETURN = (*OPEN_VISIT, VisitStatus.STARTED)
REASON_MAX = 500  # characters of the outlet's reason
WISH_DAYS_MAX = 30  # how far ahead a wished date may be (local days from today)


@dataclass(frozen=True)
class Refusal:
    """Why a return visit may not be asked for: `code` for a page to choose what it offers
    (``not_outlet``, ``not_found``, ``not_checked_out``, ``open_visit``), `error` for the caller."""

    code: str
    error: DomainError


def open_visit_of(visits: Iterable[VisitRecord]) -> VisitRecord | None:
    """The open visit (`OPEN_RETURN`) among `visits`, or None."""
    return next((v for v in visits if v.status in OPEN_RETURN), None)


def request_refusal(visit: VisitRecord, ticket_visits: Iterable[VisitRecord], outlet_id: str | None) -> Refusal | None:
    """Why the outlet `outlet_id` (None: the caller is no outlet) may not ask for a return visit
    to `visit`, given every visit of its ticket (None: it may). Only the visit's own outlet asks,
    only after the visit's check-out, and not while a visit of the ticket is open."""
    if outlet_id is None:
        return Refusal("not_outlet", Forbidden("only the outlet that did the visit asks for a return visit"))
    if visit.outlet_id != outlet_id:
        return Refusal("not_found", NotFound(f"visit {visit.id} not found", {"visit_id": ["not found"]}))
    if visit.status != VisitStatus.COMPLETED:
        return Refusal(
            "not_checked_out",
            InvalidTransition(
                f"visit {visit.id} is {visit.status}: a return visit is asked for after its check-out",
                {"visit_id": ["not checked out yet"]},
            ),
        )
    other = open_visit_of(v for v in ticket_visits if v.id != visit.id)
    if other is not None:
        what = "return visit" if other.return_of == visit.id else "visit of the ticket"
        return Refusal(
            "open_visit",
            Conflict(
                f"visit {visit.id} already has an open {what} {other.id} ({other.status})",
                {"visit_id": [f"{what} {other.id} is still open"]},
            ),
        )
    return None


def clean_reason(reason: str | None) -> str:
    """The outlet's reason, stripped: required, not blank, at most REASON_MAX characters."""
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("a reason is required", {"reason": ["must not be blank"]})
    if len(text) > REASON_MAX:
        raise ValidationFailed("reason too long", {"reason": [f"at most {REASON_MAX} characters"]})
    return text


def wished_window(
    wished: date | None, now: datetime, is_workday: Callable[[date], bool] | None = None
) -> tuple[datetime | None, datetime | None]:
    """A wished local date as the visit's (window start, on-site due): from that day's start (None
    when it is today: no holding back) to its end. No wish: (None, None). A date before today, more
    than WISH_DAYS_MAX days ahead, or not a working day (`is_workday`, the tenant's calendar: nobody
    is sent out then) is refused, naming `wished_date`."""
    if wished is None:
        return None, None
    today = now.astimezone(LOCAL_TZ).date()
    if wished < today:
        raise ValidationFailed("wished date in the past", {"wished_date": ["must not be in the past"]})
    if wished > today + timedelta(days=WISH_DAYS_MAX):
        raise ValidationFailed("wished date too far ahead", {"wished_date": [f"at most {WISH_DAYS_MAX} days ahead"]})
    if is_workday is not None and not is_workday(wished):
        raise ValidationFailed("wished date not a working day", {"wished_date": ["not a working day"]})
    start = local_day_start(wished)
    return (start if start > now else None), local_day_start(wished + timedelta(days=1))


def requested_return_visit(
    visit: VisitRecord,
    now: datetime,
    onsite_due: OnsiteDue,
    reason: str | None,
    wished: date | None,
    requested_by: str,
    technician_id: str | None,
    is_workday: Callable[[date], bool] | None = None,
) -> dict[str, Any]:
    """The fields of the return visit the outlet asks for to `visit` (already allowed by
    `request_refusal`): a copy of it (kind, place, product line, tier, service minutes, the same
    priority), received now, kept with the outlet (and pinned to `technician_id`, the technician
    who did it, when that one may still take it), with the reason and who asked; due by the end
    of the wished day (a working day by `is_workday`), else by `onsite_due(tier, now)` (the
    tenant's on-site SLA from now)."""
    text = clean_reason(reason)
    window_start, wished_due = wished_window(wished, now, is_workday)
    fields = _copy(visit, now, wished_due or onsite_due(visit.tier, now))
    fields.update(
        window_start=window_start,
        outlet_id=visit.outlet_id,
        pinned_technician_id=technician_id,
        return_reason=text,
        return_requested_by=requested_by,
    )
    return fields
