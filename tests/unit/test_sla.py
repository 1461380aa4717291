"""The SLA clock (shared.sla) on the mainland China calendar."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.sla import SlaClock, SlaPolicy, SlaRule, WorkingHours, callback_deadlines, ticket_deadlines
from shared.workcal import ChinaCalendar

SH = ZoneInfo("Asia/Shanghai")
UTC = UTC


def L(y, mo, d, h=0, mi=0, s=0):
    """A local (Asia/Shanghai) aware datetime."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


@pytest.fixture(scope="module")
def clock():
    return SlaClock(ChinaCalendar(), WorkingHours())


@pytest.fixture(scope="module")
def policy():
    return SlaPolicy()


def _utc(dt):
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(0)
    return dt


# -- clock arithmetic ----------------------------------------------------------


def test_calendar_hours_ignore_holidays(clock):
    assert _utc(clock.add_calendar_hours(L(2025, 9, 30, 10), 24)) == L(2025, 10, 1, 10)
    assert clock.deadline(L(2025, 9, 30, 10), 15, "calendar_days") == L(2025, 10, 15, 10)


def test_working_hours_across_national_day(clock):
    # 1 h left on Tue 30 Sep, the rest after the holiday (1-8 Oct)
    assert _utc(clock.add_working_hours(L(2025, 9, 30, 17), 2)) == L(2025, 10, 9, 9, 30)
    # started during the holiday: counts from the opening of 9 Oct
    assert clock.add_working_hours(L(2025, 10, 3, 11), 1) == L(2025, 10, 9, 9, 30)
    # 9.5 working hours = one full day
    assert clock.add_working_hours(L(2025, 10, 9, 8, 30), 9.5) == L(2025, 10, 9, 18)
    assert clock.add_working_hours(L(2025, 10, 9, 8, 30), 10) == L(2025, 10, 10, 9)
    # Friday 10 Oct -> Saturday 11 Oct is an adjusted working day
    assert clock.add_working_hours(L(2025, 10, 10, 17, 30), 1) == L(2025, 10, 11, 9)


def test_working_hours_edges(clock):
    assert clock.add_working_hours(L(2025, 11, 12, 17), 1) == L(2025, 11, 12, 18)  # ends at closing
    assert clock.add_working_hours(L(2025, 11, 12, 18), 0) == L(2025, 11, 13, 8, 30)
    assert clock.add_working_hours(L(2025, 11, 12, 7), 1) == L(2025, 11, 12, 9, 30)
    with pytest.raises(ValueError):
        clock.add_working_hours(L(2025, 11, 12, 7), -1)


def test_working_days_across_national_day(clock):
    # in-province: 2 working days from Mon 29 Sep 10:00 -> 30 Sep, 9 Oct
    assert _utc(clock.add_working_days(L(2025, 9, 29, 10), 2)) == L(2025, 10, 9, 10)
    # out-of-province: 5 from Fri 26 Sep -> 28 Sep (Sun, worked), 29, 30, 9 Oct, 10 Oct
    assert clock.add_working_days(L(2025, 9, 26, 14), 5) == L(2025, 10, 10, 14)
    # received on a holiday: count from 9 Oct 08:30 -> 10 Oct, 11 Oct (Sat, worked)
    assert clock.add_working_days(L(2025, 10, 3, 15), 2) == L(2025, 10, 11, 8, 30)
    # evening of a working day keeps its clock time
    assert clock.add_working_days(L(2025, 9, 30, 21, 15), 1) == L(2025, 10, 9, 21, 15)
    with pytest.raises(ValueError):
        clock.add_working_days(L(2025, 9, 30, 21), 1.5)


def test_end_of_working_day_after(clock):
    assert clock.end_of_working_day_after(L(2025, 9, 30, 19), 0) == L(2025, 10, 9, 18)
    assert clock.end_of_working_day_after(L(2025, 9, 30, 10), 0) == L(2025, 9, 30, 18)
    assert clock.end_of_working_day_after(L(2025, 9, 30, 10), 1) == L(2025, 10, 9, 18)


def test_cutoff(clock):
    assert clock.is_workday_before_cutoff(L(2025, 11, 12, 17, 59, 59))
    assert not clock.is_workday_before_cutoff(L(2025, 11, 12, 18))
    assert clock.is_workday_before_cutoff(L(2025, 9, 28, 10))  # working Sunday
    assert not clock.is_workday_before_cutoff(L(2025, 10, 1, 10))  # National Day
    # UTC input is converted to local time first: 09:59:59Z == 17:59:59 +08:00
    assert clock.is_workday_before_cutoff(datetime(2025, 11, 12, 9, 59, 59, tzinfo=UTC))
    assert not clock.is_workday_before_cutoff(L(2025, 11, 12, 17), cutoff=time(17, 0))


