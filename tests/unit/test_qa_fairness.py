"""Fair scorecards: a missed deadline is charged to whoever owns it (an outlet its visit, a center
acceptance, reply, forwarding and the complaint's plan and cycle); a month with too few jobs is not
rated (未评) rather than 100, and takes no rank; stars and grades from configuration."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.qa import domain, scorecard
from services.qa.scorecard import ScoreFact, Thresholds

DUE = datetime(2026, 3, 5, 10, tzinfo=UTC)
BREACH = {"tenant_id": "C01", "ticket_id": "t1", "number": "N1", "assigned_outlet_id": "C01-O02"}


@pytest.mark.parametrize("sla", ["accept", "phone_reply", "forward", "complaint_plan", "complaint_close", "new_one"])
def test_a_center_deadline_is_the_centers_fact_not_the_outlets(sla):
    fact = domain.breach_fact(dict(BREACH, sla=sla), DUE)
    assert isinstance(fact, domain.NewCenterFact)
    assert (fact.tenant_id, fact.kind, fact.sla, fact.fact_key, fact.ticket_id) == (
        "C01",
        "deadline_missed",
        sla,
        f"sla:t1:{sla}",
        "t1",
    )
    assert fact.outlet_id == "C01-O02"  # kept as the ticket's outlet, not charged to it
    assert domain.deadline_owner(sla, "C01-O02") == "center"


def test_the_outlet_is_charged_for_its_visit_only():
    fact = domain.breach_fact(dict(BREACH, sla="onsite"), DUE)
    assert isinstance(fact, domain.NewFact) and fact.outlet_id == "C01-O02" and fact.kind == "work_order_late"
    assert domain.deadline_owner("onsite", "C01-O02") == "outlet"
    assert domain.deadline_owner("onsite", None) == "center"  # a visit no outlet was given


def test_a_month_without_jobs_is_not_rated():
    card = scorecard.monthly_card([], 0)
    assert card["rated"] is False and card["score"] is None and card["stars"] is None and card["grade"] is None
    assert [line["score"] for line in card["lines"]] == [25, 20, 30, 25]  # the lines stay, as evidence
    # facts alone, without a job, do not rate a month either; with a job they do
    facts = [ScoreFact("complaint_company", "c1", "ticket:N1")]
    assert scorecard.monthly_card(facts, 0)["rated"] is False
    rated = scorecard.monthly_card(facts, 1)
    assert rated["rated"] is True and rated["score"] == Decimal("97.0") and rated["jobs"] == 1
    # a stricter configuration: three jobs a month
    strict = Thresholds.from_config(None, None, "3")
    assert scorecard.monthly_card([], 2, strict)["rated"] is False
    assert scorecard.monthly_card([], 3, strict)["score"] == Decimal("100.0")
    assert scorecard.monthly_card([], 0, Thresholds.from_config(None, None, "0"))["rated"] is True


def test_thresholds_from_configuration():
    default = Thresholds.from_config(None, "", None)
    assert default == scorecard.DEFAULT and default.min_jobs == 1
    config = Thresholds.from_config("98, 90, 80, 70", "95,80", "2")
    assert [scorecard.stars_for(Decimal(s), config) for s in (98, 97.9, 90, 80, 70, 69.9)] == [5, 4, 4, 3, 2, 1]
    assert [scorecard.grade_for(Decimal(s), config) for s in (95, 94.9, 80, 79.9)] == ["A", "B", "B", "C"]
    card = scorecard.compute_scorecard([ScoreFact("norm_breach", "n1", "r")], config)  # 96
    assert (card["stars"], card["grade"]) == (4, "A")
    for stars, grades, jobs, key in (
        ("95,85,75", None, None, "QA_STAR_FLOORS"),
        ("95,85,90,60", None, None, "QA_STAR_FLOORS"),
        ("95,85,75,abc", None, None, "QA_STAR_FLOORS"),
        (None, "75,90", None, "QA_GRADE_FLOORS"),
        (None, "90,0", None, "QA_GRADE_FLOORS"),
        (None, None, "-1", "QA_SCORECARD_MIN_JOBS"),
        (None, None, "two", "QA_SCORECARD_MIN_JOBS"),
    ):
        with pytest.raises(ValueError, match=key):
            Thresholds.from_config(stars, grades, jobs)


def test_not_rated_outlets_take_no_rank():
    """36 outlets, one with jobs: one ranked (1st), 35 not rated rather than 35 at 100."""
    cards = {f"C01-O{i:02d}": scorecard.monthly_card([], 2 if i == 1 else 0) for i in range(1, 37)}
    rated = [(o, "C01", c["score"]) for o, c in cards.items() if c["rated"]]
    assert scorecard.rank_outlets(rated) == {"C01-O01": (1, 1)}
    assert sum(1 for c in cards.values() if not c["rated"]) == 35
