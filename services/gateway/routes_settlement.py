"""Gateway routes of the settlement service (a mixin of GatewayService).

By role: an outlet submits and reads its own claims, statements (with downloads) and
balance; a center audits its tenant's claims and issues its outlets' statements; HQ audits
and sees all. Which rows a caller sees is the settlement session's business (TenantScoped).
"""

from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from services.gateway import responses
from services.gateway.api import API, api, json_body, query_args
from services.settlement import contracts
from shared import tenancy
from shared.errors import Forbidden
from shared.rpc import RpcProxy

S = f"{API}/settlement"


def _require(principal, *roles):
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this", {"role": [f"one of {', '.join(roles)}"]})


class SettlementRoutes:
    """The settlement endpoints under /api/v1/settlement; `GatewayService` inherits them."""

    settlement = RpcProxy("settlement")

    @api(
        "GET",
        f"{S}/claims",
        "Fee claims you may see (outlet: its own; center: its tenant; HQ: all)",
        query=contracts.ClaimQuery,
        response=responses.ClaimPage,
        tag="settlement",
    )
    def settlement_list_claims(self, request, principal):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.list_claims(query_args(request))

    @api(
        "POST",
        f"{S}/claims",
        "An outlet claims its fees for a completed visit (网点结算申报)",
        body=contracts.SubmitClaim,
        response=contracts.ClaimOut,
        status=201,
        tag="settlement",
    )
    def settlement_submit_claim(self, request, principal):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.submit_claim(json_body(request))

    @api(
        "GET",
        f"{S}/claims/<string:claim_id>",
        "One claim: price lines, rule results, audit trail, holds",
        response=contracts.ClaimOut,
        tag="settlement",
    )
    def settlement_get_claim(self, request, principal, claim_id):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.get_claim(claim_id)

    @api(
        "POST",
        f"{S}/claims/<string:claim_id>/receipt",
        "The customer's receipt of a self-paid job (自费收据)",
        body=contracts.Receipt,
        response=contracts.ClaimOut,
        tag="settlement",
    )
    def settlement_record_receipt(self, request, principal, claim_id):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.record_receipt(claim_id, json_body(request))

    @api(
        "POST",
        f"{S}/claims/<string:claim_id>/audit",
        "An audit level decides (center → technical lead → HQ): approve, adjust, reject",
        body=contracts.AuditIn,
        response=contracts.ClaimOut,
        tag="settlement",
    )
    def settlement_audit_claim(self, request, principal, claim_id):
        _require(principal, tenancy.CENTER, tenancy.HQ)
        return self.settlement.audit_claim(claim_id, json_body(request))

    @api(
        "GET",
        f"{S}/statements",
        "Monthly statements you may see",
        query=contracts.StatementQuery,
        response=responses.StatementPage,
        tag="settlement",
    )
    def settlement_list_statements(self, request, principal):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.list_statements(query_args(request))

    @api(
        "POST",
        f"{S}/statements",
        "Issue an outlet's monthly statement (center or HQ)",
        body=contracts.IssueStatement,
        response=contracts.StatementOut,
        status=201,
        tag="settlement",
    )
    def settlement_issue_statement(self, request, principal):
        _require(principal, tenancy.CENTER, tenancy.HQ)
        return self.settlement.issue_statement(json_body(request))

    @api(
        "POST",
        f"{S}/statements/issue-month",
        "Issue the month's statements of every outlet with items",
        body=contracts.IssueAll,
        tag="settlement",
        response=responses.MonthIssued,
    )
    def settlement_issue_month(self, request, principal):
        _require(principal, tenancy.CENTER, tenancy.HQ)
        return self.settlement.issue_statements(json_body(request))

    @api(
        "GET",
        f"{S}/statements/<string:statement_id>",
        "One statement with its lines and payments",
        response=contracts.StatementOut,
        tag="settlement",
    )
    def settlement_get_statement(self, request, principal, statement_id):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.get_statement(statement_id)

    @api(
        "GET",
        f"{S}/statements/<string:statement_id>/download/<string:fmt>",
        "Download a statement as xlsx or pdf",
        content=("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/pdf"),
        tag="settlement",
    )
    def settlement_download_statement(self, request, principal, statement_id, fmt):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        doc = self.settlement.statement_file(statement_id, fmt)
        return Response(
            base64.b64decode(doc["data"]),
            status=200,
            content_type=doc["content_type"],
            headers={"Content-Disposition": f'attachment; filename="{doc["filename"]}"'},
        )

    @api(
        "POST",
        f"{S}/statements/<string:statement_id>/payments",
        "Record a payment against a statement",
        body=contracts.PaymentIn,
        response=contracts.StatementOut,
        status=201,
        tag="settlement",
    )
    def settlement_record_payment(self, request, principal, statement_id):
        _require(principal, tenancy.CENTER, tenancy.HQ)
        return self.settlement.record_payment(statement_id, json_body(request))

    @api(
        "GET",
        f"{S}/outlets/<string:outlet_id>/balance",
        "An outlet's balance at a moment (?at=ISO time)",
        query=contracts.BalanceQuery,
        response=contracts.BalanceOut,
        tag="settlement",
    )
    def settlement_balance(self, request, principal, outlet_id):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.balance(outlet_id, query_args(request))

    @api(
        "GET",
        f"{S}/outlets/<string:outlet_id>/open-items",
        "What keeps an outlet's account open (center, HQ)",
        tag="settlement",
        response=responses.OpenItem(many=True),
    )
    def settlement_open_items(self, request, principal, outlet_id):
        _require(principal, tenancy.CENTER, tenancy.HQ)
        return self.settlement.open_items(outlet_id)

    @api(
        "GET",
        f"{S}/tariff",
        "The tariff in force (?tenant_id=&on=YYYY-MM-DD)",
        query=contracts.TariffQuery,
        tag="settlement",
        response=responses.Tariff,
    )
    def settlement_tariff(self, request, principal):
        _require(principal, tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
        return self.settlement.tariff_in_force(query_args(request))

    @api(
        "POST",
        f"{S}/tariffs",
        "Publish a tariff version (HQ): HQ default or a tenant's override",
        tag="settlement",
        status=201,
        response=responses.TariffPublished,
    )
    def settlement_publish_tariff(self, request, principal):
        _require(principal, tenancy.HQ)
        return self.settlement.publish_tariff(json_body(request))
