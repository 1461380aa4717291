"""Gateway routes of the dispatch service (a mixin of GatewayService): the dispatch board and
an outlet's jobs, re-optimising, visits with their check-in and check-out, the outlet's request for
a return visit, and pins, technicians with their CSV import and routes.

Which visits and technicians a caller sees is dispatch's scoped session's business (tenancy);
the one role check here keeps `/outlet/jobs` for outlets.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from services.dispatch import contracts
from services.gateway import responses, schemas
from services.gateway.api import API, api, csv_rows, json_body, load_query, query_args
from shared import tenancy
from shared.errors import BadRequest, Forbidden
from shared.rpc import RpcProxy


class DispatchRoutes:
    """The dispatch endpoints under /api/v1; `GatewayService` inherits them."""

    dispatch = RpcProxy("dispatch")

    @api(
        "GET",
        f"{API}/dispatch/board",
        "Dispatch board: visits, plans and late risks (centers: own tenant)",
        query=contracts.BoardQuery,
        response=schemas.VisitPage,
        tag="dispatch",
    )
    def dispatch_board(self, request, principal):
        return self.dispatch.board(query_args(request))

    @api(
        "GET",
        f"{API}/outlet/jobs",
        "The outlet's own jobs (the board of an outlet principal)",
        query=contracts.BoardQuery,
        response=schemas.VisitPage,
        tag="dispatch",
    )
    def outlet_jobs(self, request, principal):
        if principal.role != tenancy.OUTLET:
            raise Forbidden("only an outlet has its own jobs; centers use /dispatch/board")
        return self.dispatch.board(query_args(request))

    @api(
        "POST",
        f"{API}/dispatch/reoptimise",
        "Re-optimise a tenant's plan now (optional body {tenant_id, reason}). Visits whose appointment "
        "was confirmed keep its window unless a reason is given; the reason is recorded with the plan run",
        body=schemas.Reoptimise,
        response=schemas.PlanResult,
        tag="dispatch",
    )
    def dispatch_reoptimise(self, request, principal):
        body = json_body(request) if request.get_data() else {}
        data = load_query(schemas.Reoptimise(), body)
        return self.dispatch.reoptimise(data.get("tenant_id"), data.get("reason"))

    @api(
        "GET",
        f"{API}/dispatch/plan-runs",
        "Recent re-optimisations with their cost and results",
        query=schemas.PlanRunsQuery,
        response=contracts.PlanRunOut(many=True),
        tag="dispatch",
    )
    def dispatch_plan_runs(self, request, principal):
        data = load_query(schemas.PlanRunsQuery(), query_args(request))
        return self.dispatch.plan_runs(data["limit"])

    @api("GET", f"{API}/visits/<string:visit_id>", "One visit", response=contracts.VisitOut, tag="dispatch")
    def get_visit(self, request, principal, visit_id):
        return self.dispatch.get_visit(visit_id)

    @api(
        "POST",
        f"{API}/visits/<string:visit_id>/check-in",
        "On-site check-in by the outlet (time, position)",
        body=contracts.CheckIn,
        response=contracts.VisitOut,
        tag="dispatch",
    )
    def check_in(self, request, principal, visit_id):
        return self.dispatch.check_in(visit_id, json_body(request))

    @api(
        "POST",
        f"{API}/visits/<string:visit_id>/check-out",
        "On-site check-out: work done, parts used, customer confirmation",
        body=contracts.CheckOut,
        response=contracts.VisitOut,
        tag="dispatch",
    )
    def check_out(self, request, principal, visit_id):
        return self.dispatch.check_out(visit_id, json_body(request))

    @api(
        "POST",
        f"{API}/visits/<string:visit_id>/return-visit",
        "The outlet asks for a return visit (返修/二次上门) after its check-out: reason, optional wished date. "
        "Refused (409, naming the visit) before the check-out or while a visit of the ticket is open "
        "(not yet checked out or cancelled); only the visit's own outlet (another's: 404)",
        body=contracts.ReturnVisitRequest,
        response=contracts.VisitOut,
        status=201,
        tag="dispatch",
    )
    def request_return_visit(self, request, principal, visit_id):
        return self.dispatch.request_return_visit(visit_id, json_body(request))

    @api(
        "POST",
        f"{API}/visits/<string:visit_id>/pin",
        "Pin a visit to a technician (the optimiser keeps it)",
        body=contracts.Pin,
        response=contracts.VisitOut,
        tag="dispatch",
    )
    def pin_visit(self, request, principal, visit_id):
        return self.dispatch.pin(visit_id, json_body(request))

    @api(
        "POST",
        f"{API}/visits/<string:visit_id>/confirm-appointment",
        "The planned arrival was confirmed to the customer (预约确认): re-plans keep the visit within an hour "
        "of it unless a re-plan with a reason moves it. Only a planned (scheduled) visit (else 422)",
        response=contracts.VisitOut,
        tag="dispatch",
    )
    def confirm_appointment(self, request, principal, visit_id):
        return self.dispatch.confirm_appointment(visit_id)

    @api(
        "DELETE",
        f"{API}/visits/<string:visit_id>/pin",
        "Remove a visit's pin",
        response=contracts.VisitOut,
        tag="dispatch",
    )
    def unpin_visit(self, request, principal, visit_id):
        return self.dispatch.unpin(visit_id)

    @api(
        "GET",
        f"{API}/technicians",
        "Technicians you may see",
        query=schemas.TechnicianQuery,
        response=contracts.TechnicianOut(many=True),
        tag="technicians",
    )
    def list_technicians(self, request, principal):
        data = load_query(schemas.TechnicianQuery(), query_args(request))
        return self.dispatch.list_technicians(data.get("outlet_id"))

    @api(
        "POST",
        f"{API}/technicians",
        "Create or update a technician (skills, certificates, shift, capacity)",
        body=contracts.TechnicianIn,
        response=contracts.TechnicianOut,
        tag="technicians",
    )
    def upsert_technician(self, request, principal):
        return self.dispatch.upsert_technician(json_body(request))

    @api(
        "POST",
        f"{API}/technicians/import",
        "Import technicians from CSV (skills 'a|b', certificates 'line=YYYY-MM-DD|...'); per-row report",
        content="text/csv",
        response=responses.TechnicianImport,
        tag="technicians",
    )
    def import_technicians(self, request, principal):
        rows = [contracts.technician_row_to_payload(r) for r in csv_rows(request)]
        if not rows:
            raise BadRequest("CSV has no data rows", {"_body": ["no rows"]})
        results = self.dispatch.import_technicians(rows)
        ok = sum(1 for r in results if r["ok"])
        return {"imported": ok, "failed": len(results) - ok, "rows": results}

    @api(
        "GET",
        f"{API}/technicians/<string:technician_id>/route",
        "A technician's day as an ordered route",
        query=contracts.RouteQuery,
        response=schemas.RouteOut,
        tag="technicians",
    )
    def technician_route(self, request, principal, technician_id):
        return self.dispatch.route(technician_id, query_args(request))

    @api(
        "GET",
        f"{API}/technicians/<string:technician_id>/route.csv",
        "A technician's day as CSV",
        query=contracts.RouteQuery,
        content="text/csv",
        tag="technicians",
    )
    def technician_route_csv(self, request, principal, technician_id):
        body = self.dispatch.route_csv(technician_id, query_args(request))
        name = f"route-{technician_id}-{request.args.get('date', '')}.csv"
        return Response(
            "\ufeff" + body,
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )
