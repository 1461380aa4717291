"""Mainland China working-day calendar (statutory holidays and 调休).

Source of truth, in order:

1. the override table (``shared/data/calendar_overrides.yaml``, or the
   ``overrides`` argument): an explicit ``workday``/``holiday`` for a date.
   Operators add next year's State Council schedule there as soon as it is
   published (usually in November), before ``chinesecalendar`` is upgraded.
   Overrides win over the library for every year, so they can also correct it.
2. ``chinesecalendar`` (``import chinese_calendar``) for the years it knows
   (1.11.0: 2004-2026).
3. For any other year: with ``unknown_year="weekdays"`` Monday-Friday are
   working days except 1 January (New Year's Day is fixed by law); a warning is
   logged once per year.  With ``unknown_year="raise"`` a
   :class:`CalendarUnknownYear` is raised -- unless the override table already
   has entries for that year, in which case the year counts as published and
   its unlisted days follow the same weekday rule silently.

All functions take and return ``datetime.date`` (local Asia/Shanghai dates).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar

__all__ = [
    "ChinaCalendar",
    "CalendarUnknownYear",
    "DEFAULT_OVERRIDES_PATH",
    "load_overrides",
]

log = logging.getLogger(__name__)

DEFAULT_OVERRIDES_PATH = Path(__file__).resolve().parent / "data" / "calendar_overrides.yaml"

_WORKDAY_WORDS = {"workday": True, "work": True, "working": True, "holiday": False, "off": False, "rest": False}


class CalendarUnknownYear(LookupError):
    """The calendar has no schedule for this year (neither chinesecalendar nor overrides)."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"no working-day schedule for {year}: chinesecalendar {chinese_calendar.__version__} "
            f"does not cover it and the override table has no entries for it; add the State "
            f"Council schedule for {year} to {DEFAULT_OVERRIDES_PATH.name} or upgrade chinesecalendar"
        )


def _parse_override_value(key: object, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _WORKDAY_WORDS:
        return _WORKDAY_WORDS[value.strip().lower()]
    raise ValueError(f"calendar override {key}: expected 'workday' or 'holiday', got {value!r}")


def _parse_override_key(key: object) -> date:
    if isinstance(key, datetime):
        return key.date()
    if isinstance(key, date):
        return key
    try:
        return date.fromisoformat(str(key).strip())
    except ValueError:
        raise ValueError(f"calendar override key {key!r} is not a YYYY-MM-DD date") from None


def load_overrides(path: Path | str = DEFAULT_OVERRIDES_PATH) -> dict[date, bool]:
    """Read a YAML mapping ``YYYY-MM-DD: workday|holiday`` (missing file -> empty)."""
    import yaml

    path = Path(path)
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of YYYY-MM-DD: workday|holiday")
    return {_parse_override_key(k): _parse_override_value(k, v) for k, v in data.items()}


class ChinaCalendar:
    def __init__(self, overrides: Mapping[date, bool | str] | None = None, unknown_year: str = "weekdays"):
        if unknown_year not in ("weekdays", "raise"):
            raise ValueError("unknown_year must be 'weekdays' or 'raise'")
        self.unknown_year = unknown_year
        self.overrides: dict[date, bool] = {
            _parse_override_key(k): _parse_override_value(k, v) for k, v in (overrides or {}).items()
        }
        self._override_years = {d.year for d in self.overrides}
        self._warned_years: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    @functools.cache
    def default(cls) -> ChinaCalendar:
        """The process-wide calendar with ``shared/data/calendar_overrides.yaml`` (cached)."""
        return cls(overrides=load_overrides(DEFAULT_OVERRIDES_PATH))

    # -- single days -------------------------------------------------------
    @staticmethod
    def _as_date(d: object) -> date:
        if isinstance(d, datetime):
            raise TypeError("pass a local date (convert the datetime to Asia/Shanghai first)")
        if not isinstance(d, date):
            raise TypeError(f"expected datetime.date, got {type(d).__name__}")
        return d

    def knows_year(self, year: int) -> bool:
        """True when chinesecalendar or the override table covers the year."""
        if year in self._override_years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
            return True
        except NotImplementedError:
            return False

    def is_workday(self, d: date) -> bool:
        d = self._as_date(d)
        override = self.overrides.get(d)
        if override is not None:
            return override
        try:
            workday: bool = chinese_calendar.is_workday(d)  # untyped library
            return workday
        except NotImplementedError:
            pass
        if d.year not in self._override_years:
            if self.unknown_year == "raise":
                raise CalendarUnknownYear(d.year)
            if d.year not in self._warned_years:
                with self._lock:
                    if d.year not in self._warned_years:
                        self._warned_years.add(d.year)
                        log.warning(
                            "no holiday schedule for %s (chinesecalendar %s, no overrides): "
                            "assuming Monday-Friday working days except 1 January; add the "
                            "State Council schedule to %s",
                            d.year,
                            chinese_calendar.__version__,
                            DEFAULT_OVERRIDES_PATH.name,
                        )
        if d.month == 1 and d.day == 1:
            return False
        return d.weekday() < 5

    def is_holiday(self, d: date) -> bool:
        """Not a working day (weekend or statutory holiday)."""
        return not self.is_workday(d)

    # -- stepping ----------------------------------------------------------
    def next_workday(self, d: date) -> date:
        """The first working day strictly after d."""
        d = self._as_date(d) + timedelta(days=1)
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def next_workday_on_or_after(self, d: date) -> date:
        d = self._as_date(d)
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def previous_workday(self, d: date) -> date:
        """The last working day strictly before d."""
        d = self._as_date(d) - timedelta(days=1)
        while not self.is_workday(d):
            d -= timedelta(days=1)
        return d

    def add_workdays(self, d: date, n: int) -> date:
        """The n-th working day after d (n > 0) or before d (n < 0).

        n == 0 returns d when it is a working day, else the next working day.
        d itself never counts for n != 0.
        """
        d = self._as_date(d)
        if n == 0:
            return self.next_workday_on_or_after(d)
        step = self.next_workday if n > 0 else self.previous_workday
        for _ in range(abs(n)):
            d = step(d)
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in the half-open range [a, b); negative when b < a."""
        a, b = self._as_date(a), self._as_date(b)
        if b < a:
            return -self.workdays_between(b, a)
        count, d = 0, a
        while d < b:
            if self.is_workday(d):
                count += 1
            d += timedelta(days=1)
        return count
