"""Mainland China working-day calendar (statutory holidays and 调休).

Source of truth, in order:

1. the holiday schedules in the calendar directory (``CALENDAR_DIR`` / ``$FSM_CALENDAR_DIR``,
   default ``shared/data/calendar/``): one file per year, ``YYYY.csv``, the State Council's
   schedule for that year as ``fsm calendar import`` validated and wrote it (every holiday and
   make-up working day, see :func:`parse_schedule`). Operators import next year's as soon as it
   is published (usually in November), before ``chinesecalendar`` is upgraded. A listed date
   wins over the library for every year, so a schedule can also correct it. The ``overrides``
   argument adds explicit dates on top (tests).
2. ``chinesecalendar`` (``import chinese_calendar``) for the years it knows
   (1.11.0: 2004-2026).
3. For any other year: with ``unknown_year="weekdays"`` Monday-Friday are
   working days except 1 January (New Year's Day is fixed by law); a warning is
   logged once per year.  With ``unknown_year="raise"`` a
   :class:`CalendarUnknownYear` is raised -- unless a schedule covers that year, in which
   case its unlisted days follow the same weekday rule silently.

So that an unknown year is never silent, :func:`outlook` lists the dates within the next
``HORIZON_DAYS`` that fall in a year no source knows; every service's ``/health/ready`` shows it
(a ``calendar`` check marked ``warning``) and exports the count as ``fsm_calendar_unknown_days``.

A running process re-reads the directory when a file in it changes (:meth:`ChinaCalendar.refresh`,
called by every service's ``CalendarWatch``), so a ConfigMap update reaches it without a restart.

All functions take and return ``datetime.date`` (local Asia/Shanghai dates).
"""

from __future__ import annotations

import csv
import functools
import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import chinese_calendar

from shared.clock import LOCAL_TZ

__all__ = [
    "ChinaCalendar",
    "CalendarUnknownYear",
    "CalendarOutlook",
    "DEFAULT_CALENDAR_DIR",
    "HORIZON_DAYS",
    "LoadedCalendar",
    "ScheduleError",
    "ScheduledDay",
    "YearSchedule",
    "calendar_dir",
    "library_knows",
    "library_years",
    "load_calendar_dir",
    "outlook",
    "parse_schedule",
    "render_schedule",
    "unknown_dates",
    "write_schedule",
]

log = logging.getLogger(__name__)

DEFAULT_CALENDAR_DIR = Path(__file__).resolve().parent / "data" / "calendar"
CALENDAR_DIR_ENV = "FSM_CALENDAR_DIR"
HORIZON_DAYS = 90  # how far ahead an unknown year is reported: deadlines and plans reach this far
HEADER = ("date", "kind", "name")
KINDS = ("holiday", "workday")
_TITLE = "Holidays and make-up working days of"
IMPORT_HOW = "`fsm calendar import FILE` (the State Council's schedule for the year)"

_WORKDAY_WORDS = {"workday": True, "work": True, "working": True, "holiday": False, "off": False, "rest": False}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CalendarUnknownYear(LookupError):
    """The calendar has no schedule for this year (neither chinesecalendar nor a schedule file)."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"no working-day schedule for {year}: chinesecalendar {chinese_calendar.__version__} "
            f"does not cover it and no {year}.csv is in the calendar directory; import it with {IMPORT_HOW}"
        )


@functools.cache
def library_knows(year: int) -> bool:
    """True when chinesecalendar has the holidays and 调休 of the year."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
        return True
    except NotImplementedError:
        return False


def library_years() -> range:
    """The years chinesecalendar covers (1.11.0: 2004-2026)."""
    years = [d.year for d in chinese_calendar.holidays]  # its table of holidays, keyed by date
    return range(min(years), max(years) + 1)


# ====================================================================== one year's schedule (pure)
@dataclass(frozen=True)
class ScheduledDay:
    day: date
    kind: str  # "holiday" (a day off, weekend days of the break included) or "workday" (a weekend worked: 调休上班)
    name: str  # which holiday, e.g. 春节
    line: int = 0  # where it stood in its file (for messages)


