"""The regional center's ledger and claims (a mixin of GatewayService; role ``center``, its tenant).

- ``/center/ledger``: the service ledger (服务信息台帐, seed 001's columns), one row per ticket,
  paged, received between two days (``intake.ledger``, ``GET /api/v1/ledger``); ``/center/ledger.csv``
  the same rows as the CSV ``GET /api/v1/ledger.csv`` gives (``intake.ledger_csv``).
- ``/center/claims``: the outlets' fee claims waiting for an audit, by status (``settlement.list_claims``,
  ``GET /api/v1/settlement/claims``), flagged and held ones marked; ``/center/claims/<id>`` one claim
  with its price lines, each audit rule's finding, its holds and audit trail (``settlement.get_claim``),
  and the audit of its current level: approve, adjust (amount, reason) or reject (reason), posted with
  ``settlement.audit_claim`` (``POST /api/v1/settlement/claims/<id>/audit``). Who may act at which
  level (the center's auditor, then its technical lead) is settlement's rule: a refusal is shown.
- Under the claims, the month's reconciliation (对账) of the center's outlets (``?month=YYYY-MM``,
  this month by default): per outlet by name, issued, used and returned parts and each discrepancy,
  those with discrepancies first (``parts.reconciliations``, ``GET /api/v1/parts/reconciliations``;
  parts scopes them to the caller's tenant). ``POST /center/claims/reconcile`` runs the month again
  (``parts.reconcile``, ``POST /api/v1/parts/reconciliations``); a month parts refuses is shown by
  its field.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.pages_warehouse_reconcile import this_month
from services.gateway.portal.web import page, page_number
from shared.clock import LOCAL_TZ
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
LEDGER_PAGE = 50
CLAIM_PAGE = 50
RECONCILIATION_PAGE = 500
LEDGER_FILTERS = ("received_from", "received_to", "q")
REVIEW = ("center_review", "tech_review")
RECONCILED_FIGURES = (("issued", "发放"), ("consumed", "使用"), ("returned", "旧件返回"), ("open_rmas", "未返旧件单"))
# the ledger's columns (intake's queries.LEDGER_COLUMNS) as the page shows them, codes by name
LEDGER_COLUMNS = (
    ("number", "工单号", None),
    ("customer_name", "客户", None),
    ("address", "地址", None),
    ("phone", "电话", None),
    ("model", "型号", None),
    ("serial_no", "出厂编号", None),
    ("purchase_date", "购买日期", None),
    ("fault", "反映问题", None),
    ("kind", "要求", "ticket_kind"),
    ("received_at", "受理时间", None),
    ("onsite_at", "上门时间", None),
    ("closed_at", "完成时间", None),
    ("service_mode", "服务方式", "service_mode"),
    ("work_done", "服务内容", None),
    ("technician_name", "服务人员", None),
    ("callback", "回访记录", None),
    ("channel", "受理渠道", "channel"),
    ("status", "状态", "ticket_status"),
    ("warranty", "保修/自费", "warranty"),
    ("owner_user", "首问负责人", None),
    ("assigned_outlet_id", "服务网点", "site"),
)


class CenterRecordPages:
    """The ledger and the claims' audit; `GatewayService` inherits it."""

    intake = RpcProxy("intake")
    settlement = RpcProxy("settlement")
    parts = RpcProxy("parts")

    # ------------------------------------------------------------ the ledger (台帐)
    @page("GET", "/center/ledger", roles=CENTER)
    def center_ledger_page(self, request, page):
        form = Form(LEDGER_FILTERS, {n: request.args.get(n, "") for n in LEDGER_FILTERS})
        number = page_number(request.args.get("page"))
        query, status, rows = _ledger_query(form), 200, []
        if form.ok:
            try:
                rows = self.intake.ledger(dict(query, limit=LEDGER_PAGE + 1, offset=(number - 1) * LEDGER_PAGE))
            except DomainError as exc:
                form.take(exc)
        if not form.ok:
            status = 422
        kept = {n: form.text(n) for n in LEDGER_FILTERS if form.text(n)}
        directory = page.portal.directory
        return page.render(
            "center/ledger.html",
            status=status,
            form=form,
            columns=LEDGER_COLUMNS,
            rows=[ledger_row(r, directory) for r in rows[:LEDGER_PAGE]],
            number=number,
            more=len(rows) > LEDGER_PAGE,
            link=lambda n: "/center/ledger?" + urlencode(dict(kept, page=n)),
            csv_link="/center/ledger.csv" + ("?" + urlencode(kept) if kept else ""),
        )

    @page("GET", "/center/ledger.csv", roles=CENTER)
    def center_ledger_csv_page(self, request, page):
        form = Form(LEDGER_FILTERS, {n: request.args.get(n, "") for n in LEDGER_FILTERS})
        query = _ledger_query(form)
        if not form.ok:
            return page.redirect(
                "/center/ledger?" + urlencode({n: form.text(n) for n in LEDGER_FILTERS if form.text(n)})
            )
        body = self.intake.ledger_csv(query)
        name = f"ledger-{page.user.tenant_id}-{page.now.date().isoformat()}.csv"
        return Response(
            "\ufeff" + body,
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )

    # ------------------------------------------------------------ the claims' audit
    @page("GET", "/center/claims", roles=CENTER)
    def center_claims_page(self, request, page):
        today = page.now.astimezone(LOCAL_TZ).date()
        month = Form(("month",), {"month": request.args.get("month") or this_month(today)})
        return self._center_claims(request, page, month)

    @page("POST", "/center/claims/reconcile", roles=CENTER)
    def center_reconcile_page(self, request, page):
        month = page.form("month")
        try:
            self.parts.reconcile({"month": month.text("month") or ""})  # the caller's tenant's locations
        except DomainError as exc:
            month.take(exc, aliases={"location_id": "month"})
            return self._center_claims(request, page, month, status=exc.http_status)
        return page.redirect("/center/claims?" + urlencode({"month": month.text("month"), "done": "reconciled"}))

    def _center_claims(self, request, page, month: Form, status: int = 200):
        shown = request.args.get("status") or "center_review"
        found = self.settlement.list_claims({"status": shown, "limit": CLAIM_PAGE})
        done = request.args.get("done")
        outlets = self._outlet_reconciliations(month)
        return page.render(
            "center/claims.html",
            status=422 if status == 200 and not month.ok else status,
            claims=found["items"],
            total=found["total"],
            shown=shown,
            statuses=list(labels.TABLES["claim_status"].items()),
            notice="重新对账" if done == "reconciled" else (labels.label(done, "audit_action") if done else None),
            month=month,
            outlets=outlets,
            figures=RECONCILED_FIGURES,
        )

    def _outlet_reconciliations(self, month: Form) -> list[dict[str, Any]]:
        """The month's stored reconciliations of the caller's outlets, as `outlet_reconciliations`
        orders them; a month parts refuses is put on the form, nothing listed."""
        if not month.ok:
            return []
        try:
            found = self.parts.reconciliations({"month": month.text("month") or "", "limit": RECONCILIATION_PAGE})
        except DomainError as exc:
            month.take(exc)
            return []
        names = {p["part_no"]: p["name"] for p in self.parts.catalogue_parts({})["parts"]}
        return outlet_reconciliations(found["items"], names)

    @page(("GET", "POST"), "/center/claims/<string:claim_id>", roles=CENTER)
    def center_claim_page(self, request, page, claim_id):
        claim = self.settlement.get_claim(claim_id)  # another tenant's: NotFound, a 404 page
        form = page.form("action", "amount", "reason", "expected_version")
        status = 200
        if request.method == "POST":
            payload = dict(form.payload(expected_version=int), level=claim.get("level") or "")
            try:
                self.settlement.audit_claim(claim_id, payload)
                return page.redirect(f"/center/claims?done={form.value('action')}")
            except DomainError as exc:
                if "expected_version" in (exc.fields or {}) or "level" in (exc.fields or {}):
                    form.add_error(GENERAL, exc.message)
                else:
                    form.take(exc)
                status = exc.http_status
                claim = self.settlement.get_claim(claim_id)
        return page.render(
            "center/claim.html", status=status, claim=claim, form=form, reviewing=claim["status"] in REVIEW
        )


