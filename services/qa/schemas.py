"""Payloads of QA's RPC and HTTP calls."""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.qa import complaint_rules, domain
from shared.validation import MONTH, PageQuery

REPORT_KINDS = ("ontime", "callbacks", "satisfaction", "pareto", "ranking")
FORMATS = ("json", "csv", "xlsx", "png", "svg")


class CallbackResult(Schema):
    """What the callback agent records. ``reached: false`` is an attempt (customer not reached)."""

    class Meta:
        unknown = RAISE

    reached = fields.Bool(load_default=True)
    onsite_within_24h = fields.Bool(load_default=None, allow_none=True)  # 是否24小时内上门
    service_delivered = fields.Bool(load_default=None, allow_none=True)  # 是否服务到位
    fee_schedule_shown = fields.Bool(load_default=None, allow_none=True)  # 是否出示服务收费标准
    satisfaction = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=5))
    reason_codes = fields.List(
        fields.Str(validate=validate.OneOf(tuple(domain.REASON_CODES))),
        load_default=list,
        validate=validate.Length(max=10),
    )
    comment = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    at = fields.AwareDateTime(load_default=None, default_timezone=domain.LOCAL_TZ)

    @validates_schema
    def _reached(self, data, **kwargs):
        if data["reached"] and data.get("satisfaction") is None:
            raise ValidationError("Required when the customer was reached (1-5).", "satisfaction")


class CloseCallback(Schema):
    class Meta:
        unknown = RAISE

    outcome = fields.Str(required=True, validate=validate.OneOf(("resolved", "upheld")))
    note = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class WorkListQuery(PageQuery):
    class Meta:
        unknown = RAISE

    status = fields.Str(load_default="planned", validate=validate.OneOf(domain.STATUSES + ("all",)))
    purpose = fields.Str(load_default=None, validate=validate.OneOf(domain.PURPOSES))
    overdue = fields.Bool(load_default=None, allow_none=True)
    caller = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))


class MonthBody(Schema):
    class Meta:
        unknown = RAISE

    month = fields.Str(required=True, validate=MONTH)
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))


class Classification(Schema):
    class Meta:
        unknown = RAISE

    cause = fields.Str(required=True, validate=validate.OneOf(tuple(complaint_rules.CAUSES)))
    responsibility = fields.Str(required=True, validate=validate.OneOf(complaint_rules.RESPONSIBILITIES))
    level = fields.Str(load_default="company", validate=validate.OneOf(complaint_rules.LEVELS))
    outlet_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))
    department = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=64))


class Finding(Schema):
    """A fact recorded by hand: an inspection's finding, a file audit, a letter of praise."""

    class Meta:
        unknown = RAISE

    outlet_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    kind = fields.Str(required=True, validate=validate.OneOf(domain.MANUAL_KINDS))
    at = fields.AwareDateTime(load_default=None, default_timezone=domain.LOCAL_TZ)
    ticket_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))
    ref = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=64))
    note = fields.Str(required=True, validate=validate.Length(min=1, max=2000))


class ScorecardQuery(Schema):
    class Meta:
        unknown = RAISE

    month = fields.Str(required=True, validate=MONTH)
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))


class ReportQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    format = fields.Str(load_default="json", validate=validate.OneOf(FORMATS))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    month = fields.Str(load_default=None, validate=MONTH)
    since = fields.Str(load_default=None, validate=MONTH)


class AnalysisQuery(Schema):
    class Meta:
        unknown = RAISE

    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    since = fields.Str(load_default=None, validate=MONTH)
    until = fields.Str(load_default=None, validate=MONTH)


class CallbackOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    ticket_id = fields.Str()
    visit_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    purpose = fields.Str()
    stratum = fields.Str()
    mode = fields.Str()
    caller = fields.Str()
    period = fields.Str()
    service_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime()
    planned_at = fields.AwareDateTime()
    sample_key = fields.Str(allow_none=True)
    parent_id = fields.Str(allow_none=True)
    status = fields.Str()
    overdue = fields.Bool()
    attempts = fields.Int()
    done_at = fields.AwareDateTime(allow_none=True)
    done_by = fields.Str(allow_none=True)
    onsite_within_24h = fields.Bool(allow_none=True)
    service_delivered = fields.Bool(allow_none=True)
    fee_schedule_shown = fields.Bool(allow_none=True)
    satisfaction = fields.Int(allow_none=True)
    reason_codes = fields.List(fields.Str(), allow_none=True)
    comment = fields.Str(allow_none=True)
    negative = fields.Bool()
    closed_at = fields.AwareDateTime(allow_none=True)
    close_outcome = fields.Str(allow_none=True)
    close_note = fields.Str(allow_none=True)


class ScorecardOut(Schema):
    """A published month; not rated (未评, too few jobs): ``rated`` false, no score, stars, grade or rank."""

    outlet_id = fields.Str()
    tenant_id = fields.Str()
    month = fields.Str()
    rated = fields.Bool()
    score = fields.Decimal(as_string=True, allow_none=True)
    stars = fields.Int(allow_none=True)
    grade = fields.Str(allow_none=True)
    jobs = fields.Int()
    lines = fields.Raw()
    rank_in_tenant = fields.Int(allow_none=True)
    rank_nationwide = fields.Int(allow_none=True)
    published_at = fields.AwareDateTime(allow_none=True)


class CenterFactOut(Schema):
    """A fact a center answers for (a deadline it owns, missed: ``sla``), kept for its assessment."""

    tenant_id = fields.Str()
    kind = fields.Str()
    sla = fields.Str(allow_none=True)
    period = fields.Str()
    ref = fields.Str()
    ticket_id = fields.Str(allow_none=True)
    outlet_id = fields.Str(allow_none=True)
    at = fields.AwareDateTime()
    source = fields.Str()
    note = fields.Str(allow_none=True)


# ---------------------------------------------------------------- center assessments (issue 18.4)
YEAR = validate.Regexp(r"^(19[7-9]\d|20\d\d)$", error="Must be a year YYYY between 1970 and 2099.")


class AssessmentPeriod(Schema):
    """A month (``month=YYYY-MM``) or a year (``year=YYYY``, the year-end assessment): one of them."""

    class Meta:
        unknown = RAISE

    month = fields.Str(load_default=None, validate=MONTH)
    year = fields.Str(load_default=None, validate=YEAR)

    @validates_schema
    def _one(self, data, **kwargs):
        if bool(data.get("month")) == bool(data.get("year")):
            raise ValidationError("Give a month (YYYY-MM) or a year (YYYY), one of them.", "month")


class AssessmentQuery(AssessmentPeriod):
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))


class RegionInputBody(Schema):
    """Seed 003's grading inputs of a region, recorded by HQ: competition (0 none .. 100 fierce) and
    the company's resources there (0 none .. 100 ample)."""

    class Meta:
        unknown = RAISE

    competition = fields.Int(required=True, strict=True, validate=validate.Range(min=0, max=100))
    resources = fields.Int(required=True, strict=True, validate=validate.Range(min=0, max=100))
    note = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class CenterAssessmentOut(Schema):
    """A center's month or year: score on seed 001's table (lines with their facts; a year's lines are
    the months' means), stars, grade, rank among the centers, KPIs, complaint counts per department;
    not rated (未评): ``rated`` false, no score, grade or rank."""

    tenant_id = fields.Str()
    period = fields.Str()
    kind = fields.Str()
    rated = fields.Bool()
    score = fields.Decimal(as_string=True, allow_none=True)
    stars = fields.Int(allow_none=True)
    grade = fields.Str(allow_none=True)
    jobs = fields.Int()
    rank = fields.Int(allow_none=True)
    lines = fields.Raw()
    kpis = fields.Raw()
    departments = fields.Raw()
    months = fields.Raw(allow_none=True)
    computed_at = fields.AwareDateTime()


class RegionOut(Schema):
    tenant_id = fields.Str()
    competition = fields.Int()
    resources = fields.Int()
    region_index = fields.Decimal(as_string=True)
    grade = fields.Str()
    note = fields.Str(allow_none=True)
    recorded_at = fields.AwareDateTime()
    recorded_by = fields.Str()
