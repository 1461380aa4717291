"""The rules of returns and exchanges (退换机, seed 003: 15 天包退, 30 天包换, only a quality problem;
the technical lead inspects, the center decides) and of a complaint's compensation (退赔款, seed
000: approved by the technical department, paid by settlement)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.intake import returns
from services.intake.returns import EXCHANGE, RETURN, Step
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenancy import TECHNICAL_LEAD, Principal
from shared.tenants import WarrantyTerms

TERMS = WarrantyTerms()  # 1 year, 15-day return, 30-day exchange
ASKED = date(2026, 11, 30)
CENTER = Principal("wuhan-manager", "center", tenant="C01")
LEAD = Principal("wuhan-lead", "center", tenant="C01", duty=TECHNICAL_LEAD)
OUTLET = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")


def _bought(days_ago):
    return ASKED - timedelta(days=days_ago)


@pytest.mark.parametrize("days", [0, 1, 15])
def test_a_return_is_allowed_up_to_day_15(days):
    found = returns.eligibility(RETURN, TERMS, _bought(days), None, ASKED)
    assert (found.days, found.counted_from, found.limit) == (days, "purchase_date", 15)


def test_day_16_is_no_return_but_says_an_exchange_is_still_possible():
    with pytest.raises(ValidationFailed) as exc:
        returns.eligibility(RETURN, TERMS, _bought(16), None, ASKED)
    assert "kind" in exc.value.fields and "exchange is possible" in exc.value.fields["kind"][0]
    assert returns.eligibility(EXCHANGE, TERMS, _bought(16), None, ASKED).days == 16


def test_an_exchange_is_allowed_on_day_30_and_refused_on_day_31():
    assert returns.eligibility(EXCHANGE, TERMS, _bought(30), None, ASKED).days == 30
    with pytest.raises(ValidationFailed) as exc:
        returns.eligibility(EXCHANGE, TERMS, _bought(31), None, ASKED)
    message = exc.value.fields["kind"][0]
    assert "31" in message and "exchange is possible" not in message
    with pytest.raises(ValidationFailed):
        returns.eligibility(RETURN, TERMS, _bought(31), None, ASKED)


def test_the_days_count_from_a_later_installation():
    found = returns.eligibility(RETURN, TERMS, _bought(40), _bought(15), ASKED)
    assert (found.days, found.counted_from) == (15, "installed_on")
    with pytest.raises(ValidationFailed):
        returns.eligibility(RETURN, TERMS, _bought(40), _bought(16), ASKED)
    # an installation before the purchase date counts for nothing
    assert returns.eligibility(RETURN, TERMS, _bought(3), _bought(9), ASKED).counted_from == "purchase_date"


def test_the_product_lines_terms_decide_the_limits():
    longer = WarrantyTerms(return_days=7, exchange_days=60)
    with pytest.raises(ValidationFailed):
        returns.eligibility(RETURN, longer, _bought(8), None, ASKED)
    assert returns.eligibility(EXCHANGE, longer, _bought(60), None, ASKED).limit == 60


@pytest.mark.parametrize(
    ("purchase", "installed", "field"),
    [
        (None, None, "purchase_date"),
        (ASKED + timedelta(days=1), None, "purchase_date"),
        (ASKED, ASKED + timedelta(days=2), "installed_on"),
    ],
)
def test_missing_or_future_dates_are_refused_naming_the_field(purchase, installed, field):
    with pytest.raises(ValidationFailed) as exc:
        returns.eligibility(RETURN, TERMS, purchase, installed, ASKED)
    assert field in exc.value.fields


def test_the_steps_in_order_and_409_on_the_wrong_step():
    assert returns.check_step("inspect", Step.REQUESTED, RETURN, LEAD) == Step.INSPECTED
    assert returns.check_step("decide", Step.INSPECTED, RETURN, CENTER) == Step.APPROVED
    assert returns.check_step("receive", Step.APPROVED, RETURN, CENTER) == Step.RECEIVED
    assert returns.check_step("close", Step.REFUNDED, RETURN, CENTER) == Step.CLOSED
    # the center asks parts for the replacement; the case is replaced only from parts' answer
    assert returns.check_step("issue_replacement", Step.RECEIVED, EXCHANGE, CENTER) == Step.REPLACEMENT_REQUESTED
    assert returns.check_step("close", Step.REPLACED, EXCHANGE, CENTER) == Step.CLOSED
    for step in (Step.REPLACEMENT_REQUESTED, Step.AWAITING_STOCK):  # not before parts booked it out
        with pytest.raises(InvalidTransition):
            returns.check_step("close", step, EXCHANGE, CENTER)
        with pytest.raises(InvalidTransition):  # asked once
            returns.check_step("issue_replacement", step, EXCHANGE, CENTER)
    for action, step in [
        ("receive", Step.INSPECTED),  # not before the decision
        ("close", Step.RECEIVED),  # not before the refund is paid
        ("decide", Step.REJECTED),
        ("inspect", Step.CLOSED),
    ]:
        with pytest.raises(InvalidTransition):
            returns.check_step(action, step, RETURN, LEAD if action == "inspect" else CENTER)
    with pytest.raises(InvalidTransition):  # a return is refunded, never replaced
        returns.check_step("issue_replacement", Step.RECEIVED, RETURN, CENTER)
    with pytest.raises(ValidationFailed) as exc:
        returns.check_step("refund", Step.RECEIVED, RETURN, CENTER)
    assert "action" in exc.value.fields


def test_only_a_technical_lead_inspects_and_only_staff_take_steps():
    with pytest.raises(Forbidden):
        returns.check_step("inspect", Step.REQUESTED, RETURN, CENTER)
    with pytest.raises(Forbidden):
        returns.check_step("decide", Step.INSPECTED, RETURN, OUTLET)
    with pytest.raises(Forbidden):
        returns.check_opener("outlet")
    returns.check_opener("center")


def test_the_decision_needs_a_quality_fault_an_amount_for_a_return_and_another_person():
    amount = Decimal("12800.00")
    assert returns.check_decision(True, RETURN, True, LEAD.user, CENTER.user, amount, None) == Step.APPROVED
    assert returns.check_decision(True, EXCHANGE, True, LEAD.user, CENTER.user, None, None) == Step.APPROVED
    assert returns.check_decision(False, RETURN, False, LEAD.user, CENTER.user, None, "无质量问题") == Step.REJECTED
    cases = [
        ((True, RETURN, False, LEAD.user, CENTER.user, amount, None), "approve"),
        ((True, RETURN, True, LEAD.user, CENTER.user, None, None), "refund_amount"),
        ((True, RETURN, True, LEAD.user, CENTER.user, Decimal("-1"), None), "refund_amount"),
        ((True, RETURN, True, LEAD.user, CENTER.user, Decimal("1.005"), None), "refund_amount"),
        ((True, EXCHANGE, True, LEAD.user, CENTER.user, amount, None), "refund_amount"),
        ((False, RETURN, True, LEAD.user, CENTER.user, None, None), "note"),
    ]
    for args, field in cases:
        with pytest.raises(ValidationFailed) as exc:
            returns.check_decision(*args)
        assert field in exc.value.fields, (args, exc.value.fields)
    with pytest.raises(Forbidden):  # the inspector does not approve their own inspection
        returns.check_decision(True, RETURN, True, LEAD.user, LEAD.user, amount, None)


def test_a_refund_paid_completes_a_received_return_once():
    assert returns.refund_paid(Step.RECEIVED, RETURN) == Step.REFUNDED
    assert returns.refund_paid(Step.REFUNDED, RETURN) is None  # heard twice
    assert returns.refund_paid(Step.CLOSED, RETURN) is None
    assert returns.refund_paid(Step.RECEIVED, EXCHANGE) is None


def test_a_complaints_compensation_is_a_technical_leads_after_the_negotiation():
    returns.check_compensation(LEAD, "complaint", "negotiation", Decimal("500"))
    returns.check_compensation(LEAD, "complaint", "rectification", Decimal("500"))
    with pytest.raises(Forbidden):
        returns.check_compensation(CENTER, "complaint", "negotiation", Decimal("500"))
    with pytest.raises(InvalidTransition):
        returns.check_compensation(LEAD, "complaint", "internal_check", Decimal("500"))
    with pytest.raises(InvalidTransition):
        returns.check_compensation(LEAD, "repair", None, Decimal("500"))
    with pytest.raises(ValidationFailed) as exc:
        returns.check_compensation(LEAD, "complaint", "negotiation", Decimal("0"))
    assert "amount" in exc.value.fields


def test_the_replacement_is_replaced_from_parts_issue_and_awaits_stock_from_its_shortage():
    # issued at once, or after waiting for stock
    assert returns.replacement_issued(Step.REPLACEMENT_REQUESTED, EXCHANGE) == Step.REPLACED
    assert returns.replacement_issued(Step.AWAITING_STOCK, EXCHANGE) == Step.REPLACED
    assert returns.replacement_short(Step.REPLACEMENT_REQUESTED, EXCHANGE) == Step.AWAITING_STOCK
    # heard twice, out of order, or for a case not asking: nothing changes
    for step in (Step.REPLACED, Step.CLOSED, Step.RECEIVED):
        assert returns.replacement_issued(step, EXCHANGE) is None
    for step in (Step.AWAITING_STOCK, Step.REPLACED, Step.CLOSED, Step.RECEIVED):
        assert returns.replacement_short(step, EXCHANGE) is None
    assert returns.replacement_issued(Step.REPLACEMENT_REQUESTED, RETURN) is None
    assert returns.replacement_short(Step.REPLACEMENT_REQUESTED, RETURN) is None


def test_the_replacement_serial_is_optional_but_never_the_returned_machine():
    assert returns.check_replacement_serial(None, "CK6150RT0001") is None
    assert returns.check_replacement_serial("CK6150NEW0001", "CK6150RT0001") == "CK6150NEW0001"
    with pytest.raises(ValidationFailed) as exc:
        returns.check_replacement_serial("CK6150RT0001", "CK6150RT0001")
    assert "replacement_serial" in exc.value.fields
