"""The answers' shapes of the report routes (issue 18.5), for the OpenAPI document (see ``responses.py``)."""

from __future__ import annotations

from marshmallow import Schema, fields

from services.gateway.responses import Str, page_of
from services.qa.contracts import StoredReportOut

_section = fields.Dict(keys=Str(), metadata={"description": "a section; available false with error: 未取得"})


class MonthlyReport(Schema):
    """A center's month (its sections and headline) or HQ's roll-up (centers side by side, total)."""

    kind = Str(required=True)
    tenant_id = Str(required=True, metadata={"description": "a center's id, or HQ for the roll-up"})
    center_name = Str(required=True)
    period = Str(required=True)
    title = Str(required=True)
    served = _section
    sla = _section
    onsite = _section
    complaints = _section
    callbacks = _section
    outlets = _section
    parts = _section
    money = _section
    headline = fields.Dict(keys=Str())
    centers = fields.List(fields.Dict(keys=Str()))
    total = fields.Dict(keys=Str())
    missing = fields.List(Str())


class QuarterlyReport(Schema):
    kind = Str(required=True)
    tenant_id = Str(required=True)
    center_name = Str(required=True)
    period = Str(required=True)
    months = fields.List(Str())
    title = Str(required=True)
    rows = fields.List(fields.Dict(keys=Str()))


class ReportJob(Schema):
    """HQ's request to make a month's stored reports, or HQ's roll-up of a month asked on demand
    (kind rollup), made in the background by qa."""

    id = fields.Int(required=True)
    kind = Str(required=True, metadata={"description": "store (the month's stored reports) or rollup (全国汇总)"})
    month = Str(required=True)
    quarter = Str(allow_none=True, metadata={"description": "the quarter the month closes, made too"})
    state = Str(required=True, metadata={"description": "pending, running, done or failed"})
    done = fields.Int(required=True, metadata={"description": "reports handled so far (made or already stored)"})
    total = fields.Int(required=True, metadata={"description": "reports the request covers"})
    made = fields.List(Str(), required=True, metadata={"description": "the reports newly stored (tenant:kind:period)"})
    error = Str(allow_none=True)
    requested_by = Str()
    requested_at = Str()
    finished_at = Str(allow_none=True)
    url = Str(metadata={"description": "this job (GET: state and progress)"})
    file_url = Str(
        metadata={
            "description": "a roll-up's file once done (409 before): in the format asked (the job's own "
            "answer: the PDF; format=xlsx or json for the others)"
        }
    )


class WrittenPart(Schema):
    """The month's written part as kept, and the stored reports made again with it."""

    tenant_id = Str(required=True, metadata={"description": "the center's id, or HQ (HQ's analysis)"})
    month = Str(required=True)
    written = fields.Dict(keys=Str(), required=True)
    remade = fields.List(Str(), required=True)
    rollup_job = fields.Nested(
        ReportJob,
        allow_none=True,
        metadata={"description": "HQ's stored roll-up of the month being made again with it, in the background"},
    )


StoredReportPage = page_of(StoredReportOut, "StoredReportPage")
