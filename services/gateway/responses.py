"""The answers' shapes, for the OpenAPI document: what each route returns where the service's
contract has no output schema of its own (or the route wraps it: a page, a list, a file).

The services build these answers as dicts (their ``queries.py``); these schemas describe them and
`tests/service/test_openapi.py` checks real answers against the published document, additional
properties refused, so a field added or renamed in a service shows up there until it is
documented here. Money is a decimal string in yuan ("123.45"), times are ISO 8601 in UTC.
"""

from __future__ import annotations

from marshmallow import Schema, fields

from services.certification import contracts as certification
from services.intake import contracts as intake
from services.qa import contracts as qa
from services.settlement import contracts as settlement

Str = fields.Str
Int = fields.Int


def nullable(field):
    """A field that may be null."""
    field.allow_none = True
    return field


def page_of(item, name: str, *, paging: bool = True) -> type[Schema]:
    """A page of `item`s as the list routes answer it: ``items``, ``total`` (of the whole list)
    and, as asked, ``limit`` and ``offset``."""
    attrs = {"items": fields.List(fields.Nested(item), required=True), "total": Int(required=True)}
    if paging:
        attrs.update(limit=Int(required=True), offset=Int(required=True))
    return Schema.from_dict(attrs, name=name)


def counts():
    """``{name: count}``."""
    return fields.Dict(keys=Str(), values=Int())


class OpenItem(Schema):
    """Something that keeps an outlet's account open: its kind, reference, what it is and its value."""

    kind = Str()
    ref = Str()
    description = Str()
    amount = nullable(Str())


# ====================================================================== intake
class ImportRow(Schema):
    """One CSV row's outcome: the ticket made (or found: a duplicate), or the error naming its fields."""

    row = Int(required=True)
    ok = fields.Bool(required=True)
    ticket_id = Str()
    number = Str()
    tenant_id = Str()
    duplicate = fields.Bool()
    error = Str()
    fields_ = fields.Dict(data_key="fields")


class TicketImport(Schema):
    imported = Int(required=True)
    failed = Int(required=True)
    rows = fields.List(fields.Nested(ImportRow), required=True)


class LedgerRow(Schema):
    """A row of the service ledger (服务信息台帐), its columns as the seed's; times local (Asia/Shanghai)."""

    number = Str()
    tenant_id = nullable(Str())
    customer_name = Str()
    address = Str()
    phone = Str()
    model = nullable(Str())
    serial_no = nullable(Str())
    purchase_date = nullable(Str())
    fault = nullable(Str())
    kind = Str()
    received_at = Str()
    onsite_at = nullable(Str())
    closed_at = nullable(Str())
    channel = Str()
    status = Str()
    warranty = nullable(Str())
    owner_user = nullable(Str())
    assigned_outlet_id = nullable(Str())
    service_mode = nullable(Str())  # 服务方式, 服务内容, 服务人员 (intake's ledger_cells)
    work_done = nullable(Str())
    technician_name = nullable(Str())
    callback = nullable(Str())


class OnsiteDue(Schema):
    number = Str()
    due_at = fields.AwareDateTime()
    tier = nullable(Str())


class TenantSla(Schema):
    by_tier = counts()
    earliest_onsite = fields.List(fields.Nested(OnsiteDue))


TriagePage = page_of(intake.TriageTicketOut, "TriagePage")
SLA_SUMMARY = {"type": "object", "additionalProperties": TenantSla, "description": "per tenant id"}


# ====================================================================== dispatch
class TechnicianImportRow(Schema):
    row = Int(required=True)
    ok = fields.Bool(required=True)
    id = Str()
    error = Str()
    fields_ = fields.Dict(data_key="fields")


class TechnicianImport(Schema):
    imported = Int(required=True)
    failed = Int(required=True)
    rows = fields.List(fields.Nested(TechnicianImportRow), required=True)


# ====================================================================== certification
OutletPage = page_of(certification.OutletOut, "OutletPage")


class Assessment(Schema):
    kind = Str()
    result = nullable(Str())
    score = nullable(Str())
    findings = nullable(Str())
    user = Str()
    at = fields.AwareDateTime()


class GradeRecord(Schema):
    month = nullable(Str())
    grade = Str()
    previous_grade = nullable(Str())
    score = nullable(Str())
    source = Str()
    at = fields.AwareDateTime()


class MonthlyCount(Schema):
    month = Str()
    installs = Int()
    repairs = Int()
    others = Int()


class StaffMember(Schema):
    """A technician of the register (with certificates), or other staff from the registration form."""

    id = Str()
    tenant_id = Str()
    outlet_id = nullable(Str())
    name = Str()
    skills = nullable(fields.List(Str()))
    active = fields.Bool()
    position = Str()
    qualification = nullable(Str())
    certificates = fields.List(fields.Nested(certification.CertificateOut))


class LineStatus(Schema):
    """A product line of the outlet: may it take jobs of the line, and how many of its technicians are certified."""

    product_line = Str()
    eligible = fields.Bool()
    certified = Int()


class Notice(Schema):
    kind = Str()
    text = Str()
    at = fields.AwareDateTime()


class OutletFile(certification.OutletOut):
    """The outlet file (网点档案)."""

    registration = nullable(fields.Dict())
    inspection = nullable(fields.Dict())
    bank_account = nullable(fields.Dict())
    steps = fields.List(fields.Nested(certification.StepOut))
    assessments = fields.List(fields.Nested(Assessment))
    grade_history = fields.List(fields.Nested(GradeRecord))
    monthly_counts = fields.List(fields.Nested(MonthlyCount))
    staff = fields.List(fields.Nested(StaffMember))
    lines = fields.List(fields.Nested(LineStatus))
    notices = fields.List(fields.Nested(Notice))
    assessment_due = fields.Bool()


