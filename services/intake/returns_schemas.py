"""Payloads of returns and exchanges (退换机) and of a complaint's compensation (退赔款)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.intake.returns import ACTIONS, CANCEL_OUTCOMES, KINDS, Step
from shared.validation import PageQuery

AMOUNT = {"as_string": True}


class OpenReturn(Schema):
    """A customer asks to return (15 天包退) or exchange (30 天包换) the machine of a ticket."""

    class Meta:
        unknown = RAISE

    kind = fields.Str(required=True, validate=validate.OneOf(KINDS), metadata={"description": "return | exchange"})
    reason = fields.Str(
        required=True, validate=validate.Length(min=2, max=2000), metadata={"description": "the quality problem"}
    )
    purchase_date = fields.Date(
        load_default=None, metadata={"description": "when the customer bought it (default: the ticket's)"}
    )
    installed_on = fields.Date(
        load_default=None, metadata={"description": "when it was installed (default: the product archive's)"}
    )
    model = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    serial_no = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))


class ReturnStepIn(Schema):
    """One step of the case: inspect (quality_fault, finding), decide (approve, refund_amount for a
    return, note when rejecting), receive, issue_replacement (asks parts for the replacement;
    replacement_serial optional), close."""

    class Meta:
        unknown = RAISE

    action = fields.Str(required=True, validate=validate.OneOf(tuple(ACTIONS)))
    quality_fault = fields.Bool(load_default=None, metadata={"description": "inspect: a quality fault found"})
    finding = fields.Str(load_default=None, validate=validate.Length(min=2, max=2000))
    approve = fields.Bool(load_default=None, metadata={"description": "decide: approve (true) or reject (false)"})
    refund_amount = fields.Decimal(load_default=None, **AMOUNT, metadata={"description": "decide a return: yuan"})
    replacement_serial = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    note = fields.Str(load_default=None, validate=validate.Length(min=1, max=2000))


class CancelReplacementIn(Schema):
    """Cancel an exchange's replacement awaiting stock: why, and what the customer takes instead."""

    class Meta:
        unknown = RAISE

    reason = fields.Str(
        required=True,
        validate=validate.Length(min=2, max=2000),
        metadata={"description": "why (e.g. the customer accepts a refund instead)"},
    )
    outcome = fields.Str(
        required=True,
        validate=validate.OneOf(CANCEL_OUTCOMES),
        metadata={
            "description": "refund: the customer takes a refund instead (the case becomes a received return, "
            "settlement pays refund_amount); withdraw: the customer withdraws the case (withdrawn)"
        },
    )
    refund_amount = fields.Decimal(
        load_default=None, **AMOUNT, metadata={"description": "yuan; required with outcome refund, else absent"}
    )


class ReturnQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = RAISE

    step = fields.Str(load_default=None, validate=validate.OneOf(Step.ALL))
    kind = fields.Str(load_default=None, validate=validate.OneOf(KINDS))
    ticket_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))


class CompensationIn(Schema):
    """A complaint's compensation (退赔款) after the negotiation, approved by a technical lead."""

    class Meta:
        unknown = RAISE

    amount = fields.Decimal(required=True, **AMOUNT, metadata={"description": "yuan"})
    reason = fields.Str(required=True, validate=validate.Length(min=2, max=2000))


class ReturnOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    ticket_id = fields.Str()
    ticket_number = fields.Str(allow_none=True)
    kind = fields.Str()
    step = fields.Str()
    reason = fields.Str()
    product_line = fields.Str(allow_none=True)
    model = fields.Str()
    serial_no = fields.Str()
    purchase_date = fields.Date()
    installed_on = fields.Date(allow_none=True)
    days = fields.Int(metadata={"description": "days since purchase (or installation) to the request"})
    counted_from = fields.Str()
    requested_by = fields.Str()
    requested_at = fields.AwareDateTime()
    quality_fault = fields.Bool(allow_none=True)
    finding = fields.Str(allow_none=True)
    inspected_by = fields.Str(allow_none=True)
    inspected_at = fields.AwareDateTime(allow_none=True)
    decided_by = fields.Str(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    decision_note = fields.Str(allow_none=True)
    refund_amount = fields.Decimal(allow_none=True, as_string=True)
    received_by = fields.Str(allow_none=True)
    received_at = fields.AwareDateTime(allow_none=True)
    refund_id = fields.Str(allow_none=True)
    refund_paid_at = fields.AwareDateTime(allow_none=True)
    replacement_serial = fields.Str(allow_none=True)
    replacement_requested_by = fields.Str(allow_none=True)
    replacement_requested_at = fields.AwareDateTime(allow_none=True)
    awaiting_stock_at = fields.AwareDateTime(allow_none=True, metadata={"description": "parts had no good unit"})
    replaced_by = fields.Str(allow_none=True)
    replaced_at = fields.AwareDateTime(allow_none=True)
    replacement_cancelled_by = fields.Str(allow_none=True)
    replacement_cancelled_at = fields.AwareDateTime(allow_none=True)
    replacement_cancel_reason = fields.Str(allow_none=True)
    replacement_cancel_outcome = fields.Str(allow_none=True, metadata={"description": "refund | withdraw"})
    closed_by = fields.Str(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    version = fields.Int()


class ReturnPage(Schema):
    items = fields.List(fields.Nested(ReturnOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)


class CompensationOut(Schema):
    ticket_id = fields.Str()
    refund_id = fields.Str()
    amount = fields.Decimal(as_string=True)
    approved_by = fields.Str()
