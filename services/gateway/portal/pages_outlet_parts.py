"""The outlet's parts page (a mixin that `OutletPages` inherits; role ``outlet``): its stock, its
parts requests and reservations, and the old parts due back to the factory (RMAs) with their due
dates, and sending them back.

The RPCs are those behind ``GET /api/v1/parts/stock``, ``/parts/reservations``, ``/parts/rmas``,
``/parts/locations`` and ``/parts/catalogue``; parts' scoped session gives an outlet its own rows
only. The outlet says it sent an old part back with its waybill (``POST /api/v1/parts/rmas/<no>/shipment``,
``parts.ship_rma``); the warehouse's scan then receives it.
"""

from __future__ import annotations

from typing import Any

from services.gateway.portal import labels
from services.gateway.portal.web import aware_time, page
from shared.errors import DomainError
from shared.rpc import RpcProxy

PAGE = 500


class OutletPartsPages:
    """`/outlet/parts`; `OutletPages` inherits it."""

    parts = RpcProxy("parts")

    @page("GET", "/outlet/parts", roles=("outlet",))
    def outlet_parts_page(self, request, page):
        return self._parts(page, done=request.args.get("done") == "shipped")

    @page(("GET", "POST"), "/outlet/parts/rmas/<string:rma_no>/ship", roles=("outlet",))
    def outlet_ship_rma_page(self, request, page, rma_no):
        """寄回: the waybill an old part goes back under (the RPC behind ``POST
        /api/v1/parts/rmas/<no>/shipment``); the parts page with this return's form."""
        form = page.form("waybill_no", "carrier")
        if request.method == "GET":
            self.parts.get_rma(rma_no)  # another outlet's: NotFound, a 404 page
            return page.redirect(f"/outlet/parts#rma-{rma_no}")
        try:
            self.parts.ship_rma(rma_no, form.payload())
            return page.redirect(f"/outlet/parts?done=shipped#rma-{rma_no}")
        except DomainError as exc:
            form.take(exc, aliases={"rma_no": "_form"})
            return self._parts(page, status=exc.http_status, forms={rma_no: form})

    def _parts(self, page, status=200, forms=None, done=False):
        stock = self.parts.stock({"limit": PAGE})["items"]
        reservations = self.parts.reservations({"limit": 100})["items"]
        rmas = self.parts.rmas({"limit": 200})["items"]
        places = {loc["id"]: loc["name"] for loc in self.parts.locations()}
        for rec in reservations + rmas:  # the regional warehouse an outlet may not list: its center's
            where = rec.get("warehouse_id") or ""
            if where and where not in places:
                places[where] = warehouse_name(page.portal.directory, where)
        names = {s["part_no"]: s["name"] for s in stock}
        wanted = {r["part_no"] for r in reservations + rmas} - set(names)
        if wanted:
            names.update({p["part_no"]: p["name"] for p in self.parts.catalogue_parts({})["parts"]})
        open_rmas = [r for r in rmas if r["status"] == "open"]
        return page.render(
            "outlet/parts.html",
            status=status,
            forms=forms or {},
            done=done,
            good=[s for s in stock if s["condition"] == "good"],
            defective=[s for s in stock if s["condition"] == "defective"],
            reservations=reservations,
            open_rmas=sorted(open_rmas, key=lambda r: r.get("due_at") or ""),
            done_rmas=[r for r in rmas if r["status"] != "open"],
            overdue=sum(1 for r in open_rmas if r["overdue"]),
            names=names,
            places=places,
            days_left=lambda r: days_left(r, page.now),
        )


def warehouse_name(directory: Any, warehouse_id: str) -> str:
    """A regional warehouse (``WH-<center>``) by its center's name: ``武汉中心 备件库``."""
    center = warehouse_id.removeprefix("WH-")
    name = labels.site_name(directory, center) if center != warehouse_id else warehouse_id
    return f"{name} 备件库" if name != center else warehouse_id


def days_left(rma: dict[str, Any], now: Any) -> int | None:
    """Whole days until an open return is due (negative: days overdue)."""
    due = aware_time(rma.get("due_at"))
    if due is None:
        return None
    return (due - now).days if due >= now else -((now - due).days + 1)
