"""Payloads of intake's HQ views: the SLA report (`sla_report`) and the triage queue (`routing`)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.intake.schemas import TicketOut
from services.intake.sla_report import PERIODS
from shared.validation import PageQuery

# the commitments a ticket's deadlines are of (shared.sla.ticket_deadlines)
TICKET_SLAS = ("accept", "phone_reply", "forward", "onsite", "complaint_plan", "complaint_close")


class SlaReportQuery(Schema):
    class Meta:
        unknown = RAISE

    period = fields.Str(
        load_default="week",
        validate=validate.OneOf(PERIODS),
        metadata={"description": "week (Monday to Sunday, Beijing time) or month"},
    )
    periods = fields.Int(
        load_default=12,
        validate=validate.Range(min=1, max=52),
        metadata={"description": "how many periods, up to and including the current one"},
    )
    sla = fields.Str(
        load_default=None,
        validate=validate.OneOf(TICKET_SLAS),
        metadata={"description": "one commitment (e.g. onsite); none: every commitment"},
    )


class _Counts(Schema):
    start = fields.Str(required=True, metadata={"description": "the period's first day (local), YYYY-MM-DD"})
    met = fields.Int(required=True, metadata={"description": "met in time"})
    met_late = fields.Int(required=True, metadata={"description": "met after it was due (a breach too)"})
    breached = fields.Int(required=True, metadata={"description": "past due, not met"})
    at_risk = fields.Int(required=True, metadata={"description": "running, in its last stretch"})
    open = fields.Int(required=True, metadata={"description": "running, not yet close"})
    total = fields.Int(required=True)


class SlaCell(_Counts):
    tenant_id = fields.Str(required=True)
    tier = fields.Str(required=True, metadata={"description": "local | in_province | out_of_province | unplaced"})


class SlaTenantCounts(_Counts):
    tenant_id = fields.Str(required=True)


class SlaTierCounts(_Counts):
    tier = fields.Str(required=True)


class SlaReportOut(Schema):
    period = fields.Str(required=True)
    sla = fields.Str(allow_none=True, required=True)
    starts = fields.List(
        fields.Str(), required=True, metadata={"description": "every period's first day, oldest first"}
    )
    rows = fields.List(fields.Nested(SlaCell), required=True, metadata={"description": "per period, center, tier"})
    by_tenant = fields.List(fields.Nested(SlaTenantCounts), required=True)
    by_tier = fields.List(fields.Nested(SlaTierCounts), required=True)


class TriageQuery(PageQuery.with_default_limit(20)):
    class Meta:
        unknown = RAISE


class CandidateCenter(Schema):
    tenant_id = fields.Str(required=True)
    province = fields.Str(required=True, metadata={"description": "the province it serves that the address may be in"})


class TriageTicketOut(TicketOut):
    triage_reason = fields.Str(
        allow_none=True, metadata={"description": "why it came to HQ: ambiguous district name, province not recognised"}
    )
    candidates = fields.List(
        fields.Nested(CandidateCenter),
        required=True,
        metadata={"description": "the centers serving a province the address may be in (routing.candidates)"},
    )
