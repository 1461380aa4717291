"""Cancelling an exchange's replacement that awaits stock (退换机): intake's rule (returns.py
`check_cancel_replacement`: who, from which step, the refund instead or the withdrawal) and
parts' (machines.py `cancellable`: a waiting request, never an issued one)."""

from decimal import Decimal

import pytest

from services.intake import returns
from services.intake.returns import EXCHANGE, RETURN, Step
from services.parts import machines
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenancy import Principal

CENTER = Principal("wuhan-manager", "center", tenant="C01")
HQ = Principal("hq-service", "hq")
OUTLET = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
SERVICE = Principal("svc", "service")


@pytest.mark.parametrize("who", [CENTER, HQ])
def test_the_center_or_hq_cancels_a_waiting_replacement_for_a_refund_or_a_withdrawal(who):
    refund = returns.check_cancel_replacement(Step.AWAITING_STOCK, EXCHANGE, who, "refund", Decimal("12800.00"))
    assert refund == Step.RECEIVED  # the machine is back: settlement pays the refund from here
    assert returns.check_cancel_replacement(Step.AWAITING_STOCK, EXCHANGE, who, "withdraw", None) == Step.WITHDRAWN


@pytest.mark.parametrize("who", [OUTLET, SERVICE])
def test_no_other_role_cancels_a_replacement(who):
    with pytest.raises(Forbidden):
        returns.check_cancel_replacement(Step.AWAITING_STOCK, EXCHANGE, who, "withdraw", None)


@pytest.mark.parametrize(
    "step", [s for s in Step.ALL if s != Step.AWAITING_STOCK]
)  # replaced (issued), asked, closed, withdrawn …
def test_only_a_replacement_awaiting_stock_is_cancelled_and_the_refusal_names_the_step(step):
    with pytest.raises(InvalidTransition) as exc:
        returns.check_cancel_replacement(step, EXCHANGE, CENTER, "withdraw", None)
    assert step in exc.value.fields["step"][0] and step in str(exc.value)
    if step == Step.REPLACED:
        assert "issued" in str(exc.value)


def test_a_return_has_no_replacement_to_cancel():
    with pytest.raises(InvalidTransition) as exc:
        returns.check_cancel_replacement(Step.AWAITING_STOCK, RETURN, CENTER, "withdraw", None)
    assert "step" in exc.value.fields


@pytest.mark.parametrize(
    ("outcome", "amount", "field"),
    [
        ("refund", None, "refund_amount"),  # a refund says how much
        ("refund", Decimal("0"), "refund_amount"),
        ("refund", Decimal("1.005"), "refund_amount"),
        ("withdraw", Decimal("100.00"), "refund_amount"),  # a withdrawal refunds nothing
        ("swap", None, "outcome"),
    ],
)
def test_bad_input_is_refused_naming_the_field(outcome, amount, field):
    with pytest.raises(ValidationFailed) as exc:
        returns.check_cancel_replacement(Step.AWAITING_STOCK, EXCHANGE, CENTER, outcome, amount)
    assert list(exc.value.fields) == [field]


def test_a_withdrawn_case_is_final_so_the_ticket_may_open_another():
    assert Step.WITHDRAWN in Step.FINAL and Step.WITHDRAWN in Step.ALL
    # the refund instead is paid as any return's: a received return is refunded
    assert returns.refund_paid(Step.RECEIVED, RETURN) == Step.REFUNDED
    # parts' answer heard late changes neither outcome
    assert returns.replacement_issued(Step.WITHDRAWN, EXCHANGE) is None
    assert returns.replacement_issued(Step.RECEIVED, RETURN) is None
    assert returns.replacement_short(Step.WITHDRAWN, EXCHANGE) is None


def test_parts_cancels_a_waiting_request_once_and_never_an_issued_one():
    assert machines.cancellable(machines.WAITING) is True
    assert machines.cancellable(machines.CANCELLED) is False  # heard again: left as it is
    with pytest.raises(InvalidTransition) as exc:
        machines.cancellable(machines.ISSUED)
    assert "issued" in exc.value.fields["step"][0]
    machines.check_canceller("center")
    machines.check_canceller("hq")
    with pytest.raises(Forbidden):
        machines.check_canceller("warehouse")
