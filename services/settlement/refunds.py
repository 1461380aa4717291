"""Refunds and compensations (退赔款, seed 000's 产品异议处理流程: "退赔款 — 生产厂、技术部门、结算部门"):
approved in intake (a returned machine's refund after the technical lead's inspection and the
center's decision; a complaint's compensation by a technical lead), recorded here from
``refund.requested``, paid by the settlement department (结算部门: HQ), which emits
``settlement.refund_paid`` once. The rules, plain Python (payloads: refund_schemas)."""

from __future__ import annotations

from shared import tenancy
from shared.errors import Conflict, Forbidden

REQUESTED, PAID = "requested", "paid"
STATUSES = (REQUESTED, PAID)
PAYERS = (tenancy.HQ,)  # 结算部门
READERS = (tenancy.HQ, tenancy.CENTER)


def check_payer(role: str) -> None:
    if role not in PAYERS:
        raise Forbidden("only HQ's settlement department (结算部门) pays refunds and compensations")


def check_reader(role: str) -> None:
    if role not in READERS:
        raise Forbidden(f"role {role} cannot read refunds")


def check_payable(status: str) -> None:
    """A refund is paid once: a second payment is a 409."""
    if status != REQUESTED:
        raise Conflict("this refund is paid already", {"refund_id": [f"the refund is {status}"]})
