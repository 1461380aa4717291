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


class ClaimReceipt(Schema):
    """The customer's receipt of a self-paid job and how its amount is shared."""

    receipt_no = fields.Str()
    amount = fields.Str()
    outlet_share = fields.Str(allow_none=True)
    center_share = fields.Str(allow_none=True)
    tariff_line = fields.Str(allow_none=True)


class AuditStepOut(Schema):
    level = fields.Str()
    action = fields.Str()
    user = fields.Str()
    role = fields.Str()
    duty = fields.Str(allow_none=True)
    amount_before = fields.Str(allow_none=True)
    amount_after = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    at = fields.AwareDateTime()


class HoldOut(Schema):
    kind = fields.Str()
    ref = fields.Str()
    status = fields.Str()
    reason = fields.Str(allow_none=True)
    release_reason = fields.Str(allow_none=True)


class ClaimOut(Schema):
    """A fee claim (queries.claim_out); one claim (not a list) also has its audits and holds."""

    id = fields.Str()
    tenant_id = fields.Str()
    outlet_id = fields.Str()
    visit_id = fields.Str()
    ticket_id = fields.Str(allow_none=True)
    source = fields.Str()
    visit_at = fields.AwareDateTime()
    visit_date = fields.Date()
    kind = fields.Str(allow_none=True)
    product_line = fields.Str(allow_none=True)
    fault = fields.Str(allow_none=True)
    fault_class = fields.Str(allow_none=True)
    serial_no = fields.Str(allow_none=True)
    tier = fields.Str(allow_none=True)
    payer = fields.Str()
    warranty = fields.Str(allow_none=True)
    grade = fields.Str(allow_none=True)
    km = fields.Float(allow_none=True)
    travel_days = fields.Int(allow_none=True)
    parts_count = fields.Int(allow_none=True)
    tariff_versions = fields.List(fields.Str(), allow_none=True)
    price_lines = fields.List(fields.Nested(PriceLineOut))
    claimed_lines = fields.Dict(keys=fields.Str(), values=fields.Str(), allow_none=True)  # code -> amount
    tariff_total = fields.Str()
    claimed_total = fields.Str(allow_none=True)
    approved = fields.Str(allow_none=True)
    adjustments = fields.List(fields.Dict(), allow_none=True)
    rules = fields.List(fields.Nested(RuleOut))
    status = fields.Str()
    level = fields.Str(allow_none=True)
    flagged = fields.Bool()
    held = fields.Bool()
    duplicate = fields.Bool()
    receipt = fields.Nested(ClaimReceipt, allow_none=True)
    statement_id = fields.Str(allow_none=True)
    version = fields.Int()
    created_at = fields.AwareDateTime()
    decided_at = fields.AwareDateTime(allow_none=True)
    audits = fields.List(fields.Nested(AuditStepOut))
    holds = fields.List(fields.Nested(HoldOut))


class StatementLineOutSchema(Schema):
    seq = fields.Int()
    kind = fields.Str()
    ref = fields.Str()
    claim_id = fields.Str(allow_none=True)
    description = fields.Str()
    amount = fields.Str()
    tariff_line = fields.Str(allow_none=True)
    rule = fields.Str(allow_none=True)


class PaymentOut(Schema):
    amount = fields.Str()
    reference = fields.Str()
    paid_at = fields.AwareDateTime()


class StatementSummary(Schema):
    """A monthly statement (月结算单) as listed: its totals, not its lines."""

    id = fields.Str()
    tenant_id = fields.Str()
    outlet_id = fields.Str()
    month = fields.Str()
    issued_at = fields.AwareDateTime()
    issued_by = fields.Str()
    total = fields.Str()
    paid = fields.Str()
    outstanding = fields.Str()
    status = fields.Str()


class StatementOut(StatementSummary):
    """One statement with its lines and payments."""

    lines = fields.List(fields.Nested(StatementLineOutSchema))
    payments = fields.List(fields.Nested(PaymentOut))


class BalanceOut(Schema):
    outlet_id = fields.Str()
    at = fields.Str()
    statements_total = fields.Str()
    paid = fields.Str()
    balance = fields.Str()
    approved_unstated = fields.Str()
    held = fields.Str()
    in_review = fields.Str()
    deductions_pending = fields.Str()
