"""The reports pages (issue 18.5; a mixin of GatewayService): ``/hq/reports`` (HQ: every center's
monthly report, the national roll-ups and the quarterly satisfaction reports) and ``/center/reports``
(a center: its own). Each lists the stored reports (made on the 1st of a month for the month
before; ``qa.stored_reports``) with their PDF and XLSX, and makes one now (a month's report, or a
quarter's satisfaction report; HQ picks a center or 全国汇总). The files come from the same RPCs as
``GET /api/v1/reports/...``; a refused month, quarter or center is shown next to its field.

HQ also asks for a month's stored reports (存档生成: ``qa.generate_reports``, as ``POST
/api/v1/reports/generate``): made in the background by qa, the page lists the requests (生成中 x/y,
已完成) and, while one is open, htmx fetches ``/hq/reports/jobs`` every ``PORTAL_REFRESH_SECONDS``.

HQ's 全国汇总 of a month (生成并下载, tenant all) is the stored roll-up when current, downloaded at
once; else qa makes it in the background and the page shows its progress (``/hq/reports?rollup=<id>``:
排队中, 正在汇总各中心 x/y, polled by htmx at ``/hq/reports/rollup/<id>``), then the file's link
(``/hq/reports/rollup/<id>/<fmt>``), or why it failed, with the button to try again.
"""

from __future__ import annotations

import base64
from datetime import datetime
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from services.gateway.portal.forms import Form
from services.gateway.portal.web import page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError, NotFound, ValidationFailed
from shared.rpc import RpcProxy

MAKE = ("kind", "month", "quarter", "tenant", "format")
NOTES = ("notes_month", "technical", "product", "customer_opinion", "competitors")
NOTE_LABELS = (
    ("technical", "技术问题"),
    ("product", "产品问题"),
    ("customer_opinion", "客户意见"),
    ("competitors", "竞争对手动态"),
)
KINDS = (("monthly", "服务月报"), ("quarterly", "季度顾客满意度报告"))
FORMATS = (("pdf", "PDF"), ("xlsx", "Excel（XLSX）"))
ALL = "all"


