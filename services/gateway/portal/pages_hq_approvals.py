"""HQ's approvals (a mixin of GatewayService; role ``hq``, every tenant).

- ``/hq/approvals``: what waits for a decision above the centers. Outlet applications and
  revocations past the center's review (``certification.list_outlets`` by state, ``GET
  /api/v1/outlets?status=``), each with a button pair for exactly the review steps certification lets
  the caller take now (``certification.allowed_outlet_steps``, ``GET /api/v1/outlets/<id>/steps``: the
  service head's approval only to the service head, the technical review only to a technical lead);
  and the fee claims at HQ's audit level (``settlement.list_claims`` with ``status=hq_review``, ``GET
  /api/v1/settlement/claims``) with the audit rules that did not pass.
- ``/hq/approvals/outlets/<id>``: one outlet's decision (GET: its file, history and the same forms;
  POST: ``certification.outlet_step``, ``POST /api/v1/outlets/<id>/steps``); a refusal is shown by the
  field it names, nothing done.
- ``/hq/approvals/claims/<id>``: the claim's price lines, each rule's finding, holds and trail and
  HQ's audit: approve, adjust (a deduction: amount and reason) or reject (``settlement.audit_claim``,
  ``POST /api/v1/settlement/claims/<id>/audit``), drawn by the center's claim template.
"""

from __future__ import annotations

from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.pages_center_outlets import CHOICES, FIELDS, STEPS, step_payload
from services.gateway.portal.web import page
from shared.errors import DomainError
from shared.rpc import RpcProxy

HQ = ("hq",)
# the states an outlet waits in for a review above the center (technical lead, service head)
WAITING = (
    ("center_reviewed", "待技术管理审核"),
    ("technical_reviewed", "待服务部部长审批"),
    ("revocation_center_reviewed", "撤点待技术审核"),
    ("revocation_technical_reviewed", "撤点待部长审批"),
)
OUTLETS_PER_STATE = 100
CLAIM_PAGE = 50


class HqApprovalPages:
    """Outlet decisions and claims at HQ's level; `GatewayService` inherits it."""

    certification = RpcProxy("certification")
    settlement = RpcProxy("settlement")

    def _decisions(self, outlet_id):
        """The review steps (a pass/reject decision) the caller may take on the outlet now."""
        allowed = self.certification.allowed_outlet_steps(outlet_id)
        return [s for s in allowed["steps"] if s["choice"] == "decision"], allowed["version"]

    @page("GET", "/hq/approvals", roles=HQ)
    def hq_approvals_page(self, request, page):
        groups = []
        for state, name in WAITING:
            found = self.certification.list_outlets({"status": state, "limit": OUTLETS_PER_STATE})
            rows = []
            for outlet in found["items"]:
                steps, version = self._decisions(outlet["id"])
                rows.append({"outlet": outlet, "steps": steps, "version": version})
            groups.append({"state": state, "name": name, "rows": rows, "total": found["total"]})
        claims = self.settlement.list_claims({"status": "hq_review", "limit": CLAIM_PAGE})
        done = request.args.get("done") or ""
        return page.render(
            "hq/approvals.html",
            groups=groups,
            claims=claims["items"],
            claims_total=claims["total"],
            step_names=STEPS,
            choice_names=CHOICES,
            blank=Form(FIELDS),
            done=STEPS.get(done) or (labels.label(done, "audit_action") if done else None),
        )

    @page(("GET", "POST"), "/hq/approvals/outlets/<string:outlet_id>", roles=HQ)
    def hq_outlet_decision_page(self, request, page, outlet_id):
        outlet = self.certification.get_outlet(outlet_id)
        form = page.form(*FIELDS) if request.method == "POST" else Form(FIELDS)
        status = 200
        if request.method == "POST":
            try:
                self.certification.outlet_step(outlet_id, step_payload(form))
                return page.redirect(f"/hq/approvals?done={form.value('action')}#outlet-{outlet_id}")
            except DomainError as exc:
                if "expected_version" in (exc.fields or {}):
                    form.add_error(GENERAL, exc.message)
                else:
                    form.take(exc)
                status = exc.http_status
                outlet = self.certification.get_outlet(outlet_id)
        steps, version = self._decisions(outlet_id)
        return page.render(
            "hq/outlet_decision.html",
            status=status,
            outlet=outlet,
            steps=steps,
            version=version,
            form=form,
            blank=Form(FIELDS),
            posted=form.value("action"),
            step_names=STEPS,
            choice_names=CHOICES,
        )

    @page(("GET", "POST"), "/hq/approvals/claims/<string:claim_id>", roles=HQ)
    def hq_claim_page(self, request, page, claim_id):
        claim = self.settlement.get_claim(claim_id)
        form = page.form("action", "amount", "reason", "expected_version")
        status = 200
        if request.method == "POST":
            payload = dict(form.payload(expected_version=int), level=claim.get("level") or "")
            try:
                self.settlement.audit_claim(claim_id, payload)
                return page.redirect(f"/hq/approvals?done={form.value('action')}#claims")
            except DomainError as exc:
                if "expected_version" in (exc.fields or {}) or "level" in (exc.fields or {}):
                    form.add_error(GENERAL, exc.message)
                else:
                    form.take(exc)
                status = exc.http_status
                claim = self.settlement.get_claim(claim_id)
        return page.render(
            "center/claim.html",
            status=status,
            claim=claim,
            form=form,
            reviewing=claim["status"] == "hq_review",
            back_href="/hq/approvals#claims",
            ticket_href=None,
        )
