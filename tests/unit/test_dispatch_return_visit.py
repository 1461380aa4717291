"""The return-visit rules on plain records: 返修 after a negative callback
(`return_visits.return_visit`) and the outlet's own request after its check-out
(`request_refusal`, `requested_return_visit`)."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.dispatch import return_visits
from services.dispatch.domain import VisitStatus
from shared.clock import LOCAL_TZ
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _visit(vid, status, received_h, completed_h=None, **kw):
    base = dict(
        id=vid,
        tenant_id="C01",
        ticket_id="t1",
        ticket_number="C01-1",
        kind="repair",
        priority=3,
        product_line="数控车床",
        lat=30.6,
        lon=114.3,
        city="武汉市",
        tier="in_province",
        service_minutes=90,
    )
    base.update(kw)
    # SQLite hands back naive UTC datetimes: the rule must order them with aware ones
    received = (NOW - timedelta(hours=received_h)).replace(tzinfo=None)
    completed = None if completed_h is None else NOW - timedelta(hours=completed_h)
    return SimpleNamespace(status=status, received_at=received, completed_at=completed, **base)


def _due(tier, at):
    return at + {"local": timedelta(hours=24), "in_province": timedelta(days=2)}[tier]


def test_a_completed_visit_gets_a_more_urgent_copy_due_by_its_tier():
    first = _visit("v1", VisitStatus.COMPLETED, 100, 90, priority=3)
    fields = return_visits.return_visit([first], NOW, _due)
    assert fields["return_of"] == "v1" and fields["status"] == VisitStatus.UNPLANNED
    assert fields["priority"] == 2 and fields["received_at"] == NOW
    assert fields["onsite_due"] == NOW + timedelta(days=2)  # in-province tier, counted from now
    assert (fields["kind"], fields["product_line"], fields["lat"], fields["tier"], fields["service_minutes"]) == (
        "repair",
        "数控车床",
        30.6,
        "in_province",
        90,
    )
    assert (
        return_visits.return_visit([_visit("v1", VisitStatus.COMPLETED, 10, 5, priority=1)], NOW, _due)["priority"] == 1
    )


def test_the_latest_visit_decides():
    old = _visit("v1", VisitStatus.COMPLETED, 100, 90)
    again = _visit("v2", VisitStatus.COMPLETED, 50, 40)
    assert return_visits.return_visit([again, old], NOW, _due)["return_of"] == "v2"
    # a return visit still open: no second one
    assert return_visits.return_visit([old, _visit("v2", VisitStatus.SCHEDULED, 50)], NOW, _due) is None
    assert return_visits.return_visit([old, _visit("v2", VisitStatus.STARTED, 50)], NOW, _due) is None
    # an open visit is the current one, even one received before a completed one
    assert return_visits.latest_visit([_visit("v3", VisitStatus.UNPLANNED, 200), again]).id == "v3"
    # a cancelled visit is not the latest: the completed one before it is
    assert return_visits.return_visit([old, _visit("v2", VisitStatus.CANCELLED, 50)], NOW, _due)["return_of"] == "v1"


def test_no_visit_or_none_completed_means_no_return_visit():
    assert return_visits.return_visit([], NOW, _due) is None
    assert return_visits.latest_visit([]) is None
    assert return_visits.return_visit([_visit("v1", VisitStatus.CANCELLED, 10)], NOW, _due) is None
    assert return_visits.return_visit([_visit("v1", VisitStatus.UNASSIGNABLE, 10)], NOW, _due) is None


# ------------------------------------------------------------------ the outlet's own request
def _done(vid="v1", **kw):
    base = dict(outlet_id="C01-O05", technician_id="C01-O05-T1", return_of=None)
    base.update(kw)
    return _visit(vid, VisitStatus.COMPLETED, 30, 20, **base)


def test_only_the_visits_own_outlet_asks_after_its_check_out():
    visit = _done()
    assert return_visits.request_refusal(visit, [visit], "C01-O05") is None
    refused = return_visits.request_refusal(visit, [visit], "C01-O01")
    assert refused.code == "not_found" and isinstance(refused.error, NotFound)
    refused = return_visits.request_refusal(visit, [visit], None)  # a center, HQ: no outlet
    assert refused.code == "not_outlet" and isinstance(refused.error, Forbidden)
    for status in (VisitStatus.SCHEDULED, VisitStatus.STARTED, VisitStatus.CANCELLED, VisitStatus.UNPLANNED):
        early = _visit("v1", status, 30, outlet_id="C01-O05", return_of=None)
        refused = return_visits.request_refusal(early, [early], "C01-O05")
        assert refused.code == "not_checked_out" and refused.error.http_status == 409
        assert "v1" in refused.error.message and list(refused.error.fields) == ["visit_id"]


def test_once_per_open_need_open_meaning_neither_checked_out_nor_cancelled():
    visit = _done()
    for status in (VisitStatus.UNPLANNED, VisitStatus.SCHEDULED, VisitStatus.UNASSIGNABLE, VisitStatus.STARTED):
        again = _visit("r1", status, 2, return_of="v1", outlet_id=None)
        refused = return_visits.request_refusal(visit, [visit, again], "C01-O05")
        assert refused.code == "open_visit" and isinstance(refused.error, Conflict), status
        assert "v1" in refused.error.message and "r1" in refused.error.message
        assert refused.error.fields == {"visit_id": ["return visit r1 is still open"]}
    # another open visit of the ticket (a return visit of an earlier one) blocks it too
    other = _visit("r0", VisitStatus.SCHEDULED, 2, return_of="v0")
    assert return_visits.request_refusal(visit, [visit, other], "C01-O05").error.fields == {
        "visit_id": ["visit of the ticket r0 is still open"]
    }
    # checked out or cancelled: no longer open, the outlet may ask again
    for status in (VisitStatus.COMPLETED, VisitStatus.CANCELLED):
        closed = _visit("r1", status, 2, 1, return_of="v1")
        assert return_visits.request_refusal(visit, [visit, closed], "C01-O05") is None


def test_the_reason_is_required_not_blank_and_bounded():
    assert return_visits.clean_reason("  配件到货后更换  ") == "配件到货后更换"
    for blank in (None, "", "   \n"):
        with pytest.raises(ValidationFailed) as err:
            return_visits.clean_reason(blank)
        assert err.value.fields == {"reason": ["must not be blank"]}
    assert return_visits.clean_reason("修" * return_visits.REASON_MAX) == "修" * return_visits.REASON_MAX
    with pytest.raises(ValidationFailed) as err:
        return_visits.clean_reason("修" * (return_visits.REASON_MAX + 1))
    assert err.value.fields == {"reason": [f"at most {return_visits.REASON_MAX} characters"]}


def test_the_requested_visit_copies_the_visit_keeps_the_outlet_and_is_due_by_the_sla():
    visit = _done(priority=3)
    fields = return_visits.requested_return_visit(visit, NOW, _due, " 主轴轴承到货 ", None, "o5-user", "C01-O05-T1")
    assert fields["return_of"] == "v1" and fields["status"] == VisitStatus.UNPLANNED and fields["received_at"] == NOW
    assert fields["priority"] == 3  # the outlet's own follow-up: as urgent as the visit was
    assert fields["onsite_due"] == NOW + timedelta(days=2) and fields["window_start"] is None
    assert (fields["outlet_id"], fields["pinned_technician_id"]) == ("C01-O05", "C01-O05-T1")
    assert (fields["return_reason"], fields["return_requested_by"]) == ("主轴轴承到货", "o5-user")
    assert (fields["kind"], fields["product_line"], fields["lat"], fields["service_minutes"]) == (
        "repair",
        "数控车床",
        30.6,
        90,
    )
    with pytest.raises(ValidationFailed):
        return_visits.requested_return_visit(visit, NOW, _due, " ", None, "o5-user", None)


def test_a_wished_date_opens_and_closes_the_window_on_local_days():
    # NOW is 18:00 in Shanghai on 7 December
    today = NOW.astimezone(LOCAL_TZ).date()
    assert return_visits.wished_window(None, NOW) == (None, None)
    start, due = return_visits.wished_window(today + timedelta(days=2), NOW)
    assert start == datetime(2026, 12, 8, 16, 0, tzinfo=UTC)  # 9 December 00:00 local
    assert due == datetime(2026, 12, 9, 16, 0, tzinfo=UTC)  # its end
    # today: nothing to wait for, due by tonight
    assert return_visits.wished_window(today, NOW) == (None, datetime(2026, 12, 7, 16, 0, tzinfo=UTC))
    fields = return_visits.requested_return_visit(
        _done(), NOW, _due, "客户周末在家", today + timedelta(days=2), "o5-user", None
    )
    assert (fields["window_start"], fields["onsite_due"]) == (start, due)
    assert fields["pinned_technician_id"] is None
    for wished, message in (
        (today - timedelta(days=1), "must not be in the past"),
        (today + timedelta(days=return_visits.WISH_DAYS_MAX + 1), f"at most {return_visits.WISH_DAYS_MAX} days ahead"),
    ):
        with pytest.raises(ValidationFailed) as err:
            return_visits.wished_window(wished, NOW)
        assert err.value.fields == {"wished_date": [message]}
    assert return_visits.wished_window(today + timedelta(days=return_visits.WISH_DAYS_MAX), NOW)[1] is not None
    # a day nobody is sent out (the tenant's calendar) is refused; a working day passes
    saturday = date(2026, 12, 12)
    with pytest.raises(ValidationFailed) as err:
        return_visits.wished_window(saturday, NOW, _weekdays)
    assert err.value.fields == {"wished_date": ["not a working day"]}
    with pytest.raises(ValidationFailed):
        return_visits.requested_return_visit(_done(), NOW, _due, "周六在家", saturday, "o5-user", None, _weekdays)
    assert return_visits.wished_window(date(2026, 12, 11), NOW, _weekdays)[1] is not None


def _weekdays(day):
    return day.weekday() < 5
