"""Payloads of the customer and product archive (客户档案, 产品档案): queries, updates, answers."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.validation import PageQuery


class CustomerQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = RAISE

    q = fields.Str(
        load_default=None,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "part of the name, company, a phone or an external id"},
    )
    due_for_review = fields.Bool(
        load_default=False, metadata={"description": "only customers not reviewed for a year (每年更新一次)"}
    )
    duplicates = fields.Bool(load_default=False, metadata={"description": "only possible duplicates"})
    tenant_id = fields.Str(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "HQ: one center's customers (a center reads its own only)"},
    )


class DuplicatesQuery(CustomerQuery):
    """The duplicates list's query: the list is the possible duplicates, so no `duplicates` flag."""

    class Meta(CustomerQuery.Meta):
        exclude = ("duplicates",)


class CustomerCsvQuery(Schema):
    class Meta:
        unknown = RAISE

    tenant_id = fields.Str(
        load_default=None,
        validate=validate.Length(min=1, max=16),
        metadata={"description": "HQ: one center's archive (without it, every center's)"},
    )


class CustomerPatch(Schema):
    """A person's update of a customer's contacts and consent; the record counts as reviewed."""

    class Meta:
        unknown = RAISE

    name = fields.Str(validate=validate.Length(min=1, max=128))
    company = fields.Str(allow_none=True, validate=validate.Length(max=128))
    phones = fields.List(fields.Str(validate=validate.Length(min=5, max=20)), validate=validate.Length(max=10))
    email = fields.Email(allow_none=True, validate=validate.Length(max=128))
    addresses = fields.List(fields.Str(validate=validate.Length(min=2, max=256)), validate=validate.Length(max=10))
    external_ids = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=10))
    consent_to_contact = fields.Bool()


class MergeCustomers(Schema):
    """Merge `merged_id` into `survivor_id` (a person's decision, recorded with who took it)."""

    class Meta:
        unknown = RAISE

    survivor_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    merged_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    note = fields.Str(load_default=None, validate=validate.Length(max=128))


class KeepApart(Schema):
    """A person's decision that a flagged customer is no duplicate of its candidates."""

    class Meta:
        unknown = RAISE

    note = fields.Str(load_default=None, validate=validate.Length(max=128))


class HistoryItem(Schema):
    """One ticket of a customer's or product's service history."""

    id = fields.Str()
    number = fields.Str()
    kind = fields.Str()
    status = fields.Str()
    case_state = fields.Str(allow_none=True)
    channel = fields.Str()
    product_id = fields.Str(allow_none=True)
    serial_no = fields.Str(allow_none=True)
    fault = fields.Str(allow_none=True)
    warranty = fields.Str()
    assigned_outlet_id = fields.Str(allow_none=True)
    received_at = fields.AwareDateTime()
    onsite_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)


class ProductOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    customer_id = fields.Str()
    product_line = fields.Str(allow_none=True)
    model = fields.Str(allow_none=True)
    serial_no = fields.Str()
    purchase_date = fields.Date(allow_none=True)
    installed_on = fields.Date(allow_none=True)
    warranty_until = fields.Date(allow_none=True)
    installed_by_outlet_id = fields.Str(allow_none=True)


class CustomerOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    name = fields.Str()
    company = fields.Str(allow_none=True)
    phones = fields.List(fields.Str())
    email = fields.Str(allow_none=True)
    addresses = fields.List(fields.Str())
    external_ids = fields.List(fields.Str())
    consent_to_contact = fields.Bool(allow_none=True)
    duplicate_of = fields.List(fields.Str(), allow_none=True)
    duplicate_reason = fields.Str(allow_none=True)
    duplicate_decided_by = fields.Str(allow_none=True, metadata={"description": "who kept it apart (no duplicate)"})
    duplicate_decided_at = fields.AwareDateTime(allow_none=True)
    merged_into = fields.Str(allow_none=True)
    merged_by = fields.Str(allow_none=True)
    merged_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    reviewed_on = fields.Date()
    review_due = fields.Bool(metadata={"description": "not reviewed for a year: due for the yearly update"})


class CustomerDetail(CustomerOut):
    products = fields.List(fields.Nested(ProductOut))
    history = fields.List(fields.Nested(HistoryItem))


class ProductDetail(ProductOut):
    customer = fields.Nested(CustomerOut)
    history = fields.List(fields.Nested(HistoryItem))


class CustomerPage(Schema):
    items = fields.List(fields.Nested(CustomerOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
