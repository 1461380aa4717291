"""Mainland China working-day calendar (shared.workcal)."""

import csv
import logging
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.workcal import DEFAULT_CALENDAR_DIR, CalendarUnknownYear, ChinaCalendar, load_calendar_dir

REPO = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _sample() -> Path:
    for path in (
        REPO / "data" / "service_requests_sample.csv",
        REPO.parent / "shared" / "data" / "geo" / "service_requests_sample.csv",
    ):
        if path.exists():
            return path
    pytest.fail("service_requests_sample.csv not found in data/ or ../shared/data/geo")


@pytest.fixture(scope="module")
def rows():
    with open(_sample(), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def cal():
    return ChinaCalendar()


def test_sample_workday_flags(rows, cal):
    assert len(rows) == 300
    for r in rows:
        local = datetime.fromisoformat(r["received_at"]).astimezone(SHANGHAI)
        workday = cal.is_workday(local.date())
        assert workday == (r["exp_received_is_workday"] == "True"), r["request_id"]
        before = workday and local.time() < time(18, 0)
        assert before == (r["exp_received_workday_before_1800"] == "True"), r["request_id"]


def test_sample_covers_special_days(rows, cal):
    days = {datetime.fromisoformat(r["received_at"]).astimezone(SHANGHAI).date() for r in rows}
    assert any(d.weekday() >= 5 and cal.is_workday(d) for d in days)  # 调休 weekend
    assert any(d.weekday() < 5 and cal.is_holiday(d) for d in days)  # weekday holiday


def test_known_days(cal):
    assert cal.is_workday(date(2025, 1, 26))  # adjusted working Sunday
    assert not cal.is_workday(date(2025, 10, 1))  # National Day
    assert cal.is_holiday(date(2025, 10, 1))
    assert cal.is_workday(date(2025, 9, 28))  # adjusted working Sunday
    assert cal.is_workday(date(2025, 10, 11))  # adjusted working Saturday
    assert not cal.is_workday(date(2025, 10, 4))  # Saturday inside the holiday
    assert cal.is_workday(date(2026, 2, 14))  # adjusted working Saturday
    assert not cal.is_workday(date(2026, 2, 16))


def test_stepping(cal):
    assert cal.next_workday(date(2025, 9, 30)) == date(2025, 10, 9)
    assert cal.next_workday(date(2025, 10, 9)) == date(2025, 10, 10)
    assert cal.next_workday(date(2025, 10, 10)) == date(2025, 10, 11)  # working Saturday
    assert cal.next_workday_on_or_after(date(2025, 10, 1)) == date(2025, 10, 9)
    assert cal.next_workday_on_or_after(date(2025, 9, 30)) == date(2025, 9, 30)
    assert cal.add_workdays(date(2025, 9, 29), 2) == date(2025, 10, 9)
    assert cal.add_workdays(date(2025, 9, 26), 1) == date(2025, 9, 28)  # Fri -> working Sun
    assert cal.add_workdays(date(2025, 10, 9), -1) == date(2025, 9, 30)
    assert cal.add_workdays(date(2025, 10, 1), 0) == date(2025, 10, 9)
    assert cal.workdays_between(date(2025, 9, 29), date(2025, 10, 13)) == 5  # 29, 30, 9, 10, 11
    assert cal.workdays_between(date(2025, 10, 13), date(2025, 9, 29)) == -5
    assert cal.workdays_between(date(2025, 10, 1), date(2025, 10, 1)) == 0


def test_datetime_rejected(cal):
    with pytest.raises(TypeError):
        cal.is_workday(datetime(2025, 10, 1, 9, 0))


def test_unknown_year_weekdays_warns_once(caplog):
    cal = ChinaCalendar(unknown_year="weekdays")
    with caplog.at_level(logging.WARNING, logger="shared.workcal"):
        assert not cal.is_workday(date(2027, 1, 1))  # Friday, New Year's Day
        assert cal.is_workday(date(2027, 1, 4))  # Monday
        assert not cal.is_workday(date(2027, 1, 9))  # Saturday
        assert cal.is_workday(date(2027, 10, 1))  # unknown: plain weekday rule
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1
    assert not cal.knows_year(2027)


def test_unknown_year_raise():
    cal = ChinaCalendar(unknown_year="raise")
    with pytest.raises(CalendarUnknownYear, match="2027"):
        cal.is_workday(date(2027, 3, 1))
    assert cal.is_workday(date(2026, 3, 2))  # known years unaffected


def test_unknown_year_with_overrides():
    overrides = {date(2027, 10, 1): "holiday", date(2027, 10, 4): "holiday", date(2027, 9, 26): "workday"}
    for mode in ("weekdays", "raise"):
        cal = ChinaCalendar(overrides=overrides, unknown_year=mode)
        assert cal.knows_year(2027)
        assert not cal.is_workday(date(2027, 10, 1))
        assert not cal.is_workday(date(2027, 10, 4))
        assert cal.is_workday(date(2027, 9, 26))  # Sunday made a working day
        assert cal.is_workday(date(2027, 10, 5))  # unlisted Tuesday
        assert not cal.is_workday(date(2027, 1, 1))  # New Year's Day
        assert cal.next_workday(date(2027, 9, 30)) == date(2027, 10, 5)


def test_override_wins_in_known_year():
    cal = ChinaCalendar(overrides={date(2025, 10, 1): True})
    assert cal.is_workday(date(2025, 10, 1))


def test_bad_override():
    with pytest.raises(ValueError, match="2027-02-30"):
        ChinaCalendar(overrides={"2027-02-30": "holiday"})
    with pytest.raises(ValueError, match="2027-02-01"):
        ChinaCalendar(overrides={"2027-02-01": "maybe"})
    with pytest.raises(ValueError):
        ChinaCalendar(unknown_year="guess")


def test_default_calendar_reads_the_repository_folder_and_is_cached():
    assert DEFAULT_CALENDAR_DIR.is_dir()
    loaded = load_calendar_dir(DEFAULT_CALENDAR_DIR)
    assert loaded.errors == ()  # every schedule shipped in the repository parses
    default = ChinaCalendar.default()
    assert default is ChinaCalendar.default()
    assert set(default.loaded.schedules) == set(loaded.schedules)