def _previous_month(now: datetime) -> tuple[str, str]:
    local = now.astimezone(LOCAL_TZ)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}", f"{year:04d}-Q{(month - 1) // 3 + 1}"


def _download(out: dict) -> Response:
    return Response(
        base64.b64decode(out["data"]),
        status=200,
        content_type=out["content_type"],
        headers={"Content-Disposition": f'attachment; filename="{out["filename"]}"'},
    )


class ReportPages:
    """`/hq/reports` and `/center/reports`; `GatewayService` inherits it."""

    qa = RpcProxy("qa")

    @page("GET", "/hq/reports", roles=("hq",))
    def hq_reports_page(self, request, page):
        return self._reports_page(page, "/hq/reports", self._make_form(request, page))

    @page("GET", "/center/reports", roles=("center",))
    def center_reports_page(self, request, page):
        return self._reports_page(page, "/center/reports", self._make_form(request, page))

    @page("POST", "/hq/reports/notes", roles=("hq",))
    def hq_reports_notes_page(self, request, page):
        return self._write(request, page, "/hq/reports")

    @page("POST", "/center/reports/notes", roles=("center",))
    def center_reports_notes_page(self, request, page):
        return self._write(request, page, "/center/reports")

    @page("POST", "/hq/reports/generate", roles=("hq",))
    def hq_reports_generate_page(self, request, page):
        """HQ asks for a month's stored reports: recorded at once, made in the background."""
        store = page.form("store_month")
        try:
            self.qa.generate_reports({"month": store.text("store_month") or ""})
        except DomainError as exc:
            store.take(exc, aliases={"month": "store_month"})
            form = self._make_form(request, page)
            return self._reports_page(page, "/hq/reports", form, store=store, status=exc.http_status)
        return page.redirect("/hq/reports?done=asked#report-jobs")

    @page("GET", "/hq/reports/jobs", roles=("hq",))
    def hq_reports_jobs_page(self, request, page):
        """The requests alone: what the page's htmx poll swaps in while one is open."""
        return page.render("_report_jobs.html", jobs=self.qa.recent_report_jobs())

    @page("GET", "/hq/reports/rollup/<string:job_id>", roles=("hq",))
    def hq_reports_rollup_page(self, request, page, job_id):
        """A roll-up job's state alone: what the page's htmx poll swaps in while it is made."""
        return page.render("_rollup_job.html", **self._rollup_state(job_id, request.args.get("format")))

    @page("GET", "/hq/reports/rollup/<string:job_id>/<string:fmt>", roles=("hq",))
    def hq_reports_rollup_file_page(self, request, page, job_id, fmt):
        return _download(self.qa.report_job_file(job_id, {"format": fmt}))

    @page("GET", "/hq/reports/make", roles=("hq",))
    def hq_reports_make_page(self, request, page):
        return self._make(request, page, "/hq/reports")

    @page("GET", "/center/reports/make", roles=("center",))
    def center_reports_make_page(self, request, page):
        return self._make(request, page, "/center/reports")

    @page("GET", "/hq/reports/<string:report_id>/<string:fmt>", roles=("hq",))
    def hq_report_file_page(self, request, page, report_id, fmt):
        return _download(self.qa.stored_report_file(report_id, {"format": fmt}))

    @page("GET", "/center/reports/<string:report_id>/<string:fmt>", roles=("center",))
    def center_report_file_page(self, request, page, report_id, fmt):
        return _download(self.qa.stored_report_file(report_id, {"format": fmt}))

    # ------------------------------------------------------------ helpers
    def _write(self, request, page, base):
        """The month's written part (a center's report, HQ's analysis), posted: kept, or refused by field."""
        notes = page.form(*NOTES)
        payload = {n: notes.text(n) or "" for n in NOTES if n != "notes_month"}
        try:
            self.qa.record_report_notes(dict(payload, month=notes.text("notes_month") or ""))
        except DomainError as exc:
            notes.take(exc, aliases={"month": "notes_month"})
            return self._reports_page(page, base, self._make_form(request, page), notes, status=exc.http_status)
        return page.redirect(f"{base}?done=written&notes_month={notes.text('notes_month')}")

    def _notes_form(self, request, page) -> Form:
        month = request.args.get("notes_month") or _previous_month(page.now)[0]
        try:
            kept = self.qa.report_notes({"month": month})
        except DomainError:
            kept, month = {}, _previous_month(page.now)[0]
        return Form(NOTES, dict({k: kept.get(k) or "" for k in NOTES}, notes_month=month))

    def _make_form(self, request, page) -> Form:
        month, quarter = _previous_month(page.now)
        defaults = {"kind": "monthly", "month": month, "quarter": quarter, "tenant": ALL, "format": "pdf"}
        return Form(MAKE, {n: request.args.get(n) or defaults[n] for n in MAKE})

    def _make(self, request, page, base):
        form = self._make_form(request, page)
        hq = page.user.role == "hq"
        query = {"format": form.text("format") or "pdf"}
        if hq:
            query["tenant"] = form.text("tenant") or ALL
        try:
            if form.text("kind") == "quarterly":
                out = self.qa.quarterly_report(dict(query, quarter=form.text("quarter") or ""))
            else:
                out = self.qa.monthly_report(dict(query, month=form.text("month") or ""))
        except DomainError as exc:
            form.take(exc)
            return self._reports_page(page, base, form, status=exc.http_status)
        if "accepted" in out:  # HQ's roll-up, made in the background: its progress on the page
            asked = urlencode(dict({n: form.text(n) or "" for n in MAKE}, rollup=out["accepted"]["id"]))
            return page.redirect(f"{base}?{asked}#rollup")
        return _download(out)

    def _rollup_state(self, job_id, fmt) -> dict:
        """The roll-up job's state for `_rollup_job.html`; not found (``missing``), or qa not
        answering now (``busy``: the poll goes on)."""
        state = {"rollup": None, "rollup_id": job_id, "rollup_format": fmt if fmt in dict(FORMATS) else "pdf"}
        try:
            job = self.qa.report_job(job_id)
        except (NotFound, ValidationFailed):
            return dict(state, rollup_error="missing")
        except DomainError:
            return dict(state, rollup_error="busy")
        if job.get("kind") != "rollup":  # a stored reports' request is listed below, not here
            return dict(state, rollup_error="missing")
        return dict(state, rollup=job, rollup_error=None)

    def _reports_page(self, page, base, form, notes=None, status=200, store=None):
        stored = self.qa.stored_reports({"limit": 500})
        hq = page.user.role == "hq"
        asked = hq and page.request.args.get("rollup")
        store = store or Form(("store_month",), {"store_month": _previous_month(page.now)[0]})
        notes = notes or self._notes_form(page.request, page)
        directory = page.portal.directory
        centers = [(ALL, "全国汇总")] if page.user.role == "hq" else []
        centers += [(c.id, c.name) for c in sorted(directory.centers.values(), key=lambda c: c.id)]
        return page.render(
            "reports.html",
            status=status,
            form=form,
            base=base,
            hq=page.user.role == "hq",
            reports=stored["items"],
            kinds=dict(KINDS),
            kind_choices=KINDS,
            format_choices=FORMATS,
            centers=centers,
            notes=notes,
            note_labels=NOTE_LABELS,
            done=page.request.args.get("done"),
            store=store,
            jobs=self.qa.recent_report_jobs() if hq else [],
            **(self._rollup_state(asked, form.text("format")) if asked else {}),
        )
