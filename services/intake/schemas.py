"""Payloads of intake's RPC, HTTP and bridge messages."""

from __future__ import annotations

from datetime import date, datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.intake import complaints
from services.intake.domain import CASE_STEPS, LOCAL_TZ, OPEN_STATUSES, TICKET_ACTIONS, Status
from services.intake.ledger_cells import MODE_STEPS, SERVICE_MODES
from shared.events import CHANNELS, COMPLAINT_CATEGORIES, ONSITE_KINDS, TICKET_KINDS, TIERS
from shared.validation import PageQuery


class DateOrDateTime(fields.Field):
    """A date (``2025-01-15``: by the end of that day) or an ISO datetime (naive = Asia/Shanghai)."""

    default_error_messages = {"invalid": "Not a valid date or datetime."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (date, datetime)):
            return value
        if not isinstance(value, str) or not value.strip():
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise self.make_error("invalid") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=LOCAL_TZ)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()


class RegisterTicket(Schema):
    """A new request as a customer, an agent or the hotline/fax bridge gives it."""

    class Meta:
        unknown = RAISE

    kind = fields.Str(required=True, validate=validate.OneOf(TICKET_KINDS))
    channel = fields.Str(required=True, validate=validate.OneOf(CHANNELS))
    customer_name = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    phone = fields.Str(
        required=True, validate=validate.Regexp(r"^[0-9+*\- ()]{5,20}$", error="Not a valid phone number.")
    )
    address = fields.Str(required=True, validate=validate.Length(min=2, max=256))
    postcode = fields.Str(load_default=None, validate=validate.Regexp(r"^\d{6}$", error="Must be 6 digits."))
    product_line = fields.Str(load_default=None, validate=validate.Length(max=64))
    model = fields.Str(load_default=None, validate=validate.Length(max=64))
    serial_no = fields.Str(load_default=None, validate=validate.Length(max=64))
    purchase_date = fields.Date(load_default=None)
    fault = fields.Str(load_default=None, validate=validate.Length(max=2000))
    wished_visit_at = DateOrDateTime(load_default=None)
    received_at = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    external_ref = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    # the customer archive's keys (archive.py): the company, the customer's id in another system
    company = fields.Str(load_default=None, validate=validate.Length(min=1, max=128))
    customer_external_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    safety = fields.Bool(load_default=False)
    batch_defect = fields.Bool(load_default=False)
    complaint_category = fields.Str(
        load_default=None,
        validate=validate.OneOf(COMPLAINT_CATEGORIES),
        metadata={"description": "what a complaint is about; only product and work complaints get an on-site deadline"},
    )

    @validates_schema
    def _dates(self, data, **kwargs):
        if data["kind"] in ONSITE_KINDS and not data.get("product_line"):
            raise ValidationError("Required for repair, install, maintenance and complaint.", "product_line")
        if data.get("complaint_category") and data["kind"] != "complaint":
            raise ValidationError("Only for a complaint.", "complaint_category")


class BridgeRequest(RegisterTicket):
    """A request from the hotline/fax bridge (plain AMQP): it must carry its own reference."""

    class Meta:
        unknown = EXCLUDE

    external_ref = fields.Str(required=True, validate=validate.Length(min=1, max=64))


class Deadline(Schema):
    sla = fields.Str()
    due_at = fields.AwareDateTime()
    met_at = fields.AwareDateTime(allow_none=True)
    breached_at = fields.AwareDateTime(allow_none=True)
    state = fields.Str(
        dump_only=True,
        metadata={"description": "met | met_late | open | at_risk | breached | void (outlook.deadline_state)"},
    )


