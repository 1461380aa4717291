"""The outlet lifecycle steps offered to a caller (`domain.allowed_actions`) are exactly those
`domain.decide` lets through by role, duty and state: the technical lead's and the service head's
steps only to people with that duty."""

import pytest

from services.certification import domain
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenancy import Principal

PEOPLE = [
    Principal("agent", "center", tenant="C01"),
    Principal("lead", "center", tenant="C01", duty="technical_lead"),
    Principal("hq", "hq"),
    Principal("head", "hq", duty="service_head"),
    Principal("hq-lead", "hq", duty="technical_lead"),
    Principal("outlet", "outlet", tenant="C01", outlet="C01-O01"),
]


def decide_lets_through(action, state, principal):
    try:
        domain.decide(action, state, principal, choice="pass", resume=domain.OutletState.EFFECTIVE)
    except (Forbidden, InvalidTransition):
        return False
    except ValidationFailed:  # the step is open to the caller; only its choice is wrong
        return True
    return True


@pytest.mark.parametrize("principal", PEOPLE, ids=lambda p: p.user)
@pytest.mark.parametrize("state", domain.STATES)
def test_the_steps_offered_are_those_decide_allows(state, principal):
    offered = {action for action, _ in domain.allowed_actions(state, principal)}
    assert offered == {a for a in domain.USER_ACTIONS if decide_lets_through(a, state, principal)}


def test_each_review_is_offered_only_to_its_duty():
    center_reviewed, technical_reviewed = domain.OutletState.CENTER_REVIEWED, domain.OutletState.TECHNICAL_REVIEWED
    agent, lead, _, head, _, _ = PEOPLE
    assert [a for a, _ in domain.allowed_actions(center_reviewed, agent)] == []
    assert [a for a, _ in domain.allowed_actions(center_reviewed, lead)] == ["technical_review"]
    assert [a for a, _ in domain.allowed_actions(technical_reviewed, lead)] == []
    assert [a for a, _ in domain.allowed_actions(technical_reviewed, head)] == ["head_approval"]
    [(action, step)] = domain.allowed_actions(domain.OutletState.APPLIED, agent)
    assert action == "center_review" and step.choice == "decision" and set(step.target) == {"pass", "reject"}
