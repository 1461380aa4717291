"""Payloads of dispatch's RPC, HTTP and CSV import."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.dispatch import signatures
from services.dispatch.domain import CHINA_LAT, CHINA_LON, LOCAL_TZ, VisitStatus
from services.dispatch.return_visits import REASON_MAX
from shared.events import PartUsed
from shared.validation import PageQuery


def _signature(value: str) -> None:
    try:
        signatures.decode(value)
    except signatures.BadSignature as exc:
        raise ValidationError(str(exc)) from None


HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Must be HH:MM.")


class TechnicianIn(Schema):
    class Meta:
        unknown = RAISE

    id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    outlet_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    skills = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), required=True)
    certificates = fields.Dict(keys=fields.Str(), values=fields.Date(), load_default=dict)
    home_lat = fields.Float(required=True, validate=validate.Range(*CHINA_LAT, error="Outside mainland China."))
    home_lon = fields.Float(required=True, validate=validate.Range(*CHINA_LON, error="Outside mainland China."))
    daily_capacity = fields.Int(load_default=4, validate=validate.Range(min=1, max=20))
    shift_start = fields.Str(load_default="08:30", validate=HHMM)
    shift_end = fields.Str(load_default="18:00", validate=HHMM)
    active = fields.Bool(load_default=True)

    @validates_schema
    def _shift(self, data, **kwargs):
        if data["shift_start"] >= data["shift_end"]:
            raise ValidationError("Must be after shift_start.", "shift_end")


class TechnicianOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    outlet_id = fields.Str(allow_none=True)
    name = fields.Str()
    skills = fields.List(fields.Str())
    certificates = fields.Dict()
    home_lat = fields.Float()
    home_lon = fields.Float()
    daily_capacity = fields.Int()
    shift_start = fields.Str()
    shift_end = fields.Str()
    active = fields.Bool()


class CheckIn(Schema):
    class Meta:
        unknown = RAISE

    at = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    lat = fields.Float(required=True, validate=validate.Range(*CHINA_LAT, error="Outside mainland China."))
    lon = fields.Float(required=True, validate=validate.Range(*CHINA_LON, error="Outside mainland China."))
    technician_id = fields.Str(load_default=None)


class CheckOut(Schema):
    class Meta:
        unknown = RAISE

    at = fields.AwareDateTime(load_default=None, default_timezone=LOCAL_TZ)
    work_done = fields.Str(required=True, validate=validate.Length(min=1, max=4000))
    parts_used = fields.List(fields.Nested(PartUsed), load_default=list)
    customer_confirmed = fields.Bool(required=True)
    # the customer's signature drawn on screen: a PNG as a data URL (signatures.decode's rules)
    signature = fields.Str(load_default=None, allow_none=True, validate=_signature)


class ReturnVisitRequest(Schema):
    """The outlet asks to go back after a check-out (申请返修/二次上门): why, and the customer's
    wished local date if any (return_visits.requested_return_visit's rules)."""

    class Meta:
        unknown = RAISE

    reason = fields.Str(required=True, validate=validate.Length(min=1, max=REASON_MAX))
    wished_date = fields.Date(load_default=None, allow_none=True)


class Pin(Schema):
    class Meta:
        unknown = RAISE

    technician_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))


class BoardQuery(PageQuery):
    class Meta:
        unknown = RAISE

    status = fields.Str(
        load_default=None,
        validate=validate.OneOf(
            (
                VisitStatus.UNPLANNED,
                VisitStatus.SCHEDULED,
                VisitStatus.STARTED,
                VisitStatus.COMPLETED,
                VisitStatus.UNASSIGNABLE,
                VisitStatus.CANCELLED,
            )
        ),
    )
    outlet_id = fields.Str(load_default=None)
    technician_id = fields.Str(load_default=None)
    ticket_id = fields.Str(load_default=None)  # a ticket's visits (the first one and any return visits)
    late_risk = fields.Bool(load_default=None)


