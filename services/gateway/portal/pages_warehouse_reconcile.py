"""The warehouse's old-part returns on their way to the factory and the month's reconciliation
(对账); a mixin that `WarehousePages` inherits (role ``warehouse``).

- ``/warehouse/rmas``: the returns (旧件返厂单) of the clerk's warehouse by state: waiting at the
  outlet, sent by the outlet under its waybill (``POST /api/v1/parts/rmas/<no>/shipment``), signed
  for at the warehouse, received and inspected at the factory (``parts.rmas``, ``GET /api/v1/parts/rmas``).
- ``/warehouse/reconciliation?month=``: the stored reconciliation of the month (``parts.reconciliations``)
  with its figures and each discrepancy (kind, part, outlet by name, quantity); run again with
  ``parts.reconcile`` (``POST /api/v1/parts/reconciliations``) and exported as parts' store makes it,
  CSV or XLSX (``parts.reconciliation_export``, as ``GET /api/v1/parts/reconciliations.csv`` / ``.xlsx``).
"""

from __future__ import annotations

import base64
from datetime import date

from werkzeug.wrappers import Response

from services.gateway.portal.forms import Form
from services.gateway.portal.pages_outlet_standing import months_before
from services.gateway.portal.web import page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError
from shared.rpc import RpcProxy

ROLES = ("warehouse",)
MONTHS = 12
RMA_STATES = ("open", "received_warehouse", "received_factory", "inspected")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DISCREPANCY_ORDER = ("consumed_not_returned", "returned_not_issued", "quantity_mismatch", "serial_mismatch")


def this_month(today: date) -> str:
    return f"{today.year:04d}-{today.month:02d}"


class WarehouseReconcilePages:
    """`/warehouse/rmas`, `/warehouse/reconciliation` and its exports."""

    parts = RpcProxy("parts")

    # ------------------------------------------------------------ returns to the factory
    @page("GET", "/warehouse/rmas", roles=ROLES)
    def warehouse_rmas_page(self, request, page):
        form = Form(("status",), {"status": request.args.get("status", "")})
        status, items, total = 200, [], 0
        try:
            found = self.parts.rmas(dict(form.payload(), limit=500))
            items, total = found["items"], found["total"]
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
        names = {p["part_no"]: p["name"] for p in self.parts.catalogue_parts({})["parts"]}
        return page.render(
            "warehouse/rmas.html",
            status=status,
            form=form,
            states=RMA_STATES,
            rmas=items,
            total=total,
            names=names,
            shipped=sum(1 for r in items if r["status"] == "open" and r["shipped_at"]),
        )

    # ------------------------------------------------------------ the month's reconciliation
    @page(("GET", "POST"), "/warehouse/reconciliation", roles=ROLES)
    def warehouse_reconciliation_page(self, request, page):
        today = page.now.astimezone(LOCAL_TZ).date()
        source = request.form if request.method == "POST" else request.args
        form = Form(("month",), {"month": source.get("month") or this_month(today)})
        status = 200
        if request.method == "POST":
            try:
                self.parts.reconcile({"month": form.text("month")})
                return page.redirect(f"/warehouse/reconciliation?month={form.text('month')}&done=1")
            except DomainError as exc:
                form.take(exc)
                status = exc.http_status
        reports = []
        if form.ok:
            try:
                reports = self.parts.reconciliations({"month": form.text("month"), "limit": 50})["items"]
            except DomainError as exc:
                form.take(exc)
                status = exc.http_status
        names = {p["part_no"]: p["name"] for p in self.parts.catalogue_parts({})["parts"]}
        places = {loc["id"]: loc["name"] for loc in self.parts.locations()}
        for report in reports:
            report["discrepancies"] = sorted(
                report["discrepancies"] or [],
                key=lambda d: DISCREPANCY_ORDER.index(d["kind"]) if d["kind"] in DISCREPANCY_ORDER else 9,
            )
        return page.render(
            "warehouse/reconciliation.html",
            status=status,
            form=form,
            months=[this_month(today)] + months_before(today, MONTHS - 1),
            reports=reports,
            names=names,
            places=places,
            done=request.args.get("done") == "1",
        )

    @page("GET", "/warehouse/reconciliation.<string:fmt>", roles=ROLES)
    def warehouse_reconciliation_file_page(self, request, page, fmt):
        """The month's reconciliation as parts' store exports it: CSV (with a BOM, for Excel) or XLSX."""
        month = request.args.get("month") or this_month(page.now.astimezone(LOCAL_TZ).date())
        body = self.parts.reconciliation_export({"month": month}, fmt)  # another format: 422 page
        name = f"reconciliation-{page.user.warehouse_id}-{month}.{fmt}"
        disposition = {"Content-Disposition": f"attachment; filename={name}"}
        if fmt == "csv":
            return Response("\ufeff" + body, status=200, mimetype="text/csv", headers=disposition)
        return Response(base64.b64decode(body), status=200, mimetype=XLSX, headers=disposition)
