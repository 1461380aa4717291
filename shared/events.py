"""The event catalogue: every event's name, source service, version and payload schema.

Publishers dump through it (`dump`), consumers load through it (`load`), so a payload
that does not match its schema is caught at both ends. Bumping a version means adding
fields in a backward-compatible way, or a new event name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

TIERS = ("local", "in_province", "out_of_province")
TICKET_KINDS = ("repair", "install", "maintenance", "complaint", "consultation")
# the kinds a technician goes out for (an on-site deadline, a dispatch visit): all but a consultation
ONSITE_KINDS = ("repair", "install", "maintenance", "complaint")
CHANNELS = ("hotline", "web", "fax", "portal")
# what a complaint is about (投诉类别; qa analyses complaints by the same causes). Only a complaint
# about the machine or the work done on it needs someone on site (seed 000: 产品质量异议 省内2天,
# 省外5天); one about attitude, fees, lateness or information is handled by phone and letter.
COMPLAINT_CATEGORIES = (
    "product_quality",
    "installation",
    "repair_quality",
    "late_service",
    "attitude",
    "fees",
    "parts",
    "information",
    "other",
)
VISIT_COMPLAINT_CATEGORIES = ("product_quality", "installation", "repair_quality", "parts")


class EventSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # newer publishers may add fields

    tenant_id = fields.Str(required=True, validate=validate.Length(min=1, max=16))


class TicketRegistered(EventSchema):
    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    kind = fields.Str(required=True, validate=validate.OneOf(TICKET_KINDS))
    channel = fields.Str(required=True, validate=validate.OneOf(CHANNELS))
    priority = fields.Int(required=True)
    received_at = fields.AwareDateTime(required=True)
    product_line = fields.Str(allow_none=True)
    model = fields.Str(allow_none=True)
    serial_no = fields.Str(allow_none=True)
    fault = fields.Str(allow_none=True)
    warranty = fields.Str(required=True, validate=validate.OneOf(("warranty", "self_paid", "unknown")))
    tier = fields.Str(allow_none=True, validate=validate.OneOf(TIERS))
    province = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    district = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    geo_ambiguous = fields.Bool(required=True)
    onsite_due = fields.AwareDateTime(allow_none=True)
    wished_visit_at = fields.AwareDateTime(allow_none=True)
    # the customer's purchase date (settlement re-checks the warranty on the visit date)
    purchase_date = fields.Date(allow_none=True, load_default=None)
    complaint_category = fields.Str(allow_none=True, load_default=None, validate=validate.OneOf(COMPLAINT_CATEGORIES))
    # False: nobody goes on site (a consultation, a complaint about fees or attitude): no visit
    needs_visit = fields.Bool(load_default=True)
    # the customer's phone as registered (may be masked): dispatch keeps it for the appointment SMS
    customer_phone = fields.Str(allow_none=True, load_default=None)


class TicketEscalated(EventSchema):
    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    reason = fields.Str(required=True)
    level = fields.Str(required=True)
    # a major issue escalated to a named manager (intake's complaints.py): who must acknowledge, by when
    manager = fields.Str(allow_none=True, load_default=None)
    manager_name = fields.Str(allow_none=True, load_default=None)
    ack_due = fields.AwareDateTime(allow_none=True, load_default=None)


class TicketClosed(EventSchema):
    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    kind = fields.Str(required=True)
    closed_at = fields.AwareDateTime(required=True)
    outcome = fields.Str(required=True)
    assigned_outlet_id = fields.Str(allow_none=True)


class SlaBreached(EventSchema):
    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    sla = fields.Str(required=True)
    due_at = fields.AwareDateTime(required=True)
    detected_at = fields.AwareDateTime(required=True)
    assigned_outlet_id = fields.Str(allow_none=True)


class SlaAtRisk(EventSchema):
    """A running deadline past its warning share (SLA_AT_RISK_SHARE) of its window: once each."""

    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    kind = fields.Str(allow_none=True, load_default=None)
    sla = fields.Str(required=True)
    due_at = fields.AwareDateTime(required=True)
    detected_at = fields.AwareDateTime(required=True)
    share = fields.Float(allow_none=True, load_default=None)
    assigned_outlet_id = fields.Str(allow_none=True)


class OutletAssigned(EventSchema):
    """A center assigned a ticket to one of its outlets (intake's assign_outlet): dispatch keeps it."""

    ticket_id = fields.Str(required=True)
    number = fields.Str(required=True)
    outlet_id = fields.Str(required=True)
    at = fields.AwareDateTime(required=True)
    by = fields.Str(allow_none=True)


class ConstraintUnmet(EventSchema):
    """The planner cannot keep a dispatcher's constraint on a visit: why."""

    visit_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    constraint = fields.Str(required=True, validate=validate.OneOf(("pin", "outlet", "appointment", "none")))
    required_outlet_id = fields.Str(allow_none=True)
    pinned_technician_id = fields.Str(allow_none=True)
    reason = fields.Str(required=True)
    at = fields.AwareDateTime(required=True)


class PartUsed(Schema):
    class Meta:
        unknown = EXCLUDE

    part_no = fields.Str(required=True)
    quantity = fields.Int(load_default=1)
    new_serial = fields.Str(allow_none=True)
    removed_serial = fields.Str(allow_none=True)


class VisitEvent(EventSchema):
    visit_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    # the ticket's number as people read it (ticket.registered ``number``, 服务单号); events sent
    # before dispatch carried it have none
    ticket_number = fields.Str(allow_none=True, load_default=None)
    outlet_id = fields.Str(allow_none=True)
    technician_id = fields.Str(allow_none=True)
    technician_name = fields.Str(allow_none=True, load_default=None)  # visit.completed: 服务人员
    at = fields.AwareDateTime(required=True)
    planned_arrival = fields.AwareDateTime(allow_none=True)
    route_order = fields.Int(allow_none=True)
    planned_km = fields.Float(allow_none=True)
    reason = fields.Str(allow_none=True)
    product_line = fields.Str(allow_none=True)
    kind = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    work_done = fields.Str(allow_none=True)
    parts_used = fields.List(fields.Nested(PartUsed), allow_none=True)
    customer_confirmed = fields.Bool(allow_none=True)
    onsite_on_time = fields.Bool(allow_none=True)
    # the customer's phone for the appointment SMS (notify); may be masked (138****0000)
    customer_phone = fields.Str(allow_none=True, load_default=None)


class OutletEvent(EventSchema):
    outlet_id = fields.Str(required=True)
    status = fields.Str(
        required=True,
        validate=validate.OneOf(("applied", "approved", "probation", "effective", "suspended", "revoking", "revoked")),
    )
    at = fields.AwareDateTime(required=True)
    kind = fields.Str(allow_none=True)
    grade = fields.Str(allow_none=True)
    reason = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    # outlet.probation: concurrent open jobs it may hold (None: the tenant's default)
    job_limit = fields.Int(allow_none=True)
    # outlet.line_eligibility: a product line the outlet may (eligible) or may not take
    product_line = fields.Str(allow_none=True)
    eligible = fields.Bool(allow_none=True)
    # outlet.grade_changed
    previous_grade = fields.Str(allow_none=True)


class TechnicianEvent(EventSchema):
    technician_id = fields.Str(required=True)
    outlet_id = fields.Str(allow_none=True)
    product_line = fields.Str(required=True)
    valid_until = fields.Date(allow_none=True)
    at = fields.AwareDateTime(required=True)


class CallbackNegative(EventSchema):
    ticket_id = fields.Str(required=True)
    callback_id = fields.Str(required=True)
    satisfaction = fields.Int(allow_none=True)
    reason = fields.Str(allow_none=True)
    visit_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    at = fields.AwareDateTime(allow_none=True)


class CallbackDue(EventSchema):
    """A planned callback (回访, 七天内用户追踪, 投诉三天内回访) comes due: its caller is told, once."""

    callback_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    number = fields.Str(allow_none=True, load_default=None)
    purpose = fields.Str(required=True)
    caller = fields.Str(required=True)
    due_at = fields.AwareDateTime(required=True)
    outlet_id = fields.Str(allow_none=True, load_default=None)


class CallbackCompleted(EventSchema):
    """A callback reached the customer and their answers are recorded (satisfied or not): the
    ticket's 回访记录 in the ledger."""

    callback_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    purpose = fields.Str(required=True)
    satisfaction = fields.Int(allow_none=True)
    negative = fields.Bool(required=True)
    service_delivered = fields.Bool(allow_none=True)
    comment = fields.Str(allow_none=True)
    visit_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    at = fields.AwareDateTime(required=True)


class CallbackClosed(EventSchema):
    """QA closed a negative callback (resolved or confirmed): settlement releases its hold."""

    callback_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    visit_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    outcome = fields.Str(required=True, validate=validate.OneOf(("resolved", "upheld")))
    at = fields.AwareDateTime(required=True)


class ScorecardPublished(EventSchema):
    outlet_id = fields.Str(required=True)
    month = fields.Str(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}$"))
    score = fields.Decimal(required=True, as_string=True)
    stars = fields.Int(required=True)
    grade = fields.Str(required=True, validate=validate.OneOf(("A", "B", "C")))
    rank_in_tenant = fields.Int(allow_none=True)
    rank_nationwide = fields.Int(allow_none=True)


class PartsReturnOverdue(EventSchema):
    """A returnable removed part has not reached the warehouse by its RMA due date."""

    rma_no = fields.Str(required=True)
    outlet_id = fields.Str(required=True)
    part_no = fields.Str(required=True)
    visit_id = fields.Str(allow_none=True)
    ticket_id = fields.Str(allow_none=True)
    removed_serial = fields.Str(allow_none=True)
    due_at = fields.AwareDateTime(required=True)
    detected_at = fields.AwareDateTime(required=True)
    unit_cost = fields.Decimal(allow_none=True, as_string=True)


class PartsReturnReceived(EventSchema):
    """An RMA's part reached a warehouse (late or not): settlement releases a hold."""

    rma_no = fields.Str(required=True)
    outlet_id = fields.Str(required=True)
    part_no = fields.Str(required=True)
    visit_id = fields.Str(allow_none=True)
    location_id = fields.Str(required=True)
    received_at = fields.AwareDateTime(required=True)
    late = fields.Bool(required=True)


class PartsReconciled(EventSchema):
    location_id = fields.Str(required=True)
    location_kind = fields.Str(required=True, validate=validate.OneOf(("outlet", "warehouse")))
    month = fields.Str(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}$"))
    discrepancies = fields.Int(required=True)
    by_kind = fields.Dict(keys=fields.Str(), values=fields.Int(), load_default=dict)


class AccountClearingRequested(EventSchema):
    """Certification asks whether a revoking outlet's accounts are clear."""

    outlet_id = fields.Str(required=True)
    request_id = fields.Str(required=True)
    at = fields.AwareDateTime(required=True)


class OpenItem(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.Str(required=True)  # e.g. claim, hold, rma, stock, balance
    ref = fields.Str(required=True)
    description = fields.Str(allow_none=True)
    amount = fields.Decimal(allow_none=True, as_string=True)


class PartsOutletBalance(EventSchema):
    """Parts' answer to a clearing request: the outlet's open parts items (empty: clear)."""

    outlet_id = fields.Str(required=True)
    request_id = fields.Str(required=True)
    open_items = fields.List(fields.Nested(OpenItem), required=True)
    at = fields.AwareDateTime(required=True)


class AccountClearing(EventSchema):
    """Settlement's answer: cleared, or the open items (claims, holds, parts) still in the way."""

    outlet_id = fields.Str(required=True)
    request_id = fields.Str(required=True)
    open_items = fields.List(fields.Nested(OpenItem), required=True)
    at = fields.AwareDateTime(required=True)


class StatementIssued(EventSchema):
    statement_id = fields.Str(required=True)
    outlet_id = fields.Str(required=True)
    outlet_name = fields.Str(allow_none=True, load_default=None)  # the outlet's name (older events: none)
    month = fields.Str(required=True, validate=validate.Regexp(r"^\d{4}-\d{2}$"))
    total = fields.Decimal(required=True, as_string=True)
    at = fields.AwareDateTime(required=True)


class ClaimAudited(EventSchema):
    """A fee claim took an audit step (center, technical lead, HQ) or was decided by a rule."""

    claim_id = fields.Str(required=True)
    outlet_id = fields.Str(required=True)
    visit_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    level = fields.Str(required=True)
    action = fields.Str(required=True)
    status = fields.Str(required=True)
    amount = fields.Decimal(required=True, as_string=True)
    at = fields.AwareDateTime(required=True)


REFUND_KINDS = ("return", "compensation")  # a returned machine's refund, a complaint's compensation (退赔款)


class RefundPaid(EventSchema):
    ticket_id = fields.Str(required=True)
    amount = fields.Decimal(required=True, as_string=True)
    paid_at = fields.AwareDateTime(required=True)
    # settlement's refund (refund.requested's id) and the return case it pays, if any
    refund_id = fields.Str(allow_none=True, load_default=None)
    return_case_id = fields.Str(allow_none=True, load_default=None)
    kind = fields.Str(allow_none=True, load_default=None, validate=validate.OneOf(REFUND_KINDS))


class RefundRequested(EventSchema):
    """A refund or compensation decided and approved in intake (returns.py): settlement pays it."""

    refund_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    ticket_id = fields.Str(required=True)
    return_case_id = fields.Str(allow_none=True, load_default=None)
    kind = fields.Str(required=True, validate=validate.OneOf(REFUND_KINDS))
    amount = fields.Decimal(required=True, as_string=True)
    reason = fields.Str(allow_none=True, load_default=None)
    approved_by = fields.Str(required=True)
    at = fields.AwareDateTime(required=True)


class ReturnMachine(EventSchema):
    """A returned machine back in the center's warehouse, or an exchange's replacement issued: parts
    books the stock movement (退换机, intake's returns.py)."""

    return_case_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    kind = fields.Str(required=True, validate=validate.OneOf(("return", "exchange")))
    product_line = fields.Str(allow_none=True, load_default=None)
    model = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    serial_no = fields.Str(required=True)
    replacement_serial = fields.Str(allow_none=True, load_default=None)
    by = fields.Str(allow_none=True, load_default=None)
    at = fields.AwareDateTime(required=True)


class PartsReplacement(EventSchema):
    """Parts' answer to an exchange's replacement request (return.replacement_requested): issued
    (booked out of the warehouse's good stock, with the unit) or short (no good unit: waiting, issued
    by itself when one is received)."""

    return_case_id = fields.Str(required=True)
    ticket_id = fields.Str(required=True)
    location_id = fields.Str(required=True)
    part_no = fields.Str(required=True)
    movement_no = fields.Str(allow_none=True, load_default=None)  # issued: the outbound movement
    serial = fields.Str(allow_none=True, load_default=None)  # issued: the unit sent, when known
    waited = fields.Bool(load_default=False)  # issued after being short
    by = fields.Str(allow_none=True, load_default=None)
    at = fields.AwareDateTime(required=True)


class NoticeEvent(EventSchema):
    """A notice by e-mail or SMS reached its end (notify): sent, or failed / undeliverable with why."""

    notice_id = fields.Int(required=True)
    kind = fields.Str(required=True)
    channel = fields.Str(required=True)
    audience = fields.Str(required=True)
    audience_id = fields.Str(required=True)
    ticket_id = fields.Str(allow_none=True)
    event_type = fields.Str(required=True)  # the fact the notice told of
    status = fields.Str(required=True, validate=validate.OneOf(("sent", "failed", "undeliverable")))
    error = fields.Str(allow_none=True)
    at = fields.AwareDateTime(required=True)


@dataclass(frozen=True)
class EventSpec:
    name: str
    source: str
    version: int
    schema: type[Schema]
    description: str


CATALOGUE: dict[str, EventSpec] = {}


def _register(name: str, source: str, version: int, schema: type[Schema], description: str) -> None:
    CATALOGUE[name] = EventSpec(name, source, version, schema, description)


_register(
    "ticket.registered", "intake", 1, TicketRegistered, "a ticket was accepted into a tenant with its SLA deadlines"
)
_register(
    "ticket.escalated", "intake", 1, TicketEscalated, "a ticket needs a named manager (safety, batch defect, SLA risk)"
)
_register(
    "ticket.closed", "intake", 1, TicketClosed, "a ticket reached its end (resolved, agreement signed, cancelled)"
)
_register("sla.breached", "intake", 1, SlaBreached, "an SLA deadline passed without the step being done")
_register("sla.at_risk", "intake", 1, SlaAtRisk, "an SLA deadline is close: most of its window has passed")
_register(
    "ticket.outlet_assigned", "intake", 1, OutletAssigned, "a center assigned a ticket to an outlet (dispatch keeps it)"
)
_register(
    "dispatch.constraint_unmet",
    "dispatch",
    1,
    ConstraintUnmet,
    "the planner cannot keep a pin, the center's outlet or a confirmed appointment (reason says why)",
)
_register("visit.scheduled", "dispatch", 1, VisitEvent, "a visit was planned for a technician")
_register("visit.started", "dispatch", 1, VisitEvent, "the technician checked in on site")
_register("visit.completed", "dispatch", 1, VisitEvent, "the technician checked out, work done")
_register("visit.unassignable", "dispatch", 1, VisitEvent, "no eligible technician can take the visit")
_register(
    "visit.released",
    "dispatch",
    1,
    VisitEvent,
    "a planned, not started visit was taken back from its outlet/technician (reason says why)",
)
for _status in (
    "approved",
    "probation",
    "effective",
    "suspended",
    "reinstated",
    "revoking",
    "revoked",
    "grade_changed",
    "line_eligibility",
):
    _register(f"outlet.{_status}", "certification", 1, OutletEvent, f"an outlet's lifecycle step: {_status}")
_register("technician.certified", "certification", 1, TechnicianEvent, "a technician passed for a product line")
_register("technician.expired", "certification", 1, TechnicianEvent, "a technician's certificate expired")
_register("technician.revoked", "certification", 1, TechnicianEvent, "a technician's certificate was withdrawn")
_register("technician.expiring", "certification", 1, TechnicianEvent, "a certificate expires within 30 days")
_register("callback.negative", "qa", 1, CallbackNegative, "a customer callback came back dissatisfied")
_register("callback.due", "qa", 1, CallbackDue, "a planned customer callback comes due (its caller is told once)")
_register("callback.completed", "qa", 1, CallbackCompleted, "a customer callback's answers were recorded")
_register("callback.closed", "qa", 1, CallbackClosed, "a negative callback was closed by QA")
_register("qa.scorecard_published", "qa", 1, ScorecardPublished, "an outlet's monthly 100-point scorecard")
_register("parts.return_overdue", "parts", 1, PartsReturnOverdue, "a returnable part passed its RMA due date")
_register("parts.return_received", "parts", 1, PartsReturnReceived, "an RMA's part was received at a warehouse")
_register("parts.reconciled", "parts", 1, PartsReconciled, "a location's monthly parts reconciliation")
_register("parts.outlet_balance", "parts", 1, PartsOutletBalance, "an outlet's open parts items, for clearing")
_register(
    "account.clearing_requested",
    "certification",
    1,
    AccountClearingRequested,
    "a revoking outlet's accounts must be cleared",
)
_register("account.cleared", "settlement", 1, AccountClearing, "a revoking outlet has no open items")
_register("account.open_items", "settlement", 1, AccountClearing, "a revoking outlet still has open items")
_register("claim.audited", "settlement", 1, ClaimAudited, "a fee claim took an audit step")
_register("statement.issued", "settlement", 1, StatementIssued, "an outlet's monthly statement was issued")
_register("settlement.refund_paid", "settlement", 1, RefundPaid, "a refund or compensation was paid")
_register("refund.requested", "intake", 1, RefundRequested, "a refund or compensation was approved, to be paid")
_register(
    "return.machine_returned", "intake", 1, ReturnMachine, "a returned or exchanged machine is back in the warehouse"
)
_register("return.replacement_requested", "intake", 1, ReturnMachine, "an exchange's replacement is asked of parts")
# superseded by return.replacement_requested (no longer emitted); parts takes one still heard as a request
_register("return.replacement_issued", "intake", 1, ReturnMachine, "(superseded) an exchange's replacement issued")
_register(
    "parts.replacement_issued", "parts", 1, PartsReplacement, "an exchange's replacement was booked out to the customer"
)
_register(
    "parts.replacement_short", "parts", 1, PartsReplacement, "no good unit for an exchange's replacement: waiting"
)

_register("notice.sent", "notify", 1, NoticeEvent, "an e-mail or SMS notice went to the SMTP server / SMS provider")
_register("notice.failed", "notify", 1, NoticeEvent, "an e-mail or SMS notice cannot be delivered (error says why)")

_schemas: dict[str, Schema] = {}


def schema_for(event_type: str) -> Schema:
    if event_type not in CATALOGUE:
        raise KeyError(f"unknown event type {event_type!r}")
    if event_type not in _schemas:
        _schemas[event_type] = CATALOGUE[event_type].schema()
    return _schemas[event_type]


def dump(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Serialise a payload for publishing; a payload that its own schema would reject is a bug."""
    schema = schema_for(event_type)
    body: dict[str, Any] = schema.dump(payload)
    errors = schema.validate(body)
    if errors:
        raise ValueError(f"event {event_type} payload invalid: {errors}")
    return body


def load(event_type: str, body: object) -> dict[str, Any]:
    """Deserialise a received payload; raises marshmallow.ValidationError naming the fields."""
    if not isinstance(body, dict):
        raise ValidationError({"_schema": ["event body must be a JSON object"]})
    loaded: dict[str, Any] = schema_for(event_type).load(body)
    return loaded
