"""The one SLA clock: every service-commitment deadline is computed here.

Datetimes in and out are timezone-aware and returned in UTC; calendar and
working-hour reasoning happens in local time (Asia/Shanghai, no DST).
Working days come from :class:`shared.workcal.ChinaCalendar` (statutory
holidays and adjusted working weekends).

Units (``deadline(start, amount, unit)``):

``calendar_hours``  start + amount hours, around the clock.
``calendar_days``   start + amount x 24 h.
``working_hours``   only time inside working hours (default 08:30-18:00) on
                    working days counts; a start outside them counts from the
                    next opening.  A deadline that lands exactly on closing time
                    stays there (it does not roll to the next morning).
``working_days``    the same local clock time ``amount`` working days later;
                    a start on a non-working day counts from the opening of the
                    next working day.

Default figures (DOMAIN.md): accept 24 h, phone reply 48 h, on site local
24 h / in-province 2 working days / out-of-province 5 working days, web
forward 1 working hour with an 18:00 cutoff, complaint plan 24 h, complaint
closed within 15 days, callback 3 working days, follow-up 7 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.clock import LOCAL_TZ
from shared.events import ONSITE_KINDS, TIERS  # the ticket kinds and tiers are the event catalogue's
from shared.events import TICKET_KINDS as KINDS
from shared.workcal import ChinaCalendar

__all__ = [
    "UNITS",
    "KINDS",
    "ONSITE_KINDS",
    "TIERS",
    "WorkingHours",
    "SlaClock",
    "SlaRule",
    "SlaPolicy",
    "ticket_deadlines",
    "callback_deadlines",
]

UTC = UTC
UNITS = ("calendar_hours", "working_hours", "working_days", "calendar_days")


def _parse_time(value: Any, key: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{key}: expected a time like '18:00', got {value!r}")


@dataclass(frozen=True)
class WorkingHours:
    start: time = time(8, 30)
    end: time = time(18, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("WorkingHours take naive local times")
        if not self.start < self.end:
            raise ValueError("WorkingHours.start must be before WorkingHours.end")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WorkingHours:
        unknown = sorted(set(d) - {"start", "end"})
        if unknown:
            raise ValueError(f"unknown working-hours key(s): {', '.join(unknown)}")
        kw = {k: _parse_time(v, f"working_hours.{k}") for k, v in d.items()}
        return cls(**kw)


class SlaClock:
    """Deadline arithmetic on the mainland China working calendar."""

    def __init__(
        self, calendar: ChinaCalendar | None = None, hours: WorkingHours | None = None, tz: str | ZoneInfo = LOCAL_TZ
    ):
        self.calendar = calendar if calendar is not None else ChinaCalendar.default()
        self.hours = hours if hours is not None else WorkingHours()
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz

    # -- helpers -----------------------------------------------------------
    @staticmethod
    def _check(dt: datetime, name: str = "start") -> datetime:
        if not isinstance(dt, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(dt).__name__}")
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
        return dt

    def local(self, dt: datetime) -> datetime:
        return self._check(dt).astimezone(self.tz)

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.tz)

    def opening(self, d: date) -> datetime:
        """Start of working hours on local date d (UTC)."""
        return self._at(d, self.hours.start).astimezone(UTC)

    def closing(self, d: date) -> datetime:
        return self._at(d, self.hours.end).astimezone(UTC)

    def next_opening(self, start: datetime) -> datetime:
        """The first moment inside working hours at or after start (UTC)."""
        loc = self.local(start)
        d = loc.date()
        if self.calendar.is_workday(d):
            if loc < self._at(d, self.hours.start):
                return self.opening(d)
            if loc < self._at(d, self.hours.end):
                return loc.astimezone(UTC)
        return self.opening(self.calendar.next_workday(d))

    def is_working_time(self, dt: datetime) -> bool:
        loc = self.local(dt)
        return (
            self.calendar.is_workday(loc.date())
            and self.hours.start <= loc.time().replace(tzinfo=None) < self.hours.end
        )

    # -- the arithmetic ----------------------------------------------------
    def add_calendar_hours(self, start: datetime, h: float) -> datetime:
        return self._check(start).astimezone(UTC) + timedelta(hours=h)

    def add_calendar_days(self, start: datetime, n: float) -> datetime:
        return self._check(start).astimezone(UTC) + timedelta(days=n)

    def add_working_hours(self, start: datetime, h: float) -> datetime:
        if h < 0:
            raise ValueError("working hours must be >= 0")
        remaining = timedelta(hours=h)
        cur = self.local(start)
        while True:
            d = cur.date()
            if self.calendar.is_workday(d):
                open_, close = self._at(d, self.hours.start), self._at(d, self.hours.end)
                if cur < open_:
                    cur = open_
                if cur < close:
                    available = close - cur
                    if remaining <= available:
                        return (cur + remaining).astimezone(UTC)
                    remaining -= available
            cur = self._at(self.calendar.next_workday(d), self.hours.start)

    def add_working_days(self, start: datetime, n: float) -> datetime:
        if n != int(n) or n < 0:
            raise ValueError(f"working days must be a whole number >= 0, got {n!r}")
        n = int(n)
        loc = self.local(start)
        d = loc.date()
        if self.calendar.is_workday(d):
            clock_time = loc.timetz()
        else:
            d = self.calendar.next_workday(d)
            clock_time = self.hours.start
        target = self.calendar.add_workdays(d, n) if n else d
        return self._at(target, clock_time.replace(tzinfo=None)).astimezone(UTC)

    def end_of_working_day_after(self, start: datetime, n: int = 0) -> datetime:
        """Closing time of the n-th working day after the working day of ``start``.

        The working day of ``start`` is its local date when that is a working
        day and ``start`` is before closing time, else the next working day.
        """
        if n != int(n) or n < 0:
            raise ValueError(f"working days must be a whole number >= 0, got {n!r}")
        loc = self.local(start)
        d = loc.date()
        if not self.calendar.is_workday(d) or loc >= self._at(d, self.hours.end):
            d = self.calendar.next_workday(d)
        if n:
            d = self.calendar.add_workdays(d, int(n))
        return self.closing(d)

    def deadline(self, start: datetime, amount: float, unit: str) -> datetime:
        if unit == "calendar_hours":
            return self.add_calendar_hours(start, amount)
        if unit == "working_hours":
            return self.add_working_hours(start, amount)
        if unit == "working_days":
            return self.add_working_days(start, amount)
        if unit == "calendar_days":
            return self.add_calendar_days(start, amount)
        raise ValueError(f"unknown SLA unit {unit!r}; expected one of {', '.join(UNITS)}")

    def is_workday_before_cutoff(self, start: datetime, cutoff: time = time(18, 0)) -> bool:
        loc = self.local(start)
        return self.calendar.is_workday(loc.date()) and loc.time().replace(tzinfo=None) < cutoff

    def cutoff_deadline(self, received: datetime, amount: float, unit: str, cutoff: time = time(18, 0)) -> datetime:
        """Deadline of a cutoff rule (the web 1-hour rule).

        Received on a working day before ``cutoff``: ``amount`` counts from
        ``max(received, opening)``; in ``working_hours`` it is then taken as
        elapsed time ("within 1 hour"), even if that runs past closing time.
        Otherwise it counts from the opening of the next working day.
        """
        if self.is_workday_before_cutoff(received, cutoff):
            loc = self.local(received)
            eff = max(loc, self._at(loc.date(), self.hours.start)).astimezone(UTC)
            if unit == "working_hours":
                return eff + timedelta(hours=amount)
            return self.deadline(eff, amount, unit)
        loc = self.local(received)
        return self.deadline(self.opening(self.calendar.next_workday(loc.date())), amount, unit)


@dataclass(frozen=True)
class SlaRule:
    amount: float
    unit: str

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unknown SLA unit {self.unit!r}; expected one of {', '.join(UNITS)}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, (int, float)):
            raise ValueError(f"SLA amount must be a number, got {self.amount!r}")
        if self.amount < 0:
            raise ValueError("SLA amount must be >= 0")
        if self.unit == "working_days" and self.amount != int(self.amount):
            raise ValueError("working_days must be a whole number")

    def apply(self, clock: SlaClock, start: datetime) -> datetime:
        return clock.deadline(start, self.amount, self.unit)

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "unit": self.unit}


_RULE_FIELDS = (
    "accept",
    "phone_reply",
    "onsite_local",
    "onsite_in_province",
    "onsite_out_of_province",
    "web_forward",
    "complaint_plan",
    "complaint_close",
    "callback",
    "followup",
)


@dataclass(frozen=True)
class SlaPolicy:
    """Per-tenant SLA figures.  Build from config with :meth:`from_dict`."""

    accept: SlaRule = SlaRule(24, "calendar_hours")
    phone_reply: SlaRule = SlaRule(48, "calendar_hours")
    onsite_local: SlaRule = SlaRule(24, "calendar_hours")
    onsite_in_province: SlaRule = SlaRule(2, "working_days")
    onsite_out_of_province: SlaRule = SlaRule(5, "working_days")
    web_forward: SlaRule = SlaRule(1, "working_hours")
    forward_cutoff: time = time(18, 0)
    complaint_plan: SlaRule = SlaRule(24, "calendar_hours")
    complaint_close: SlaRule = SlaRule(15, "calendar_days")
    callback: SlaRule = SlaRule(3, "working_days")
    followup: SlaRule = SlaRule(7, "calendar_days")

    def onsite_rule(self, tier: str | None) -> SlaRule:
        if tier not in TIERS:
            raise ValueError(f"unknown tier {tier!r}; expected one of {', '.join(TIERS)}")
        rule: SlaRule = getattr(self, f"onsite_{tier}")
        return rule

    @staticmethod
    def _rule(key: str, value: Any, default: SlaRule) -> SlaRule:
        """A rule from {'amount','unit'}, [amount, unit], '24 calendar_hours' or a bare number."""
        try:
            if isinstance(value, SlaRule):
                return value
            if isinstance(value, Mapping):
                unknown = sorted(set(value) - {"amount", "unit", "cutoff"})
                if unknown or ("cutoff" in value and key != "web_forward"):
                    bad = unknown or ["cutoff"]
                    raise ValueError(f"unknown setting(s) {', '.join(bad)}")
                return SlaRule(value.get("amount", default.amount), value.get("unit", default.unit))
            if isinstance(value, (list, tuple)) and len(value) == 2:
                return SlaRule(value[0], value[1])
            if isinstance(value, str):
                parts = value.split()
                if len(parts) == 2:
                    return SlaRule(float(parts[0]), parts[1])
                raise ValueError(f"expected '<amount> <unit>', got {value!r}")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return SlaRule(value, default.unit)
            raise ValueError(f"cannot read a rule from {value!r}")
        except ValueError as exc:
            raise ValueError(f"SLA policy {key}: {exc}") from None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> SlaPolicy:
        d = dict(d or {})
        known = set(_RULE_FIELDS) | {"forward_cutoff"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown SLA policy key(s): {', '.join(unknown)}")
        base = cls()
        kw: dict[str, Any] = {}
        for key in _RULE_FIELDS:
            if key in d:
                kw[key] = cls._rule(key, d[key], getattr(base, key))
        cutoff = d.get("forward_cutoff")
        wf = d.get("web_forward")
        if isinstance(wf, Mapping) and "cutoff" in wf:
            if cutoff is not None:
                raise ValueError("SLA policy web_forward: cutoff given twice (and forward_cutoff)")
            cutoff = wf["cutoff"]
        if cutoff is not None:
            kw["forward_cutoff"] = _parse_time(cutoff, "SLA policy forward_cutoff")
        return cls(**kw)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k).to_dict() for k in _RULE_FIELDS}
        out["forward_cutoff"] = self.forward_cutoff.strftime("%H:%M")
        return out


def _wish_to_datetime(clock: SlaClock, wish: datetime | date) -> datetime:
    """A wished visit date means "by the end of working hours that day"."""
    if isinstance(wish, datetime):
        return clock._check(wish, "wished_visit_at").astimezone(UTC)
    if isinstance(wish, date):
        return clock.closing(wish)
    raise TypeError(f"wished_visit_at must be a datetime or a date, got {type(wish).__name__}")


def ticket_deadlines(
    clock: SlaClock,
    policy: SlaPolicy,
    *,
    kind: str,
    channel: str,
    received_at: datetime,
    tier: str | None,
    wished_visit_at: datetime | date | None = None,
) -> dict[str, datetime]:
    """All deadlines that start when a request is received (UTC datetimes).

    Keys: ``accept``, ``phone_reply``; ``onsite`` for repair, install,
    maintenance and complaint (by ``tier``; a wished visit later than that
    deadline replaces it, an earlier wish does not shorten it); ``forward`` for
    the web channel (1-hour rule); ``complaint_plan`` and ``complaint_close``
    for complaints.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    clock._check(received_at, "received_at")
    out: dict[str, datetime] = {
        "accept": policy.accept.apply(clock, received_at),
        "phone_reply": policy.phone_reply.apply(clock, received_at),
    }
    if kind in ONSITE_KINDS:
        onsite = policy.onsite_rule(tier).apply(clock, received_at)
        if wished_visit_at is not None:
            wish = _wish_to_datetime(clock, wished_visit_at)
            if wish > onsite:
                onsite = wish
        out["onsite"] = onsite
    if channel == "web":
        rule = policy.web_forward
        out["forward"] = clock.cutoff_deadline(received_at, rule.amount, rule.unit, policy.forward_cutoff)
    if kind == "complaint":
        out["complaint_plan"] = policy.complaint_plan.apply(clock, received_at)
        out["complaint_close"] = policy.complaint_close.apply(clock, received_at)
    return out


def callback_deadlines(clock: SlaClock, policy: SlaPolicy, *, completed_at: datetime) -> dict[str, datetime]:
    """Deadlines that start when the service is completed: ``callback``, ``followup``."""
    return {
        "callback": policy.callback.apply(clock, completed_at),
        "followup": policy.followup.apply(clock, completed_at),
    }
