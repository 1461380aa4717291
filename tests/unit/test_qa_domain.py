"""QA rules: due dates on the working-day calendar, the 100-point
scorecard of seed 001, complaint Pareto and cycle."""

from datetime import datetime
from decimal import Decimal

import pytest

from services.qa import complaint_rules, domain, scorecard
from services.qa.scorecard import ScoreFact
from shared.clock import LOCAL_TZ
from shared.sla import SlaClock, SlaPolicy
from shared.workcal import ChinaCalendar


def L(*args):
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.fixture(scope="module")
def clock():
    return SlaClock(ChinaCalendar())


@pytest.fixture(scope="module")
def policy():
    return SlaPolicy()


# ---------------------------------------------------------------- due dates
def test_callback_due_across_spring_festival_and_adjusted_saturday(clock, policy):
    # Fri 13 Feb 2026, 16:00: Sat 14 Feb is an adjusted working day, 15-23 Feb the Spring Festival
    due = domain.callback_due(clock, policy, L(2026, 2, 13, 16))
    assert due == L(2026, 2, 25, 16)  # 14 Feb (Sat, worked), 24 Feb, 25 Feb


def test_callback_due_across_national_day(clock, policy):
    # Wed 30 Sep 2026: 1-7 Oct off, Sat 10 Oct worked
    assert domain.callback_due(clock, policy, L(2026, 9, 30, 10)) == L(2026, 10, 10, 10)
    # a service on a holiday counts from the next working morning (Thu 8 Oct): 9, 10 (Sat), 12 Oct
    assert domain.callback_due(clock, policy, L(2026, 10, 3, 15)) == L(2026, 10, 12, 8, 30)


def test_a_job_sampled_later_is_due_three_working_days_after_it_was_selected(clock, policy):
    served, selected = L(2026, 3, 2, 10), L(2026, 3, 20, 16)  # Mon; the slot came on Fri 20 Mar
    assert domain.sampled_callback_due(clock, policy, served, served) == L(2026, 3, 5, 10)
    assert domain.sampled_callback_due(clock, policy, served, selected) == L(2026, 3, 25, 16)
    # selected as it arrived (or an arrival older than the job): from the service
    assert domain.sampled_callback_due(clock, policy, selected, served) == L(2026, 3, 25, 16)


def test_followup_due(clock, policy):
    now = L(2026, 2, 14, 9)
    # 7 days after Fri 13 Feb is Fri 20 Feb, inside the Spring Festival: close of Tue 24 Feb
    assert domain.followup_due(clock, policy, L(2026, 2, 13, 16), now) == L(2026, 2, 24, 18)
    # 7 days after Mon 28 Sep is Mon 5 Oct (National Day): close of Thu 8 Oct
    assert domain.due_within_days(clock, L(2026, 9, 28, 11), 7) == L(2026, 10, 8, 18)
    # an ordinary week stays 7 days
    assert domain.due_within_days(clock, L(2026, 3, 10, 11), 7) == L(2026, 3, 17, 11)
    # a follow-up whose 7 days have passed is due at the close of the next working day
    assert domain.followup_due(clock, policy, L(2026, 3, 2, 9), L(2026, 3, 13, 10)) == L(2026, 3, 16, 18)


def test_care_calls_due_last_working_day_of_next_month(clock):
    # January's customers are called in February; 28 Feb 2026 is a Saturday worked (调休)
    assert domain.care_due(clock, "2026-01") == L(2026, 2, 28, 18)
    # March's in April: 30 Apr 2026 is a Thursday
    assert domain.care_due(clock, "2026-03") == L(2026, 4, 30, 18)
    # September's in October: 31 Oct 2026 is a Saturday, not worked -> Fri 30 Oct
    assert domain.care_due(clock, "2026-09") == L(2026, 10, 30, 18)


def test_periods_are_local_months():
    assert domain.local_period(L(2026, 3, 1, 0, 30)) == "2026-03"  # still 28 Feb in UTC
    start, end = domain.month_bounds("2026-12")
    assert start == L(2026, 12, 1) and end == L(2027, 1, 1)
    assert domain.previous_month("2026-01") == "2025-12" and domain.next_month("2026-12") == "2027-01"


# ---------------------------------------------------------------- callback verdicts
def test_negative_verdicts():
    assert domain.judge({"satisfaction": 2}).negative
    assert domain.judge({"satisfaction": 4, "service_delivered": False}).negative
    assert not domain.judge({"satisfaction": 3, "service_delivered": True}).negative
    v = domain.judge({"satisfaction": 1, "reason_codes": ["not_fixed", "attitude"]})
    assert v.reason == "satisfaction 1; codes not_fixed,attitude"


# ---------------------------------------------------------------- the scorecard
def F(kind, key, ref=None):
    return ScoreFact(kind, key, ref or key)


