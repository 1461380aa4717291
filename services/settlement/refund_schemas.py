"""Payloads of refunds and compensations (退赔款): paying one, the list's query, the answers."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.settlement.refunds import STATUSES
from shared.validation import PageQuery


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
