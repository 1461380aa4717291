"""Ticket status actions and the complaint case workflow at the domain level, table-driven
against tables written out here (not read back from the code under test)."""

import itertools

import pytest

from services.intake import domain
from services.intake.domain import Case, Status
from shared import tenancy
from shared.errors import InvalidTransition

# --- complaint case (seed 000): the documented path and its allowed side steps
EXPECTED_CASE = {
    ("register", Case.ACCEPTED): Case.REGISTERED,
    ("internal_check", Case.REGISTERED): Case.INTERNAL_CHECK,
    ("plan_dispatch", Case.INTERNAL_CHECK): Case.DISPATCH_PLAN,
    ("verify_on_site", Case.DISPATCH_PLAN): Case.ONSITE_VERIFICATION,
    ("negotiate", Case.INTERNAL_CHECK): Case.NEGOTIATION,
    ("negotiate", Case.ONSITE_VERIFICATION): Case.NEGOTIATION,
    ("order_rectification", Case.NEGOTIATION): Case.RECTIFICATION,
    ("pay_compensation", Case.NEGOTIATION): Case.COMPENSATION,
    ("pay_compensation", Case.RECTIFICATION): Case.COMPENSATION,
    ("notify_result", Case.NEGOTIATION): Case.RESULT_NOTICE,
    ("notify_result", Case.RECTIFICATION): Case.RESULT_NOTICE,
    ("notify_result", Case.COMPENSATION): Case.RESULT_NOTICE,
    ("report", Case.RESULT_NOTICE): Case.REPORTED,
    ("sign_agreement", Case.REPORTED): Case.AGREEMENT,
    ("close_case", Case.AGREEMENT): Case.CLOSED,
    **{
        ("withdraw", s): Case.WITHDRAWN
        for s in (
            Case.ACCEPTED,
            Case.REGISTERED,
            Case.INTERNAL_CHECK,
            Case.DISPATCH_PLAN,
            Case.ONSITE_VERIFICATION,
            Case.NEGOTIATION,
        )
    },
}
CASE_STATES = [
    Case.ACCEPTED,
    Case.REGISTERED,
    Case.INTERNAL_CHECK,
    Case.DISPATCH_PLAN,
    Case.ONSITE_VERIFICATION,
    Case.NEGOTIATION,
    Case.RECTIFICATION,
    Case.COMPENSATION,
    Case.RESULT_NOTICE,
    Case.REPORTED,
    Case.AGREEMENT,
    Case.CLOSED,
    Case.WITHDRAWN,
]
CASE_ACTIONS = [
    "register",
    "internal_check",
    "plan_dispatch",
    "verify_on_site",
    "negotiate",
    "order_rectification",
    "pay_compensation",
    "notify_result",
    "report",
    "sign_agreement",
    "close_case",
    "withdraw",
]


def test_case_tables_cover_the_same_actions():
    assert set(domain.CASE_STEPS) == set(CASE_ACTIONS)


@pytest.mark.parametrize("action,state", list(itertools.product(CASE_ACTIONS, CASE_STATES)))
@pytest.mark.parametrize("role", [tenancy.CENTER, tenancy.HQ])
def test_case_step_every_state_by_staff(action, state, role):
    expected = EXPECTED_CASE.get((action, state))
    if expected is None:
        with pytest.raises(InvalidTransition) as exc:
            domain.check_case_step(action, state, role)
        assert "action" in exc.value.fields
    else:
        assert domain.check_case_step(action, state, role) == expected


@pytest.mark.parametrize("role", [tenancy.OUTLET, tenancy.CUSTOMER, tenancy.WAREHOUSE])
@pytest.mark.parametrize("action,state", sorted(EXPECTED_CASE))
def test_case_step_refused_for_non_staff(action, state, role):
    with pytest.raises(InvalidTransition):
        domain.check_case_step(action, state, role)


def test_case_step_on_a_non_complaint_and_unknown_step():
    with pytest.raises(InvalidTransition):
        domain.check_case_step("register", None, tenancy.CENTER)
    with pytest.raises(InvalidTransition):
        domain.check_case_step("fly", Case.ACCEPTED, tenancy.CENTER)


def test_case_final_states_have_no_way_out():
    for state in (Case.CLOSED, Case.WITHDRAWN):
        for action in CASE_ACTIONS:
            with pytest.raises(InvalidTransition):
                domain.check_case_step(action, state, tenancy.HQ)


# --- ticket status actions × statuses × roles
ALL_STATUSES = [
    Status.TRIAGE,
    Status.REGISTERED,
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.ON_SITE,
    Status.RESOLVED,
    Status.CLOSED,
    Status.CANCELLED,
]
OPEN = [Status.TRIAGE, Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE, Status.RESOLVED]
STAFF = {tenancy.HQ, tenancy.CENTER}
STAFF_SYS = STAFF | {tenancy.SERVICE}
# action: (allowed from, new status or None = unchanged, roles)
EXPECTED_TICKET = {
    "accept": ([Status.REGISTERED], Status.ACCEPTED, STAFF_SYS),
    "reply_phone": (OPEN[1:], None, STAFF),
    "forward": (OPEN[1:], None, STAFF_SYS),
    "assign_outlet": ([Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED], None, STAFF),
    "schedule": ([Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED], Status.SCHEDULED, STAFF_SYS),
    "start_visit": ([Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE], Status.ON_SITE, STAFF_SYS),
    "resolve": ([Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE], Status.RESOLVED, STAFF_SYS),
    "reopen": ([Status.RESOLVED, Status.CLOSED], Status.ACCEPTED, STAFF_SYS),
    "close": ([Status.ACCEPTED, Status.RESOLVED], Status.CLOSED, STAFF_SYS),
    "cancel": (OPEN, Status.CANCELLED, STAFF),
    "route": ([Status.TRIAGE, Status.REGISTERED], Status.REGISTERED, {tenancy.HQ}),  # re-routing: routing.py
}


def test_ticket_tables_cover_the_same_actions():
    assert set(domain.TICKET_ACTIONS) == set(EXPECTED_TICKET)


@pytest.mark.parametrize("action", sorted(EXPECTED_TICKET))
@pytest.mark.parametrize("role", list(tenancy.ROLES))
def test_ticket_action_every_status_and_role(action, role):
    sources, target, roles = EXPECTED_TICKET[action]
    for status in ALL_STATUSES:
        if role in roles and status in sources:
            assert domain.check_ticket_action(action, status, role) == target, (action, status, role)
        else:
            with pytest.raises(InvalidTransition) as exc:
                domain.check_ticket_action(action, status, role)
            assert "action" in exc.value.fields


def test_unknown_ticket_action():
    with pytest.raises(InvalidTransition):
        domain.check_ticket_action("explode", Status.REGISTERED, tenancy.HQ)


def test_nothing_leaves_cancelled():
    for action in EXPECTED_TICKET:
        with pytest.raises(InvalidTransition):
            domain.check_ticket_action(action, Status.CANCELLED, tenancy.HQ)
