"""The gateway's own payloads (errors, pages); the domain payloads are the services' schemas."""
from marshmallow import Schema, fields

from services.intake.schemas import AuditOut, ListQuery, RegisterTicket, TicketOut, Transition  # noqa: F401


class ErrorBody(Schema):
    code = fields.Str(required=True)
    message = fields.Str(required=True)
    fields_ = fields.Dict(data_key="fields")
    call_id = fields.Str()


class Error(Schema):
    error = fields.Nested(ErrorBody, required=True)


class TicketPage(Schema):
    items = fields.List(fields.Nested(TicketOut))
    total = fields.Int()
    limit = fields.Int()
    offset = fields.Int()


class TicketDetail(TicketOut):
    audit = fields.List(fields.Nested(AuditOut))


class ImportRowResult(Schema):
    row = fields.Int()
    ok = fields.Bool()
    ticket_id = fields.Str()
    number = fields.Str()
    tenant_id = fields.Str()
    duplicate = fields.Bool()
    error = fields.Str()
    fields_ = fields.Dict(data_key="fields")


class Me(Schema):
    user = fields.Str()
    role = fields.Str()
    tenant = fields.Str(allow_none=True)
    outlet = fields.Str(allow_none=True)