@dataclass(frozen=True)
class YearSchedule:
    """One year's official holidays and make-up working days, validated."""

    year: int
    days: tuple[ScheduledDay, ...]
    comments: tuple[str, ...] = ()  # the file's comment lines (without '#'): its source, the import note

    @property
    def holidays(self) -> int:
        return sum(1 for d in self.days if d.kind == "holiday")

    @property
    def workdays(self) -> int:
        return sum(1 for d in self.days if d.kind == "workday")

    def overrides(self) -> dict[date, bool]:
        """{date: is a working day}."""
        return {d.day: d.kind == "workday" for d in self.days}

    @property
    def imported(self) -> str:
        """The note `fsm calendar import` wrote (when and from which file), or ''."""
        return next((c for c in self.comments if c.startswith("imported ")), "")


class ScheduleError(ValueError):
    """A schedule file that cannot be taken: every problem found, each naming its line and field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


def parse_schedule(text: str, source: str = "<input>", year: int | None = None) -> YearSchedule:
    """Read one year's schedule: a CSV text with the header ``date,kind,name`` and one row per
    special day::

        # 国务院办公厅关于2027年部分节假日安排的通知 (comment lines start with #)
        date,kind,name
        2027-01-01,holiday,元旦
        2027-02-20,workday,春节

    ``holiday``: a day off (list every day of the break, weekend days included); ``workday``: a
    weekend day worked instead (调休上班). Every date must be a real ``YYYY-MM-DD`` in one year
    (``year`` when given, else the first row's), listed once; every row needs a name. Raises
    :class:`ScheduleError` with every problem, each naming its line and field.
    """
    problems: list[str] = []
    comments: list[str] = []
    days: list[ScheduledDay] = []
    seen: dict[date, ScheduledDay] = {}
    header_seen = False
    year_line = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].removeprefix(" ").rstrip())
            continue
        cells = [c.strip() for c in next(csv.reader([raw]))]
        if not header_seen:
            header_seen = True
            if tuple(c.lower() for c in cells) != HEADER:
                problems.append(f"line {number}: the header must be {','.join(HEADER)}, got {stripped!r}")
                break
            continue
        if len(cells) != len(HEADER):
            problems.append(f"line {number}: expected 3 fields ({','.join(HEADER)}), got {len(cells)}: {stripped!r}")
            continue
        text_date, kind, name = cells
        row_problems: list[str] = []
        day: date | None = None
        if not _ISO_DATE.match(text_date):
            row_problems.append(f"line {number}, date: {text_date!r} is not a date YYYY-MM-DD")
        else:
            try:
                day = date.fromisoformat(text_date)
            except ValueError:
                row_problems.append(f"line {number}, date: {text_date!r} is not a valid date")
        if day is not None:
            if year is None:
                year, year_line = day.year, number
            if day.year != year:
                where = f"the year of line {year_line}" if year_line else "the year asked for"
                row_problems.append(
                    f"line {number}, date: {text_date} is not in {year} ({where}): one file holds one year"
                )
            elif day in seen:
                first = seen[day]
                row_problems.append(
                    f"line {number}, date: {text_date} is already listed on line {first.line} (as {first.kind})"
                )
        kind = kind.lower()
        if kind not in KINDS:
            row_problems.append(f"line {number}, kind: {cells[1]!r} must be holiday or workday")
        elif kind == "workday" and day is not None and day.weekday() < 5:
            row_problems.append(
                f"line {number}, kind: {text_date} is a {_WEEKDAYS[day.weekday()]}, a working day anyway: "
                "a make-up working day (调休上班) is a Saturday or Sunday"
            )
        if not name:
            row_problems.append(f"line {number}, name: missing (which holiday, e.g. 春节)")
        if row_problems:
            problems.extend(row_problems)
            continue
        assert day is not None
        entry = ScheduledDay(day, kind, name, number)
        seen[day] = entry
        days.append(entry)
    if not header_seen:
        problems.append(f"no header: the first line that is not a comment must be {','.join(HEADER)}")
    elif not days and not problems:
        problems.append("no dates: list the year's holidays and make-up working days, one per line")
    if problems:
        raise ScheduleError(source, problems)
    assert year is not None
    return YearSchedule(year, tuple(sorted(days, key=lambda d: d.day)), tuple(comments))


def render_schedule(schedule: YearSchedule, note: str = "") -> str:
    """The file `fsm calendar import` writes: a title, ``note`` (``imported ...``), the source's
    own comments, then the rows by date. :func:`parse_schedule` reads it back unchanged."""
    lines = [f"# {_TITLE} {schedule.year} (shared/workcal.py; fsm calendar import)"]
    if note:
        lines.append(f"# {note}")
    own = ("imported ", _TITLE)  # what a previous import wrote: replaced, not repeated
    lines += [f"# {c}" if c else "#" for c in schedule.comments if not c.startswith(own)]
    rows = [",".join(HEADER)]
    for d in schedule.days:
        name = d.name
        if any(ch in name for ch in ',"\r\n') or name != name.strip():
            name = '"' + name.replace('"', '""') + '"'
        rows.append(f"{d.day.isoformat()},{d.kind},{name}")
    return "\n".join(lines + rows) + "\n"


# ====================================================================== the directory of schedules
def calendar_dir(config: Mapping[str, Any] | None = None) -> Path:
    """Where the schedules are: config ``CALENDAR_DIR``, else ``$FSM_CALENDAR_DIR``, else the repository's."""
    configured = (config or {}).get("CALENDAR_DIR") or os.environ.get(CALENDAR_DIR_ENV)
    return Path(str(configured)) if configured else DEFAULT_CALENDAR_DIR


def _schedule_files(directory: Path) -> list[Path]:
    """The ``*.csv`` files of the directory (a ConfigMap volume's are symlinks: followed)."""
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".csv" and not p.name.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _signature(directory: Path) -> tuple[tuple[str, int, int, int], ...]:
    """What changes when a schedule file is added, removed or replaced."""
    out: list[tuple[str, int, int, int]] = []
    for path in _schedule_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(out)


@dataclass(frozen=True)
class LoadedCalendar:
    """The schedules found in a directory, and the files that could not be taken."""

    directory: Path
    schedules: dict[int, tuple[Path, YearSchedule]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    signature: tuple[tuple[str, int, int, int], ...] = ()

    def overrides(self) -> dict[date, bool]:
        out: dict[date, bool] = {}
        for _, schedule in self.schedules.values():
            out.update(schedule.overrides())
        return out


def load_calendar_dir(directory: Path | str) -> LoadedCalendar:
    """Every ``YYYY.csv`` of the directory, parsed (a missing directory: none). A file that does
    not parse, or holds another year than its name says, is left out and named in ``errors``."""
    directory = Path(directory)
    signature = _signature(directory)  # before reading: a change while reading shows next time
    schedules: dict[int, tuple[Path, YearSchedule]] = {}
    errors: list[str] = []
    for path in _schedule_files(directory):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        try:
            schedule = parse_schedule(text, str(path))
        except ScheduleError as exc:
            errors.append(str(exc))
            continue
        if path.stem != str(schedule.year):
            errors.append(f"{path}: holds {schedule.year}, so it must be named {schedule.year}.csv")
            continue
        schedules[schedule.year] = (path, schedule)
    return LoadedCalendar(directory, schedules, tuple(errors), signature)


def write_schedule(directory: Path | str, schedule: YearSchedule, note: str = "") -> tuple[Path, bool]:
    """Write ``YYYY.csv`` into the directory at once (a reader sees the old file or the new one),
    replacing that year's; (its path, whether one was replaced)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{schedule.year}.csv"
    replaced = target.exists()
    tmp = directory / f".{schedule.year}.csv.{os.getpid()}.tmp"
    try:
        tmp.write_text(render_schedule(schedule, note), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target, replaced


# ====================================================================== the calendar
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


class ChinaCalendar:
    def __init__(
        self,
        overrides: Mapping[Any, bool | str] | None = None,
        unknown_year: str = "weekdays",
        directory: Path | str | None = None,
    ) -> None:
        if unknown_year not in ("weekdays", "raise"):
            raise ValueError("unknown_year must be 'weekdays' or 'raise'")
        self.unknown_year = unknown_year
        self._explicit: dict[date, bool] = {
            _parse_override_key(k): _parse_override_value(k, v) for k, v in (overrides or {}).items()
        }
        self.directory: Path | None = Path(directory) if directory is not None else None
        self.loaded = LoadedCalendar(self.directory or Path())
        self.overrides: dict[date, bool] = dict(self._explicit)
        self._override_years = {d.year for d in self.overrides}
        self._warned_years: set[int] = set()
        self._lock = threading.Lock()
        if self.directory is not None:
            self.reload()

    @classmethod
    @functools.cache
    def default(cls) -> ChinaCalendar:
        """The process-wide calendar, on the calendar directory (:func:`calendar_dir`; a service
        points it at its configured one and keeps it current: ``shared.web.CalendarWatch``)."""
        return cls(directory=calendar_dir())

    # -- the directory -----------------------------------------------------
    def reload(self) -> LoadedCalendar:
        """Read the directory's schedules again (now), and take them."""
        if self.directory is None:
            return self.loaded
        loaded = load_calendar_dir(self.directory)
        overrides = {**loaded.overrides(), **self._explicit}
        with self._lock:
            before = set(self.loaded.schedules)
            self.loaded, self.overrides = loaded, overrides
            self._override_years = {d.year for d in overrides}
        if set(loaded.schedules) != before:
            log.info(
                "calendar: schedules for %s from %s",
                ", ".join(str(y) for y in sorted(loaded.schedules)) or "no year",
                loaded.directory,
            )
        for error in loaded.errors:
            log.error("calendar: a schedule file was left out: %s", error)
        return loaded

    def refresh(self) -> bool:
        """Reload when a file of the directory was added, removed or replaced; True if it was."""
        if self.directory is None or _signature(self.directory) == self.loaded.signature:
            return False
        self.reload()
        return True

    def use_directory(self, directory: Path | str) -> None:
        """Read the schedules from `directory` from now on."""
        directory = Path(directory)
        if directory != self.directory:
            self.directory = directory
            self.reload()

    # -- single days -------------------------------------------------------
    @staticmethod
    def _as_date(d: object) -> date:
        if isinstance(d, datetime):
            raise TypeError("pass a local date (convert the datetime to Asia/Shanghai first)")
        if not isinstance(d, date):
            raise TypeError(f"expected datetime.date, got {type(d).__name__}")
        return d

    def knows_year(self, year: int) -> bool:
        """True when chinesecalendar or a schedule covers the year."""
        return year in self._override_years or library_knows(year)

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
                            "no holiday schedule for %s (chinesecalendar %s, none in %s): assuming "
                            "Monday-Friday working days except 1 January; import it with %s",
                            d.year,
                            chinese_calendar.__version__,
                            self.directory or "no calendar directory",
                            IMPORT_HOW,
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


# ====================================================================== staleness (pure)
class KnowsYears(Protocol):
    def knows_year(self, year: int) -> bool: ...


def unknown_dates(calendar: KnowsYears, now: datetime, days: int = HORIZON_DAYS) -> list[date]:
    """The dates from today (local date of `now`) through the next `days` - 1 days that fall in a
    year neither chinesecalendar nor a schedule knows: deadlines there would count plain weekdays."""
    today = now.astimezone(LOCAL_TZ).date()
    known: dict[int, bool] = {}
    out: list[date] = []
    for i in range(days):
        d = today + timedelta(days=i)
        if d.year not in known:
            known[d.year] = calendar.knows_year(d.year)
        if not known[d.year]:
            out.append(d)
    return out


@dataclass(frozen=True)
class CalendarOutlook:
    """What the calendar knows of the next `days` days: the health check, metric and demo line."""

    first: date
    days: int
    unknown: tuple[date, ...]
    errors: tuple[str, ...] = ()  # schedule files left out

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)

    @property
    def unknown_years(self) -> list[int]:
        return sorted({d.year for d in self.unknown})

    @property
    def warning(self) -> bool:
        return bool(self.unknown or self.errors)

    def message(self) -> str:
        parts = []
        if self.unknown:
            years = ", ".join(str(y) for y in self.unknown_years)
            parts.append(
                f"{len(self.unknown)} of the next {self.days} days ({self.unknown[0]} to {self.unknown[-1]}) fall in "
                f"{years}, which neither chinesecalendar {chinese_calendar.__version__} nor a holiday schedule "
                f"knows: deadlines there count Monday-Friday and ignore the holidays; import the schedule with "
                f"{IMPORT_HOW}"
            )
        if self.errors:
            parts.append(f"{len(self.errors)} schedule file(s) left out: " + "; ".join(self.errors))
        return " / ".join(parts) or f"every day from {self.first} to {self.last} is in a year with a holiday schedule"

    def as_check(self) -> dict[str, Any]:
        """A readiness check: never fails readiness (refusing traffic would be worse than weekday
        deadlines), but says ``warning``."""
        return {
            "ok": True,
            "warning": self.warning,
            "detail": self.message(),
            "unknown_days": len(self.unknown),
            "unknown_years": self.unknown_years,
        }


def outlook(calendar: ChinaCalendar, now: datetime, days: int = HORIZON_DAYS) -> CalendarOutlook:
    """The dates within the next `days` days (from the local date of `now`) in unknown years,
    and the schedule files the calendar had to leave out."""
    return CalendarOutlook(
        now.astimezone(LOCAL_TZ).date(), days, tuple(unknown_dates(calendar, now, days)), calendar.loaded.errors
    )