def test_scorecard_every_line_every_deduction_and_bonus():
    facts = [
        # service norms 25: two breaches (-4 each); the same late arrival told twice counts once
        F("norm_breach", "norm:t1:onsite_24h", "callback:a"),
        F("norm_breach", "norm:t1:onsite_24h", "sla:t1"),
        F("norm_breach", "norm:t2:fee_schedule"),
        # information feedback 20: -1 customer file, -1 x2 product file, -2 late feedback, -2 incomplete
        F("late_customer_file", "c1"),
        F("late_product_file", "p1"),
        F("late_product_file", "p2"),
        F("late_feedback", "f1"),
        F("incomplete_feedback", "i1"),
        # service management 30: -1 x3 callbacks, -2 inspection, -2 x2 late work orders
        F("callback_missed", "cb1"),
        F("callback_missed", "cb2"),
        F("callback_missed", "cb3"),
        F("no_periodic_inspection", "insp-03"),
        F("work_order_late", "late:t3:onsite"),
        F("work_order_late", "late:t4:onsite"),
        # customer opinion 25: +2 +3 praise, -3 x2 complaints to the company, -5 to the association
        F("praise_company", "pr1"),
        F("praise_association", "pr2"),
        F("complaint_company", "co1"),
        F("complaint_company", "co2"),
        F("complaint_association", "co3"),
    ]
    card = scorecard.compute_scorecard(facts)
    lines = {line["line"]: line for line in card["lines"]}
    assert [(k, lines[k]["max"]) for k in lines] == [
        ("service_norms", 25),
        ("information_feedback", 20),
        ("service_management", 30),
        ("customer_opinion", 25),
    ]
    assert lines["service_norms"]["score"] == 25 - 8
    assert lines["information_feedback"]["score"] == 20 - 1 - 2 - 2 - 2
    assert lines["service_management"]["score"] == 30 - 3 - 2 - 4
    assert lines["customer_opinion"]["score"] == 25 + 2 + 3 - 6 - 5
    assert card["score"] == Decimal("17") + 13 + 21 + 19 == Decimal("70.0")
    assert card["stars"] == 2 and card["grade"] == "C"
    items = {i["kind"]: i for line in card["lines"] for i in line["items"]}
    assert {k: (i["points_each"], i["count"], i["points"]) for k, i in items.items()} == {
        "norm_breach": (-4, 2, -8),
        "late_customer_file": (-1, 1, -1),
        "late_product_file": (-1, 2, -2),
        "late_feedback": (-2, 1, -2),
        "incomplete_feedback": (-2, 1, -2),
        "callback_missed": (-1, 3, -3),
        "no_periodic_inspection": (-2, 1, -2),
        "work_order_late": (-2, 2, -4),
        "praise_company": (2, 1, 2),
        "praise_association": (3, 1, 3),
        "complaint_company": (-3, 2, -6),
        "complaint_association": (-5, 1, -5),
    }
    # every point traces to its facts: the doubled late arrival keeps both pieces of evidence
    onsite = next(o for o in items["norm_breach"]["occurrences"] if o["key"] == "norm:t1:onsite_24h")
    assert [f["ref"] for f in onsite["facts"]] == ["callback:a", "sla:t1"]


def test_scorecard_limits_and_grades():
    assert scorecard.compute_scorecard([])["score"] == Decimal("100.0")
    assert scorecard.compute_scorecard([])["stars"] == 5 and scorecard.compute_scorecard([])["grade"] == "A"
    # a line never goes below zero, and praise cannot lift it above its maximum
    card = scorecard.compute_scorecard([F("norm_breach", f"n{i}") for i in range(9)] + [F("praise_association", "p")])
    lines = {line["line"]: line for line in card["lines"]}
    assert lines["service_norms"]["raw"] == -11 and lines["service_norms"]["score"] == 0
    assert lines["customer_opinion"]["raw"] == 28 and lines["customer_opinion"]["score"] == 25
    assert card["score"] == Decimal("75.0") and card["grade"] == "B" and card["stars"] == 3
    with pytest.raises(ValueError, match="unknown fact kind"):
        scorecard.compute_scorecard([F("bribe", "x")])
    for score, stars, grade in (
        (95, 5, "A"),
        (94.9, 4, "A"),
        (90, 4, "A"),
        (89.9, 4, "B"),
        (85, 4, "B"),
        (75, 3, "B"),
        (74.9, 2, "C"),
        (60, 2, "C"),
        (59.9, 1, "C"),
    ):
        assert (scorecard.stars_for(Decimal(str(score))), scorecard.grade_for(Decimal(str(score)))) == (stars, grade)


def test_ranking_shares_ties():
    ranks = scorecard.rank([("a", Decimal(90)), ("b", Decimal(95)), ("c", Decimal(90)), ("d", Decimal(80))])
    assert ranks == {"b": 1, "a": 2, "c": 2, "d": 4}


def test_findings_recorded_by_hand_are_scorecard_kinds():
    assert set(domain.MANUAL_KINDS) <= set(scorecard.RULES)
    assert "callback_missed" not in domain.MANUAL_KINDS  # counted from the callbacks, never typed in


# ---------------------------------------------------------------- complaints
def test_pareto_vital_few():
    rows = complaint_rules.pareto({"late_service": 12, "attitude": 5, "fees": 2, "product_quality": 21})
    assert [r["cause"] for r in rows] == ["product_quality", "late_service", "attitude", "fees"]
    assert [str(r["cumulative"]) for r in rows] == ["0.525", "0.825", "0.950", "1.000"]
    assert [r["vital"] for r in rows] == [True, True, False, False]
    assert complaint_rules.pareto({}) == []


def test_complaint_cycle_and_responsibility():
    cycles = [complaint_rules.cycle_days(L(2026, 3, 1, 9), L(2026, 3, 11, 21)), Decimal("20.0"), Decimal("12.0")]
    assert cycles[0] == Decimal("10.5")
    summary = complaint_rules.cycle_summary(cycles)
    assert summary == {
        "closed": 3,
        "average_days": Decimal("14.2"),
        "target_days": 15,
        "over_target": 1,
        "meets_target": True,
    }
    assert complaint_rules.complaint_fact_kind("own", "consumer_association") == "complaint_association"
    assert complaint_rules.complaint_fact_kind("own", "company") == "complaint_company"
    assert complaint_rules.complaint_fact_kind("grey_zone", "company") is None
    assert complaint_rules.complaint_fact_kind("other_department", "company") is None
