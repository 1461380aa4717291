"""The regional center's monthly and year-end assessment (seed 001), its departments' complaint
counts (seed 004) and the regions' A/B/C (seed 003): services/qa/assessment.py."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.qa import assessment, scorecard
from services.qa.assessment import CenterMonth, ComplaintFact, DeadlineMiss, LateVisit

AT = datetime(2026, 3, 10, 2, tzinfo=UTC)


def _line(card, key):
    return next(line for line in card["lines"] if line["line"] == key)


def test_a_center_is_charged_for_its_own_deadlines_and_its_late_arrivals():
    """Its acceptance and phone reply (未按规范做 −4 each), its web forwarding (反馈信息不及时 −2);
    the ticket's outlet is named, not charged for the center's deadline; the region's late on-site
    arrival is 未按规范做 −4 on the center's card too (24小时上门服务 is a norm of seed 001's table)."""
    month = CenterMonth(
        "C01",
        "2026-03",
        jobs=3,
        onsite_on_time=2,
        onsite_late=1,
        late_visits=(LateVisit("v9", "t9", "ticket:N9", AT, "C01-O02"),),
        misses=(
            DeadlineMiss("ticket:N1", "accept", AT, "t1", "C01-O01"),
            DeadlineMiss("ticket:N2", "phone_reply", AT, "t2"),
            DeadlineMiss("ticket:N3", "forward", AT, "t3"),
        ),
    )
    card = assessment.assess_month(month)
    assert card["rated"] and card["score"] == Decimal("86.0")
    norms = _line(card, "service_norms")
    assert norms["score"] == 13 and norms["items"][0]["count"] == 3
    refs = [o["facts"][0]["ref"] for o in norms["items"][0]["occurrences"]]
    assert refs == ["ticket:N1", "ticket:N2", "ticket:N9"]
    assert "C01-O01, not charged" in norms["items"][0]["occurrences"][0]["facts"][0]["note"]
    assert "visit v9 by C01-O02" in norms["items"][0]["occurrences"][2]["facts"][0]["note"]
    assert _line(card, "information_feedback")["score"] == 18
    assert _line(card, "service_management")["score"] == 30
    kpis = card["kpis"]
    assert kpis["onsite_on_time_share"] == Decimal("0.667") and kpis["deadlines_missed"] == 3
    assert kpis["deadlines_missed_by_sla"] == {"accept": 1, "phone_reply": 1, "forward": 1}


def test_no_arrival_on_time_scores_less_than_all_on_time():
    """The demo's 沈阳: every arrival late (0.0% on time) scored 100, tied with a center on time to
    the last visit. All else equal, each late arrival now costs −4 (counted or listed)."""
    punctual = assessment.assess_month(CenterMonth("C01", "2026-03", jobs=3, onsite_on_time=3))
    counted = assessment.assess_month(CenterMonth("C02", "2026-03", jobs=3, onsite_late=3))
    listed = assessment.assess_month(
        CenterMonth(
            "C03",
            "2026-03",
            jobs=3,
            onsite_late=3,
            late_visits=tuple(LateVisit(f"v{n}", f"t{n}", f"ticket:N{n}", AT) for n in range(3)),
        )
    )
    assert punctual["score"] == Decimal("100.0") and punctual["kpis"]["onsite_on_time_share"] == Decimal("1.000")
    assert counted["kpis"]["onsite_on_time_share"] == Decimal("0.000")
    assert counted["score"] == listed["score"] == Decimal("88.0") < punctual["score"]
    assert assessment.rank_centers({"C01": punctual, "C02": counted}) == {"C01": 1, "C02": 2}


def test_a_late_arrival_and_the_centers_onsite_miss_of_one_ticket_count_once():
    month = CenterMonth(
        "C01",
        "2026-03",
        jobs=3,
        onsite_on_time=2,
        onsite_late=1,
        late_visits=(LateVisit("v1", "t1", "ticket:N1", AT),),
        misses=(DeadlineMiss("ticket:N1", "onsite", AT, "t1"),),
    )
    norms = _line(assessment.assess_month(month), "service_norms")
    assert norms["score"] == 21 and norms["items"][0]["count"] == 1


def test_a_center_under_the_minimum_is_not_rated_and_ranked_apart():
    """One job (the demo's 沈阳 and 南京) is too little to rate a region's month: 未评, no rank,
    however the job went; the minimum is QA_ASSESSMENT_MIN_JOBS (default 3)."""
    assert assessment.MIN_JOBS == 3
    one = assessment.assess_month(CenterMonth("C05", "2026-03", jobs=1, onsite_on_time=1))
    assert one["rated"] is False and one["score"] is None and one["grade"] is None and one["jobs"] == 1
    enough = assessment.assess_month(CenterMonth("C01", "2026-03", jobs=3, onsite_on_time=2, onsite_late=1))
    assert enough["rated"] and enough["score"] == Decimal("96.0")
    assert assessment.rank_centers({"C05": one, "C01": enough}) == {"C01": 1}
    lowered = assessment.assess_month(CenterMonth("C05", "2026-03", jobs=1, onsite_on_time=1), minimum=1)
    assert lowered["rated"] and lowered["score"] == Decimal("100.0")


@pytest.mark.parametrize(("value", "jobs"), [(None, 3), ("", 3), ("1", 1), (" 10 ", 10)])
def test_assessment_minimum_from_config(value, jobs):
    assert assessment.min_jobs(value) == jobs


@pytest.mark.parametrize("value", ["0", "-2", "three", "2.5"])
def test_a_bad_assessment_minimum_names_its_key(value):
    with pytest.raises(ValueError, match="QA_ASSESSMENT_MIN_JOBS"):
        assessment.min_jobs(value)


def test_late_callbacks_and_own_complaints_cost_the_center():
    due = AT + timedelta(days=3)
    month = CenterMonth(
        "C01",
        "2026-03",
        jobs=3,
        callbacks=(
            scorecard.DueCallback("a", due, due - timedelta(hours=1)),  # on time
            scorecard.DueCallback("b", due, due + timedelta(hours=1)),  # late
            scorecard.DueCallback("c", due, None),  # not made
        ),
        satisfaction=(5, 4, 2),
        complaints=(
            ComplaintFact("k1", "ticket:K1", AT, "attitude", "own", "consumer_association", "服务部"),
            ComplaintFact("k2", "ticket:K2", AT, "product_quality", "other_department", "company", "生产厂"),
        ),
    )
    card = assessment.assess_month(month)
    assert _line(card, "service_management")["score"] == 28
    assert _line(card, "customer_opinion")["score"] == 20  # the plant's complaint is not the center's
    assert card["score"] == Decimal("93.0")
    assert card["kpis"]["callbacks_on_time_share"] == Decimal("0.333")
    assert card["kpis"]["satisfaction_average"] == Decimal("3.67") and card["kpis"]["complaints"] == 2


def test_a_month_without_jobs_is_not_rated():
    card = assessment.assess_month(CenterMonth("C02", "2026-03"))
    assert card["rated"] is False and card["score"] is None and card["grade"] is None


def test_complaint_counts_per_department_by_cause_and_responsibility():
    complaints = [
        ComplaintFact("1", "r1", AT, "attitude", "own", "company", "服务部"),
        ComplaintFact("2", "r2", AT, "late_service", "own", "company", "服务部"),
        ComplaintFact("3", "r3", AT, "product_quality", "other_department", "company", "生产厂"),
        ComplaintFact("4", "r4", AT, None, None, None, None),  # not classified yet
    ]
    rows = assessment.department_kpis(complaints)
    assert [(r["department"], r["complaints"]) for r in rows] == [("服务部", 2), ("unassigned", 1), ("生产厂", 1)]
    assert rows[0]["by_cause"] == {"attitude": 1, "late_service": 1} and rows[0]["by_responsibility"] == {"own": 2}
    assert rows[0]["share"] == Decimal("0.500") and rows[1]["by_cause"] == {"unclassified": 1}


def test_the_year_is_the_mean_of_its_rated_months():
    jan = assessment.assess_month(
        CenterMonth(
            "C01",
            "2026-01",
            jobs=4,
            onsite_on_time=3,
            onsite_late=1,
            onsite_by_tier={"local": (2, 2), "in_province": (1, 2)},
            misses=(DeadlineMiss("ticket:A", "accept", AT, "a"),),
            complaints=(ComplaintFact("1", "r1", AT, "attitude", "own", "company", "服务部"),),
        )
    )
    feb = assessment.assess_month(
        CenterMonth("C01", "2026-02", jobs=3, onsite_on_time=3, onsite_by_tier={"local": (3, 3)})
    )
    assert jan["kpis"]["onsite_by_tier"]["in_province"] == {"on_time": 1, "visits": 2, "share": Decimal("0.500")}
    mar = assessment.assess_month(CenterMonth("C01", "2026-03"))  # not rated: no jobs
    year = assessment.assess_year({"2026-01": jan, "2026-02": feb, "2026-03": mar})
    assert (jan["score"], feb["score"]) == (Decimal("89.0"), Decimal("100.0"))
    assert year["rated"] and year["score"] == Decimal("94.5") and year["grade"] == "A"
    assert year["months"] == {"2026-01": Decimal("89.0"), "2026-02": Decimal("100.0"), "2026-03": None}
    assert _line(year, "service_norms")["score"] == Decimal("21.0")
    assert year["kpis"]["jobs"] == 7 and year["kpis"]["onsite_on_time_share"] == Decimal("0.857")
    assert year["departments"][0]["department"] == "服务部" and year["departments"][0]["complaints"] == 1
    assert year["kpis"]["onsite_by_tier"] == {
        "in_province": {"on_time": 1, "visits": 2, "share": Decimal("0.500")},
        "local": {"on_time": 5, "visits": 5, "share": Decimal("1.000")},
    }
    empty = assessment.assess_year({"2026-03": mar})
    assert empty["rated"] is False and empty["score"] is None


def test_centers_ranked_best_first_the_not_rated_apart():
    ranks = assessment.rank_centers(
        {
            "C01": {"rated": True, "score": Decimal("90.0")},
            "C02": {"rated": True, "score": Decimal("95.0")},
            "C03": {"rated": True, "score": Decimal("90.0")},
            "C04": {"rated": False, "score": None},
        }
    )
    assert ranks == {"C02": 1, "C01": 2, "C03": 2}


@pytest.mark.parametrize(
    ("competition", "resources", "grade"),
    [(100, 40, "A"), (70, 70, "A"), (69, 70, "B"), (40, 40, "B"), (39, 40, "C"), (0, 0, "C")],
)
def test_region_grade_thresholds(competition, resources, grade):
    assert assessment.region_grade(competition, resources)[1] == grade


def test_region_floors_from_configuration():
    floors = assessment.region_floors("80,50")
    assert assessment.region_grade(70, 70, floors) == (Decimal("70.0"), "B")
    assert assessment.region_grade(50, 40, floors) == (Decimal("45.0"), "C")
    with pytest.raises(ValueError, match="QA_REGION_GRADE_FLOORS"):
        assessment.region_floors("40,70")
    with pytest.raises(ValueError, match="competition"):
        assessment.region_grade(101, 0)
