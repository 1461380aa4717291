"""Gateway routes of the intake service (a mixin of GatewayService): tickets, their workflow,
the CSV import, the service ledger and the SLA summary.

Which tickets a caller sees is intake's scoped session's business (tenancy); who may register
or take a workflow step is intake's rule, so these routes only parse and pass on.
"""

from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from services.gateway import responses, schemas
from services.gateway.api import API, api, csv_rows, json_body, query_args
from services.intake import contracts
from shared.errors import BadRequest
from shared.rpc import RpcProxy


class IntakeRoutes:
    """The intake endpoints under /api/v1; `GatewayService` inherits them."""

    intake = RpcProxy("intake")

    @api(
        "POST",
        f"{API}/tickets",
        "Register a request (受理/登记)",
        body=contracts.RegisterTicket,
        response=contracts.TicketOut,
        status=201,
    )
    def create_ticket(self, request, principal):
        return self.intake.register_ticket(json_body(request))

    @api(
        "GET",
        f"{API}/tickets",
        "List tickets you may see, filtered and paged",
        query=contracts.ListQuery,
        response=schemas.TicketPage,
    )
    def list_tickets(self, request, principal):
        return self.intake.list_tickets(query_args(request))

    @api(
        "GET",
        f"{API}/tickets/preview",
        "What registering a request would decide: address placed, center, tier, warranty, deadlines",
        query=contracts.PreviewQuery,
        response=contracts.PreviewOut,
    )
    def preview_ticket(self, request, principal):
        return self.intake.preview_ticket(query_args(request))

    @api(
        "GET",
        f"{API}/tickets/<string:ticket_id>",
        "One ticket with its deadlines and audit trail",
        response=schemas.TicketDetail,
    )
    def get_ticket(self, request, principal, ticket_id):
        return self.intake.get_ticket(ticket_id)

    @api(
        "POST",
        f"{API}/tickets/<string:ticket_id>/transitions",
        "A workflow step: ticket status or complaint case (立案 → … → 签协议)",
        body=contracts.Transition,
        response=contracts.TicketOut,
    )
    def transition(self, request, principal, ticket_id):
        return self.intake.transition(ticket_id, json_body(request))

    @api(
        "GET",
        f"{API}/tickets/<string:ticket_id>/transitions",
        "The workflow steps you may take now from the ticket's status and case state",
        response=contracts.StepsOut,
    )
    def ticket_steps(self, request, principal, ticket_id):
        return self.intake.allowed_steps(ticket_id)

    @api(
        "GET",
        f"{API}/tickets/<string:ticket_id>/complaint-report",
        "The complaint handling report (投诉处理报告) archived at the case's report step, as a PDF",
        content=("application/pdf",),
    )
    def complaint_report(self, request, principal, ticket_id):
        doc = self.intake.complaint_report_file(ticket_id)
        return Response(
            base64.b64decode(doc["data"]),
            status=200,
            content_type=doc["content_type"],
            headers={"Content-Disposition": f'attachment; filename="{doc["filename"]}"'},
        )

    @api(
        "POST",
        f"{API}/tickets/import",
        "Import requests from CSV (UTF-8, header row); per-row report",
        content="text/csv",
        response=responses.TicketImport,
    )
    def import_tickets(self, request, principal):
        rows = [contracts.csv_row_to_payload(r) for r in csv_rows(request)]
        if not rows:
            raise BadRequest("CSV has no data rows", {"_body": ["no rows"]})
        results = self.intake.import_requests(rows)
        ok = sum(1 for r in results if r["ok"])
        return {"imported": ok, "failed": len(results) - ok, "rows": results}

    @api(
        "GET",
        f"{API}/ledger",
        "The service ledger (服务信息台帐) as JSON rows",
        query=contracts.ListQuery,
        response=responses.LedgerRow(many=True),
        tag="ledger",
    )
    def ledger(self, request, principal):
        return self.intake.ledger(query_args(request))

    @api(
        "GET",
        f"{API}/ledger.csv",
        "The service ledger as CSV",
        query=contracts.ListQuery,
        content="text/csv",
        tag="ledger",
    )
    def ledger_csv(self, request, principal):
        body = self.intake.ledger_csv(query_args(request))
        return Response(
            "\ufeff" + body,
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=ledger.csv"},
        )

    @api(
        "GET",
        f"{API}/sla/summary",
        "Open tickets by SLA tier and earliest on-site deadlines per tenant",
        response=responses.SLA_SUMMARY,
        tag="sla",
    )
    def sla_summary(self, request, principal):
        return self.intake.sla_summary()

    @api(
        "GET",
        f"{API}/sla/report",
        "Deadlines met, met late, breached, at risk, open: per center and SLA tier, by week or month",
        query=contracts.SlaReportQuery,
        response=contracts.SlaReportOut,
        tag="sla",
    )
    def sla_report(self, request, principal):
        return self.intake.sla_report(query_args(request))

    @api(
        "GET",
        f"{API}/triage",
        "HQ's triage queue: tickets whose center the address did not tell, with why and the candidate centers",
        query=contracts.TriageQuery,
        response=responses.TriagePage,
    )
    def triage_queue(self, request, principal):
        return self.intake.triage_queue(query_args(request))
