"""Gateway routes of the monthly and quarterly reports (issue 18.5; a mixin of GatewayService).

HQ reads every center's report and the roll-up (``tenant`` all or none); a center user its own
center's only (another ``tenant`` is 403, naming it; another center's stored report is 404); other
roles none. The reports are made by qa (`services.qa.report_rpc`).

HQ's roll-up of a month (全国汇总) comes from the stored one when current, else qa makes it in
the background: 202 with the job (``Location``: ``/api/v1/reports/jobs/<id>``, then its file at
``/api/v1/reports/jobs/<id>/file``), never an RPC left waiting on every center's figures.
"""

from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from services.gateway import responses_reports
from services.gateway.api import API, api, json_body, query_args
from services.qa import contracts as qa_contracts
from shared import tenancy
from shared.errors import Forbidden
from shared.rpc import RpcProxy
from shared.web import json_response

R = f"{API}/reports"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _reader(principal):
    if principal.role not in (tenancy.HQ, tenancy.CENTER):
        raise Forbidden(f"role {principal.role} reads no center reports")


def _job(job, fmt="pdf"):
    """A report job with its links (a roll-up's file in the format asked)."""
    out = dict(job, url=f"{R}/jobs/{job['id']}")
    if job.get("kind") == "rollup":
        out["file_url"] = f"{R}/jobs/{job['id']}/file?format={fmt}"
    return out


def _file_or_json(out, fmt="pdf"):
    if "accepted" in out:  # HQ's roll-up being made in the background: follow the job
        job = _job(out["accepted"], fmt)
        return json_response(job, status=202, headers={"Location": job["url"]})
    if "encoding" not in out:
        return out
    return Response(
        base64.b64decode(out["data"]),
        status=200,
        content_type=out["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{out["filename"]}"'},
    )


class ReportRoutes:
    """The report endpoints under /api/v1/reports; `GatewayService` inherits them."""

    qa_reports = RpcProxy("qa")

    @api(
        "GET",
        f"{R}/monthly",
        "The monthly center report (中心月报: customers and products served, SLA on-time share per tier, "
        "complaints' Pareto, callbacks and satisfaction, outlets' standing, parts, money) or, tenant=all, "
        "HQ's roll-up; format json, pdf or xlsx. HQ's roll-up is the stored one when current (made after "
        "the month ended), else made in the background: 202 with the job (Location), its file at file_url once done",
        query=qa_contracts.MonthlyReportQuery,
        response=responses_reports.MonthlyReport,
        content=("application/json", PDF, XLSX),
        tag="qa",
        accepted=responses_reports.ReportJob,
    )
    def reports_monthly(self, request, principal):
        _reader(principal)
        query = query_args(request)
        return _file_or_json(self.qa_reports.monthly_report(query), query.get("format") or "pdf")

    @api(
        "GET",
        f"{R}/quarterly",
        "The quarterly satisfaction report (季度顾客满意度): a center's, or every center's and the country's",
        query=qa_contracts.QuarterlyReportQuery,
        response=responses_reports.QuarterlyReport,
        content=("application/json", PDF, XLSX),
        tag="qa",
    )
    def reports_quarterly(self, request, principal):
        _reader(principal)
        return _file_or_json(self.qa_reports.quarterly_report(query_args(request)))

    @api(
        "GET",
        R,
        "The stored reports (made on the 1st of a month for the month before): a center its own, HQ all",
        query=qa_contracts.StoredReportQuery,
        response=responses_reports.StoredReportPage,
        tag="qa",
    )
    def reports_stored(self, request, principal):
        _reader(principal)
        return self.qa_reports.stored_reports(query_args(request))

    @api(
        "GET",
        f"{R}/<string:report_id>/file",
        "A stored report's file (format pdf or xlsx)",
        query=qa_contracts.StoredFileQuery,
        content=(PDF, XLSX),
        tag="qa",
    )
    def reports_stored_file(self, request, principal, report_id):
        _reader(principal)
        return _file_or_json(self.qa_reports.stored_report_file(report_id, query_args(request)))

    @api(
        "POST",
        f"{R}/notes",
        "The month's written report (书面报告: technical problems, product problems, customer opinions, "
        "competitors; a center's own, or HQ's analysis): kept with the month, a stored report made again with it "
        "(HQ's stored roll-up in the background: rollup_job)",
        body=qa_contracts.NotesBody,
        response=responses_reports.WrittenPart,
        tag="qa",
    )
    def reports_notes(self, request, principal):
        _reader(principal)
        out = self.qa_reports.record_report_notes(json_body(request))
        if out.get("rollup_job"):
            out["rollup_job"] = _job(out["rollup_job"])
        return out

    @api(
        "POST",
        f"{R}/generate",
        "HQ asks for a month's stored reports (the schedule's step; what is stored stays): 202 with the "
        "request, made in the background by qa; the same month asked again while it is pending or running "
        "is the same request. Follow it at GET /api/v1/reports/jobs/{job_id} (state, done of total)",
        body=qa_contracts.GenerateBody,
        response=responses_reports.ReportJob,
        status=202,
        tag="qa",
    )
    def reports_generate(self, request, principal):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ generates the stored reports")
        return self.qa_reports.generate_reports(json_body(request))

    @api(
        "GET",
        f"{R}/jobs/<string:job_id>",
        "A request to make a month's stored reports, or HQ's roll-up being made (kind rollup): state "
        "(pending, running, done, failed), done of total, the reports newly stored",
        response=responses_reports.ReportJob,
        tag="qa",
    )
    def reports_job(self, request, principal, job_id):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ follows the report requests")
        return _job(self.qa_reports.report_job(job_id))

    @api(
        "GET",
        f"{R}/jobs/<string:job_id>/file",
        "HQ's roll-up made in the background (a job of kind rollup), once done: format pdf, xlsx or json; "
        "409 while it is pending or running, or when it failed (ask GET /api/v1/reports/monthly again)",
        query=qa_contracts.JobFileQuery,
        response=responses_reports.MonthlyReport,
        content=("application/json", PDF, XLSX),
        tag="qa",
    )
    def reports_job_file(self, request, principal, job_id):
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ reads the roll-up jobs")
        return _file_or_json(self.qa_reports.report_job_file(job_id, query_args(request)))
