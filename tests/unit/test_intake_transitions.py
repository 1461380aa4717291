"""What a staff action or a complaint case step does to a ticket (`domain.transition`), beyond the
status tables of test_workflow_domain.py: the side changes, the audit entry, ticket.closed, the
commitments met, the outlet and route checks."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.intake import domain
from services.intake.domain import Audit, Case, Status
from shared.errors import InvalidTransition, ValidationFailed
from shared.tenants import TenantDirectory

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def directory():
    return TenantDirectory.load()


def ticket(**over):
    base = dict(
        id="t1",
        number="C01-260310-AAAA0000",
        tenant_id="C01",
        kind="repair",
        status=Status.REGISTERED,
        case_state=None,
        assigned_outlet_id=None,
    )
    return SimpleNamespace(**{**base, **over})


def cmd(action, **over):
    return {
        "action": action,
        "note": None,
        "outlet_id": None,
        "tenant_id": None,
        "address": None,
        "attachments": [],
        "expected_version": None,
        "cause": None,
        "responsibility": None,
        **over,
    }


def test_accepting_meets_the_accept_commitment(directory):
    out = domain.transition(ticket(), cmd("accept", note="ok"), "center", NOW, directory)
    assert out.changes == {"status": Status.ACCEPTED} and out.events == []
    assert out.met == [("accept", NOW)]
    assert out.audit == Audit(
        "accept", Status.REGISTERED, Status.ACCEPTED, "ok", {"attachments": [], "outlet_id": None}
    )


def test_a_phone_reply_changes_no_status_but_meets_its_commitment(directory):
    out = domain.transition(ticket(status=Status.ACCEPTED), cmd("reply_phone"), "center", NOW, directory)
    assert out.changes == {} and out.met == [("phone_reply", NOW)]
    assert (out.audit.from_state, out.audit.to_state) == (Status.ACCEPTED, Status.ACCEPTED)


@pytest.mark.parametrize(
    "action,outcome,status", [("close", "resolved", Status.CLOSED), ("cancel", "cancelled", Status.CANCELLED)]
)
def test_closing_or_cancelling_stamps_the_time_and_announces_ticket_closed(directory, action, outcome, status):
    t = ticket(status=Status.RESOLVED if action == "close" else Status.ACCEPTED, assigned_outlet_id="C01-O01")
    out = domain.transition(t, cmd(action), "center", NOW, directory)
    assert out.changes == {"status": status, "closed_at": NOW}
    assert out.events == [
        (
            "ticket.closed",
            {
                "tenant_id": "C01",
                "ticket_id": "t1",
                "number": t.number,
                "kind": "repair",
                "closed_at": NOW,
                "outcome": outcome,
                "assigned_outlet_id": "C01-O01",
            },
        )
    ]


def test_assigning_an_outlet_of_the_tickets_center(directory):
    out = domain.transition(
        ticket(status=Status.ACCEPTED), cmd("assign_outlet", outlet_id="C01-O02"), "center", NOW, directory
    )
    assert out.changes == {"assigned_outlet_id": "C01-O02"}
    assert out.audit.data == {"attachments": [], "outlet_id": "C01-O02"}


@pytest.mark.parametrize("outlet", ["C02-O01", "NOPE", None])
def test_an_outlet_of_another_center_or_none_is_refused(directory, outlet):
    with pytest.raises(ValidationFailed) as exc:
        domain.transition(
            ticket(status=Status.ACCEPTED), cmd("assign_outlet", outlet_id=outlet), "center", NOW, directory
        )
    assert "outlet_id" in exc.value.fields


def test_routing_needs_a_tenant_and_registers_the_ticket(directory):
    t = ticket(tenant_id="HQ", status=Status.TRIAGE)
    with pytest.raises(ValidationFailed) as exc:
        domain.transition(t, cmd("route"), "hq", NOW, directory)
    assert "tenant_id" in exc.value.fields
    assert domain.transition(t, cmd("route", tenant_id="C01"), "hq", NOW, directory).changes == {
        "status": Status.REGISTERED
    }


def test_a_status_rule_refusal_comes_before_the_outlet_check(directory):
    with pytest.raises(InvalidTransition):
        domain.transition(
            ticket(status=Status.CLOSED), cmd("assign_outlet", outlet_id="NOPE"), "center", NOW, directory
        )


def test_a_case_step_accepts_a_registered_complaint_and_records_its_findings(directory):
    t = ticket(kind="complaint", case_state=Case.ACCEPTED)
    out = domain.transition(t, cmd("register", cause="design", responsibility="own"), "center", NOW, directory)
    assert out.changes == {"case_state": Case.REGISTERED, "status": Status.ACCEPTED}
    assert out.audit == Audit(
        "register",
        Case.ACCEPTED,
        Case.REGISTERED,
        None,
        {"attachments": [], "cause": "design", "responsibility": "own"},
    )
    # 立案 presupposes 受理: registering the case first is the complaint's acceptance
    assert out.met == [("accept", NOW)]


def test_a_case_step_on_an_accepted_complaint_meets_no_acceptance_again(directory):
    t = ticket(kind="complaint", status=Status.ACCEPTED, case_state=Case.REGISTERED)
    out = domain.transition(t, cmd("internal_check"), "center", NOW, directory)
    assert out.changes == {"case_state": Case.INTERNAL_CHECK} and out.met == []


def test_the_plan_step_meets_the_24_hour_plan_commitment(directory):
    t = ticket(kind="complaint", status=Status.ACCEPTED, case_state=Case.INTERNAL_CHECK)
    out = domain.transition(t, cmd("plan_dispatch"), "center", NOW, directory)
    assert out.changes == {"case_state": Case.DISPATCH_PLAN} and out.met == [("complaint_plan", NOW)]


@pytest.mark.parametrize("action,state", [("close_case", Case.AGREEMENT), ("withdraw", Case.NEGOTIATION)])
def test_a_case_that_ends_closes_the_ticket(directory, action, state):
    t = ticket(kind="complaint", status=Status.ACCEPTED, case_state=state)
    out = domain.transition(t, cmd(action), "hq", NOW, directory)
    final = Case.CLOSED if action == "close_case" else Case.WITHDRAWN
    assert out.changes == {"case_state": final, "status": Status.CLOSED, "closed_at": NOW}
    assert [(e, body["outcome"]) for e, body in out.events] == [("ticket.closed", final)]
    assert out.met == [("complaint_close", NOW)]
