"""The gateway's own payloads (errors, pages, the pieces of a route); the domain payloads are the
services', from their contracts (``services/<service>/contracts.py``), and the other answers'
shapes (imports, lists, reports) are in ``responses.py``."""

from marshmallow import RAISE, Schema, fields, validate

from services.dispatch.contracts import VisitOut
from services.intake.contracts import AuditOut, TicketOut
from shared.validation import paging_limit


class ErrorBody(Schema):
    code = fields.Str(required=True)
    message = fields.Str(required=True)
    fields_ = fields.Dict(data_key="fields")
    call_id = fields.Str()


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class TicketPage(Schema):
    items = fields.List(fields.Nested(TicketOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)


class TicketDetail(TicketOut):
    audit = fields.List(fields.Nested(AuditOut))


class Me(Schema):
    user = fields.Str()
    role = fields.Str()
    tenant = fields.Str(allow_none=True)
    outlet = fields.Str(allow_none=True)


class Login(Schema):
    """POST /api/v1/auth/login: a person's account name and password (``fsm user add``)."""

    class Meta:
        unknown = RAISE

    username = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    password = fields.Str(required=True, validate=validate.Length(min=1, max=256))


class LoginToken(Schema):
    token = fields.Str(metadata={"description": "send as 'Authorization: Bearer <token>'"})
    token_type = fields.Str(metadata={"example": "Bearer"})
    expires_in = fields.Int(metadata={"description": "seconds the token lives (at most TOKEN_MAX_TTL_SECONDS)"})
    user = fields.Str()
    display_name = fields.Str()
    role = fields.Str()
    tenant = fields.Str(allow_none=True)
    outlet = fields.Str(allow_none=True)
    warehouse = fields.Str(allow_none=True)
    duty = fields.Str(allow_none=True)


# ------------------------------------------------------------------ dispatch
class VisitPage(Schema):
    items = fields.List(fields.Nested(VisitOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
    by_status = fields.Dict(keys=fields.Str(), values=fields.Int())
    late_risk = fields.Int()


class Reoptimise(Schema):
    class Meta:
        unknown = RAISE

    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    # why confirmed appointments may move in this re-plan (none: they keep their window)
    reason = fields.Str(load_default=None, validate=validate.Length(min=1, max=500))


class PlanResult(Schema):
    tenant_id = fields.Str()
    visits = fields.Int()
    scheduled = fields.Int()
    unassignable = fields.Int()
    late = fields.Int()
    planned_km = fields.Float()
    seconds = fields.Float()
    skipped = fields.Str()
    constraints_unmet = fields.Int()  # visits whose pin, outlet or appointment the plan cannot keep
    moved_confirmed = fields.Int()  # confirmed appointments a re-plan with a reason moved


class PlanRunsQuery(Schema):
    class Meta:
        unknown = RAISE

    limit = paging_limit(20)  # plan runs come newest first, one page: no offset


class TechnicianQuery(Schema):
    class Meta:
        unknown = RAISE

    outlet_id = fields.Str(load_default=None)


class RouteStop(Schema):
    order = fields.Int()
    visit_id = fields.Str()
    ticket_number = fields.Str()
    kind = fields.Str()
    product_line = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    planned_arrival = fields.Str()
    service_minutes = fields.Int()
    leg_km = fields.Float(allow_none=True)
    status = fields.Str()
    onsite_due = fields.Str(allow_none=True)


class RouteOut(Schema):
    technician_id = fields.Str()
    outlet_id = fields.Str(allow_none=True)
    date = fields.Date()
    home = fields.Dict()
    stops = fields.List(fields.Nested(RouteStop))
    planned_km = fields.Float()