def test_deadline_dispatch_and_validation(clock):
    start = L(2025, 9, 30, 17)
    assert clock.deadline(start, 2, "working_hours") == clock.add_working_hours(start, 2)
    assert clock.deadline(start, 2, "working_days") == clock.add_working_days(start, 2)
    with pytest.raises(ValueError, match="fortnights"):
        clock.deadline(start, 1, "fortnights")
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.deadline(datetime(2025, 9, 30, 17), 1, "calendar_hours")


def test_working_hours_config():
    assert WorkingHours.from_dict({"start": "09:00", "end": "17:30"}) == WorkingHours(time(9), time(17, 30))
    with pytest.raises(ValueError):
        WorkingHours(time(18), time(8))
    with pytest.raises(ValueError, match="lunch"):
        WorkingHours.from_dict({"lunch": "12:00"})


# -- web 1-hour rule -----------------------------------------------------------


def _forward(clock, policy, received):
    return ticket_deadlines(clock, policy, kind="consultation", channel="web", received_at=received, tier=None)[
        "forward"
    ]


def test_web_forward_before_and_at_cutoff(clock, policy):
    assert _forward(clock, policy, L(2025, 11, 12, 17, 59, 59)) == L(2025, 11, 12, 18, 59, 59)
    assert _forward(clock, policy, L(2025, 11, 12, 18, 0, 0)) == L(2025, 11, 13, 9, 30)
    assert _forward(clock, policy, L(2025, 11, 12, 10, 15)) == L(2025, 11, 12, 11, 15)
    assert _forward(clock, policy, L(2025, 11, 12, 7, 0)) == L(2025, 11, 12, 9, 30)


def test_web_forward_friday_evening(clock, policy):
    # ordinary Friday evening -> Monday
    assert _forward(clock, policy, L(2025, 11, 14, 20)) == L(2025, 11, 17, 9, 30)
    # Friday 10 Oct 2025 evening -> Saturday 11 Oct is an adjusted working day
    assert _forward(clock, policy, L(2025, 10, 10, 19)) == L(2025, 10, 11, 9, 30)
    # Friday 26 Sep 2025 evening -> Sunday 28 Sep is an adjusted working day
    assert _forward(clock, policy, L(2025, 9, 26, 18, 30)) == L(2025, 9, 28, 9, 30)


def test_web_forward_on_holidays(clock, policy):
    assert _forward(clock, policy, L(2025, 10, 1, 10)) == L(2025, 10, 9, 9, 30)
    assert _forward(clock, policy, L(2025, 9, 30, 18, 5)) == L(2025, 10, 9, 9, 30)
    assert _forward(clock, policy, L(2025, 10, 11, 10)) == L(2025, 10, 11, 11)  # working Sat


def test_forward_only_for_web(clock, policy):
    for channel in ("hotline", "fax"):
        d = ticket_deadlines(
            clock, policy, kind="repair", channel=channel, received_at=L(2025, 11, 12, 10), tier="local"
        )
        assert "forward" not in d


def test_custom_cutoff(clock):
    policy = SlaPolicy.from_dict({"forward_cutoff": "17:00"})
    assert _forward(clock, policy, L(2025, 11, 12, 17, 30)) == L(2025, 11, 13, 9, 30)


# -- ticket deadlines ------------------------------------------------------------


def test_repair_deadlines_by_tier(clock, policy):
    received = L(2025, 9, 30, 15)
    local = ticket_deadlines(clock, policy, kind="repair", channel="hotline", received_at=received, tier="local")
    assert set(local) == {"accept", "phone_reply", "onsite"}
    assert local["accept"] == L(2025, 10, 1, 15)
    assert local["phone_reply"] == L(2025, 10, 2, 15)
    assert local["onsite"] == L(2025, 10, 1, 15)  # 24 calendar hours
    inp = ticket_deadlines(clock, policy, kind="repair", channel="hotline", received_at=received, tier="in_province")
    assert inp["onsite"] == L(2025, 10, 10, 15)  # 9 Oct, 10 Oct
    out = ticket_deadlines(
        clock, policy, kind="repair", channel="hotline", received_at=received, tier="out_of_province"
    )
    assert out["onsite"] == L(2025, 10, 14, 15)  # 9, 10, 11 (Sat), 13, 14
    assert all(v.utcoffset() == timedelta(0) for v in out.values())


def test_complaint_web(clock, policy):
    d = ticket_deadlines(
        clock, policy, kind="complaint", channel="web", received_at=L(2025, 9, 30, 17, 30), tier="in_province"
    )
    assert set(d) == {"accept", "phone_reply", "onsite", "forward", "complaint_plan", "complaint_close"}
    assert d["forward"] == L(2025, 9, 30, 18, 30)
    assert d["complaint_plan"] == L(2025, 10, 1, 17, 30)
    assert d["complaint_close"] == L(2025, 10, 15, 17, 30)
    assert d["onsite"] == L(2025, 10, 10, 17, 30)


