"""Requests of the monthly and quarterly reports (issue 18.5) and the stored reports' list."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.validation import MONTH, PageQuery

FILE_FORMATS = ("json", "pdf", "xlsx")
# the years MONTH accepts (year 0 was a 500: a quarter's first day is a date)
QUARTER = validate.Regexp(
    r"^(19[7-9]\d|20\d\d)-Q[1-4]$", error="must be a quarter YYYY-Qn between 1970-Q1 and 2099-Q4, e.g. 2026-Q1"
)
TENANT = validate.Length(min=1, max=16)


class MonthlyReportQuery(Schema):
    """``tenant``: a center's id (a center: its own, the default), or ``all`` / none for HQ's roll-up."""

    class Meta:
        unknown = RAISE

    month = fields.Str(required=True, validate=MONTH)
    tenant = fields.Str(load_default=None, validate=TENANT)
    format = fields.Str(load_default="json", validate=validate.OneOf(FILE_FORMATS))


class QuarterlyReportQuery(Schema):
    class Meta:
        unknown = RAISE

    quarter = fields.Str(required=True, validate=QUARTER)
    tenant = fields.Str(load_default=None, validate=TENANT)
    format = fields.Str(load_default="json", validate=validate.OneOf(FILE_FORMATS))


class StoredReportQuery(PageQuery):
    kind = fields.Str(load_default=None, validate=validate.OneOf(("monthly", "quarterly")))
    period = fields.Str(load_default=None, validate=validate.Length(min=6, max=8))


class StoredFileQuery(Schema):
    class Meta:
        unknown = RAISE

    format = fields.Str(load_default="pdf", validate=validate.OneOf(("pdf", "xlsx")))


class JobFileQuery(Schema):
    """A finished roll-up job's file (HQ's 全国汇总 made in the background)."""

    class Meta:
        unknown = RAISE

    format = fields.Str(load_default="pdf", validate=validate.OneOf(FILE_FORMATS))


class GenerateBody(Schema):
    """HQ runs the schedule's step by hand: the month's reports (and the quarter's, when the month
    closes one) for every center that has none yet."""

    class Meta:
        unknown = RAISE

    month = fields.Str(required=True, validate=MONTH)


NOTE = validate.Length(max=4000)


class NotesBody(Schema):
    """A month's written part (seed 001: 书面定性反映): a center's report, or HQ's analysis."""

    class Meta:
        unknown = RAISE

    month = fields.Str(required=True, validate=MONTH)
    technical = fields.Str(load_default="", validate=NOTE)
    product = fields.Str(load_default="", validate=NOTE)
    customer_opinion = fields.Str(load_default="", validate=NOTE)
    competitors = fields.Str(load_default="", validate=NOTE)


class StoredReportOut(Schema):
    id = fields.Int()
    tenant_id = fields.Str()
    center_name = fields.Str()
    kind = fields.Str()
    period = fields.Str()
    title = fields.Str()
    generated_at = fields.AwareDateTime()
    generated_by = fields.Str()
