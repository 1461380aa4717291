"""The parts warehouse's pages (配件库; role ``warehouse``): receipts booked by hand at the desk
with the recent ones, stock per location, parts issued and old parts due back. `WarehousePages`
inherits the RMA and reconciliation pages of `pages_warehouse_reconcile`.

The RPCs are those behind the REST API's ``/api/v1/parts/...`` routes: ``POST /parts/scans``
(`book_receipt`, the scanner's message typed in), ``GET /parts/scans``, ``/parts/receipts/rejected``,
``/parts/stock``, ``/parts/movements``, ``/parts/rmas``, ``/parts/locations`` and
``/parts/catalogue``. Parts' scoped session gives a warehouse clerk the rows of their own
warehouse only; the page never filters by warehouse itself.
"""

from __future__ import annotations

from typing import Any

from services.gateway.portal.forms import Form
from services.gateway.portal.pages_outlet_parts import days_left
from services.gateway.portal.pages_warehouse_reconcile import WarehouseReconcilePages
from services.gateway.portal.web import page
from shared.errors import DomainError
from shared.rpc import RpcProxy

ROLES = ("warehouse",)
RECEIPT_FIELDS = ("kind", "location_id", "part_no", "quantity", "rma_no", "serial", "serials", "note")
RECEIPT_KINDS = (("stock", "新件入库"), ("rma", "旧件签收（返厂单）"))


def serial_list(text: str | None) -> list[str]:
    """Serials as typed: one per line, or separated by commas or spaces."""
    return (text or "").replace(",", " ").replace("，", " ").split()


class WarehousePages(WarehouseReconcilePages):
    """`/warehouse/receipts`, `/warehouse/stock`, `/warehouse/returns` (and, inherited, the RMAs
    and the month's reconciliation)."""

    parts = RpcProxy("parts")

    # ------------------------------------------------------------ shared look-ups
    def _part_names(self) -> dict[str, str]:
        return {p["part_no"]: p["name"] for p in self.parts.catalogue_parts({})["parts"]}

    def _places(self, kind: str | None = None) -> dict[str, str]:
        """The locations the clerk may see (their warehouse), by name; of `kind` only if given."""
        return {loc["id"]: loc["name"] for loc in self.parts.locations() if kind in (None, loc["kind"])}

    # ------------------------------------------------------------ receipts (手工签收)
    @page(("GET", "POST"), "/warehouse/receipts", roles=ROLES)
    def warehouse_receipts_page(self, request, page):
        """A scan booked by hand as the scanner sends it (the RPC behind ``POST
        /api/v1/parts/scans``), and the receipts booked lately."""
        form = page.form(*RECEIPT_FIELDS)
        if request.method == "GET":
            form.values.update(kind=request.args.get("kind") or "stock", quantity="1")
            return self._receipts(page, form, done=request.args.get("done"))
        try:
            booked = self.parts.book_receipt(form.payload(quantity=int, serials=serial_list))
            return page.redirect(f"/warehouse/receipts?done={booked['scan_id']}")
        except DomainError as exc:
            form.take(exc, aliases={"_schema": "_form"})
            return self._receipts(page, form, status=exc.http_status)

    def _receipts(self, page, form: Form, status: int = 200, done: str | None = None):
        places = self._places()
        warehouses = list(self._places("warehouse").items())
        if not form.value("location_id") and warehouses:
            form.values["location_id"] = warehouses[0][0]
        names = self._part_names()
        scans = self.parts.scans({"limit": 30})
        rejected = self.parts.rejected_receipts({"limit": 20})["items"]
        return page.render(
            "warehouse/receipts.html",
            status=status,
            form=form,
            kinds=RECEIPT_KINDS,
            warehouses=warehouses,
            parts=sorted(names.items(), key=lambda p: p[1]),
            scans=scans["items"],
            scans_total=scans["total"],
            rejected=rejected,
            places=places,
            done=next((s for s in scans["items"] if s["scan_id"] == done), None) if done else None,
        )

    # ------------------------------------------------------------ stock per location
    @page("GET", "/warehouse/stock", roles=ROLES)
    def warehouse_stock_page(self, request, page):
        """Stock per location, filtered by location and part (``GET /api/v1/parts/stock``)."""
        form = Form(("location_id", "part_no"), {k: request.args.get(k, "") for k in ("location_id", "part_no")})
        places, names = self._places(), self._part_names()
        status, rows, total = 200, [], 0
        try:
            found = self.parts.stock(dict(form.payload(), limit=500))
            rows, total = found["items"], found["total"]
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
        by_place: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_place.setdefault(row["location_id"], []).append(row)
        return page.render(
            "warehouse/stock.html",
            status=status,
            form=form,
            places=places,
            parts=sorted(names.items(), key=lambda p: p[1]),
            by_place=by_place,
            total=total,
            shown=len(rows),
        )

    # ------------------------------------------------------------ issued, and returns due
    @page("GET", "/warehouse/returns", roles=ROLES)
    def warehouse_returns_page(self, request, page):
        """Parts issued to outlets (``GET /api/v1/parts/movements?kind=issue``) and the old parts
        due back (``GET /api/v1/parts/rmas?status=open``), the nearest due date first."""
        places, names = self._places(), self._part_names()
        issued = [m for m in self.parts.movements({"kind": "issue", "limit": 100})["items"] if m["quantity"] < 0]
        due = self.parts.rmas({"status": "open", "limit": 500})["items"]
        due.sort(key=lambda r: r.get("due_at") or "")
        return page.render(
            "warehouse/returns.html",
            places=places,
            names=names,
            issued=issued,
            due=due,
            overdue=sum(1 for r in due if r["overdue"]),
            days_left=lambda r: days_left(r, page.now),
        )