def outlet_reconciliations(reports: list[dict[str, Any]], part_names: dict[str, str]) -> list[dict[str, Any]]:
    """The outlets' reports of a month (a warehouse's left out), those with discrepancies first
    (most first), then by outlet; each discrepancy with its part's name."""
    outlets = [r for r in reports if r.get("location_kind") == "outlet"]
    rows = []
    for r in sorted(outlets, key=lambda r: (-(r.get("discrepancy_count") or 0), r["location_id"])):
        found = [dict(d, part_name=part_names.get(d["part_no"], d["part_no"])) for d in r.get("discrepancies") or []]
        rows.append(dict(r, discrepancies=found, figures=r.get("figures") or {}))
    return rows


def _ledger_query(form: Form) -> dict[str, Any]:
    """The ledger's filters as intake's list query: the days from and to (both included) as the
    local midnights around them; a day that is not one is an error next to its field."""
    query: dict[str, Any] = {}
    for name, shift in (("received_from", 0), ("received_to", 1)):
        text = form.text(name)
        if text is None:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            form.add_error(name, "日期无效（格式：年-月-日）")
            continue
        query[name] = (day + timedelta(days=shift)).isoformat() + "T00:00:00"
    if form.text("q"):
        query["q"] = form.text("q")
    return query


def ledger_row(row: dict[str, Any], directory: Any) -> list[tuple[str, str]]:
    """A ledger row's cells in the page's column order, codes by name."""
    cells = []
    for key, title, table in LEDGER_COLUMNS:
        value = row.get(key)
        if table == "site":
            text = labels.site_name(directory, value)
        elif table:
            text = labels.label(value, table)
        else:
            text = "" if value is None else str(value)
        cells.append((title, text))
    return cells
