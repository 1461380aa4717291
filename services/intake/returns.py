"""Returned and exchanged machines (退换机, seed 003) and refunds or compensation (退赔款, seed 000):
the rules, plain Python. `returns_service` loads, asks these, writes and emits.

What the seeds say and where it lives here:

- seed 003, 服务承诺: "15天包退, 30天包换"; 具体策略: "退换货期限定为15天内重大问题可退可换" and the
  customer's need "一定时期内产品有质量问题可退换". So a return within `return_days` (15) and an
  exchange within `exchange_days` (30) of the day the customer had the machine (the product line's
  `WarrantyTerms`, as the warranty decision uses), and only for a quality problem: `eligibility`
  at the request, the inspection's `quality_fault` at the approval (`check_decision`).
  Day 15 still allows a return, day 16 an exchange only; day 30 an exchange, day 31 neither.
  The days count from the installation date when it is known and later than the purchase (the
  machine was of use from then; our reading, the seed does not say), else from the purchase date,
  to the day the customer asked (the ticket's received date, not the day the center gets to it).
- seed 003, 岗位职责: the technical supervisor (技术主管) "协助经理处理重大质量问题和处理产品退换工作":
  the inspection (`inspect`) is a technical lead's (duty technical_lead); the regional customer
  service department (地区顾客服务部) does "退换机的处理": the decision (`decide`) is the center's
  (or HQ's 顾客服务部, which "退换机、旧配件返厂工作"), by someone other than the inspector.
- seed 000, 产品异议处理流程: "退赔款 — 生产厂、技术部门、结算部门": a refund is confirmed by the
  technical department (the inspection, or for a complaint's compensation the technical lead's
  approval, `check_compensation`) and paid by the settlement department (settlement's
  `pay_refund`, HQ), which emits ``settlement.refund_paid``; the case's step completes from it.

Steps: requested → inspected → approved | rejected → received (machine back in the center's
warehouse: parts books it) → refunded (return: settlement paid) | replacement_requested (exchange:
the center asks parts for the replacement) → [awaiting_stock (parts has no good unit: it waits for
one)] → replaced (parts booked the unit out and said so) → closed. The replacement is a two-step
exchange between the services: intake asks (``return.replacement_requested``), parts answers with
``parts.replacement_issued`` (booked, with the unit) or ``parts.replacement_short`` (waiting; issued
by itself when a unit is received); the case only says replaced once parts has booked it.

A replacement awaiting stock may be cancelled (`check_cancel_replacement`; the seeds say nothing,
our reading): by the center or HQ, with a reason, and only once parts has withdrawn its waiting
request (parts decides it under the same lock as a receipt, so a unit arriving then is never sent).
The customer either takes a refund instead (``refund``: the case becomes a return, received, with
the amount; settlement pays it as any return's refund, as the 三包 rules have it when no unit of the
model can be had) or withdraws the case (``withdraw``: withdrawn, final). A replacement issued
(replaced) cannot be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared import tenancy
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenants import WarrantyTerms

RETURN, EXCHANGE = "return", "exchange"
KINDS = (RETURN, EXCHANGE)


class Step:
    REQUESTED = "requested"  # 申请退换
    INSPECTED = "inspected"  # 检测 (技术主管)
    APPROVED = "approved"  # 批准 (地区顾客服务部)
    REJECTED = "rejected"
    RECEIVED = "received"  # 退机入库
    REFUNDED = "refunded"  # 退款已付 (结算部门)
    REPLACEMENT_REQUESTED = "replacement_requested"  # 待发换机 (asked of parts)
    AWAITING_STOCK = "awaiting_stock"  # 缺货待发 (parts has no good unit; issued when one arrives)
    REPLACED = "replaced"  # 换机发出 (parts booked it out)
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"  # 已撤回 (the customer withdrew while the replacement awaited stock)

    ALL = (
        REQUESTED,
        INSPECTED,
        APPROVED,
        REJECTED,
        RECEIVED,
        REFUNDED,
        REPLACEMENT_REQUESTED,
        AWAITING_STOCK,
        REPLACED,
        CLOSED,
        WITHDRAWN,
    )
    FINAL = (REJECTED, CLOSED, WITHDRAWN)


# action: (from steps, to step, roles, duty needed); the refund and the replacement's issue are
# settlement's and parts' facts (`refund_paid`, `replacement_issued`), no action
ACTIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...], str | None]] = {
    "inspect": ((Step.REQUESTED,), Step.INSPECTED, (tenancy.CENTER, tenancy.HQ), tenancy.TECHNICAL_LEAD),
    "decide": ((Step.INSPECTED,), Step.APPROVED, (tenancy.CENTER, tenancy.HQ), None),
    "receive": ((Step.APPROVED,), Step.RECEIVED, (tenancy.CENTER, tenancy.HQ), None),
    "issue_replacement": ((Step.RECEIVED,), Step.REPLACEMENT_REQUESTED, (tenancy.CENTER, tenancy.HQ), None),
    "close": ((Step.REFUNDED, Step.REPLACED), Step.CLOSED, (tenancy.CENTER, tenancy.HQ), None),
}
OPENERS = (tenancy.CENTER, tenancy.HQ)
READERS = (tenancy.CENTER, tenancy.HQ, tenancy.SERVICE)
# a complaint's compensation (退赔款) is approved by the technical department (技术部门)
COMPENSATION_STATES = ("negotiation", "rectification")  # 商务谈判, 整改单: domain.Case
MAX_AMOUNT = Decimal("10000000")


@dataclass(frozen=True)
class Eligibility:
    kind: str
    days: int  # since the customer had the machine, to the request
    counted_from: str  # purchase_date | installed_on
    limit: int


def eligibility(
    kind: str, terms: WarrantyTerms, purchase_date: date | None, installed_on: date | None, requested_on: date
) -> Eligibility:
    """May the customer have `kind` (return within 15 days, exchange within 30)? ValidationFailed
    naming the field that decides it, with the days counted."""
    if kind not in KINDS:
        raise ValidationFailed("unknown kind", {"kind": [f"must be one of {', '.join(KINDS)}"]})
    if purchase_date is None:
        raise ValidationFailed(
            "the purchase date is needed to count the days", {"purchase_date": ["required for a return or exchange"]}
        )
    if purchase_date > requested_on:
        raise ValidationFailed("purchase date after the request", {"purchase_date": ["must not be after the request"]})
    if installed_on is not None and installed_on > requested_on:
        raise ValidationFailed("installation after the request", {"installed_on": ["must not be after the request"]})
    start, counted_from = purchase_date, "purchase_date"
    if installed_on is not None and installed_on > purchase_date:
        start, counted_from = installed_on, "installed_on"
    days = (requested_on - start).days
    limit = terms.return_days if kind == RETURN else terms.exchange_days
    if days > limit:
        hint = (
            f"; an exchange is possible within {terms.exchange_days} days"
            if kind == RETURN and days <= terms.exchange_days
            else ""
        )
        raise ValidationFailed(
            f"{days} days since {counted_from}: past the {limit}-day {kind} period",
            {"kind": [f"{kind} only within {limit} days of {counted_from}; it has been {days}{hint}"]},
        )
    return Eligibility(kind, days, counted_from, limit)


def check_opener(role: str) -> None:
    if role not in OPENERS:
        raise Forbidden(f"role {role} cannot open a return or exchange")


def check_reader(role: str) -> None:
    if role not in READERS:
        raise Forbidden(f"role {role} cannot read returns and exchanges")


def check_step(action: str, step: str, kind: str, principal: tenancy.Principal) -> str:
    """The step `action` leads to from `step`, if `principal` may take it; 409 on the wrong step."""
    if action not in ACTIONS:
        raise ValidationFailed("unknown action", {"action": [f"must be one of {', '.join(ACTIONS)}"]})
    sources, target, roles, duty = ACTIONS[action]
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} cannot {action} a return or exchange")
    if duty is not None and principal.duty != duty:
        raise Forbidden(f"{action}: only a technical lead (技术主管) inspects a returned machine")
    if action == "issue_replacement" and kind != EXCHANGE:
        raise InvalidTransition("a return is refunded, not replaced", {"action": ["only an exchange is replaced"]})
    if step not in sources:
        raise InvalidTransition(f"cannot {action} a case that is {step}", {"action": [f"not allowed from {step}"]})
    return target


def check_decision(
    approve: bool,
    kind: str,
    quality_fault: bool | None,
    inspected_by: str | None,
    decider: str,
    refund_amount: Decimal | None,
    note: str | None,
) -> str:
    """Approve (only a machine the inspection found a quality fault in; a return with the amount
    to refund) or reject (with why). The decider is not the inspector. Returns the new step."""
    if decider == inspected_by:
        raise Forbidden("the inspector does not decide their own inspection (技术主管协助经理)")
    if not approve:
        if not note:
            raise ValidationFailed("a rejection says why", {"note": ["required when rejecting"]})
        return Step.REJECTED
    if not quality_fault:
        raise ValidationFailed(
            "no quality fault found: only a quality problem is returned or exchanged",
            {"approve": ["the inspection found no quality fault (有质量问题可退换)"]},
        )
    if kind == RETURN:
        check_amount(refund_amount, "refund_amount")
    elif refund_amount is not None:
        raise ValidationFailed("an exchange refunds nothing", {"refund_amount": ["only for a return"]})
    return Step.APPROVED


def check_amount(amount: Decimal | None, field: str) -> Decimal:
    if amount is None:
        raise ValidationFailed(f"{field} is required", {field: ["required"]})
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationFailed(f"invalid {field}", {field: ["a positive amount in yuan with at most 2 decimals"]})
    return amount


def check_compensation(principal: tenancy.Principal, kind: str, case_state: str | None, amount: Decimal | None) -> None:
    """A complaint's compensation (退赔款) is decided after the negotiation (商务谈判) or with the
    rectification order, and approved by the technical department (a technical lead)."""
    if principal.role not in (tenancy.CENTER, tenancy.HQ) or principal.duty != tenancy.TECHNICAL_LEAD:
        raise Forbidden("only a technical lead (技术部门) approves a compensation")
    if kind != "complaint" or case_state is None:
        raise InvalidTransition("not a complaint case", {"ticket_id": ["compensation is decided in a complaint case"]})
    if case_state not in COMPENSATION_STATES:
        raise InvalidTransition(
            f"cannot decide a compensation in a case that is {case_state}",
            {"action": ["only after the negotiation (商务谈判) or with the rectification order"]},
        )
    check_amount(amount, "amount")


def refund_paid(step: str, kind: str) -> str | None:
    """Settlement paid a return's refund: a received return is refunded; anything else (paid
    twice, or a case not waiting for it) stays as it is (None)."""
    if kind == RETURN and step == Step.RECEIVED:
        return Step.REFUNDED
    return None


def check_replacement_serial(wanted: str | None, returned: str) -> str | None:
    """The unit the center wants sent (optional: parts picks one from the warehouse's good stock,
    or the one it receives); never the machine that came back."""
    if wanted is not None and wanted == returned:
        raise ValidationFailed("the same machine", {"replacement_serial": ["must differ from the returned serial"]})
    return wanted


def replacement_issued(step: str, kind: str) -> str | None:
    """Parts booked the exchange's replacement out (parts.replacement_issued): a case waiting for it
    (asked, or waiting for stock) is replaced; anything else (heard twice, a case not waiting) stays
    as it is (None)."""
    if kind == EXCHANGE and step in (Step.REPLACEMENT_REQUESTED, Step.AWAITING_STOCK):
        return Step.REPLACED
    return None


REFUND_INSTEAD, WITHDRAW = "refund", "withdraw"
CANCEL_OUTCOMES = (REFUND_INSTEAD, WITHDRAW)


def check_cancel_replacement(
    step: str, kind: str, principal: tenancy.Principal, outcome: str, refund_amount: Decimal | None
) -> str:
    """Cancel an exchange's replacement that awaits stock: the center or HQ; the customer takes a
    refund instead (`refund_amount` required: the case becomes a received return) or withdraws
    (the case is withdrawn). 403 for another role, 409 naming the step, 422 naming the field.
    Returns the new step."""
    if principal.role not in (tenancy.CENTER, tenancy.HQ):
        raise Forbidden(f"role {principal.role} cannot cancel a replacement")
    if step != Step.AWAITING_STOCK:
        issued = " (the replacement was issued)" if step in (Step.REPLACED, Step.CLOSED) else ""
        raise InvalidTransition(
            f"cannot cancel the replacement of a case that is {step}{issued}",
            {"step": [f"the case is {step}; only a replacement awaiting stock ({Step.AWAITING_STOCK}) is cancelled"]},
        )
    if kind != EXCHANGE:
        raise InvalidTransition("a return has no replacement to cancel", {"step": ["only an exchange is replaced"]})
    if outcome not in CANCEL_OUTCOMES:
        raise ValidationFailed("unknown outcome", {"outcome": [f"must be one of {', '.join(CANCEL_OUTCOMES)}"]})
    if outcome == REFUND_INSTEAD:
        check_amount(refund_amount, "refund_amount")
        return Step.RECEIVED
    if refund_amount is not None:
        raise ValidationFailed("a withdrawn case refunds nothing", {"refund_amount": ["only with outcome refund"]})
    return Step.WITHDRAWN


def replacement_short(step: str, kind: str) -> str | None:
    """Parts has no good unit for the replacement yet (parts.replacement_short): a case that asked
    waits for stock; one already replaced (the issue heard first) or waiting stays (None)."""
    if kind == EXCHANGE and step == Step.REPLACEMENT_REQUESTED:
        return Step.AWAITING_STOCK
    return None
