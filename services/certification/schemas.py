"""Certification's payloads in and out (RPC and HTTP share them)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.certification.domain import ASSESSMENT_RESULTS, DECISIONS, REVOCATION_REASONS, STATES
from shared.validation import PageQuery

OUTLET_ID = validate.Regexp(r"^C\d{2}-O\d{2,3}$", error="must look like C01-O08")
# 统一社会信用代码 (18 characters) or the older 15-digit business licence number
LICENCE = validate.Regexp(
    r"^([0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}|\d{15})$",
    error="must be an 18-character unified social credit code or a 15-digit licence number",
)
STAFF_POSITIONS = ("manager", "engineer", "technician", "installer", "reception", "settlement", "parts")


class Strict(Schema):
    class Meta:
        unknown = RAISE


class BankAccount(Strict):
    bank = fields.Str(required=True, validate=validate.Length(min=2, max=64))
    account_no = fields.Str(required=True, validate=validate.Regexp(r"^\d{10,30}$", error="10 to 30 digits"))
    holder = fields.Str(required=True, validate=validate.Length(min=2, max=128))


class Premises(Strict):
    address = fields.Str(required=True, validate=validate.Length(min=4, max=256))
    office_m2 = fields.Int(required=True, validate=validate.Range(min=1, max=100000))
    workshop_m2 = fields.Int(required=True, validate=validate.Range(min=1, max=100000))
    owned = fields.Bool(load_default=False)


class StaffIn(Strict):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    position = fields.Str(required=True, validate=validate.OneOf(STAFF_POSITIONS))
    qualification = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=128))
    product_lines = fields.List(fields.Str(), load_default=list)
    technician_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))


class ApplyIn(Strict):
    """The registration form (网点情况登记表): premises, equipment, staff, legal entity."""

    outlet_id = fields.Str(load_default=None, allow_none=True, validate=OUTLET_ID)
    name = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    kind = fields.Str(load_default="franchised", validate=validate.OneOf(("franchised", "self_run")))
    legal_entity = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    licence_no = fields.Str(required=True, validate=LICENCE)
    bank_account = fields.Nested(BankAccount, required=True)
    premises = fields.Nested(Premises, required=True)
    equipment = fields.List(
        fields.Str(validate=validate.Length(min=1, max=128)), required=True, validate=validate.Length(min=1)
    )
    staff = fields.List(fields.Nested(StaffIn), required=True, validate=validate.Length(min=1))
    product_lines = fields.List(fields.Str(), required=True, validate=validate.Length(min=1))
    province = fields.Str(required=True, validate=validate.Length(min=2, max=32))
    city = fields.Str(required=True, validate=validate.Length(min=2, max=32))
    district = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=32))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=3, max=54))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=73, max=136))
    attachments = fields.List(fields.Str(validate=validate.Length(min=1, max=256)), load_default=list)


class Inspection(Strict):
    inspected_on = fields.Date(required=True)
    inspector = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    premises_ok = fields.Bool(required=True)
    equipment_ok = fields.Bool(required=True)
    staff_ok = fields.Bool(required=True)
    findings = fields.Str(load_default=None, allow_none=True)


class AgreementIn(Strict):
    number = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=3, max=40))
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_to = fields.Date(load_default=None, allow_none=True)
    terms = fields.Str(required=True, validate=validate.Length(min=2, max=4000))
    job_limit = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=500))


class AssessmentIn(Strict):
    score = fields.Decimal(load_default=None, allow_none=True, places=2, validate=validate.Range(min=0, max=100))
    findings = fields.Str(load_default=None, allow_none=True)
    extend_months = fields.Int(load_default=1, validate=validate.Range(min=1, max=3))


class RevocationIn(Strict):
    reason_code = fields.Str(required=True, validate=validate.OneOf(REVOCATION_REASONS))
    details = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    written_request_ref = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=256))


class StepIn(Strict):
    """One lifecycle step: the action, the decision or result it needs, why, and attachments."""

    action = fields.Str(required=True, validate=validate.Length(min=1, max=40))
    decision = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(DECISIONS))
    result = fields.Str(load_default=None, allow_none=True, validate=validate.OneOf(ASSESSMENT_RESULTS))
    reason = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    attachments = fields.List(fields.Str(validate=validate.Length(min=1, max=256)), load_default=list)
    expected_version = fields.Int(load_default=None, allow_none=True)
    inspection = fields.Nested(Inspection, load_default=None, allow_none=True)
    agreement = fields.Nested(AgreementIn, load_default=None, allow_none=True)
    assessment = fields.Nested(AssessmentIn, load_default=None, allow_none=True)
    revocation = fields.Nested(RevocationIn, load_default=None, allow_none=True)

    @validates_schema
    def _reasons(self, data, **kwargs):
        if (data.get("decision") == "reject" or data["action"] in ("suspend", "reinstate")) and not (
            data.get("reason") or ""
        ).strip():
            raise ValidationError({"reason": ["say why (required for a rejection, suspension, reinstatement)"]})


class OutletQuery(Strict, PageQuery):
    status = fields.Str(load_default=None, validate=validate.OneOf(STATES))
    tenant_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=16))
    city = fields.Str(load_default=None)


class TechnicianIn(Strict):
    id = fields.Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"))
    outlet_id = fields.Str(required=True, validate=OUTLET_ID)
    name = fields.Str(required=True, validate=validate.Length(min=1, max=64))
    skills = fields.List(fields.Str(), load_default=list)


class TechnicianQuery(Strict):
    outlet_id = fields.Str(load_default=None)
    product_line = fields.Str(load_default=None)


class TrainingIn(Strict):
    product_line = fields.Str(required=True)
    title = fields.Str(required=True, validate=validate.Length(min=2, max=128))
    held_on = fields.Date(required=True)
    trainer = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=64))
    location = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=128))
    attendees = fields.List(fields.Str(), load_default=list)
    tenant_id = fields.Str(load_default=None, allow_none=True)
    plan_id = fields.Str(load_default=None, allow_none=True, validate=validate.Length(min=1, max=32))


class ExamIn(Strict):
    technician_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    product_line = fields.Str(required=True)
    score = fields.Decimal(required=True, places=2, validate=validate.Range(min=0, max=100))
    pass_mark = fields.Decimal(load_default=None, allow_none=True, places=2, validate=validate.Range(min=1, max=100))
    taken_on = fields.Date(load_default=None, allow_none=True)
    session_id = fields.Str(load_default=None, allow_none=True)


class RevokeCertificateIn(Strict):
    technician_id = fields.Str(required=True, validate=validate.Length(min=1, max=32))
    product_line = fields.Str(required=True)
    reason = fields.Str(required=True, validate=validate.Length(min=2, max=2000))


class PlanQuery(Strict):
    capacity = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1, max=1_000_000))
    tenant_id = fields.Str(load_default=None, allow_none=True)
    gaps_only = fields.Bool(load_default=False)


class CertificateCheck(Strict):
    at = fields.AwareDateTime(load_default=None, allow_none=True)


# ------------------------------------------------------------------ out
class StepOut(Schema):
    id = fields.Int()
    action = fields.Str()
    choice = fields.Str(allow_none=True)
    from_state = fields.Str(allow_none=True)
    to_state = fields.Str()
    user = fields.Str()
    role = fields.Str()
    duty = fields.Str(allow_none=True)
    at = fields.AwareDateTime()
    reason = fields.Str(allow_none=True)
    attachments = fields.List(fields.Str(), allow_none=True)
    data = fields.Dict(allow_none=True)


class AllowedStepOut(Schema):
    action = fields.Str()
    choice = fields.Str(allow_none=True, metadata={"description": "the field that chooses the target, if any"})
    choices = fields.List(fields.Str(), metadata={"description": "its values (decision: pass/reject...)"})
    duty = fields.Str(allow_none=True, metadata={"description": "the duty the step needs"})
    summary = fields.Str()


class AllowedStepsOut(Schema):
    outlet_id = fields.Str()
    status = fields.Str()
    version = fields.Int()
    steps = fields.List(fields.Nested(AllowedStepOut))


class OutletOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    name = fields.Str()
    kind = fields.Str()
    status = fields.Str()
    resume_status = fields.Str(allow_none=True)
    grade = fields.Str(allow_none=True)
    province = fields.Str(allow_none=True)
    city = fields.Str(allow_none=True)
    district = fields.Str(allow_none=True)
    address = fields.Str(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    legal_entity = fields.Str(allow_none=True)
    licence_no = fields.Str(allow_none=True)
    product_lines = fields.List(fields.Str(), allow_none=True)
    agreement = fields.Dict(allow_none=True)
    job_limit = fields.Int(allow_none=True)
    probation_until = fields.Date(allow_none=True)
    revocation = fields.Dict(allow_none=True)
    clearing_request_id = fields.Str(allow_none=True)
    clearing_status = fields.Str(allow_none=True)
    open_items = fields.List(fields.Dict(), allow_none=True)
    seeded = fields.Bool()
    applied_by = fields.Str(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    version = fields.Int()


class TechnicianOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    outlet_id = fields.Str(allow_none=True)
    name = fields.Str()
    skills = fields.List(fields.Str(), allow_none=True)
    active = fields.Bool()


class CertificateOut(Schema):
    id = fields.Str()
    technician_id = fields.Str()
    outlet_id = fields.Str(allow_none=True)
    product_line = fields.Str()
    issued_on = fields.Date()
    valid_until = fields.Date()
    status = fields.Str()
    exam_id = fields.Str(allow_none=True)
    reminded_at = fields.AwareDateTime(allow_none=True)
    ended_at = fields.AwareDateTime(allow_none=True)
    reason = fields.Str(allow_none=True)


class ExamOut(Schema):
    id = fields.Str()
    technician_id = fields.Str()
    outlet_id = fields.Str(allow_none=True)
    product_line = fields.Str()
    session_id = fields.Str(allow_none=True)
    score = fields.Decimal(as_string=True)
    pass_mark = fields.Decimal(as_string=True)
    passed = fields.Bool()
    taken_on = fields.Date()
    recorded_by = fields.Str()


class TrainingOut(Schema):
    id = fields.Str()
    tenant_id = fields.Str()
    plan_id = fields.Str(allow_none=True)
    product_line = fields.Str()
    title = fields.Str()
    held_on = fields.Date()
    trainer = fields.Str(allow_none=True)
    location = fields.Str(allow_none=True)
    attendees = fields.List(fields.Str(), allow_none=True)
    created_by = fields.Str()
