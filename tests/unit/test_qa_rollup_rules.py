"""When HQ's roll-up of a month is served without being made again (services.qa.report_jobs): a
stored one made after the month ended in Beijing time (SQLite's naive datetimes read as UTC), a
roll-up job's file within the freshness window."""

from datetime import UTC, datetime, timedelta

from services.qa.monthly_report import rollup_current, rollup_fresh
from shared.clock import LOCAL_TZ


def test_a_stored_rollup_is_the_months_once_made_after_it_ended_in_beijing():
    end = datetime(2026, 4, 1, tzinfo=LOCAL_TZ)  # 2026-03-31 16:00 UTC
    assert rollup_current(end, "2026-03")
    assert not rollup_current(end - timedelta(seconds=1), "2026-03")
    assert rollup_current(datetime(2026, 3, 31, 16, 0), "2026-03")  # naive: UTC
    assert not rollup_current(datetime(2026, 3, 31, 15, 59), "2026-03")
    assert rollup_current(datetime(2027, 1, 1, tzinfo=LOCAL_TZ), "2026-12")  # the year's last month
    assert not rollup_current(datetime(2026, 12, 31, 23, 0, tzinfo=LOCAL_TZ), "2026-12")


def test_a_rollup_jobs_file_is_served_again_within_the_window():
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    assert rollup_fresh(now - timedelta(seconds=300), now, 300)
    assert not rollup_fresh(now - timedelta(seconds=301), now, 300)
    assert rollup_fresh(datetime(2026, 12, 3, 7, 59), now, 300)  # naive: UTC
    assert not rollup_fresh(None, now, 300)  # not finished
    assert not rollup_fresh(now, now, -1)  # a window below zero: never
