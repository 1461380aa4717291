"""Gateway routes of the qa service (a mixin of GatewayService).

Roles: callback agents are center and HQ users (a center works its tenant's own and sampled
callbacks, HQ its cross callbacks); centers see their tenant's reports and complaint analysis,
HQ everything; an outlet sees its own scorecard and the facts behind it, nothing else.
"""

from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from services.gateway import responses
from services.gateway.api import API, api, json_body, query_args
from services.qa import contracts
from shared import tenancy
from shared.errors import Forbidden
from shared.rpc import RpcProxy

AGENTS = (tenancy.HQ, tenancy.CENTER)
# a report as JSON (format=json, the default), or as a file
REPORT_TYPES = (
    "application/json",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "image/png",
    "image/svg+xml",
)


def _agent(principal):
    if principal.role not in AGENTS:
        raise Forbidden(f"role {principal.role} has no callback work, complaints or reports")


class QaRoutes:
    """The qa endpoints under /api/v1; `GatewayService` inherits them."""

    qa = RpcProxy("qa")

    # ------------------------------------------------------------ callbacks
    @api(
        "GET",
        f"{API}/qa/callbacks",
        "The callback agent's work list (center: own/sampled of its tenant; "
        "HQ: cross callbacks, caller=all for every one)",
        query=contracts.WorkListQuery,
        tag="qa",
        response=responses.CallbackPage,
    )
    def qa_work_list(self, request, principal):
        _agent(principal)
        return self.qa.work_list(query_args(request))

    @api(
        "GET",
        f"{API}/qa/callbacks/overdue",
        "Overdue callbacks, counted per center and caller, and listed",
        response=responses.Overdue,
        tag="qa",
    )
    def qa_overdue(self, request, principal):
        _agent(principal)
        return self.qa.overdue(query_args(request))

    @api("GET", f"{API}/qa/callbacks/<string:callback_id>", "One callback", response=contracts.CallbackOut, tag="qa")
    def qa_get_callback(self, request, principal, callback_id):
        _agent(principal)
        return self.qa.get_callback(callback_id)

    @api(
        "POST",
        f"{API}/qa/callbacks/<string:callback_id>/result",
        "Record a callback: on site within 24 h? service delivered? fee schedule shown? satisfaction 1-5, "
        "reason codes, comment (reached=false: an attempt)",
        body=contracts.CallbackResult,
        response=contracts.CallbackOut,
        tag="qa",
    )
    def qa_record_result(self, request, principal, callback_id):
        _agent(principal)
        return self.qa.record_result(callback_id, json_body(request))

    @api(
        "POST",
        f"{API}/qa/callbacks/<string:callback_id>/close",
        "Close a negative callback (resolved/upheld)",
        body=contracts.CloseCallback,
        response=contracts.CallbackOut,
        tag="qa",
    )
    def qa_close_callback(self, request, principal, callback_id):
        _agent(principal)
        return self.qa.close_callback(callback_id, json_body(request))

    @api(
        "POST",
        f"{API}/qa/care-calls",
        "Plan the monthly 20% care-call list (center: its tenant; HQ: all)",
        body=contracts.MonthBody,
        tag="qa",
        response=responses.CARE_PLANS,
    )
    def qa_plan_care(self, request, principal):
        _agent(principal)
        return self.qa.plan_care_calls(json_body(request))

    # ------------------------------------------------------------ complaints
    @api(
        "POST",
        f"{API}/qa/complaints/<string:ticket_id>/classification",
        "Classify a complaint: cause, responsibility (own/other_department/grey_zone), level, outlet",
        body=contracts.Classification,
        tag="qa",
        response=responses.Complaint,
    )
    def qa_classify(self, request, principal, ticket_id):
        _agent(principal)
        return self.qa.classify_complaint(ticket_id, json_body(request))

    @api(
        "GET",
        f"{API}/qa/complaints/analysis",
        "Complaints by cause, responsibility, product, model, outlet, tenant; Pareto; cycle vs 15 days; recurrence",
        query=contracts.AnalysisQuery,
        tag="qa",
        response=responses.ComplaintAnalysis,
    )
    def qa_complaint_analysis(self, request, principal):
        _agent(principal)
        return self.qa.complaint_analysis(query_args(request))

    # ------------------------------------------------------------ scorecards
    @api(
        "POST",
        f"{API}/qa/findings",
        "Record a scorecard fact (inspection, file audit, praise letter)",
        body=contracts.Finding,
        status=201,
        tag="qa",
        response=responses.ScoreFact,
    )
    def qa_record_finding(self, request, principal):
        _agent(principal)
        return self.qa.record_finding(json_body(request))

    @api(
        "POST",
        f"{API}/qa/scorecards/publish",
        "Compute, rank and publish every outlet's scorecard (HQ)",
        body=contracts.MonthBody,
        tag="qa",
        response=responses.Published,
    )
    def qa_publish(self, request, principal):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ publishes the monthly scorecards")
        return self.qa.publish_scorecards(json_body(request))

    @api(
        "GET",
        f"{API}/qa/scorecards",
        "Published scorecards of a month (outlet: its own only)",
        query=contracts.ScorecardQuery,
        tag="qa",
        response=contracts.ScorecardOut(many=True),
    )
    def qa_scorecards(self, request, principal):
        return self.qa.scorecards(query_args(request))

    @api(
        "GET",
        f"{API}/qa/center-facts",
        "The facts a center answers for in a month (its deadlines missed: acceptance, phone reply, "
        "web forwarding, complaint plan and cycle), kept for its assessment",
        query=contracts.ScorecardQuery,
        tag="qa",
        response=contracts.CenterFactOut(many=True),
    )
    def qa_center_facts(self, request, principal):
        _agent(principal)
        return self.qa.center_facts(query_args(request))

    # ------------------------------------------------------------ centers' assessments (issue 18.4)
    @api(
        "POST",
        f"{API}/qa/center-assessments",
        "Assess and rank every regional center for a month (month=YYYY-MM) or a year (year=YYYY, the "
        "year-end assessment) on seed 001's table from the center's own facts (HQ)",
        body=contracts.AssessmentPeriod,
        tag="qa",
        response=responses.Assessed,
    )
    def qa_assess_centers(self, request, principal):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ assesses the centers")
        return self.qa.assess_centers(json_body(request))

    @api(
        "GET",
        f"{API}/qa/center-assessments",
        "HQ's ranking of the centers for a month (month=) or a year (year=): score with each line's "
        "facts, KPIs, complaint counts per department (HQ: all; center: its own)",
        query=contracts.AssessmentQuery,
        tag="qa",
        response=contracts.CenterAssessmentOut(many=True),
    )
    def qa_center_assessments(self, request, principal):
        _agent(principal)
        return self.qa.center_assessments(query_args(request))

    @api(
        "PUT",
        f"{API}/qa/regions/<string:tenant_id>",
        "Record a region's competition and resources (0-100 each, seed 003); its grade A/B/C follows (HQ)",
        body=contracts.RegionInputBody,
        tag="qa",
        response=contracts.RegionOut,
    )
    def qa_record_region(self, request, principal, tenant_id):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ records the regions' competition and resources")
        return self.qa.record_region(tenant_id, json_body(request))

    @api(
        "GET",
        f"{API}/qa/regions",
        "The regions' grades A/B/C with their inputs (HQ: all; center: its own)",
        tag="qa",
        response=contracts.RegionOut(many=True),
    )
    def qa_region_grades(self, request, principal):
        _agent(principal)
        return self.qa.region_grades()

    @api(
        "GET",
        f"{API}/qa/scorecards/<string:outlet_id>/<string:month>",
        "One outlet's scorecard with every line's facts",
        response=contracts.ScorecardOut,
        tag="qa",
    )
    def qa_scorecard(self, request, principal, outlet_id, month):
        if principal.role == tenancy.OUTLET and outlet_id != principal.outlet:
            raise Forbidden("an outlet sees its own scorecard only")
        if request.args.get("preview") in ("1", "true"):
            _agent(principal)
            return self.qa.preview_scorecard(outlet_id, month)
        return self.qa.get_scorecard(outlet_id, month)

    @api(
        "GET",
        f"{API}/qa/scorecards/<string:outlet_id>/<string:month>/facts",
        "The recorded facts behind an outlet's month",
        tag="qa",
        response=responses.ScoreFact(many=True),
    )
    def qa_score_facts(self, request, principal, outlet_id, month):
        if principal.role == tenancy.OUTLET and outlet_id != principal.outlet:
            raise Forbidden("an outlet sees its own facts only")
        return self.qa.score_facts(outlet_id, month)

    # ------------------------------------------------------------ reports
    @api(
        "GET",
        f"{API}/qa/reports/<string:kind>",
        "Report ontime|callbacks|satisfaction|pareto|ranking "
        "(or all, as xlsx) as json, csv, xlsx, png or svg (center: its tenant; HQ: all)",
        query=contracts.ReportQuery,
        tag="qa",
        response=responses.Report,
        content=REPORT_TYPES,
    )
    def qa_report(self, request, principal, kind):
        _agent(principal)
        args = query_args(request)
        if args.get("format", "json") == "json" and kind != "all":
            return self.qa.report(kind, args)
        out = self.qa.report_file(kind, args)
        body = base64.b64decode(out["data"]) if out["encoding"] == "base64" else out["data"]
        return Response(
            body,
            status=200,
            content_type=out["content_type"],
            headers={"Content-Disposition": f"attachment; filename={out['filename']}"},
        )
