"""Seed 004's 七天内用户追踪 of every served ticket and the complaint's 三天内回访 (services.qa.tracking):
due dates on the working-day calendar, one tracking call per ticket, the complaint callback only for
complaints, and a negative callback's follow-up folded into the ticket's tracking call."""

from datetime import UTC, datetime

import pytest

from services.qa import domain, tracking
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


def visit(ticket="t-1", visit_id="v-1"):
    return {"visit_id": visit_id, "ticket_id": ticket, "outlet_id": "C01-O01", "tenant_id": "C01"}


def record(purpose, status="planned", ticket="t-1", parent_id=None):
    return domain.CallbackRecord(
        id=f"cb-{purpose}",
        tenant_id="C01",
        ticket_id=ticket,
        purpose=purpose,
        stratum=purpose,
        period="2026-03",
        status=status,
        service_at=L(2026, 3, 2, 10).astimezone(UTC),
        caller="C01",
        outlet_id="C01-O01",
        parent_id=parent_id,
    )


# ---------------------------------------------------------------- 七天内用户追踪
def test_tracking_due_seven_days_after_the_service(clock, policy):
    served = L(2026, 3, 2, 10)  # Mon
    plan = tracking.plan_tracking(visit(), served, [], clock=clock, policy=policy, now=served)
    assert plan is not None
    assert (plan.purpose, plan.stratum, plan.plan_key) == ("tracking", "tracking", "tracking:t-1")
    assert (plan.ticket_id, plan.visit_id, plan.outlet_id, plan.period) == ("t-1", "v-1", "C01-O01", "2026-03")
    assert plan.due_at == L(2026, 3, 9, 10)


def test_tracking_due_on_a_holiday_or_weekend_moves_to_the_next_working_close(clock, policy):
    # Fri 13 Feb 2026 + 7 days = Fri 20 Feb, Spring Festival (15-23 Feb): close of Tue 24 Feb
    served = L(2026, 2, 13, 16)
    assert tracking.plan_tracking(visit(), served, [], clock=clock, policy=policy, now=served).due_at == L(
        2026, 2, 24, 18
    )
    # Sat 7 Mar 2026 + 7 days = Sat 14 Mar, not worked: close of Mon 16 Mar
    served = L(2026, 3, 7, 11)
    assert tracking.plan_tracking(visit(), served, [], clock=clock, policy=policy, now=served).due_at == L(
        2026, 3, 16, 18
    )
    # Mon 28 Sep + 7 days = Mon 5 Oct, National Day: close of Thu 8 Oct
    served = L(2026, 9, 28, 11)
    assert tracking.plan_tracking(visit(), served, [], clock=clock, policy=policy, now=served).due_at == L(
        2026, 10, 8, 18
    )


def test_one_tracking_call_per_ticket(clock, policy):
    served = L(2026, 3, 2, 10)
    # a second visit to the same ticket: tracked already (whatever became of that call)
    for status in ("planned", "done", "negative", "closed"):
        existing = [record("service", "done"), record("tracking", status)]
        assert (
            tracking.plan_tracking(visit(visit_id="v-2"), served, existing, clock=clock, policy=policy, now=served)
            is None
        )
    # a follow-up still to make tracks the customer already
    assert tracking.plan_tracking(visit(), served, [record("followup")], clock=clock, policy=policy, now=served) is None
    # another ticket's calls, a made follow-up, or sampled service calls do not stand in for it
    others = [record("tracking", ticket="t-2"), record("followup", "done"), record("service")]
    assert tracking.plan_tracking(visit(), served, others, clock=clock, policy=policy, now=served) is not None


def test_a_negative_callback_makes_the_planned_tracking_call_its_follow_up():
    followup = domain.NewCallback(
        plan_key="followup:cb-service",
        purpose="followup",
        stratum="franchised",
        ticket_id="t-1",
        visit_id="v-1",
        outlet_id="C01-O01",
        period="2026-03",
        service_at=L(2026, 3, 2, 10),
        due_at=L(2026, 3, 9, 10),
        parent_id="cb-service",
    )
    assert tracking.followup_or_tracking(followup, record("tracking")) == (None, {"parent_id": "cb-service"})
    # the tracking call is made already, or follows up another callback: a follow-up of its own
    assert tracking.followup_or_tracking(followup, record("tracking", "done")) == (followup, None)
    assert tracking.followup_or_tracking(followup, record("tracking", parent_id="cb-hq")) == (followup, None)
    assert tracking.followup_or_tracking(followup, None) == (followup, None)
    assert tracking.followup_or_tracking(None, record("tracking")) == (None, None)


