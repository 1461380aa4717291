"""Dispatch's plain rules: eligibility, on-site times and positions, wished days, input schemas."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.dispatch import domain
from services.dispatch.schemas import CheckIn, TechnicianIn, technician_row_to_payload
from shared.errors import InvalidTransition, ValidationFailed
from shared.validation import load

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai


def tech(**kw):
    base = dict(
        id="T",
        tenant_id="C01",
        outlet_id="C01-O05",
        skills=("数控车床",),
        certificates={"数控车床": "2026-03-11"},
        lat=30.4,
        lon=114.9,
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )
    base.update(kw)
    return domain.TechView(**base)


def visit(**kw):
    base = dict(
        id="V",
        product_line="数控车床",
        kind="repair",
        priority=3,
        lat=30.5,
        lon=114.3,
        due=None,
        window_start=None,
        service_minutes=90,
    )
    base.update(kw)
    return domain.VisitView(**base)


OK = {"C01-O05": "effective"}


def test_eligibility():
    d = date(2026, 3, 10)
    assert domain.eligible(tech(), visit(), d, OK, set()) is None
    assert domain.eligible(tech(), visit(), d + timedelta(days=1), OK, set()) is None  # valid through that day
    assert "certificate" in domain.eligible(tech(), visit(), d + timedelta(days=2), OK, set())
    assert "skill" in domain.eligible(tech(), visit(product_line="注塑机"), d, OK, set())
    assert "certificate" in domain.eligible(tech(certificates={}), visit(), d, OK, set())
    for status in ("suspended", "revoking", "revoked", None):
        assert "outlet" in domain.eligible(tech(), visit(), d, {"C01-O05": status}, set())
    assert domain.eligible(tech(), visit(), d, {"C01-O05": "probation"}, set()) is None
    assert "probation" in domain.eligible(tech(), visit(), d, {"C01-O05": "probation"}, {"C01-O05"})
    assert (
        domain.eligible(tech(), visit(current_outlet_id="C01-O05"), d, {"C01-O05": "probation"}, {"C01-O05"}) is None
    )  # a job it already has stays
    assert "pinned" in domain.eligible(tech(), visit(pinned_technician_id="U"), d, OK, set())
    assert domain.eligible(tech(outlet_id=None), visit(), d, {}, set()) is None  # a center's own technician


def test_horizon_and_tech_days_skip_what_is_over():
    from shared.workcal import ChinaCalendar

    cal = ChinaCalendar.default()
    late = datetime(2026, 3, 10, 9, 45, tzinfo=UTC)  # 17:45 local: today's shift is over
    days = domain.horizon(cal, late, 3)
    assert days == [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]
    tds = domain.tech_days([tech()], days, late)
    assert [td.day for td in tds] == [date(2026, 3, 11), date(2026, 3, 12)]
    assert all(td.start.astimezone(domain.LOCAL_TZ).time() == time(8, 30) for td in tds)
    tds = domain.tech_days([tech()], days, NOW)
    assert tds[0].start == NOW  # today's shift starts now, not in the past


def test_check_in_and_out_rules():
    with pytest.raises(InvalidTransition):
        domain.check_in("unplanned", NOW, NOW, None)
    with pytest.raises(ValidationFailed) as exc:
        domain.check_in("scheduled", NOW + timedelta(hours=1), NOW, None)
    assert "at" in exc.value.fields
    domain.check_in("scheduled", NOW - timedelta(minutes=10), NOW, None)
    with pytest.raises(InvalidTransition):
        domain.check_out("scheduled", NOW, None, NOW)
    with pytest.raises(ValidationFailed) as exc:
        domain.check_out("started", NOW - timedelta(hours=1), NOW - timedelta(minutes=30), NOW)
    assert "at" in exc.value.fields
    domain.check_out("started", NOW, NOW - timedelta(minutes=30), NOW)


def test_positions_and_check_in_schema():
    domain.check_position(30.5, 114.3)
    with pytest.raises(ValidationFailed):
        domain.check_position(60.0, 114.3)
    with pytest.raises(ValidationFailed) as exc:
        load(CheckIn(), {"lat": 60, "lon": 114.3})
    assert set(exc.value.fields) == {"lat"}
    with pytest.raises(ValidationFailed) as exc:
        load(CheckIn(), {"lat": 30, "lon": 200, "at": "yesterday"})
    assert set(exc.value.fields) == {"lon", "at"}
    naive = load(CheckIn(), {"lat": 30, "lon": 114, "at": "2026-03-10T09:00:00"})
    assert naive["at"] == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # naive = Shanghai


def test_technician_input():
    row = {
        "id": "T9",
        "tenant_id": "C01",
        "outlet_id": "C01-O05",
        "name": "张三",
        "skills": "数控车床|注塑机",
        "certificates": "数控车床=2027-01-01|注塑机=2026-12-31",
        "home_lat": "30.4",
        "home_lon": "114.9",
        "daily_capacity": "",
        "shift_start": "09:00",
        "shift_end": "17:30",
    }
    data = load(TechnicianIn(), technician_row_to_payload(row))
    assert data["skills"] == ["数控车床", "注塑机"] and data["daily_capacity"] == 4
    assert data["certificates"] == {"数控车床": date(2027, 1, 1), "注塑机": date(2026, 12, 31)}
    for change, field in (
        ({"shift_start": "24:00"}, "shift_start"),
        ({"shift_end": "08:00"}, "shift_end"),
        ({"home_lon": "10"}, "home_lon"),
        ({"certificates": "数控车床=someday"}, "certificates"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            load(TechnicianIn(), technician_row_to_payload(dict(row, **change)))
        assert field in exc.value.fields, (change, exc.value.fields)


def test_wished_day_opens_the_window():
    wish = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)  # 18:00 local on the 13th: "by that day"
    start = domain.wished_day_start(wish, NOW)
    assert start == datetime(2026, 3, 12, 16, 0, tzinfo=UTC)  # 00:00 local on the 13th
    assert domain.wished_day_start(NOW + timedelta(hours=2), NOW) is None  # today: no hold
    assert domain.wished_day_start(NOW - timedelta(days=3), NOW) is None
    assert domain.wished_day_start(None, NOW) is None


def test_late_risk():
    soon, later = NOW + timedelta(hours=3), NOW + timedelta(hours=5)
    for status in (domain.VisitStatus.UNPLANNED, domain.VisitStatus.UNASSIGNABLE):
        assert domain.late_risk(status, soon, None, NOW) and not domain.late_risk(status, later, None, NOW)
        assert not domain.late_risk(status, None, None, NOW)
    scheduled = domain.VisitStatus.SCHEDULED
    assert domain.late_risk(scheduled, soon, soon + timedelta(minutes=1), NOW)
    assert not domain.late_risk(scheduled, soon, soon, NOW) and not domain.late_risk(scheduled, soon, None, NOW)
    assert not domain.late_risk(domain.VisitStatus.STARTED, NOW - timedelta(hours=1), NOW, NOW)
    assert domain.onsite_on_time(None, NOW) and domain.onsite_on_time(NOW, NOW)
    assert not domain.onsite_on_time(NOW, NOW + timedelta(seconds=1))


def test_outlet_change_withdraws_what_the_outlet_may_no_longer_take():
    blocked, withdrawal = domain.outlet_change("outlet.suspended", "suspended", None, None, {"注塑机"})
    assert blocked is None and withdrawal.lines is None and withdrawal.reason == "outlet_suspended"
    assert withdrawal.covers("数控车床") and withdrawal.covers(None)
    assert domain.outlet_change("outlet.effective", "effective", None, None, set()) == (None, None)
    # a line it may no longer take: that line only, and the line stays blocked
    blocked, withdrawal = domain.outlet_change("outlet.line_eligibility", "effective", "数控车床", False, {"注塑机"})
    assert blocked == ["数控车床", "注塑机"] and withdrawal.lines == ("数控车床",)
    assert withdrawal.reason == "line_ineligible:数控车床" and not withdrawal.covers("注塑机")
    blocked, withdrawal = domain.outlet_change("outlet.line_eligibility", "probation", "注塑机", True, {"注塑机"})
    assert blocked == [] and withdrawal is None
    # suspended outweighs a line event; a line event without a line changes no lines
    blocked, withdrawal = domain.outlet_change("outlet.line_eligibility", "revoked", None, False, {"注塑机"})
    assert blocked is None and withdrawal.lines is None and withdrawal.reason == "outlet_revoked"
