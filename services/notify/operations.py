"""Notify's use cases on a session: record the notices a fact gives, claim the ones due, settle
a delivery attempt, read and mark an inbox. The rules are `domain`'s; the entrypoints
(`service.py`) call these inside a unit of work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from services.notify import domain, preferences
from services.notify.models import Notice, Preference
from shared.clock import as_utc
from shared.errors import NotFound

STALE_CLAIM = timedelta(minutes=10)  # a worker that claimed a notice and died: another retries it


def record(
    uow: Any,
    event_type: str,
    event_id: str,
    payload: Mapping[str, Any],
    contacts: domain.Contacts,
    quiet_default: tuple[time, time] | None,
    now: datetime,
    change_minutes: float = domain.VISIT_CHANGE_MINUTES,
) -> list[int]:
    """Record the notices `event_type` gives (each once per event, recipient and channel; a
    re-planned visit only when its arrival moved, `domain.replan_kind`); the ids of those to
    send now (not in quiet hours, not undeliverable, not an inbox row). An undeliverable one is
    published (notice.failed) at once."""
    session = uow.session
    rules = domain.notices_for(event_type, payload)
    topic = domain.topic_of(event_type, payload)
    about_at = payload.get("planned_arrival") if topic else None
    due_now: list[int] = []
    plans = domain.plan(rules, payload, contacts)
    users = {u.user: u for u in staff_preferences(session)} if plans else {}
    for planned in [*plans, *preferences.own_copies(plans, users.values())]:
        exists = session.scalar(
            select(Notice.id).where(
                Notice.event_id == event_id,
                Notice.recipient == planned.recipient,
                Notice.channel == planned.channel,
            )
        )
        if exists is not None:
            continue
        kind: str | None = planned.kind
        if topic:
            previous = session.scalars(
                select(Notice)
                .where(Notice.topic == topic, Notice.recipient == planned.recipient, Notice.channel == planned.channel)
                .order_by(Notice.created_at.desc(), Notice.id.desc())
                .limit(1)
            ).first()
            told_at = as_utc(previous.about_at) if previous is not None else None
            kind = domain.replan_kind(planned.kind, previous is not None, told_at, about_at, change_minutes)
            if kind is None:
                continue  # the same appointment, told already
        subject, body = domain.render(kind, payload)
        contact = contacts.contact(planned.audience, str(payload["tenant_id"]), planned.audience_id)
        own = users.get(planned.audience_id) if planned.audience == domain.USER else None
        quiet_text = (own.quiet_hours if own else None) or contact.quiet_hours
        quiet = domain.parse_quiet_hours(quiet_text) if quiet_text else quiet_default
        if planned.undeliverable:
            status, when = domain.UNDELIVERABLE, None
        elif planned.channel == domain.INBOX:
            status, when = domain.SENT, None
        else:
            status, when = domain.PENDING, domain.not_before(now, quiet, planned.urgent, planned.channel)
        notice = Notice(
            tenant_id=payload["tenant_id"],
            event_id=event_id,
            event_type=event_type,
            kind=kind,
            audience=planned.audience,
            audience_id=planned.audience_id,
            outlet_id=planned.audience_id if planned.audience == domain.OUTLET else None,
            recipient=planned.recipient,
            channel=planned.channel,
            address=planned.address,
            subject=subject,
            body=body,
            ticket_id=payload.get("ticket_id"),
            topic=topic,
            about_at=about_at,
            urgent=planned.urgent,
            status=status,
            attempts=0,
            error=planned.undeliverable,
            created_at=now,
            next_attempt_at=when,
            sent_at=now if status == domain.SENT else None,
        )
        session.add(notice)
        session.flush()
        if status == domain.UNDELIVERABLE:
            announce(uow, notice, now)
        if status == domain.PENDING and when is not None and when <= now:
            due_now.append(notice.id)
    return due_now


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    address: str
    subject: str
    body: str
    attempts: int  # counting this one


def claim_due(session: Session, now: datetime, ids: Sequence[int] | None = None, limit: int = 50) -> list[Claimed]:
    """Claim the pending notices whose time has come (only `ids` if given): each is set to
    sending by one guarded UPDATE, so two workers never send the same notice."""
    if ids is None:  # a worker that died while sending: its notices are pending again
        session.execute(
            update(Notice)
            .where(Notice.status == domain.SENDING, Notice.claimed_at < now - STALE_CLAIM)
            .values(status=domain.PENDING)
        )
    query = select(Notice).where(Notice.status == domain.PENDING, Notice.next_attempt_at <= now)
    if ids is not None:
        query = query.where(Notice.id.in_(list(ids)))
    claimed: list[Claimed] = []
    for notice in session.scalars(query.order_by(Notice.next_attempt_at).limit(limit)).all():
        taken = session.execute(
            update(Notice)
            .where(Notice.id == notice.id, Notice.status == domain.PENDING)
            .values(status=domain.SENDING, claimed_at=now, attempts=Notice.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]  # a DML result has a rowcount
            claimed.append(
                Claimed(notice.id, notice.channel, notice.address, notice.subject, notice.body, notice.attempts + 1)
            )
    return claimed


def settle(
    uow: Any,
    claimed: Claimed,
    error: str | None,
    now: datetime,
    *,
    retryable: bool,
    max_attempts: int,
    retry_base: float,
) -> str:
    """Record the outcome of one attempt: sent; pending again after a backoff; failed when the
    attempts ran out; undeliverable when retrying cannot help (each end published: notice.sent,
    notice.failed). Returns the new status."""
    session = uow.session
    if error is None:
        status, values = domain.SENT, {"sent_at": now, "error": None, "next_attempt_at": None}
    elif not retryable:
        status, values = domain.UNDELIVERABLE, {"error": error, "next_attempt_at": None}
    else:
        status = domain.after_failure(claimed.attempts, max_attempts)
        retry = domain.retry_at(claimed.attempts, now, retry_base) if status == domain.PENDING else None
        values = {"error": error, "next_attempt_at": retry}
    session.execute(
        update(Notice)
        .where(Notice.id == claimed.id, Notice.status == domain.SENDING)
        .values(status=status, claimed_at=None, **values)
        .execution_options(synchronize_session=False)
    )
    if status != domain.PENDING:
        notice = session.get(Notice, claimed.id, populate_existing=True)
        if notice is not None:
            announce(uow, notice, now)
    return status


def announce(uow: Any, notice: Notice, now: datetime) -> None:
    """Publish how an e-mail or SMS notice ended (with the unit of work's commit)."""
    uow.emit(
        "notice.sent" if notice.status == domain.SENT else "notice.failed",
        {
            "tenant_id": notice.tenant_id,
            "notice_id": notice.id,
            "kind": notice.kind,
            "channel": notice.channel,
            "audience": notice.audience,
            "audience_id": notice.audience_id,
            "ticket_id": notice.ticket_id,
            "event_type": notice.event_type,
            "status": notice.status,
            "error": notice.error,
            "at": now,
        },
    )


def mine(audience: str, user: str | None, hidden: Sequence[str] = ()) -> Any:
    """An inbox's notices: its audience's (but the kinds the user switched off there, `hidden`),
    and those to the user in person (a named manager)."""
    personal = and_(Notice.audience == domain.USER, Notice.audience_id == (user or ""))
    ours = (
        and_(Notice.audience == audience, Notice.kind.not_in(list(hidden))) if hidden else Notice.audience == audience
    )
    return and_(Notice.channel == domain.INBOX, or_(ours, personal))


def inbox(
    session: Session,
    audience: str,
    user: str | None,
    *,
    unread: bool | None,
    limit: int,
    offset: int,
    hidden: Sequence[str] = (),
) -> tuple[int, int, list[Notice]]:
    """The inbox of `audience` and of `user` in person, as the session's principal sees it (its
    tenant, its outlet: the session scopes the rows): (total, unread, rows newest first)."""
    base = select(Notice).where(mine(audience, user, hidden))
    unread_count = session.scalar(select(func.count()).select_from(base.where(Notice.read_at.is_(None)).subquery()))
    if unread is True:
        base = base.where(Notice.read_at.is_(None))
    elif unread is False:
        base = base.where(Notice.read_at.is_not(None))
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.scalars(base.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit).offset(offset))
    return int(total or 0), int(unread_count or 0), list(rows)


