"""The one clock every service reads (`shared.db.utcnow` delegates here).

In production it is the system clock. A simulation (the dispatch benchmark replaying days of
requests in minutes) or a test moves it with `travel_to` / `advance`; only code in the same
process is affected, and nothing in the product moves it by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload
from zoneinfo import ZoneInfo

#: where the product shows time and counts days and months (China: UTC+8 all year, no DST)
LOCAL_TZ = ZoneInfo("Asia/Shanghai")

_offset = timedelta(0)


def now() -> datetime:
    return datetime.now(UTC) + _offset


def travel_to(when: datetime) -> None:
    """Make `now()` read `when` from this instant on (time keeps running from there)."""
    global _offset
    if when.tzinfo is None:
        raise ValueError("travel_to needs a timezone-aware datetime")
    _offset = when - datetime.now(UTC)


def advance(delta: timedelta) -> None:
    global _offset
    _offset += delta


def reset() -> None:
    global _offset
    _offset = timedelta(0)


@overload
def as_utc(dt: datetime) -> datetime: ...
@overload
def as_utc(dt: None) -> None: ...
@overload
def as_utc(dt: datetime | None) -> datetime | None: ...
def as_utc(dt: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone=True columns: they are UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