def test_tracking_results_negative_plans_no_followup_satisfied_resolves_its_parent(clock, policy):
    now = L(2026, 3, 9, 9).astimezone(UTC)
    base = dict(service_delivered=True, onsite_within_24h=True, fee_schedule_shown=True, comment=None)
    bad = domain.record_result(
        record("tracking"),
        dict(base, reached=True, satisfaction=1, service_delivered=False, reason_codes=["not_fixed"]),
        at=now,
        agent="u",
        now=now,
        clock=clock,
        policy=policy,
    )
    assert bad.outcome == "negative" and bad.followup is None and bad.changes["status"] == "negative"
    assert [event for event, _ in bad.events] == ["callback.negative", "callback.completed"]
    assert bad.events[0][1]["ticket_id"] == "t-1"
    # the customer's "no" is the outlet's norm breach, counted once per ticket and norm with the
    # service callback's (`domain.answer_facts`)
    assert [(f.kind, f.occurrence_key) for f in bad.facts] == [("norm_breach", "norm:t-1:service_delivered")]
    good = domain.record_result(
        record("tracking", parent_id="cb-service"),
        dict(base, reached=True, satisfaction=5, reason_codes=[]),
        at=now,
        agent="u",
        now=now,
        clock=clock,
        policy=policy,
    )
    assert good.outcome == "satisfied" and good.closes_parent and good.changes["status"] == "done"
    unreached = domain.record_result(
        record("tracking"), {"reached": False}, at=now, agent="u", now=now, clock=clock, policy=policy
    )
    assert unreached.outcome == "unreached" and unreached.changes == {"attempts": 1, "last_attempt_at": now}


# ---------------------------------------------------------------- 三天内要回访用户 (complaints)
def closing(kind="complaint", outcome="resolved", closed_at=None):
    return {
        "tenant_id": "C01",
        "ticket_id": "t-9",
        "number": "C01-9",
        "kind": kind,
        "outcome": outcome,
        "closed_at": closed_at or L(2026, 3, 10, 11),
    }


def test_complaint_callback_three_working_days_after_the_result(clock, policy):
    plan = tracking.complaint_callback(closing(), "C01-O02", clock=clock, policy=policy)
    assert plan is not None
    assert (plan.purpose, plan.stratum, plan.plan_key, plan.outlet_id) == (
        "complaint",
        "complaint",
        "complaint:t-9",
        "C01-O02",
    )
    assert plan.due_at == L(2026, 3, 13, 11)  # Tue -> Fri
    # closed on a Thursday: Fri, Mon, Tue (the weekend does not count)
    assert tracking.complaint_callback(
        closing(closed_at=L(2026, 3, 12, 15)), None, clock=clock, policy=policy
    ).due_at == L(2026, 3, 17, 15)
    # closed on Wed 30 Sep 2026: 1-7 Oct off, Sat 10 Oct worked -> Thu 8, Fri 9, Sat 10 Oct
    assert tracking.complaint_callback(
        closing(closed_at=L(2026, 9, 30, 10)), None, clock=clock, policy=policy
    ).due_at == L(2026, 10, 10, 10)
    # within seed 001's week as well
    assert plan.due_at <= domain.due_within_days(clock, L(2026, 3, 10, 11), 7)


def test_complaint_callback_only_for_a_complaint_that_was_not_cancelled(clock, policy):
    for kind in ("repair", "install", "maintenance", "consultation"):
        assert tracking.complaint_callback(closing(kind=kind), None, clock=clock, policy=policy) is None
    # re-routed to another center (the old ticket cancelled): called back where it went
    assert tracking.complaint_callback(closing(outcome="cancelled"), None, clock=clock, policy=policy) is None
    assert tracking.complaint_callback(closing(outcome="agreement"), None, clock=clock, policy=policy) is not None


def test_every_purpose_has_its_chinese_name_in_the_portal():
    from services.gateway.portal import labels

    assert set(labels.CALLBACK_PURPOSES) == set(domain.PURPOSES)
    assert labels.CALLBACK_PURPOSES["tracking"] == "七日用户追踪"
    assert labels.CALLBACK_PURPOSES["complaint"] == "投诉三日回访"
