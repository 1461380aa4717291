"""The return-visit rule (返修 after a negative callback), `return_visits.return_visit`, on plain records."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from services.dispatch import return_visits
from services.dispatch.domain import VisitStatus

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