class CertifiedTechnician(certification.TechnicianOut):
    certificates = fields.List(fields.Nested(certification.CertificateOut))


class TechnicianFile(CertifiedTechnician):
    exams = fields.List(fields.Nested(certification.ExamOut))


class ExamRecorded(Schema):
    exam = fields.Nested(certification.ExamOut, required=True)
    certificate = fields.Nested(certification.CertificateOut, allow_none=True, required=True)


class AreaPlan(Schema):
    tenant_id = Str()
    province = Str()
    city = Str()
    installed = Int()
    planned_sales = Int()
    yearly_repairs = Int()
    outlets_needed = Int()
    outlets_current = Int()
    outlet_ids = fields.List(Str())
    gap = Int()
    districts = counts()


class PlanTotals(Schema):
    yearly_repairs = Int()
    outlets_needed = Int()
    outlets_current = Int()
    short = Int()


class NetworkPlan(Schema):
    """Network planning (seed 003): yearly repairs per area, outlets needed at `capacity`, and the gap."""

    capacity = Int()
    areas = fields.List(fields.Nested(AreaPlan))
    totals = fields.Nested(PlanTotals)


# ====================================================================== settlement
ClaimPage = page_of(settlement.ClaimOut, "ClaimPage")
StatementPage = page_of(settlement.StatementSummary, "StatementPage")


class IssuedStatement(Schema):
    statement_id = Str()
    outlet_id = Str()
    total = Str()
    lines = Int()


class MonthIssued(Schema):
    month = Str()
    issued = fields.List(fields.Nested(IssuedStatement))


class Tariff(Schema):
    """The tariff in force for a tenant on a day: its versions, values and where each came from."""

    tenant_id = nullable(Str())
    on = fields.Date()
    versions = fields.List(Str())
    values = fields.Dict(keys=Str())
    sources = fields.Dict(keys=Str(), values=Str())


class TariffPublished(Schema):
    id = Str()
    tenant = nullable(Str())
    valid_from = fields.Date()
    valid_to = nullable(fields.Date())


# ====================================================================== qa
CallbackPage = page_of(qa.CallbackOut, "CallbackPage")


class Assessed(Schema):
    """The centers assessed for a period: how many, how many rated (未评 not), and their grades."""

    period = Str()
    centers = Int()
    rated = Int()
    grades = counts()


class Overdue(Schema):
    count = Int()
    by_tenant = counts()
    by_caller = counts()
    items = fields.List(fields.Nested(qa.CallbackOut))


class CarePlan(Schema):
    customers = Int()
    planned = Int()
    listed = Int()
    due_at = fields.AwareDateTime()


CARE_PLANS = {"type": "object", "additionalProperties": CarePlan, "description": "per tenant id"}


class Complaint(Schema):
    ticket_id = Str()
    tenant_id = Str()
    number = nullable(Str())
    cause = nullable(Str())
    responsibility = nullable(Str())
    level = nullable(Str())
    outlet_id = nullable(Str())
    department = nullable(Str())
    closed_at = nullable(fields.AwareDateTime())
    recurrence_status = nullable(Str())


class ParetoRow(Schema):
    cause = Str()
    label = Str()
    count = Int()
    share = Str()
    cumulative = Str()
    vital = fields.Bool()


class Cycle(Schema):
    closed = Int()
    average_days = nullable(Str())
    target_days = Int()
    over_target = Int()
    meets_target = nullable(fields.Bool())


class Recurred(Schema):
    ticket_id = Str()
    number = nullable(Str())
    serial_no = nullable(Str())
    recurrence_ticket_id = nullable(Str())


class ComplaintAnalysis(Schema):
    """投诉分析: counts by cause, responsibility, level, product, model, outlet and tenant, the causes'
    Pareto, the cycle against its 15-day target and the recurrence re-checks."""

    complaints = Int()
    open = Int()
    by_cause = counts()
    by_responsibility = counts()
    by_level = counts()
    by_product = counts()
    by_model = counts()
    by_outlet = counts()
    by_tenant = counts()
    pareto = fields.List(fields.Nested(ParetoRow))
    unclassified = Int()
    cycle = fields.Nested(Cycle)
    recurrence = counts()
    recurred = fields.List(fields.Nested(Recurred))


class ScoreFact(Schema):
    """A fact behind a scorecard line (a finding, a callback, a complaint), with its points."""

    id = Int()
    outlet_id = Str()
    tenant_id = Str()
    period = Str()
    kind = Str()
    points = Int()
    line = Str()
    ref = Str()
    ticket_id = nullable(Str())
    at = fields.AwareDateTime()
    source = Str()
    recorded_by = nullable(Str())
    note = nullable(Str())
    void = fields.Bool()
    occurrence = Str()


class Published(Schema):
    month = Str()
    outlets = Int()
    grades = counts()
    not_rated = Int(metadata={"description": "outlets with too few jobs in the month to be rated (未评)"})


class Report(Schema):
    """A report as JSON: its columns ([key, label] pairs) and rows keyed by the columns' keys (ids
    and, beside them, ``center_name`` / ``outlet_name``); `scope` the center's id (or all tenants),
    `scope_name` its name (or 全部中心)."""

    kind = Str()
    title = Str()
    scope = Str()
    scope_name = Str()
    columns = fields.List(fields.List(Str()))
    rows = fields.List(fields.Dict(keys=Str()))
