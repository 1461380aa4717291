"""The gateway: the REST API in front of the services, authentication, one error shape, OpenAPI.

It owns no data. Each request is authenticated from its bearer token; the resulting
principal goes into the worker's context data and so travels with every RPC behind it,
where the services' database sessions enforce it.
"""
from __future__ import annotations

import re
from decimal import Decimal

from shared.rpc import RpcProxy
from werkzeug.wrappers import Response

from services.dispatch.schemas import technician_row_to_payload
from services.gateway import schemas
from services.gateway.api import API, ROUTES, Authenticator, _load, api, csv_rows, json_body, query_args
from services.gateway.routes_certification import CertificationRoutes
from services.gateway.routes_parts import PartsRoutes
from services.gateway.routes_qa import QaRoutes
from services.gateway.routes_settlement import SettlementRoutes
from services.intake.schemas import csv_row_to_payload
from shared import tenancy
from shared import web
from shared.errors import BadRequest, Forbidden
from shared.web import http, json_response


class GatewayService(CertificationRoutes, PartsRoutes, SettlementRoutes, QaRoutes, web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "gateway"

    auth = Authenticator()
    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")

    @api("GET", f"{API}/me", "Who the token says you are", response=schemas.Me, tag="auth")
    def me(self, request, principal):
        return {"user": principal.user, "role": principal.role, "tenant": principal.tenant,
                "outlet": principal.outlet}

    @api("POST", f"{API}/tickets", "Register a request (受理/登记)", body=schemas.RegisterTicket,
         response=schemas.TicketOut, status=201)
    def create_ticket(self, request, principal):
        return self.intake.register_ticket(json_body(request))

    @api("GET", f"{API}/tickets", "List tickets you may see, filtered and paged", query=schemas.ListQuery,
         response=schemas.TicketPage)
    def list_tickets(self, request, principal):
        return self.intake.list_tickets(query_args(request))

    @api("GET", f"{API}/tickets/<string:ticket_id>", "One ticket with its deadlines and audit trail",
         response=schemas.TicketDetail)
    def get_ticket(self, request, principal, ticket_id):
        return self.intake.get_ticket(ticket_id)

    @api("POST", f"{API}/tickets/<string:ticket_id>/transitions",
         "A workflow step: ticket status or complaint case (立案 → … → 签协议)", body=schemas.Transition,
         response=schemas.TicketOut)
    def transition(self, request, principal, ticket_id):
        return self.intake.transition(ticket_id, json_body(request))

    @api("POST", f"{API}/tickets/import", "Import requests from CSV (UTF-8, header row); per-row report",
         content="text/csv", response=schemas.ImportRowResult)
    def import_tickets(self, request, principal):
        rows = [csv_row_to_payload(r) for r in csv_rows(request)]
        if not rows:
            raise BadRequest("CSV has no data rows", {"_body": ["no rows"]})
        results = self.intake.import_requests(rows)
        ok = sum(1 for r in results if r["ok"])
        return {"imported": ok, "failed": len(results) - ok, "rows": results}

    @api("GET", f"{API}/ledger", "The service ledger (服务信息台帐) as JSON rows", query=schemas.ListQuery,
         tag="ledger")
    def ledger(self, request, principal):
        return self.intake.ledger(query_args(request))

    @api("GET", f"{API}/ledger.csv", "The service ledger as CSV", query=schemas.ListQuery, content="text/csv",
         tag="ledger")
    def ledger_csv(self, request, principal):
        body = self.intake.ledger_csv(query_args(request))
        return Response("\ufeff" + body, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=ledger.csv"})

    @api("GET", f"{API}/sla/summary", "Open tickets by SLA tier and earliest on-site deadlines per tenant",
         tag="sla")
    def sla_summary(self, request, principal):
        return self.intake.sla_summary()

    # ------------------------------------------------------------ dispatch
    @api("GET", f"{API}/dispatch/board", "Dispatch board: visits, plans and late risks (centers: own tenant)",
         query=schemas.BoardQuery, response=schemas.VisitPage, tag="dispatch")
    def dispatch_board(self, request, principal):
        return self.dispatch.board(query_args(request))

    @api("GET", f"{API}/outlet/jobs", "The outlet's own jobs (the board of an outlet principal)",
         query=schemas.BoardQuery, response=schemas.VisitPage, tag="dispatch")
    def outlet_jobs(self, request, principal):
        if principal.role != tenancy.OUTLET:
            raise Forbidden("only an outlet has its own jobs; centers use /dispatch/board")
        return self.dispatch.board(query_args(request))

    @api("POST", f"{API}/dispatch/reoptimise", "Re-optimise a tenant's plan now (optional body {tenant_id})",
         body=schemas.Reoptimise, response=schemas.PlanResult, tag="dispatch")
    def dispatch_reoptimise(self, request, principal):
        body = json_body(request) if request.get_data() else {}
        data = _load(schemas.Reoptimise(), body)
        return self.dispatch.reoptimise(data.get("tenant_id"))

    @api("GET", f"{API}/dispatch/plan-runs", "Recent re-optimisations with their cost and results",
         query=schemas.PlanRunsQuery, response=schemas.PlanRunOut, tag="dispatch")
    def dispatch_plan_runs(self, request, principal):
        data = _load(schemas.PlanRunsQuery(), query_args(request))
        return self.dispatch.plan_runs(data["limit"])

    @api("GET", f"{API}/visits/<string:visit_id>", "One visit", response=schemas.VisitOut, tag="dispatch")
    def get_visit(self, request, principal, visit_id):
        return self.dispatch.get_visit(visit_id)

    @api("POST", f"{API}/visits/<string:visit_id>/check-in", "On-site check-in by the outlet (time, position)",
         body=schemas.CheckIn, response=schemas.VisitOut, tag="dispatch")
    def check_in(self, request, principal, visit_id):
        return self.dispatch.check_in(visit_id, json_body(request))

    @api("POST", f"{API}/visits/<string:visit_id>/check-out",
         "On-site check-out: work done, parts used, customer confirmation", body=schemas.CheckOut,
         response=schemas.VisitOut, tag="dispatch")
    def check_out(self, request, principal, visit_id):
        return self.dispatch.check_out(visit_id, json_body(request))

    @api("POST", f"{API}/visits/<string:visit_id>/pin", "Pin a visit to a technician (the optimiser keeps it)",
         body=schemas.Pin, response=schemas.VisitOut, tag="dispatch")
    def pin_visit(self, request, principal, visit_id):
        return self.dispatch.pin(visit_id, json_body(request))

    @api("DELETE", f"{API}/visits/<string:visit_id>/pin", "Remove a visit's pin", response=schemas.VisitOut,
         tag="dispatch")
    def unpin_visit(self, request, principal, visit_id):
        return self.dispatch.unpin(visit_id)

    @api("GET", f"{API}/technicians", "Technicians you may see", query=schemas.TechnicianQuery,
         response=schemas.TechnicianOut, tag="technicians")
    def list_technicians(self, request, principal):
        data = _load(schemas.TechnicianQuery(), query_args(request))
        return self.dispatch.list_technicians(data.get("outlet_id"))

    @api("POST", f"{API}/technicians", "Create or update a technician (skills, certificates, shift, capacity)",
         body=schemas.TechnicianIn, response=schemas.TechnicianOut, tag="technicians")
    def upsert_technician(self, request, principal):
        return self.dispatch.upsert_technician(json_body(request))

    @api("POST", f"{API}/technicians/import",
         "Import technicians from CSV (skills 'a|b', certificates 'line=YYYY-MM-DD|...'); per-row report",
         content="text/csv", response=schemas.TechnicianImportResult, tag="technicians")
    def import_technicians(self, request, principal):
        rows = [technician_row_to_payload(r) for r in csv_rows(request)]
        if not rows:
            raise BadRequest("CSV has no data rows", {"_body": ["no rows"]})
        results = self.dispatch.import_technicians(rows)
        ok = sum(1 for r in results if r["ok"])
        return {"imported": ok, "failed": len(results) - ok, "rows": results}

    @api("GET", f"{API}/technicians/<string:technician_id>/route", "A technician's day as an ordered route",
         query=schemas.RouteQuery, response=schemas.RouteOut, tag="technicians")
    def technician_route(self, request, principal, technician_id):
        return self.dispatch.route(technician_id, query_args(request))

    @api("GET", f"{API}/technicians/<string:technician_id>/route.csv", "A technician's day as CSV",
         query=schemas.RouteQuery, content="text/csv", tag="technicians")
    def technician_route_csv(self, request, principal, technician_id):
        body = self.dispatch.route_csv(technician_id, query_args(request))
        name = f"route-{technician_id}-{request.args.get('date', '')}.csv"
        return Response("\ufeff" + body, status=200, mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    @http("GET", "/openapi.json")
    def openapi(self, request):
        return json_response(openapi_document())


_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
_document = None


def openapi_document():
    global _document
    if _document is not None:
        return _document
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(title="Field-service platform API", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Multi-tenant after-sales field service. Authenticate with "
                                        "'Authorization: Bearer <token>' (fsm token)."})
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=schemas.Error)
    for method, path, meta in ROUTES:
        oa_path = _PATH_PARAM.sub(r"{\1}", path)
        op = {"summary": meta["summary"], "tags": [meta["tag"]],
              "responses": {str(meta["status"]): {"description": "OK"}}}
        if meta["response"] is not None:
            op["responses"][str(meta["status"])]["content"] = {meta["content"]: {"schema": meta["response"]}}
        for code, text in (("400", "malformed request"), ("401", "missing or invalid token"),
                           ("403", "not allowed for your role"), ("404", "not found (or not yours)"),
                           ("409", "invalid transition or conflict"), ("422", "validation failed")):
            op["responses"][code] = {"description": text,
                                     "content": {"application/json": {"schema": "Error"}}}
        if meta["body"] is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
        elif method == "POST" and meta["content"] == "text/csv":
            op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
        if meta["query"] is not None:
            op["parameters"] = [{"in": "query", "schema": meta["query"]}]
        params = _PATH_PARAM.findall(path)
        if params:
            op.setdefault("parameters", []).extend(
                {"in": "path", "name": p, "required": True, "schema": {"type": "string"}} for p in params)
        if not meta["public"]:
            op["security"] = [{"bearer": []}]
        spec.path(path=oa_path, operations={method.lower(): op})
    _document = _plain_numbers(spec.to_dict())
    return _document


def _plain_numbers(value):
    """apispec keeps a Decimal field's bounds as Decimal, which JSON would carry as a string
    ("maximum": "100.00", not a number): make them plain numbers."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
