"""The regional center's outlets (a mixin of GatewayService; role ``center``, its tenant).

- ``/center/outlets``: the tenant's outlets by where they stand (applications in review, probation,
  effective, suspended, being revoked, ended), as ``certification.list_outlets`` gives them (``GET
  /api/v1/outlets``).
- ``/center/outlets/<id>``: the outlet's file (``certification.get_outlet``, ``GET
  /api/v1/outlets/<id>``) and a form for each lifecycle step certification lets the caller take now
  (``certification.allowed_outlet_steps``, ``GET /api/v1/outlets/<id>/steps``: by role, by duty — the
  technical lead's review only for a technical lead — and by state): the center's review with its
  site inspection, the agreement, the probation assessment, suspension and reinstatement, the
  revocation form and its reviews, asking again whether the accounts are clear. A step posts
  ``certification.outlet_step`` (``POST /api/v1/outlets/<id>/steps``); its refusal is shown by the
  field it names.
"""

from __future__ import annotations

from typing import Any

from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import page
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
GROUPS = (
    ("review", "申请审核中", ("applied", "center_reviewed", "technical_reviewed", "approved")),
    ("probation", "试用期", ("probation",)),
    ("effective", "正式授权", ("effective",)),
    ("suspended", "暂停", ("suspended",)),
    (
        "revoking",
        "解约 / 撤点中",
        ("revocation_requested", "revocation_center_reviewed", "revocation_technical_reviewed", "revoking"),
    ),
    ("ended", "已撤销 / 申请被拒", ("revoked", "rejected")),
)
# each step's own fields, flat on the page, nested as certification's StepIn has them
NESTED = {
    "inspection": ("inspected_on", "inspector", "premises_ok", "equipment_ok", "staff_ok", "findings"),
    "agreement": ("agreement_number", "valid_from", "valid_to", "terms", "job_limit"),
    "assessment": ("score", "assessment_findings", "extend_months"),
    "revocation": ("reason_code", "details", "written_request_ref"),
}
STEP_PARTS = {
    "center_review": ("inspection",),
    "issue_agreement": ("agreement",),
    "assess_probation": ("assessment",),
    "request_revocation": ("revocation",),
}
RENAMED = {"agreement_number": "number", "assessment_findings": "findings"}  # page name → StepIn's
FIELDS = ("action", "decision", "result", "reason", "expected_version") + tuple(f for fs in NESTED.values() for f in fs)
FLAGS = ("premises_ok", "equipment_ok", "staff_ok")
NUMBERS = {"job_limit": int, "extend_months": int}
STEPS = {
    "center_review": "中心审核（含现场考察）",
    "technical_review": "技术管理审核",
    "head_approval": "服务部部长审批",
    "issue_agreement": "发放协议书",
    "assess_probation": "试用期考核",
    "suspend": "暂停",
    "reinstate": "恢复",
    "request_revocation": "撤点登记",
    "revocation_center_review": "撤点中心审核",
    "revocation_technical_review": "撤点技术审核",
    "revocation_approval": "撤点部长审批",
    "request_clearing": "重新核对帐目清理",
    # what the history also records: the application, and the accounts' clearing as settlement reports it
    "apply": "网点申请",
    "accounts_cleared": "帐目已清，合作终止",
    "accounts_open": "帐目未清",
}
CHOICES = {
    "pass": "通过",
    "reject": "不通过",
    "passed": "考核通过，转正",
    "extended": "延长试用期",
    "refused": "考核不通过，撤点",
}


class CenterOutletPages:
    """The outlets' applications, reviews and lifecycle; `GatewayService` inherits it."""

    certification = RpcProxy("certification")

    @page("GET", "/center/outlets", roles=CENTER)
    def center_outlets_page(self, request, page):
        outlets = self.certification.list_outlets({"limit": 500})["items"]
        groups = [
            {"key": key, "name": name, "outlets": [o for o in outlets if o["status"] in states]}
            for key, name, states in GROUPS
        ]
        return page.render("center/outlets.html", groups=groups, total=len(outlets))

    @page(("GET", "POST"), "/center/outlets/<string:outlet_id>", roles=CENTER)
    def center_outlet_page(self, request, page, outlet_id):
        outlet = self.certification.get_outlet(outlet_id)  # another tenant's: NotFound, a 404 page
        form = page.form(*FIELDS) if request.method == "POST" else Form(FIELDS)
        status, done = 200, None
        if request.method == "POST":
            try:
                self.certification.outlet_step(outlet_id, step_payload(form))
                return page.redirect(f"/center/outlets/{outlet_id}?done={form.value('action')}")
            except DomainError as exc:
                if "expected_version" in (exc.fields or {}):
                    form.add_error(GENERAL, exc.message)
                else:
                    form.take(exc, aliases=ERROR_ALIASES)
                status = exc.http_status
                outlet = self.certification.get_outlet(outlet_id)
        else:
            done = STEPS.get(request.args.get("done") or "")
        allowed = self.certification.allowed_outlet_steps(outlet_id)
        return page.render(
            "center/outlet.html",
            status=status,
            outlet=outlet,
            steps=allowed["steps"],
            version=allowed["version"],
            form=form,
            blank=Form(FIELDS),
            posted=form.value("action"),
            step_names=STEPS,
            choice_names=CHOICES,
            step_parts=STEP_PARTS,
            done=done,
            reasons=list(labels.TABLES["revocation_reason"].items()),
        )


ERROR_ALIASES = {f"{part}.{RENAMED.get(name, name)}": name for part, names in NESTED.items() for name in names} | {
    part: GENERAL for part in NESTED
}


def step_payload(form: Form) -> dict[str, Any]:
    """The posted step as certification's StepIn: its action, choice and reason, and the parts the
    action has (inspection, agreement, assessment, revocation) nested."""
    action = form.text("action") or ""
    payload: dict[str, Any] = {"action": action}
    for name in ("decision", "result", "reason"):
        if form.text(name):
            payload[name] = form.text(name)
    if form.text("expected_version"):
        try:
            payload["expected_version"] = int(form.text("expected_version") or "")
        except ValueError:
            pass
    for part in STEP_PARTS.get(action, ()):
        nested: dict[str, Any] = {}
        for name in NESTED[part]:
            key = RENAMED.get(name, name)
            if name in FLAGS:
                nested[key] = form.value(name) == "yes"
                continue
            text = form.text(name)
            if text is None:
                continue
            try:
                nested[key] = NUMBERS[name](text) if name in NUMBERS else text
            except ValueError:
                nested[key] = text
        payload[part] = nested
    return payload
