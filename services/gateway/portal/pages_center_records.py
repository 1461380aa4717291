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
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import page, page_number
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
LEDGER_PAGE = 50
CLAIM_PAGE = 50
LEDGER_FILTERS = ("received_from", "received_to", "q")
REVIEW = ("center_review", "tech_review")
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
    ("channel", "方式", "channel"),
    ("status", "状态", "ticket_status"),
    ("warranty", "保修/自费", "warranty"),
    ("owner_user", "首问负责人", None),
    ("assigned_outlet_id", "服务网点", "site"),
    ("callback", "回访记录", None),
)


class CenterRecordPages:
    """The ledger and the claims' audit; `GatewayService` inherits it."""

    intake = RpcProxy("intake")
    settlement = RpcProxy("settlement")

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
        shown = request.args.get("status") or "center_review"
        found = self.settlement.list_claims({"status": shown, "limit": CLAIM_PAGE})
        return page.render(
            "center/claims.html",
            claims=found["items"],
            total=found["total"],
            shown=shown,
            statuses=list(labels.TABLES["claim_status"].items()),
            notice=labels.label(request.args.get("done"), "audit_action") if request.args.get("done") else None,
        )

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
