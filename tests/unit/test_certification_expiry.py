"""Certificate expiry reminders: once per certificate and threshold, on China's calendar date."""

from datetime import UTC, date, datetime

import pytest

from services.certification import expiry

UNTIL = date(2026, 12, 31)


def test_thresholds_parse_one_or_several_days():
    assert expiry.thresholds(30) == (30,)
    assert expiry.thresholds("30, 7") == (30, 7)
    assert expiry.thresholds("7,30,7") == (30, 7)
    for bad in ("", "x", "-1", "30,-2"):
        with pytest.raises(ValueError):
            expiry.thresholds(bad)


def test_one_reminder_per_threshold():
    days = (30, 7)
    assert expiry.reminder_due(UNTIL, date(2026, 11, 30), days, None) is None  # 31 days left
    assert expiry.reminder_due(UNTIL, date(2026, 12, 1), days, None) == 30  # 30 days left
    assert expiry.reminder_due(UNTIL, date(2026, 12, 10), days, 30) is None  # already reminded at 30
    assert expiry.reminder_due(UNTIL, date(2026, 12, 24), days, 30) == 7
    assert expiry.reminder_due(UNTIL, date(2026, 12, 31), days, 7) is None  # last valid day, both sent
    assert expiry.reminder_due(UNTIL, date(2027, 1, 1), days, None) is None  # expired: no reminder


def test_several_thresholds_crossed_at_once_send_one_reminder_for_the_nearest():
    assert expiry.reminder_due(UNTIL, date(2026, 12, 28), (30, 7), None) == 7
    assert expiry.reminder_due(UNTIL, date(2026, 12, 28), (30, 7), 7) is None


def test_a_reminder_recorded_before_thresholds_were_kept_counts_as_the_farthest():
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert expiry.reminder_due(UNTIL, date(2026, 12, 5), (30, 7), None, at) is None
    assert expiry.reminder_due(UNTIL, date(2026, 12, 25), (30, 7), None, at) == 7
    assert expiry.reminder_due(UNTIL, date(2026, 12, 5), (30,), None, at) is None
