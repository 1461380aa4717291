"""Certification rules moved out of the service, on plain values: what other services see of an
outlet, line eligibility changes, exams, and applications (who applies, ids, staff)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.certification import domain
from services.certification.domain import LineChange
from services.certification.lifecycle import OutletRecord
from shared.errors import Forbidden, ValidationFailed
from shared.tenancy import Principal

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def outlet(status, **fields):
    return OutletRecord(id="C01-O08", tenant_id="C01", status=status, **fields)


@pytest.mark.parametrize(
    "status, resume, seen",
    [
        ("applied", None, "applied"),
        ("center_reviewed", None, "applied"),
        ("technical_reviewed", None, "applied"),
        ("rejected", None, "applied"),  # dispatch never heard of the application
        ("revocation_requested", "probation", "probation"),  # works as before while the revocation is reviewed
        ("revocation_technical_reviewed", None, "effective"),
        ("approved", None, "approved"),
        ("suspended", "effective", "suspended"),
        ("revoking", None, "revoking"),
    ],
)
def test_the_status_other_services_see(status, resume, seen):
    assert domain.event_status(outlet(status, resume_status=resume)) == seen
    assert domain.dispatch_knows(status) == (
        status not in ("applied", "center_reviewed", "technical_reviewed", "rejected")
    )


def test_outlet_event_body():
    body = domain.outlet_event(outlet("approved", kind="direct", grade="A", lat=1.0, lon=2.0), AT, reason="r")
    assert body == {
        "tenant_id": "C01",
        "outlet_id": "C01-O08",
        "status": "approved",
        "at": AT,
        "kind": "direct",
        "grade": "A",
        "lat": 1.0,
        "lon": 2.0,
        "reason": "r",
    }


def test_line_changes_write_only_what_changed_and_announce_flips():
    lines = {"数控车床", "注塑机", "立式加工中心"}
    current = {"数控车床": (False, 0), "注塑机": (True, 2)}
    changes = domain.line_changes(lines, {"数控车床": 1, "注塑机": 1}, 1, current)
    assert {c.product_line: c for c in changes} == {
        "数控车床": LineChange("数控车床", True, 1, new=False, announce=True),  # became eligible
        "注塑机": LineChange("注塑机", True, 1, new=False, announce=False),  # fewer certified
        "立式加工中心": LineChange("立式加工中心", False, 0, new=True, announce=True),  # new, ineligible
    }
    assert domain.line_changes({"数控车床"}, {"数控车床": 2}, 1, {}) == [
        LineChange("数控车床", True, 2, new=True, announce=False)
    ]  # a new eligible line is no news
    assert domain.line_changes({"数控车床"}, {"数控车床": 2}, 1, {"数控车床": (True, 2)}) == []


def test_line_event_names_the_minimum():
    change = LineChange("注塑机", False, 1, new=False, announce=True)
    body = domain.line_event(outlet("effective"), change, 2, AT)
    assert (body["product_line"], body["eligible"], body["reason"]) == ("注塑机", False, "1 certified (minimum 2)")


def test_exam_results():
    today = date(2026, 11, 30)
    assert domain.check_exam(Decimal("60"), Decimal("60"), date(2026, 11, 1), today) == (True, date(2028, 11, 1))
    assert domain.check_exam(Decimal("59.5"), Decimal("60"), date(2026, 11, 1), today) == (False, date(2028, 11, 1))
    with pytest.raises(ValidationFailed) as err:
        domain.check_exam(Decimal("80"), Decimal("60"), date(2026, 12, 1), today)
    assert "taken_on" in err.value.fields
    with pytest.raises(ValidationFailed):  # a pass too old to give a valid certificate
        domain.check_exam(Decimal("80"), Decimal("60"), date(2024, 11, 29), today)
    # a fail that old is only recorded
    assert domain.check_exam(Decimal("10"), Decimal("60"), date(2024, 11, 29), today)[0] is False


def test_who_applies_for_which_outlet():
    outlet_user = Principal("o8", "outlet", tenant="C01", outlet="C01-O08")
    center = Principal("agent", "center", tenant="C01")
    assert domain.applying_outlet_id(outlet_user, None) == "C01-O08"
    assert domain.applying_outlet_id(outlet_user, "C01-O08") == "C01-O08"
    with pytest.raises(ValidationFailed) as err:
        domain.applying_outlet_id(outlet_user, "C01-O09")
    assert "outlet_id" in err.value.fields
    assert domain.applying_outlet_id(center, "C01-O12") == "C01-O12"
    assert domain.applying_outlet_id(center, None) is None
    with pytest.raises(Forbidden):
        domain.applying_outlet_id(Principal("hq", "hq"), "C01-O12")


def test_next_outlet_id_takes_the_first_free_number():
    assert domain.next_outlet_id("C01", set()) == "C01-O01"
    assert domain.next_outlet_id("C01", {"C01-O01", "C01-O02", "C01-O04"}) == "C01-O03"


def test_staff_technicians_get_their_ids_in_form_order():
    staff = [
        {"name": "甲", "position": "manager"},
        {"name": "乙", "position": "technician"},
        {"name": "丙", "position": "installer", "technician_id": "T-9"},
        {"name": "丁", "position": "engineer"},
    ]
    out = domain.staff_with_technician_ids("C01-O08", staff)
    assert [m.get("technician_id") for m in out] == [None, "C01-O08-T1", "T-9", "C01-O08-T3"]
    assert "technician_id" not in staff[1]  # the form is not changed in place


def test_jsonable_turns_dates_and_decimals_into_text():
    value = {"a": [date(2026, 1, 2), Decimal("1.50")], "b": (AT,), "c": None, "d": 3}
    assert domain.jsonable(value) == {"a": ["2026-01-02", "1.50"], "b": [AT.isoformat()], "c": None, "d": 3}


def test_plan_report_totals_and_gaps_only():
    base = [
        {
            "tenant_id": "C01",
            "province": "湖北省",
            "city": "武汉市",
            "district": "洪山区",
            "model": "M",
            "installed": 1500,
            "planned_sales": 0,
        }
    ]
    outlets = [("C01-O01", "C01", "湖北省", "宜昌市"), ("C01-O02", "C01", "湖北省", "宜昌市")]
    areas = domain.network_plan(base, {"M": Decimal("1")}, outlets, 1000)
    report = domain.plan_report(areas, 1000)
    assert report["totals"] == {"yearly_repairs": 1500, "outlets_needed": 2, "outlets_current": 2, "short": 2}
    gaps = domain.plan_report(areas, 1000, gaps_only=True)
    assert [a["city"] for a in gaps["areas"]] == ["武汉市"] and gaps["capacity"] == 1000
    assert gaps["totals"]["outlets_current"] == 0  # the surplus city is left out