class TicketOut(Schema):
    id = fields.Str()
    number = fields.Str()
    tenant_id = fields.Str()
    external_ref = fields.Str(allow_none=True)
    kind = fields.Str()
    channel = fields.Str()
    status = fields.Str()
    case_state = fields.Str(allow_none=True)
    complaint_category = fields.Str(allow_none=True)
    priority = fields.Int()
    escalation = fields.Str(allow_none=True)
    customer_id = fields.Str()
    customer_record_id = fields.Str(allow_none=True, metadata={"description": "the archive's customer (客户档案)"})
    product_id = fields.Str(allow_none=True, metadata={"description": "the archive's product (产品档案)"})
    customer_name = fields.Str()
    phone = fields.Str()
    address = fields.Str()
    postcode = fields.Str(allow_none=True)
    province = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    district = fields.Str(allow_none=True)
    adcode = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    geo_precision = fields.Str(allow_none=True)
    geo_ambiguous = fields.Bool()
    triage_reason = fields.Str(allow_none=True)
    tier = fields.Str(allow_none=True)
    product_line = fields.Str(allow_none=True)
    model = fields.Str(allow_none=True)
    serial_no = fields.Str(allow_none=True)
    purchase_date = fields.Date(allow_none=True)
    fault = fields.Str(allow_none=True)
    wished_visit_at = fields.AwareDateTime(allow_none=True)
    warranty = fields.Str()
    warranty_remedy = fields.Str(allow_none=True)
    warranty_reason = fields.Str(allow_none=True)
    owner_user = fields.Str(metadata={"description": "the first-contact owner (首问负责人); hand_over moves it"})
    responsibility = fields.Str(
        allow_none=True, metadata={"description": "own | other_department | grey_zone (waiting for HQ's ruling)"}
    )
    responsibility_by = fields.Str(allow_none=True)
    responsibility_at = fields.AwareDateTime(allow_none=True)
    grey_zone_ruled_by = fields.Str(allow_none=True)
    grey_zone_ruled_at = fields.AwareDateTime(allow_none=True)
    escalation_level = fields.Int(allow_none=True, metadata={"description": "index in the tenant's managers"})
    escalation_manager = fields.Str(allow_none=True, metadata={"description": "the manager who must acknowledge"})
    escalated_at = fields.AwareDateTime(allow_none=True)
    escalation_ack_due = fields.AwareDateTime(allow_none=True)
    escalation_acked_by = fields.Str(allow_none=True)
    escalation_acked_at = fields.AwareDateTime(allow_none=True)
    countermeasure = fields.Str(allow_none=True)
    follow_up_on = fields.Date(allow_none=True)
    assigned_outlet_id = fields.Str(allow_none=True)
    service_mode = fields.Str(allow_none=True)
    work_done = fields.Str(allow_none=True)
    technician_name = fields.Str(allow_none=True)
    callback_at = fields.AwareDateTime(allow_none=True)
    callback_satisfaction = fields.Int(allow_none=True)
    callback_negative = fields.Bool(allow_none=True)
    callback_comment = fields.Str(allow_none=True)
    received_at = fields.AwareDateTime()
    registered_at = fields.AwareDateTime()
    onsite_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    version = fields.Int()
    deadlines = fields.List(fields.Nested(Deadline))


class AuditOut(Schema):
    at = fields.AwareDateTime()
    user = fields.Str()
    role = fields.Str()
    action = fields.Str()
    from_state = fields.Str(allow_none=True)
    to_state = fields.Str(allow_none=True)
    note = fields.Str(allow_none=True)
    data = fields.Dict(allow_none=True)


ALL_ACTIONS = sorted(set(TICKET_ACTIONS) | set(CASE_STEPS) | set(complaints.STEPS))
# the fields only a complaint-handling step takes (complaints.STEPS)
STEP_ONLY_FIELDS = {
    "owner_user": ("hand_over",),
    "countermeasure": ("record_countermeasure",),
    "follow_up_on": ("record_countermeasure",),
    "major_issue": ("escalate_major",),
}


class Transition(Schema):
    class Meta:
        unknown = RAISE

    action = fields.Str(required=True, validate=validate.OneOf(ALL_ACTIONS))
    note = fields.Str(load_default=None, validate=validate.Length(max=2000))
    outlet_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    address = fields.Str(load_default=None, validate=validate.Length(min=2, max=256))
    attachments = fields.List(fields.Str(validate=validate.Length(max=256)), load_default=list)
    expected_version = fields.Int(load_default=None)
    cause = fields.Str(load_default=None, validate=validate.Length(max=64))
    responsibility = fields.Str(
        load_default=None,
        validate=validate.OneOf(complaints.RESPONSIBILITIES),
        metadata={"description": "decided with any case step, or decide_responsibility / rule_grey_zone (HQ)"},
    )
    owner_user = fields.Str(
        load_default=None,
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^\S+$", error="A user name, no spaces.")],
        metadata={"description": "hand_over: the new first-contact owner (user); the note gives the reason"},
    )
    countermeasure = fields.Str(
        load_default=None,
        validate=[validate.Length(min=1, max=2000), validate.Predicate("strip", error="Must not be blank.")],
        metadata={"description": "record_countermeasure: the countermeasure against recurrence (防止再发生对策)"},
    )
    major_issue = fields.Str(
        load_default=None,
        validate=validate.OneOf(complaints.MAJOR),
        metadata={"description": "escalate_major: safety or batch_defect (seeds 001, 004), to the named managers"},
    )
    follow_up_on = fields.Date(
        load_default=None,
        metadata={"description": "record_countermeasure: when to check the defect has not recurred"},
    )
    service_mode = fields.Str(
        load_default=None,
        validate=validate.OneOf(SERVICE_MODES),
        metadata={"description": "how the ticket was served (服务方式), said at resolve, close or close_case"},
    )

    @validates_schema
    def _mode(self, data, **kwargs):
        if data.get("service_mode") and data["action"] not in MODE_STEPS:
            raise ValidationError(f"Only with {', '.join(MODE_STEPS)}.", "service_mode")
        for name, steps in STEP_ONLY_FIELDS.items():
            if data.get(name) is not None and data["action"] not in steps:
                raise ValidationError(f"Only with {', '.join(steps)}.", name)