class PlanRunOut(Schema):
    tenant_id = fields.Str()
    started_at = fields.AwareDateTime()
    seconds = fields.Float()
    visits = fields.Int()
    vehicles = fields.Int()
    scheduled = fields.Int()
    dropped = fields.Int()
    late = fields.Int()
    planned_km = fields.Float()
    trigger = fields.Str()
    reason = fields.Str(allow_none=True)  # a re-plan allowed to move confirmed appointments: why
    moved_confirmed = fields.Int(allow_none=True)  # how many confirmed appointments it moved


class RouteQuery(Schema):
    class Meta:
        unknown = RAISE

    date = fields.Date(required=True)


class VisitOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    ticket_id = fields.Str()
    ticket_number = fields.Str()
    kind = fields.Str()
    priority = fields.Int()
    product_line = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    city = fields.Str(allow_none=True)
    tier = fields.Str(allow_none=True)
    received_at = fields.AwareDateTime()
    onsite_due = fields.AwareDateTime(allow_none=True)
    window_start = fields.AwareDateTime(allow_none=True)
    service_minutes = fields.Int()
    status = fields.Str()
    unassignable_reason = fields.Str(allow_none=True)
    technician_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    pinned_technician_id = fields.Str(allow_none=True)
    required_outlet_id = fields.Str(allow_none=True)  # the center's assign_outlet
    appointment_at = fields.AwareDateTime(allow_none=True)  # the arrival confirmed to the customer
    constraint_unmet = fields.Str(allow_none=True)  # why the plan cannot keep the pin, outlet or appointment
    # a re-plan with a reason moved the confirmed appointment: the time the customer had been told, and why
    appointment_moved_from = fields.AwareDateTime(allow_none=True)
    appointment_moved_reason = fields.Str(allow_none=True)
    planned_arrival = fields.AwareDateTime(allow_none=True)
    route_order = fields.Int(allow_none=True)
    planned_km = fields.Float(allow_none=True)
    started_at = fields.AwareDateTime(allow_none=True)
    completed_at = fields.AwareDateTime(allow_none=True)
    onsite_on_time = fields.Bool(allow_none=True)
    checkin_lat = fields.Float(allow_none=True)
    checkin_lon = fields.Float(allow_none=True)
    work_done = fields.Str(allow_none=True)  # what the check-out recorded
    parts_used = fields.List(fields.Dict(), allow_none=True)
    customer_confirmed = fields.Bool(allow_none=True)
    signed = fields.Bool()  # the customer signed on screen at check-out
    # the signature itself (a PNG data URL): only in the answer about one visit (GET /visits/<id>)
    signature = fields.Str(allow_none=True)
    return_of = fields.Str(allow_none=True)  # a return visit: the completed visit it goes back for
    return_reason = fields.Str(allow_none=True)  # a return visit the outlet asked for: why
    return_requested_by = fields.Str(allow_none=True)  # ... and who asked (None: after a negative callback)
    # only in the answer about one visit (GET /visits/<id>): why the caller may not ask for a
    # return visit to it now (not_outlet, not_checked_out, open_visit), None when it may
    return_visit_refusal = fields.Str(allow_none=True)
    late_risk = fields.Bool()
    version = fields.Int()


TECHNICIAN_CSV = (
    "id",
    "tenant_id",
    "outlet_id",
    "name",
    "skills",
    "certificates",
    "home_lat",
    "home_lon",
    "daily_capacity",
    "shift_start",
    "shift_end",
)


def technician_row_to_payload(row: dict) -> dict:
    """CSV columns: skills as 'a|b', certificates as 'line=YYYY-MM-DD|line=YYYY-MM-DD'."""
    out = {}
    for key in TECHNICIAN_CSV:
        value = (row.get(key) or "").strip()
        if value == "":
            continue
        if key == "skills":
            out[key] = [s for s in value.split("|") if s]
        elif key == "certificates":
            certs = {}
            for part in value.split("|"):
                line, _, until = part.partition("=")
                certs[line.strip()] = until.strip()
            out[key] = certs
        else:
            out[key] = value
    return out
