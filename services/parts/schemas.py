"""Payloads of parts' RPC, HTTP and plain-AMQP receipts."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.parts.domain import DEFECTIVE, GOOD, INSPECTION_RESULTS, LOCAL_TZ, MovementKind, RmaStatus
from shared.validation import MONTH, PageQuery

ID = validate.Length(min=1, max=32)
CONDITION = validate.OneOf((GOOD, DEFECTIVE))


class Strict(Schema):
    class Meta:
        unknown = RAISE


class PartLine(Strict):
    part_no = fields.Str(required=True, validate=ID)
    quantity = fields.Int(load_default=1, validate=validate.Range(min=1, max=10000))
    serials = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), load_default=list)
    reservation_id = fields.Str(load_default=None, validate=ID)


class RequestParts(Strict):
    """An outlet (or its dispatcher) asks for parts, for a visit or for its shelf."""

    outlet_id = fields.Str(required=True, validate=ID)
    visit_id = fields.Str(load_default=None, validate=ID)
    ticket_id = fields.Str(load_default=None, validate=ID)
    lines = fields.List(fields.Nested(PartLine), required=True, validate=validate.Length(min=1, max=50))


class IssueParts(Strict):
    """备件发放: reserved lines (reservation_id) or direct lines, from a warehouse to an outlet."""

    outlet_id = fields.Str(required=True, validate=ID)
    warehouse_id = fields.Str(load_default=None, validate=ID)
    lines = fields.List(fields.Nested(PartLine), required=True, validate=validate.Length(min=1, max=50))
    note = fields.Str(load_default=None, validate=validate.Length(max=256))


class StockReceiptIn(Strict):
    location_id = fields.Str(required=True, validate=ID)
    part_no = fields.Str(required=True, validate=ID)
    quantity = fields.Int(required=True, validate=validate.Range(min=1, max=100000))
    serials = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), load_default=list)
    reason = fields.Str(load_default="goods receipt", validate=validate.Length(min=1, max=256))


class AdjustmentIn(Strict):
    location_id = fields.Str(required=True, validate=ID)
    part_no = fields.Str(required=True, validate=ID)
    quantity = fields.Int(required=True, validate=validate.Range(min=-100000, max=100000))
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=256))
    condition = fields.Str(load_default=GOOD, validate=CONDITION)


class TransferIn(Strict):
    from_location_id = fields.Str(required=True, validate=ID)
    to_location_id = fields.Str(required=True, validate=ID)
    part_no = fields.Str(required=True, validate=ID)
    quantity = fields.Int(required=True, validate=validate.Range(min=1, max=100000))
    reason = fields.Str(load_default=None, validate=validate.Length(max=256))


class ScrapIn(Strict):
    location_id = fields.Str(required=True, validate=ID)
    part_no = fields.Str(required=True, validate=ID)
    quantity = fields.Int(required=True, validate=validate.Range(min=1, max=100000))
    condition = fields.Str(load_default=DEFECTIVE, validate=CONDITION)
    reason = fields.Str(required=True, validate=validate.Length(min=1, max=256))


class ReceiptMessage(Schema):
    """A scan from a warehouse scanner or the factory returns desk (plain AMQP, see client.py).

    kind ``rma``: an old part of an RMA arrived (at a warehouse, or at the factory, optionally
    with the inspection result); ``inspection``: the factory's verdict later; ``stock``: new
    parts arrived at a warehouse (入库)."""

    class Meta:
        unknown = EXCLUDE  # scanners may send more than we read

    scan_id = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Str(load_default="rma", validate=validate.OneOf(("rma", "inspection", "stock")))
    location_id = fields.Str(required=True, validate=ID)
    rma_no = fields.Str(load_default=None, validate=ID)
    part_no = fields.Str(load_default=None, validate=ID)
    serial = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    serials = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), load_default=list)
    quantity = fields.Int(load_default=1, validate=validate.Range(min=1, max=100000))
    received_at = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    inspection = fields.Str(load_default=None, validate=validate.OneOf(INSPECTION_RESULTS))
    note = fields.Str(load_default=None, validate=validate.Length(max=256))
    scanned_by = fields.Str(load_default=None, validate=validate.Length(max=64))

    @validates_schema
    def _needs(self, data, **kwargs):
        if data["kind"] in ("rma", "inspection") and not data.get("rma_no"):
            raise ValidationError("Required for an RMA receipt or inspection.", "rma_no")
        if data["kind"] == "inspection" and not data.get("inspection"):
            raise ValidationError("Required for an inspection.", "inspection")
        if data["kind"] == "stock" and not data.get("part_no"):
            raise ValidationError("Required for a stock receipt.", "part_no")


class HandReceipt(ReceiptMessage):
    """A scan typed in at the receiving desk (``POST /api/v1/parts/scans``): the scanner's message,
    unknown fields refused; parts makes the scan id unless one is given and books the person as
    the scanner."""

    class Meta:
        unknown = RAISE
        exclude = ("scanned_by",)

    scan_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))


class Page(Strict, PageQuery.with_default_limit(200)):
    """Parts' lists: 200 a page unless the caller names a limit."""


