"""The outlet's on-site pages: check-in and check-out of a visit (a mixin that `OutletPages`
inherits; role ``outlet``, its own visits only).

Both call the RPCs behind ``POST /api/v1/visits/<id>/check-in`` and ``/check-out``
(``dispatch.check_in``, ``dispatch.check_out``) under the session's principal: dispatch decides
whether the visit may be checked in or out, and another outlet's visit is not found (404). The
check-in's position comes from the phone (portal.js fills the two fields when the person allows
it) or is typed in; the check-out's parts are picked from the outlet's stock (the RPC behind
``GET /api/v1/parts/stock``, which parts scopes to the outlet's own location) and the customer's
signature is drawn on a canvas that portal.js turns into a PNG data URL; dispatch checks and keeps it.
"""

from __future__ import annotations

from typing import Any

from services.gateway.portal.forms import Form
from services.gateway.portal.web import page
from shared.errors import DomainError, NotFound
from shared.rpc import RpcProxy

PART_ROWS = 3  # part lines on the check-out form
PART_FIELDS = ("part_no", "quantity", "new_serial", "removed_serial")
PAGE = 500
DONE = {  # ?done=... after a form
    "check_in": "已签到，开始服务。",
    "check_out": "已签退，任务完成。",
    "return_visit": "已申请返修上门，等待排程。",
}


def _number(text: str) -> float:
    return float(text.replace("，", ".").replace(",", "."))


class OutletVisitPages:
    """Check-in and check-out; `OutletPages` inherits them."""

    dispatch = RpcProxy("dispatch")
    intake = RpcProxy("intake")
    parts = RpcProxy("parts")

    @page(("GET", "POST"), "/outlet/jobs/<string:visit_id>/check-in", roles=("outlet",))
    def outlet_check_in_page(self, request, page, visit_id):
        visit = self.dispatch.get_visit(visit_id)  # another outlet's: NotFound, a 404 page
        form = page.form("lat", "lon")
        status = 200
        if request.method == "POST":
            try:
                self.dispatch.check_in(visit_id, form.payload(lat=_number, lon=_number))
                return page.redirect(f"/outlet/jobs/{visit_id}?done=check_in")
            except DomainError as exc:
                form.take(exc, aliases={"action": "_form"})
                status = exc.http_status
                visit = self.dispatch.get_visit(visit_id)
        return page.render("outlet/check_in.html", status=status, form=form, visit=visit, ticket=self._ticket_of(visit))

    @page(("GET", "POST"), "/outlet/jobs/<string:visit_id>/check-out", roles=("outlet",))
    def outlet_check_out_page(self, request, page, visit_id):
        visit = self.dispatch.get_visit(visit_id)
        names = ["work_done", "customer_confirmed", "signature"]
        names += [f"parts_used.{i}.{f}" for i in range(PART_ROWS) for f in PART_FIELDS]
        form = page.form(*names)
        status = 200
        if request.method == "POST":
            try:
                self.dispatch.check_out(visit_id, check_out_payload(form))
                return page.redirect(f"/outlet/jobs/{visit_id}?done=check_out")
            except DomainError as exc:
                form.take(exc, aliases={"action": "_form"})
                status = exc.http_status
                visit = self.dispatch.get_visit(visit_id)
        stock = self.parts.stock({"condition": "good", "limit": PAGE})["items"]
        return page.render(
            "outlet/check_out.html",
            status=status,
            form=form,
            visit=visit,
            ticket=self._ticket_of(visit),
            stock=stock,
            rows=range(PART_ROWS),
        )

    def _visit_record(self, request, visit: dict[str, Any]) -> dict[str, Any]:
        """What the job page shows beside the job's card: the on-site record (the parts by name from
        the catalogue of the visit's product line: the RPC behind ``GET /api/v1/parts/catalogue``),
        the ticket's other visits (a return visit and the one it goes back for: the board's
        ``ticket_id`` filter) and what was just done."""
        names: dict[str, str] = {}
        if visit.get("parts_used"):
            catalogue = self.parts.catalogue_parts({"product_line": visit.get("product_line")})
            names = {p["part_no"]: p["name"] for p in catalogue["parts"]}
        others = self.dispatch.board({"ticket_id": visit["ticket_id"], "limit": 50})["items"]
        return {
            "parts_used": parts_named(visit.get("parts_used"), names),
            "history": sorted((v for v in others if v["id"] != visit["id"]), key=lambda v: v["received_at"]),
            "done": DONE.get(request.args.get("done", "")),
        }

    def _ticket_of(self, visit: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.intake.get_ticket(visit["ticket_id"])
        except NotFound:
            return None


def check_out_payload(form: Form) -> dict[str, Any]:
    """The check-out form as dispatch's CheckOut: the part lines that name a part (a quantity as
    typed when it is not a whole number: dispatch names it), the confirmation as a boolean, the
    signature only when one was drawn."""
    payload: dict[str, Any] = {"customer_confirmed": form.value("customer_confirmed") in ("on", "true", "1")}
    if form.text("work_done"):
        payload["work_done"] = form.value("work_done").strip()
    lines = []
    for i in range(PART_ROWS):
        part_no = form.text(f"parts_used.{i}.part_no")
        if part_no is None:
            continue
        line: dict[str, Any] = {"part_no": part_no}
        quantity = form.text(f"parts_used.{i}.quantity")
        if quantity is not None:
            line["quantity"] = int(quantity) if quantity.isdigit() else quantity
        for name in ("new_serial", "removed_serial"):
            text = form.text(f"parts_used.{i}.{name}")
            if text is not None:
                line[name] = text
        lines.append(line)
    if lines:
        payload["parts_used"] = lines
    signature = form.text("signature")
    if signature:
        payload["signature"] = signature
    return payload


def parts_named(parts_used: list[dict[str, Any]] | None, names: dict[str, str]) -> list[dict[str, Any]]:
    """A visit's parts with their names from the outlet's stock list (the code when unknown)."""
    return [dict(line, name=names.get(line.get("part_no") or "", line.get("part_no"))) for line in parts_used or []]