class ListQuery(PageQuery.with_default_limit(50)):
    class Meta:
        unknown = RAISE

    status = fields.Str(load_default=None, validate=validate.OneOf(OPEN_STATUSES + (Status.CLOSED, Status.CANCELLED)))
    kind = fields.Str(load_default=None, validate=validate.OneOf(TICKET_KINDS))
    tier = fields.Str(load_default=None, validate=validate.OneOf(TIERS))
    tenant_id = fields.Str(load_default=None)
    channel = fields.Str(load_default=None, validate=validate.OneOf(CHANNELS))
    received_from = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    received_to = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    q = fields.Str(load_default=None, validate=validate.Length(min=1, max=64))
    outlet_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))
    due_before = fields.AwareDateTime(
        load_default=None,
        default_timezone=LOCAL_TZ,
        metadata={"description": "only tickets with a deadline not yet met that is due before this time"},
    )
    order = fields.Str(
        load_default="received",
        validate=validate.OneOf(("received", "due")),
        metadata={"description": "received: newest first; due: earliest deadline not yet met first"},
    )


class PreviewQuery(Schema):
    """The request as typed so far (every field optional): what registering it would decide."""

    class Meta:
        unknown = RAISE

    address = fields.Str(load_default=None, validate=validate.Length(max=256))
    product_line = fields.Str(load_default=None, validate=validate.Length(max=64))
    purchase_date = fields.Date(load_default=None)
    kind = fields.Str(load_default=None, validate=validate.OneOf(TICKET_KINDS))
    channel = fields.Str(load_default=None, validate=validate.OneOf(CHANNELS))
    wished_visit_at = DateOrDateTime(load_default=None)
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    complaint_category = fields.Str(load_default=None, validate=validate.OneOf(COMPLAINT_CATEGORIES))


class Candidate(Schema):
    province = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    district = fields.Str(allow_none=True)
    adcode = fields.Str(allow_none=True)


class PreviewPlacement(Schema):
    province = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    district = fields.Str(allow_none=True)
    precision = fields.Str(allow_none=True)
    ambiguous = fields.Bool()
    candidates = fields.List(fields.Nested(Candidate))
    tenant_id = fields.Str(allow_none=True)
    tier = fields.Str(allow_none=True)
    triage_reason = fields.Str(allow_none=True)


class PreviewWarranty(Schema):
    status = fields.Str()
    remedy = fields.Str(allow_none=True)
    reason = fields.Str()
    expires_on = fields.Date(allow_none=True)
    warranty_years = fields.Int()


class PreviewOut(Schema):
    placement = fields.Nested(PreviewPlacement, allow_none=True)
    warranty = fields.Nested(PreviewWarranty, allow_none=True)
    deadlines = fields.Dict(keys=fields.Str(), values=fields.AwareDateTime())
    errors = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()))


class StepOut(Schema):
    action = fields.Str()
    kind = fields.Str(metadata={"description": "ticket (a ticket action) or case (a complaint case step)"})
    to_state = fields.Str(allow_none=True)
    needs = fields.List(fields.Str(), metadata={"description": "fields the step needs besides the action"})
    by_facts = fields.Bool(metadata={"description": "a step the services also take from a visit's facts"})


class StepsOut(Schema):
    ticket_id = fields.Str()
    status = fields.Str()
    case_state = fields.Str(allow_none=True)
    version = fields.Int()
    steps = fields.List(fields.Nested(StepOut))


# CSV import: the column names of the request export (see data/service_requests_sample.csv)
# and of our own ledger-style template map to RegisterTicket fields.
CSV_COLUMNS = {
    "request_id": "external_ref",
    "external_ref": "external_ref",
    "received_at": "received_at",
    "channel": "channel",
    "request_type": "kind",
    "kind": "kind",
    "customer_name": "customer_name",
    "contact_phone_masked": "phone",
    "phone": "phone",
    "address": "address",
    "postcode": "postcode",
    "product": "product_line",
    "product_line": "product_line",
    "model": "model",
    "serial_no": "serial_no",
    "company": "company",  # the customer archive's keys (archive.py)
    "customer_external_id": "customer_external_id",
    "purchase_date": "purchase_date",
    "fault": "fault",
    "wished_visit_date": "wished_visit_at",
    "wished_visit_at": "wished_visit_at",
    "tenant_id": "tenant_id",
}


def csv_row_to_payload(row: dict) -> dict:
    """A CSV row as a RegisterTicket payload: known columns mapped, empty cells left out,
    other columns ignored (an export carries more than a request needs)."""
    payload = {}
    for column, value in row.items():
        field = CSV_COLUMNS.get((column or "").strip())
        if field is None or value is None:
            continue
        value = value.strip()
        if value != "":
            payload[field] = value
    return payload
