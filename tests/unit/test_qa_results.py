"""QA's callback result state machine (services/qa/domain.py), plain objects only: a planned
callback's call (unreached, satisfied, negative), the follow-up a negative answer plans, the
negative callback a satisfied follow-up resolves, closing, who may call, and the facts the
customer's "no" answers, a visit and a missed SLA put on the outlet's scorecard."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.qa import complaint_rules, domain, scorecard
from services.qa.domain import CallbackRecord
from shared.clock import LOCAL_TZ
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.sla import SlaClock, SlaPolicy
from shared.tenancy import Principal
from shared.workcal import ChinaCalendar

UTC = UTC
SERVED = datetime(2026, 3, 2, 1, tzinfo=UTC)  # Mon 2 March 2026, 09:00 in China
CALLED = datetime(2026, 3, 4, 2, tzinfo=UTC)
HQ = Principal("hq-desk", "hq")
C01 = Principal("wuhan-agent", "center", tenant="C01")


@pytest.fixture(scope="module")
def clock():
    return SlaClock(ChinaCalendar())


def _callback(**overrides):
    values = dict(
        id="cb1",
        tenant_id="C01",
        ticket_id="t1",
        purpose="service",
        stratum="franchised",
        period="2026-03",
        status="planned",
        service_at=SERVED,
        caller="C01",
        mode="own",
        visit_id="v1",
        outlet_id="C01-O01",
        attempts=0,
    )
    values.update(overrides)
    return CallbackRecord(**values)


def _answers(**overrides):
    values = dict(
        reached=True,
        onsite_within_24h=True,
        service_delivered=True,
        fee_schedule_shown=True,
        satisfaction=5,
        reason_codes=[],
        comment=None,
        at=None,
    )
    values.update(overrides)
    return values


def _record(clock, callback=None, at=CALLED, **answers):
    return domain.record_result(
        callback or _callback(),
        _answers(**answers),
        at=at,
        agent="wuhan-agent",
        now=CALLED + timedelta(hours=1),
        clock=clock,
        policy=SlaPolicy(),
    )


# ---------------------------------------------------------------- a planned callback's call
def test_unreached_is_an_attempt_and_stays_planned(clock):
    step = _record(clock, _callback(attempts=2), reached=False, satisfaction=None)
    assert step.changes == {"attempts": 3, "last_attempt_at": CALLED}
    assert step.outcome == "unreached" and step.events == () and step.followup is None and step.facts == ()


def test_satisfied_answer_is_done(clock):
    step = _record(clock, satisfaction=4, comment="好", reason_codes=["fast"])
    assert step.outcome == "satisfied" and step.followup is None
    # the answers go to intake for the ledger's 回访记录, satisfied or not
    assert step.events == (
        (
            "callback.completed",
            {
                "tenant_id": "C01",
                "ticket_id": "t1",
                "callback_id": "cb1",
                "purpose": "service",
                "satisfaction": 4,
                "negative": False,
                "service_delivered": True,
                "comment": "好",
                "visit_id": "v1",
                "outlet_id": "C01-O01",
                "at": CALLED,
            },
        ),
    )
    assert {
        k: step.changes[k]
        for k in (
            "status",
            "negative",
            "satisfaction",
            "done_at",
            "done_by",
            "attempts",
            "last_attempt_at",
            "reason_codes",
            "comment",
        )
    } == {
        "status": "done",
        "negative": False,
        "satisfaction": 4,
        "done_at": CALLED,
        "done_by": "wuhan-agent",
        "attempts": 1,
        "last_attempt_at": CALLED,
        "reason_codes": ["fast"],
        "comment": "好",
    }
    assert step.closes_parent is False  # not a follow-up


def test_negative_answer_publishes_and_plans_a_followup(clock):
    step = _record(clock, satisfaction=1, service_delivered=False, reason_codes=["not_fixed"])
    assert step.outcome == "negative" and step.changes["status"] == "negative" and step.changes["negative"] is True
    [(event_type, payload), (completed, answers)] = step.events
    assert (event_type, completed) == ("callback.negative", "callback.completed")
    assert (answers["negative"], answers["satisfaction"], answers["service_delivered"]) == (True, 1, False)
    assert payload == {
        "tenant_id": "C01",
        "ticket_id": "t1",
        "callback_id": "cb1",
        "satisfaction": 1,
        "reason": "satisfaction 1; service not delivered; codes not_fixed",
        "visit_id": "v1",
        "outlet_id": "C01-O01",
        "at": CALLED,
    }
    followup = step.followup
    assert (followup.plan_key, followup.purpose, followup.stratum, followup.parent_id) == (
        "followup:cb1",
        "followup",
        "franchised",
        "cb1",
    )
    assert (followup.ticket_id, followup.visit_id, followup.outlet_id, followup.period, followup.service_at) == (
        "t1",
        "v1",
        "C01-O01",
        "2026-03",
        SERVED,
    )
    assert followup.due_at == SERVED + timedelta(days=7)  # 七天内用户追踪: Mon 9 March is a working day


def test_satisfied_but_not_delivered_is_negative(clock):
    step = _record(clock, satisfaction=4, service_delivered=False)
    assert step.outcome == "negative" and step.events[0][1]["reason"] == "service not delivered"


def test_negative_followup_plans_no_further_followup(clock):
    step = _record(clock, _callback(purpose="followup", parent_id="cb0"), satisfaction=2)
    assert step.outcome == "negative" and step.followup is None and step.closes_parent is False
    assert [event_type for event_type, _ in step.events] == ["callback.negative", "callback.completed"]


def test_satisfied_followup_resolves_its_negative_callback(clock):
    step = _record(clock, _callback(id="cb2", purpose="followup", parent_id="cb1"), satisfaction=4)
    assert step.closes_parent is True
    parent = _callback(status="negative")
    closing = domain.resolve_by_followup(parent, "cb2", 4, CALLED)
    assert closing.changes == {
        "status": "closed",
        "close_outcome": "resolved",
        "close_note": "follow-up cb2: satisfaction 4",
        "closed_at": CALLED,
    }
    assert closing.events == (
        (
            "callback.closed",
            {
                "tenant_id": "C01",
                "callback_id": "cb1",
                "ticket_id": "t1",
                "visit_id": "v1",
                "outlet_id": "C01-O01",
                "outcome": "resolved",
                "at": CALLED,
            },
        ),
    )
    # a parent closed by hand meanwhile (or gone) is left as it is
    assert domain.resolve_by_followup(_callback(status="closed"), "cb2", 4, CALLED) is None
    assert domain.resolve_by_followup(None, "cb2", 4, CALLED) is None


@pytest.mark.parametrize("status", ["done", "negative", "closed"])
def test_a_recorded_result_is_final(clock, status):
    with pytest.raises(InvalidTransition) as err:
        _record(clock, _callback(status=status))
    assert err.value.fields == {"status": [f"is {status}"]}


def test_the_call_cannot_precede_the_service(clock):
    with pytest.raises(ValidationFailed) as err:
        _record(clock, at=SERVED - timedelta(minutes=1))
    assert "at" in err.value.fields
    assert _record(clock, at=SERVED).changes["done_at"] == SERVED


def test_call_time():
    now = datetime(2026, 3, 4, 2, tzinfo=UTC)
    assert domain.call_time(None, now) == now
    local = datetime(2026, 3, 4, 9, 30, tzinfo=LOCAL_TZ)
    assert domain.call_time(local, now) == datetime(2026, 3, 4, 1, 30, tzinfo=UTC)
    assert domain.call_time(local, now).tzinfo == UTC
    assert domain.call_time(now + timedelta(minutes=5), now) == now + timedelta(minutes=5)  # clock skew
    with pytest.raises(ValidationFailed) as err:
        domain.call_time(now + timedelta(minutes=6), now, "a finding")
    assert err.value.fields == {"at": ["must not be in the future"]} and "a finding" in str(err.value)


# ---------------------------------------------------------------- closing by hand
def test_close_only_a_negative_callback():
    closing = domain.close(_callback(status="negative"), "upheld", "reviewed", CALLED)
    assert closing.changes["status"] == "closed" and closing.changes["close_outcome"] == "upheld"
    assert closing.events[0][1]["outcome"] == "upheld"
    for status in ("planned", "done", "closed"):
        with pytest.raises(InvalidTransition):
            domain.close(_callback(status=status), "resolved", "x", CALLED)


# ---------------------------------------------------------------- who calls
def test_who_may_record_a_callback():
    domain.check_caller(HQ, _callback(caller="C01"))
    domain.check_caller(Principal("qa", "service"), _callback(caller="HQ"))
    domain.check_caller(C01, _callback(caller="C01"))
    with pytest.raises(Forbidden):
        domain.check_caller(C01, _callback(caller="HQ", mode="cross"))  # HQ's cross callback on C01's outlet
    with pytest.raises(Forbidden):
        domain.check_caller(Principal("o1", "outlet", tenant="C01", outlet="C01-O01"), _callback())


def test_work_list_caller():
    assert domain.work_list_caller(C01, None) == "C01"
    assert domain.work_list_caller(C01, "all") == "C01"  # a center cannot widen its list
    assert domain.work_list_caller(HQ, None) == "HQ"
    assert domain.work_list_caller(HQ, "all") is None
    assert domain.work_list_caller(HQ, "C02") == "C02"
    assert domain.work_list_caller(Principal("qa", "service"), None) is None


# ---------------------------------------------------------------- facts for the scorecard
def test_each_no_is_a_norm_breach_once_per_ticket_and_norm(clock):
    step = _record(clock, satisfaction=4, onsite_within_24h=False, fee_schedule_shown=False)
    assert step.outcome == "satisfied"  # a "no" is not by itself a negative callback
    assert [(f.kind, f.fact_key, f.occurrence_key, f.ref, f.at, f.outlet_id) for f in step.facts] == [
        ("norm_breach", "callback:cb1:onsite_within_24h", "norm:t1:onsite_24h", "callback:cb1", SERVED, "C01-O01"),
        ("norm_breach", "callback:cb1:fee_schedule_shown", "norm:t1:fee_schedule", "callback:cb1", SERVED, "C01-O01"),
    ]
    # answers of complaint and care calls, or of a callback with no outlet, weigh on no outlet
    assert _record(clock, _callback(purpose="care"), onsite_within_24h=False).facts == ()
    assert _record(clock, _callback(purpose="complaint"), service_delivered=False).facts == ()
    assert _record(clock, _callback(outlet_id=None), fee_schedule_shown=False).facts == ()
    # unanswered questions (None) are not a "no"
    assert _record(clock, onsite_within_24h=None, service_delivered=None, fee_schedule_shown=None).facts == ()


def _visit(**overrides):
    values = dict(
        tenant_id="C01",
        outlet_id="C01-O01",
        visit_id="v1",
        ticket_id="t1",
        customer_confirmed=True,
        work_done="换主轴轴承",
        parts_used=[{"part_no": "P-1", "new_serial": "S-9"}],
    )
    values.update(overrides)
    return values


def test_visit_facts():
    assert domain.visit_facts(_visit(), SERVED) == []
    facts = domain.visit_facts(
        _visit(
            customer_confirmed=False,
            work_done="  ",
            parts_used=[
                {"part_no": "P-1"},
                {"part_no": "P-2", "new_serial": ""},
                {"part_no": "P-3", "new_serial": "S-3"},
            ],
        ),
        SERVED,
    )
    assert [(f.kind, f.fact_key, f.occurrence_key) for f in facts] == [
        ("norm_breach", "visit-unsigned:v1", "norm:t1:signature"),
        ("incomplete_feedback", "visit-nowork:v1", "feedback:v1"),
        ("late_product_file", "visit-serial:v1", "product:v1"),
    ]
    assert facts[2].note == "new serial missing for P-1, P-2"
    assert {(f.ref, f.source, f.at) for f in facts} == {("visit:v1", "visit.completed", SERVED)}
    # customer_confirmed not reported (None) is not an unsigned work order
    assert (
        domain.visit_facts(_visit(customer_confirmed=None, work_done=None, parts_used=None), SERVED)[0].kind
        == "incomplete_feedback"
    )


def test_breach_fact():
    breach = {"tenant_id": "C01", "ticket_id": "t1", "number": "N1", "sla": "onsite"}
    # no outlet's job: the center's fact, on no outlet's scorecard
    assert isinstance(domain.breach_fact(breach, SERVED), domain.NewCenterFact)
    fact = domain.breach_fact(dict(breach, assigned_outlet_id="C01-O02"), SERVED)
    assert (fact.outlet_id, fact.kind, fact.fact_key, fact.occurrence_key, fact.ref, fact.at) == (
        "C01-O02",
        "work_order_late",
        "sla:t1:onsite",
        "late:t1:onsite",
        "ticket:N1",
        SERVED,
    )


def test_missed_callbacks_cost_the_outlet():
    due = datetime(2026, 3, 5, 10, tzinfo=UTC)
    facts = scorecard.missed_callback_facts(
        [
            scorecard.DueCallback("on-time", due, due),
            scorecard.DueCallback("late", due, due + timedelta(hours=1)),
            scorecard.DueCallback("never", due, None),
        ]
    )
    assert [(f.kind, f.key) for f in facts] == [
        ("callback_missed", "callback:late"),
        ("callback_missed", "callback:never"),
    ]
    assert "made late" in facts[0].note and facts[1].note.endswith("not made")
    assert scorecard.compute_scorecard(facts)["score"] == Decimal("98.0")


def test_rank_outlets_in_center_and_nationwide():
    ranks = scorecard.rank_outlets(
        [
            ("C01-O01", "C01", Decimal(90)),
            ("C01-O02", "C01", Decimal(95)),
            ("C02-O01", "C02", Decimal(97)),
            ("C02-O02", "C02", Decimal(90)),
        ]
    )
    assert ranks == {"C02-O01": (1, 1), "C01-O02": (1, 2), "C01-O01": (2, 3), "C02-O02": (2, 3)}


# ---------------------------------------------------------------- complaints
def test_recurrence_window():
    closed, due = SERVED, SERVED + timedelta(days=90)
    assert complaint_rules.is_recurrence(closed, due, closed + timedelta(days=1))
    assert complaint_rules.is_recurrence(closed, due, due)  # the last day counts
    assert not complaint_rules.is_recurrence(closed, due, closed)  # the request that was the complaint's time
    assert not complaint_rules.is_recurrence(closed, due, due + timedelta(seconds=1))


def test_classified_outlet():
    own = {"responsibility": "own"}
    assert complaint_rules.classified_outlet("C01", "C01-O01", own, None) == "C01-O01"
    assert complaint_rules.classified_outlet("C01", "C01-O01", dict(own, outlet_id="C01-O02"), "C01") == "C01-O02"
    with pytest.raises(ValidationFailed) as err:
        complaint_rules.classified_outlet("C01", None, dict(own, outlet_id="C02-O01"), "C02")  # another center's
    assert err.value.fields["outlet_id"] == ["no outlet 'C02-O01' in C01"]
    with pytest.raises(ValidationFailed):
        complaint_rules.classified_outlet("C01", None, dict(own, outlet_id="X"), None)  # unknown outlet
    with pytest.raises(ValidationFailed) as err:
        complaint_rules.classified_outlet("C01", None, own, None)
    assert err.value.fields == {"outlet_id": ["required when responsibility is own"]}
    assert complaint_rules.classified_outlet("C01", None, {"responsibility": "grey_zone"}, None) is None
