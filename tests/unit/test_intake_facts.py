"""The rules of the facts intake consumes (visit.*, callback.*, settlement.refund_paid) and of
its SLA commitments, as pure functions over plain objects: ticket state + fact → changes, audit
entry, events, commitments met."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from services.intake import domain, facts
from services.intake.domain import Audit, Case, Status

AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def ticket(**over):
    base = dict(
        id="t1",
        number="C01-260310-AAAA0000",
        tenant_id="C01",
        kind="repair",
        priority=3,
        status=Status.ACCEPTED,
        case_state=None,
        status_before_scheduled=None,
        assigned_outlet_id=None,
        onsite_at=None,
        closed_at=None,
        work_done=None,
        technician_name=None,
        callback_at=None,
    )
    return SimpleNamespace(**{**base, **over})


def visit(**over):
    return {"visit_id": "v1", "ticket_id": "t1", "outlet_id": "C01-O01", "technician_id": "T1", "at": AT, **over}


# ---------------------------------------------------------------- visit.scheduled
@pytest.mark.parametrize("before", [Status.REGISTERED, Status.ACCEPTED])
def test_scheduling_remembers_the_status_it_leaves_and_follows_the_outlet(before):
    out = facts.visit_scheduled(ticket(status=before), visit())
    assert out.changes == {
        "status": Status.SCHEDULED,
        "status_before_scheduled": before,
        "assigned_outlet_id": "C01-O01",
    }
    assert out.audit == Audit(
        "visit_scheduled",
        before,
        Status.SCHEDULED,
        data={"visit_id": "v1", "technician_id": "T1", "outlet_id": "C01-O01", "at": AT.isoformat()},
    )
    assert out.events == [] and out.met == []


def test_a_re_plan_keeps_the_status_remembered_before_the_first_scheduling():
    out = facts.visit_scheduled(
        ticket(status=Status.SCHEDULED, status_before_scheduled=Status.REGISTERED), visit(outlet_id=None)
    )
    assert out.changes == {"status": Status.SCHEDULED}  # no outlet named: the ticket keeps its own


@pytest.mark.parametrize("status", [Status.TRIAGE, Status.ON_SITE, Status.RESOLVED, Status.CLOSED, Status.CANCELLED])
def test_scheduling_leaves_other_tickets_alone_unaudited(status):
    assert facts.visit_scheduled(ticket(status=status), visit()) is None


# ---------------------------------------------------------------- visit.released
@pytest.mark.parametrize(
    "before,back", [(Status.REGISTERED, Status.REGISTERED), (Status.ACCEPTED, Status.ACCEPTED), (None, Status.ACCEPTED)]
)
def test_a_release_returns_a_scheduled_ticket_to_where_it_was_and_off_the_outlet(before, back):
    t = ticket(status=Status.SCHEDULED, status_before_scheduled=before, assigned_outlet_id="C01-O01")
    out = facts.visit_released(t, visit(reason="outlet_suspended"), scheduled_at=[AT - timedelta(hours=1)])
    assert out.changes == {"status": back, "assigned_outlet_id": None}
    assert out.audit == Audit(
        "visit_released",
        Status.SCHEDULED,
        back,
        "outlet_suspended",
        {"visit_id": "v1", "outlet_id": "C01-O01", "technician_id": "T1", "reason": "outlet_suspended"},
    )


def test_a_release_overtaken_by_a_newer_scheduling_is_stale_and_changes_nothing():
    t = ticket(status=Status.SCHEDULED, status_before_scheduled=Status.ACCEPTED, assigned_outlet_id="C01-O01")
    out = facts.visit_released(t, visit(), scheduled_at=[AT - timedelta(hours=1), AT + timedelta(seconds=1)])
    assert out.changes == {}
    assert out.audit.data["stale"] is True and out.audit.to_state == Status.SCHEDULED


def test_a_release_from_another_outlet_keeps_the_tickets_outlet():
    t = ticket(status=Status.SCHEDULED, status_before_scheduled=Status.ACCEPTED, assigned_outlet_id="C01-O02")
    assert facts.visit_released(t, visit(), scheduled_at=[]).changes == {"status": Status.ACCEPTED}


def test_a_release_of_a_ticket_no_longer_scheduled_only_clears_the_outlet():
    t = ticket(status=Status.ON_SITE, status_before_scheduled=Status.ACCEPTED, assigned_outlet_id="C01-O01")
    out = facts.visit_released(t, visit(), scheduled_at=[])
    assert out.changes == {"assigned_outlet_id": None}
    assert (out.audit.from_state, out.audit.to_state) == (Status.ON_SITE, Status.ON_SITE)


# ---------------------------------------------------------------- visit.started / visit.completed
@pytest.mark.parametrize("status", [Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.RESOLVED])
def test_check_in_puts_an_open_ticket_on_site_and_meets_the_onsite_commitment(status):
    out = facts.visit_started(ticket(status=status), visit())
    assert out.changes == {"onsite_at": AT, "status": Status.ON_SITE}
    assert out.met == [("onsite", AT)]
    assert out.audit == Audit("visit_started", status, Status.ON_SITE, data={"visit_id": "v1"})


def test_the_first_check_in_is_the_on_site_time():
    first = AT - timedelta(days=1)
    out = facts.visit_started(ticket(status=Status.ON_SITE, onsite_at=first), visit())
    assert "onsite_at" not in out.changes and out.met == [("onsite", AT)]


@pytest.mark.parametrize("status", [Status.TRIAGE, Status.CLOSED, Status.CANCELLED])
def test_check_in_does_not_reopen_or_place_a_ticket(status):
    out = facts.visit_started(ticket(status=status), visit())
    assert "status" not in out.changes and out.audit.to_state == status


@pytest.mark.parametrize(
    "status,after",
    [
        (Status.REGISTERED, Status.RESOLVED),
        (Status.ACCEPTED, Status.RESOLVED),
        (Status.SCHEDULED, Status.RESOLVED),
        (Status.ON_SITE, Status.RESOLVED),
        (Status.TRIAGE, Status.TRIAGE),
        (Status.RESOLVED, Status.RESOLVED),
        (Status.CLOSED, Status.CLOSED),
        (Status.CANCELLED, Status.CANCELLED),
    ],
)
def test_check_out_resolves_a_ticket_being_worked_on(status, after):
    out = facts.visit_completed(ticket(status=status), visit(work_done="更换轴承", technician_name="张师傅"))
    served = {"service_mode": "onsite", "work_done": "更换轴承", "technician_name": "张师傅"}
    assert out.changes == (dict(served, status=after) if after != status else served)
    assert out.audit == Audit("visit_completed", status, after, data={"visit_id": "v1"})


def test_the_check_out_is_the_ledgers_service_content_and_staff():
    # a check-out without the technician's name: the id stands in; without work done, what was there stays
    out = facts.visit_completed(ticket(work_done="更换轴承", technician_name="张师傅"), visit(technician_id="T9"))
    assert (out.changes["work_done"], out.changes["technician_name"]) == ("更换轴承", "T9")


def callback(**over):
    return {
        "callback_id": "cb1",
        "ticket_id": "t1",
        "satisfaction": 5,
        "negative": False,
        "comment": "很好",
        "at": AT,
        **over,
    }


def test_a_callback_reached_is_the_ledgers_callback_record():
    out = facts.callback_completed(ticket(status=Status.RESOLVED), callback())
    assert out.changes == {
        "callback_at": AT,
        "callback_satisfaction": 5,
        "callback_negative": False,
        "callback_comment": "很好",
    }
    assert out.audit == Audit(
        "callback_completed",
        Status.RESOLVED,
        Status.RESOLVED,
        "很好",
        {"callback_id": "cb1", "satisfaction": 5, "negative": False, "superseded": False},
    )


def test_an_older_callback_arriving_late_does_not_replace_the_latest():
    later = AT + timedelta(days=3)
    out = facts.callback_completed(ticket(callback_at=later), callback(satisfaction=1, negative=True))
    assert out.changes == {} and out.audit.data["superseded"] is True
    newer = facts.callback_completed(ticket(callback_at=AT), callback(at=later, satisfaction=2, negative=True))
    assert (newer.changes["callback_at"], newer.changes["callback_negative"]) == (later, True)


# ---------------------------------------------------------------- callbacks
@pytest.mark.parametrize(
    "status,reopened",
    [(Status.RESOLVED, True), (Status.CLOSED, True), (Status.SCHEDULED, False), (Status.ACCEPTED, False)],
)
def test_a_negative_callback_reopens_a_finished_ticket_and_tells_the_center(status, reopened):
    t = ticket(status=status, closed_at=AT if status == Status.CLOSED else None)
    out = facts.callback_negative(t, {"callback_id": "cb1", "ticket_id": "t1", "reason": "still broken"})
    assert out.changes == ({"status": Status.ACCEPTED, "closed_at": None} if reopened else {})
    assert out.events == [
        (
            "ticket.escalated",
            {
                "tenant_id": "C01",
                "ticket_id": "t1",
                "number": t.number,
                "reason": "negative_callback",
                "level": "center",
            },
        )
    ]
    assert out.audit == Audit(
        "callback_negative", status, Status.ACCEPTED if reopened else status, "still broken", {"callback_id": "cb1"}
    )


@pytest.mark.parametrize(
    "outcome,returned,status,resolved",
    [
        ("resolved", True, Status.ACCEPTED, True),
        ("resolved", True, Status.SCHEDULED, True),
        ("resolved", True, Status.ON_SITE, True),
        ("resolved", False, Status.ACCEPTED, False),  # no completed return visit yet
        ("upheld", True, Status.ACCEPTED, False),
        ("resolved", True, Status.CLOSED, False),  # the center closed it by hand already
    ],
)
def test_a_closed_callback_resolves_a_reopened_ticket_only_after_a_completed_return_visit(
    outcome, returned, status, resolved
):
    out = facts.callback_closed(ticket(status=status), {"callback_id": "cb1", "outcome": outcome}, returned)
    assert out.changes == ({"status": Status.RESOLVED} if resolved else {})
    assert out.audit == Audit(
        "callback_closed",
        status,
        Status.RESOLVED if resolved else status,
        outcome,
        {"callback_id": "cb1", "outcome": outcome, "return_visit_completed": returned},
    )


# ---------------------------------------------------------------- settlement.refund_paid
@pytest.mark.parametrize(
    "case,after",
    [
        (Case.NEGOTIATION, Case.COMPENSATION),
        (Case.RECTIFICATION, Case.COMPENSATION),
        (Case.COMPENSATION, Case.COMPENSATION),
        (Case.RESULT_NOTICE, Case.RESULT_NOTICE),
        (None, None),
    ],
)
def test_a_paid_refund_moves_a_case_in_negotiation_or_rectification_to_compensation(case, after):
    out = facts.refund_paid(ticket(kind="complaint", case_state=case), {"amount": Decimal("120.50")})
    assert out.changes == ({"case_state": after} if after != case else {})
    assert out.audit == Audit("refund_paid", case, after, data={"amount": "120.50"})


# ---------------------------------------------------------------- SLA commitments
def deadline(sla="onsite", due=AT, met_at=None, breached_at=None):
    return SimpleNamespace(sla=sla, due_at=due, met_at=met_at, breached_at=breached_at)


def test_a_commitment_is_met_in_time_late_or_not_this_one():
    assert domain.deadline_met(deadline(), "onsite", AT) == "met"
    assert domain.deadline_met(deadline(), "onsite", AT + timedelta(seconds=1)) == "late"
    assert domain.deadline_met(deadline(due=AT.replace(tzinfo=None)), "onsite", AT + timedelta(seconds=1)) == "late"
    assert domain.deadline_met(deadline(), "accept", AT) is None
    assert domain.deadline_met(deadline(met_at=AT - timedelta(hours=1)), "onsite", AT) is None


def test_a_breach_is_reported_and_escalated_for_complaints_and_safety_cases_only():
    d = deadline(due=AT - timedelta(hours=1))
    assert [e for e, _ in domain.breach(ticket(), d, AT)] == ["sla.breached"]
    assert domain.breach(ticket(), d, AT)[0][1] == {
        "tenant_id": "C01",
        "ticket_id": "t1",
        "number": "C01-260310-AAAA0000",
        "sla": "onsite",
        "due_at": AT - timedelta(hours=1),
        "detected_at": AT,
        "assigned_outlet_id": None,
    }
    for t in (ticket(kind="complaint", case_state=Case.NEGOTIATION), ticket(priority=1)):
        events = domain.breach(t, d, AT)
        assert [e for e, _ in events] == ["sla.breached", "ticket.escalated"]
        assert (events[1][1]["reason"], events[1][1]["level"]) == ("sla_breached:onsite", "management")


@pytest.mark.parametrize("case", [Case.CLOSED, Case.WITHDRAWN])
def test_a_complaint_case_that_is_over_is_not_breached(case):
    assert domain.breach(ticket(kind="complaint", case_state=case), deadline(due=AT - timedelta(hours=1)), AT) == []