def mark_read(session: Session, audience: str, user: str | None, notice_id: int, now: datetime) -> Notice:
    """Mark one inbox notice read; NotFound unless it is in the caller's inbox."""
    notice = session.scalar(select(Notice).where(Notice.id == notice_id, mine(audience, user)))
    if notice is None:
        raise NotFound(f"no notice {notice_id} in your inbox")
    if notice.read_at is None:
        notice.read_at = now
    return notice


def mark_all_read(
    session: Session,
    audience: str,
    user: str | None,
    now: datetime,
    *,
    hidden: Sequence[str] = (),
    upto: int | None = None,
) -> int:
    """Mark read every unread notice of the inbox as the caller sees it (the session scopes the rows;
    the kinds switched off, `hidden`, are not in it), those up to notice `upto` if given: how many."""
    query = select(Notice).where(mine(audience, user, hidden), Notice.read_at.is_(None))
    if upto is not None:
        query = query.where(Notice.id <= upto)
    rows = list(session.scalars(query))
    for notice in rows:
        notice.read_at = now
    return len(rows)


def unread_count(session: Session, audience: str, user: str | None, hidden: Sequence[str] = ()) -> int:
    query = select(func.count()).select_from(Notice).where(mine(audience, user, hidden), Notice.read_at.is_(None))
    return int(session.scalar(query) or 0)


