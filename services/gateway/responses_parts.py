"""The answers' shapes of the parts routes, for the OpenAPI document (see ``responses.py``)."""

from __future__ import annotations

from marshmallow import Schema, fields

from services.gateway.responses import Int, OpenItem, Str, counts, nullable, page_of


class Part(Schema):
    part_no = Str()
    name = Str()
    product_line = Str()
    kind = Str()
    fits = fields.List(Str())
    returnable = fields.Bool()
    unit_cost = nullable(Str())


class PartNeed(Schema):
    part_no = Str()
    quantity = Int()


class Catalogue(Schema):
    parts = fields.List(fields.Nested(Part), required=True)
    fault_class = nullable(Str())
    needs = fields.List(fields.Nested(PartNeed))


class Location(Schema):
    id = Str()
    kind = Str()
    tenant_id = nullable(Str())
    name = Str()
    parent_id = nullable(Str())


class StockLine(Schema):
    location_id = Str()
    tenant_id = nullable(Str())
    part_no = Str()
    name = Str()
    condition = Str()
    on_hand = Int()
    reserved = Int()
    available = Int()
    unit_cost = nullable(Str())
    value = nullable(Str())


class Movement(Schema):
    movement_no = Str()
    kind = Str()
    location_id = Str()
    counterpart_id = nullable(Str())
    part_no = Str()
    condition = Str()
    quantity = Int()
    reason = nullable(Str())
    ref = nullable(Str())
    serials = fields.List(Str())
    occurred_at = fields.AwareDateTime()
    user = nullable(Str())


class Booked(Schema):
    """A stock movement booked (receipt, adjustment) and the balance after it."""

    movement_no = Str(required=True)
    location_id = Str()
    part_no = Str()
    on_hand = Int()
    reserved = Int()


StockPage = page_of(StockLine, "StockPage")
MovementPage = page_of(Movement, "MovementPage")


class MovementBooked(Schema):
    movement_no = Str(required=True)


class Reservation(Schema):
    id = Str()
    tenant_id = nullable(Str())
    visit_id = nullable(Str())
    ticket_id = nullable(Str())
    outlet_id = Str()
    warehouse_id = Str()
    part_no = Str()
    quantity = Int()
    status = Str()
    source = Str()
    created_at = fields.AwareDateTime()
    issued_at = nullable(fields.AwareDateTime())
    movement_no = nullable(Str())


ReservationPage = page_of(Reservation, "ReservationPage")


class IssuedLine(Schema):
    part_no = Str()
    quantity = Int()
    serials = fields.List(Str())
    reservation_id = nullable(Str())


class Issue(Schema):
    """Parts issued to an outlet (备件发放)."""

    movement_no = Str()
    outlet_id = Str()
    warehouse_id = Str()
    lines = fields.List(fields.Nested(IssuedLine))
    issued_at = fields.AwareDateTime()


class Rma(Schema):
    """An old-part return (旧件返厂) with its due date, ageing and receipts."""

    rma_no = Str()
    tenant_id = nullable(Str())
    outlet_id = Str()
    warehouse_id = nullable(Str())
    part_no = Str()
    quantity = Int()
    removed_serial = nullable(Str())
    new_serial = nullable(Str())
    visit_id = nullable(Str())
    ticket_id = nullable(Str())
    unit_cost = nullable(Str())
    status = Str()
    created_at = fields.AwareDateTime()
    due_at = nullable(fields.AwareDateTime())
    overdue = fields.Bool()
    overdue_notified_at = nullable(fields.AwareDateTime())
    shipped_at = nullable(fields.AwareDateTime())
    waybill_no = nullable(Str())
    carrier = nullable(Str())
    shipped_by = nullable(Str())
    age_days = Int()
    ageing = Str()
    warehouse_received_at = nullable(fields.AwareDateTime())
    warehouse_location_id = nullable(Str())
    warehouse_serial = nullable(Str())
    warehouse_quantity = nullable(Int())
    late = nullable(fields.Bool())
    factory_received_at = nullable(fields.AwareDateTime())
    factory_serial = nullable(Str())
    inspection = nullable(Str())
    inspected_at = nullable(fields.AwareDateTime())
    inspection_note = nullable(Str())


RmaPage = page_of(Rma, "RmaPage")


class RmaDetail(Rma):
    movements = fields.List(fields.Nested(Movement))


class RmaAgeing(Schema):
    """Open returns of an outlet by age bucket (账龄)."""

    outlet_id = Str()
    open = Int()
    overdue = Int()
    value = Str()
    buckets = counts()


class ScanStatus(Schema):
    scan_id = Str()
    kind = Str()
    location_id = nullable(Str())
    rma_no = nullable(Str())
    outcome = Str()
    detail = nullable(Str())
    received_at = nullable(fields.AwareDateTime())


ScanPage = page_of(ScanStatus, "ScanPage")


class RejectedReceipt(Schema):
    scan_id = Str()
    location_id = nullable(Str())
    rma_no = nullable(Str())
    reason = Str()
    payload = fields.Dict()
    received_at = nullable(fields.AwareDateTime())
    resolved_at = nullable(fields.AwareDateTime())
    resolution = nullable(Str())


RejectedReceiptPage = page_of(RejectedReceipt, "RejectedReceiptPage")


class Resolved(Schema):
    scan_id = Str()
    resolved_at = fields.AwareDateTime()
    resolution = Str()


class Discrepancy(Schema):
    kind = Str()
    part_no = nullable(Str())
    quantity = nullable(Int())
    ref = nullable(Str())
    detail = Str()
    outlet_id = nullable(Str())  # the outlet it concerns (none: the warehouse's own)


class ReconciliationReport(Schema):
    location_id = Str()
    location_kind = Str()
    tenant_id = nullable(Str())
    figures = counts()
    discrepancy_count = Int()
    by_kind = counts()
    discrepancies = fields.List(fields.Nested(Discrepancy))


class ReconciliationRun(Schema):
    """A month reconciled (对账): counts and each location's report."""

    month = Str()
    locations = Int()
    with_discrepancies = Int()
    discrepancies = Int()
    reports = fields.List(fields.Nested(ReconciliationReport))


class Reconciliation(Schema):
    location_id = Str()
    location_kind = Str()
    tenant_id = nullable(Str())
    month = Str()
    figures = counts()
    discrepancies = fields.List(fields.Nested(Discrepancy))
    discrepancy_count = Int()
    run_at = fields.AwareDateTime()


ReconciliationPage = page_of(Reconciliation, "ReconciliationPage")


class PartsBalance(Schema):
    outlet_id = Str()
    open_items = fields.List(fields.Nested(OpenItem))
    clear = fields.Bool()
