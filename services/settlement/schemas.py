"""Marshmallow schemas of settlement's RPC and HTTP payloads (inputs), and the output shapes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.settlement.audit_levels import ACTIONS, LEVELS
from services.settlement.domain import PRICE_CODES
from shared.validation import MONTH, PageQuery


class Money(fields.Field):
    """Yuan to the fen: a decimal string or number with at most two decimal places."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError('must be an amount in yuan, e.g. "123.45"')
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValidationError('must be an amount in yuan, e.g. "123.45"') from None
        if not amount.is_finite():
            raise ValidationError("must be a finite amount")
        if amount.as_tuple().exponent < -2:
            raise ValidationError("at most two decimal places (to the fen)")
        if abs(amount) >= Decimal("1e10"):
            raise ValidationError("amount too large")
        return amount.quantize(Decimal("0.01"))

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else str(value)


class Strict(Schema):
    class Meta:
        unknown = "raise"


class SubmitClaim(Strict):
    """An outlet's claim for its visit (网点结算申报)."""

    visit_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    claimed = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(PRICE_CODES)),
        values=Money(validate=validate.Range(min=0)),
        load_default=None,
    )
    actual_km = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, max=5000))
    travel_days = fields.Int(allow_none=True, load_default=None, validate=validate.Range(min=0, max=60))
    purchase_date = fields.Date(allow_none=True, load_default=None)
    receipt_no = fields.Str(allow_none=True, load_default=None, validate=validate.Length(min=1, max=64))
    receipt_amount = Money(allow_none=True, load_default=None, validate=validate.Range(min=0))
    note = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=500))

    @validates_schema
    def _receipt_pair(self, data, **kwargs):
        if (data.get("receipt_no") is None) != (data.get("receipt_amount") is None):
            raise ValidationError("give both receipt_no and receipt_amount", "receipt_amount")


class Receipt(Strict):
    receipt_no = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    amount = Money(required=True, validate=validate.Range(min=0))


class AuditIn(Strict):
    level = fields.Str(required=True, validate=validate.OneOf(LEVELS))
    action = fields.Str(required=True, validate=validate.OneOf(ACTIONS))
    amount = Money(allow_none=True, load_default=None)
    reason = fields.Str(allow_none=True, load_default=None, validate=validate.Length(max=500))
    expected_version = fields.Int(allow_none=True, load_default=None)


class ClaimQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = EXCLUDE

    status = fields.Str(
        load_default=None,
        validate=validate.OneOf(("center_review", "tech_review", "hq_review", "approved", "rejected")),
    )
    outlet_id = fields.Str(load_default=None)
    month = fields.Str(load_default=None, validate=MONTH)
    held = fields.Bool(load_default=None)


class IssueStatement(Strict):
    outlet_id = fields.Str(required=True, validate=validate.Length(min=1, max=16))
    month = fields.Str(required=True, validate=MONTH)


class IssueAll(Strict):
    month = fields.Str(required=True, validate=MONTH)
    tenant_id = fields.Str(allow_none=True, load_default=None)


class StatementQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = EXCLUDE

    outlet_id = fields.Str(load_default=None)
    month = fields.Str(load_default=None, validate=MONTH)


class PaymentIn(Strict):
    amount = Money(required=True)
    reference = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    paid_at = fields.AwareDateTime(allow_none=True, load_default=None)


class BalanceQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    at = fields.AwareDateTime(load_default=None)


class TariffQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    tenant_id = fields.Str(load_default=None)
    on = fields.Date(load_default=None)


# ---------------------------------------------------------------- output shapes (for the OpenAPI document)
class RuleOut(Schema):
    rule = fields.Str()
    outcome = fields.Str()
    reason = fields.Str()
    amount = fields.Str(allow_none=True)


class PriceLineOut(Schema):
    code = fields.Str()
    amount = fields.Str()
    tariff_line = fields.Str()
    rule = fields.Str()


class ClaimOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    outlet_id = fields.Str()
    visit_id = fields.Str()
    ticket_id = fields.Str()
    source = fields.Str()
    visit_date = fields.Str()
    payer = fields.Str()
    status = fields.Str()
    level = fields.Str(allow_none=True)
    tariff_total = fields.Str()
    claimed_total = fields.Str()
    approved = fields.Str()
    price_lines = fields.List(fields.Nested(PriceLineOut))
    rules = fields.List(fields.Nested(RuleOut))
    held = fields.Bool()
    flagged = fields.Bool()


class StatementLineOutSchema(Schema):
    seq = fields.Int()
    kind = fields.Str()
    ref = fields.Str()
    claim_id = fields.Str(allow_none=True)
    description = fields.Str()
    amount = fields.Str()
    tariff_line = fields.Str()
    rule = fields.Str()


class StatementOut(Schema):
    id = fields.Str()
    outlet_id = fields.Str()
    month = fields.Str()
    total = fields.Str()
    paid = fields.Str()
    status = fields.Str()
    lines = fields.List(fields.Nested(StatementLineOutSchema))


class BalanceOut(Schema):
    outlet_id = fields.Str()
    at = fields.Str()
    statements_total = fields.Str()
    paid = fields.Str()
    balance = fields.Str()
    approved_unstated = fields.Str()
    held = fields.Str()
    in_review = fields.Str()