def pending_counts(session: Session) -> dict[str, int]:
    """Notices waiting to go out (pending or being sent), per channel."""
    rows = session.execute(
        select(Notice.channel, func.count())
        .where(Notice.status.in_((domain.PENDING, domain.SENDING)))
        .group_by(Notice.channel)
    ).all()
    return {channel: int(count) for channel, count in rows}


def as_dict(notice: Notice) -> dict[str, Any]:
    return {
        "id": notice.id,
        "tenant_id": notice.tenant_id,
        "kind": notice.kind,
        "event_type": notice.event_type,
        "audience": notice.audience,
        "audience_id": notice.audience_id,
        "channel": notice.channel,
        "address": notice.address,
        "subject": notice.subject,
        "body": notice.body,
        "ticket_id": notice.ticket_id,
        "urgent": notice.urgent,
        "status": notice.status,
        "attempts": notice.attempts,
        "error": notice.error,
        "created_at": as_utc(notice.created_at),
        "next_attempt_at": as_utc(notice.next_attempt_at),
        "sent_at": as_utc(notice.sent_at),
        "read_at": as_utc(notice.read_at),
    }


def notices(
    session: Session, *, status: str | None, channel: str | None, ticket_id: str | None, limit: int, offset: int
) -> tuple[int, list[Notice]]:
    """The delivery log as the session's principal sees it, newest first: (total, page)."""
    base = select(Notice)
    if status:
        base = base.where(Notice.status == status)
    if channel:
        base = base.where(Notice.channel == channel)
    if ticket_id:
        base = base.where(Notice.ticket_id == ticket_id)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.scalars(base.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit).offset(offset))
    return int(total or 0), list(rows)


# ---------------------------------------------------------------- per-user preferences
def _prefs(row: Preference) -> preferences.UserPrefs:
    return preferences.UserPrefs(
        row.username,
        row.role,
        row.tenant_id,
        row.outlet_id,
        row.email,
        row.phone,
        row.quiet_hours,
        {kind: tuple(chosen) for kind, chosen in (row.channels or {}).items()},
    )


def staff_preferences(session: Session) -> list[preferences.UserPrefs]:
    """Every user's preferences the session sees (the consumer's: all), for their own copies."""
    return [_prefs(row) for row in session.scalars(select(Preference).order_by(Preference.username))]


def preferences_of(session: Session, principal: Any) -> preferences.UserPrefs:
    """The caller's preferences (none saved: the defaults)."""
    row = session.get(Preference, principal.user)
    if row is not None:
        return _prefs(row)
    return preferences.UserPrefs(principal.user, principal.role, principal.tenant, principal.outlet)


def save_preferences(session: Session, principal: Any, prefs: preferences.UserPrefs, now: datetime) -> None:
    """Keep the caller's preferences (their row, in their tenant: HQ users under ``HQ``)."""
    row = session.get(Preference, principal.user)
    if row is None:
        row = Preference(username=principal.user, tenant_id=principal.tenant or "HQ")
        session.add(row)
    row.role, row.outlet_id = principal.role, principal.outlet
    row.email, row.phone, row.quiet_hours = prefs.email, prefs.phone, prefs.quiet_hours
    row.channels = {kind: list(chosen) for kind, chosen in prefs.channels.items()}
    row.updated_at = now