class StockQuery(Page):
    location_id = fields.Str(load_default=None, validate=ID)
    part_no = fields.Str(load_default=None, validate=ID)
    product_line = fields.Str(load_default=None, validate=validate.Length(max=64))
    condition = fields.Str(load_default=None, validate=CONDITION)
    include_zero = fields.Bool(load_default=False)


class MovementQuery(Page):
    location_id = fields.Str(load_default=None, validate=ID)
    part_no = fields.Str(load_default=None, validate=ID)
    kind = fields.Str(load_default=None, validate=validate.OneOf(MovementKind.ALL))
    month = fields.Str(load_default=None, validate=MONTH)


class ReservationQuery(Page):
    outlet_id = fields.Str(load_default=None, validate=ID)
    visit_id = fields.Str(load_default=None, validate=ID)
    status = fields.Str(
        load_default=None, validate=validate.OneOf(("reserved", "short", "issued", "consumed", "released"))
    )


class RmaQuery(Page):
    outlet_id = fields.Str(load_default=None, validate=ID)
    status = fields.Str(
        load_default=None,
        validate=validate.OneOf((RmaStatus.OPEN, RmaStatus.AT_WAREHOUSE, RmaStatus.AT_FACTORY, RmaStatus.INSPECTED)),
    )
    overdue = fields.Bool(load_default=None)
    visit_id = fields.Str(load_default=None, validate=ID)


class ScanQuery(Page):
    """Receipts (scans) as booked, newest first."""

    kind = fields.Str(load_default=None, validate=validate.OneOf(("rma", "inspection", "stock")))
    outcome = fields.Str(load_default=None, validate=validate.OneOf(("accepted", "rejected")))
    location_id = fields.Str(load_default=None, validate=ID)


class ShipRma(Strict):
    """The outlet sends an old part back (寄回): the waybill it goes under, and the carrier."""

    waybill_no = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    carrier = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))


class CatalogueQuery(Strict):
    product_line = fields.Str(load_default=None, validate=validate.Length(max=64))
    model = fields.Str(load_default=None, validate=validate.Length(max=64))
    fault = fields.Str(load_default=None, validate=validate.Length(max=256))


class ReconcileIn(Strict):
    month = fields.Str(required=True, validate=MONTH)
    location_id = fields.Str(load_default=None, validate=ID)
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))


class ReconciliationQuery(Page):
    month = fields.Str(load_default=None, validate=MONTH)
    location_id = fields.Str(load_default=None, validate=ID)
    with_discrepancies = fields.Bool(load_default=None)


class RejectedQuery(Page):
    unresolved = fields.Bool(load_default=True)


class ResolveRejected(Strict):
    resolution = fields.Str(required=True, validate=validate.Length(min=1, max=256))


class OverdueCheck(Strict):
    at = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)


class CancelReplacement(Strict):
    """Intake cancels an exchange's replacement awaiting stock (the customer took a refund or withdrew)."""

    reason = fields.Str(required=True, validate=validate.Length(min=2, max=2000))


class ReplacementOut(Schema):
    return_case_id = fields.Str()
    tenant_id = fields.Str()
    location_id = fields.Str()
    part_no = fields.Str()
    status = fields.Str(metadata={"description": "waiting | issued | cancelled"})
    movement_no = fields.Str(allow_none=True)
    serial = fields.Str(allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)
    cancelled_by = fields.Str(allow_none=True)
    cancel_reason = fields.Str(allow_none=True)
