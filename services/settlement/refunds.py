"""Refunds and compensations (退赔款, seed 000's 产品异议处理流程: "退赔款 — 生产厂、技术部门、结算部门"):
approved in intake (a returned machine's refund after the technical lead's inspection and the
center's decision; a complaint's compensation by a technical lead), recorded here from
``refund.requested``, paid by the settlement department (结算部门: HQ), which emits
``settlement.refund_paid`` once. Rules and payloads, plain Python."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared import tenancy
from shared.errors import Conflict, Forbidden
from shared.validation import PageQuery

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


class PayRefund(Schema):
    class Meta:
        unknown = RAISE

    payment_ref = fields.Str(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "the bank transfer's or voucher's reference"},
    )


class RefundQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = RAISE

    status = fields.Str(load_default=None, validate=validate.OneOf(STATUSES))
    ticket_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))
    return_case_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))


class RefundOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    ticket_id = fields.Str()
    return_case_id = fields.Str(allow_none=True)
    kind = fields.Str()
    amount = fields.Decimal(as_string=True)
    reason = fields.Str(allow_none=True)
    approved_by = fields.Str()
    requested_at = fields.AwareDateTime()
    status = fields.Str()
    paid_by = fields.Str(allow_none=True)
    paid_at = fields.AwareDateTime(allow_none=True)
    payment_ref = fields.Str(allow_none=True)


class RefundPage(Schema):
    items = fields.List(fields.Nested(RefundOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
