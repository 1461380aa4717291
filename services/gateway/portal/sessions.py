"""Portal sessions: server-side, one row per signed-in browser (`PortalSession`).

The cookie carries a random 256-bit id; the table keeps its SHA-256 only, with the CSRF token of
the session and its expiry. Expiry is the server's decision (``PORTAL_SESSION_SECONDS``, 12 hours
by default): an expired row is a missing session, and signing out, a new password or a disabled
account delete the rows. Every request reads the account again, so a change to it (disabled, a
new role) takes effect at the next click.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete

from services.gateway.models import PortalSession, User
from shared.clock import as_utc

DEFAULT_SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Visitor:
    """The person behind a request: their account and their session's CSRF token."""

    user: User
    csrf_token: str
    session_hash: str


def session_seconds(config: dict[str, Any]) -> int:
    value = config.get("PORTAL_SESSION_SECONDS")
    return int(value) if value not in (None, "") else DEFAULT_SESSION_SECONDS


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def begin(session: Any, user: User, now: datetime, seconds: int, address: str | None) -> str:
    """A new session for `user`; the id to put in the cookie (shown nowhere else)."""
    session_id = secrets.token_urlsafe(32)
    session.add(
        PortalSession(
            id_hash=digest(session_id),
            username=user.username,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
            address=(address or "")[:64] or None,
        )
    )
    return session_id


def find(session: Any, session_id: str | None, now: datetime) -> Visitor | None:
    """The visitor whose cookie holds `session_id`: None when there is no such session, it has
    expired (the row is then deleted) or its account is disabled."""
    if not session_id or len(session_id) > 128:
        return None
    row = session.get(PortalSession, digest(session_id))
    if row is None:
        return None
    if as_utc(row.expires_at) <= now:
        session.delete(row)
        return None
    user = session.get(User, row.username)
    if user is None or user.disabled:
        return None
    return Visitor(user=user, csrf_token=row.csrf_token, session_hash=row.id_hash)


def end(session: Any, session_id: str | None) -> None:
    if session_id:
        session.execute(delete(PortalSession).where(PortalSession.id_hash == digest(session_id)))


def end_all(session: Any, username: str) -> None:
    """Every session of the account (a new password, a disabled account)."""
    session.execute(delete(PortalSession).where(PortalSession.username == username))


def purge_expired(session: Any, now: datetime) -> None:
    session.execute(delete(PortalSession).where(PortalSession.expires_at <= now))


def same_token(expected: str | None, given: Any) -> bool:
    """A CSRF token check in constant time."""
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())