def test_consultation_has_no_onsite(clock, policy):
    d = ticket_deadlines(
        clock, policy, kind="consultation", channel="hotline", received_at=L(2025, 11, 12, 10), tier=None
    )
    assert set(d) == {"accept", "phone_reply"}


def test_wished_visit_later_replaces_onsite(clock, policy):
    received = L(2025, 11, 12, 10)
    base = dict(kind="repair", channel="hotline", received_at=received, tier="local")
    assert ticket_deadlines(clock, policy, **base)["onsite"] == L(2025, 11, 13, 10)
    later = ticket_deadlines(clock, policy, **base, wished_visit_at=L(2025, 11, 15, 9))
    assert later["onsite"] == L(2025, 11, 15, 9)
    earlier = ticket_deadlines(clock, policy, **base, wished_visit_at=L(2025, 11, 12, 15))
    assert earlier["onsite"] == L(2025, 11, 13, 10)
    # a wished date means "by the end of working hours that day"
    by_date = ticket_deadlines(clock, policy, **base, wished_visit_at=date(2025, 11, 20))
    assert by_date["onsite"] == L(2025, 11, 20, 18)
    # the wish does not move the other deadlines
    assert later["accept"] == earlier["accept"] == L(2025, 11, 13, 10)


def test_ticket_validation(clock, policy):
    with pytest.raises(ValueError, match="tier"):
        ticket_deadlines(
            clock, policy, kind="repair", channel="hotline", received_at=L(2025, 11, 12, 10), tier="abroad"
        )
    with pytest.raises(ValueError, match="kind"):
        ticket_deadlines(
            clock, policy, kind="haircut", channel="hotline", received_at=L(2025, 11, 12, 10), tier="local"
        )
    with pytest.raises(ValueError):
        ticket_deadlines(
            clock, policy, kind="repair", channel="hotline", received_at=datetime(2025, 11, 12, 10), tier="local"
        )


def test_callback_deadlines(clock, policy):
    d = callback_deadlines(clock, policy, completed_at=L(2025, 9, 30, 16))
    assert d["callback"] == L(2025, 10, 11, 16)  # 9 Oct, 10 Oct, 11 Oct (Sat, worked)
    assert d["followup"] == L(2025, 10, 7, 16)


# -- policy configuration -------------------------------------------------------------


def test_policy_defaults(policy):
    assert policy.accept == SlaRule(24, "calendar_hours")
    assert policy.onsite_in_province == SlaRule(2, "working_days")
    assert policy.onsite_out_of_province == SlaRule(5, "working_days")
    assert policy.web_forward == SlaRule(1, "working_hours")
    assert policy.forward_cutoff == time(18, 0)
    assert policy.complaint_close == SlaRule(15, "calendar_days")
    assert policy.callback == SlaRule(3, "working_days")
    assert policy.followup == SlaRule(7, "calendar_days")
    assert SlaPolicy.from_dict(policy.to_dict()) == policy
    assert SlaPolicy.from_dict({}) == policy


def test_policy_from_dict_forms():
    p = SlaPolicy.from_dict(
        {
            "accept": {"amount": 12, "unit": "calendar_hours"},
            "phone_reply": [2, "working_days"],
            "onsite_local": "8 working_hours",
            "onsite_in_province": 3,
            "web_forward": {"amount": 2, "cutoff": "17:30"},
        }
    )
    assert p.accept == SlaRule(12, "calendar_hours")
    assert p.phone_reply == SlaRule(2, "working_days")
    assert p.onsite_local == SlaRule(8, "working_hours")
    assert p.onsite_in_province == SlaRule(3, "working_days")
    assert p.web_forward == SlaRule(2, "working_hours")
    assert p.forward_cutoff == time(17, 30)


@pytest.mark.parametrize(
    "config, key",
    [
        ({"acept": {"amount": 1, "unit": "calendar_hours"}}, "acept"),
        ({"accept": {"amount": 1, "unit": "weeks"}}, "accept"),
        ({"callback": "3 business_days"}, "callback"),
        ({"onsite_local": {"amount": -1, "unit": "calendar_hours"}}, "onsite_local"),
        ({"onsite_in_province": {"amount": 1.5, "unit": "working_days"}}, "onsite_in_province"),
        ({"accept": {"amount": 1, "unit": "calendar_hours", "cutoff": "18:00"}}, "accept"),
        ({"followup": {"amount": "seven"}}, "followup"),
        ({"forward_cutoff": "6pm"}, "forward_cutoff"),
    ],
)
def test_policy_validation_names_the_key(config, key):
    with pytest.raises(ValueError, match=key):
        SlaPolicy.from_dict(config)


def test_default_clock_uses_default_calendar():
    clock = SlaClock()
    assert clock.calendar is ChinaCalendar.default()
    assert clock.hours == WorkingHours()
