"""HQ's triage queue (a mixin of GatewayService; role ``hq``, every tenant).

- ``/hq/triage``: the tickets whose center the address did not tell (status ``triage``), most
  urgent first, each with why it came to HQ (in Chinese) and its candidate centers — those serving
  the province the address may be in, by name (``intake.triage_queue``, ``GET /api/v1/triage``; the
  candidates are intake's `routing.candidates`).
- ``/hq/triage/<ticket_id>/route`` (POST): routes the ticket to a center, with an optional corrected
  address (``intake.transition`` with ``route``, as ``POST /api/v1/tickets/<id>/transitions``).
  Intake refuses a center that does not serve the customer's province unless the corrected address
  places the customer there; the refusal is shown next to the field it names, nothing changed.
  Routed, the ticket leaves the queue and the page says where it went.
- ``/hq/triage/reroute`` (POST): re-routes a ticket already registered with a center, found by its
  number (``intake.list_tickets`` with ``q``, as ``GET /api/v1/tickets?q=``), the same ``route``
  step: intake allows it while the center has not started on the ticket, cancels it there and
  registers a new ticket in the new center (the page names both numbers).
"""

from __future__ import annotations

from urllib.parse import urlencode

from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import page, page_number
from shared.errors import DomainError
from shared.rpc import RpcProxy

HQ = ("hq",)
PAGE_SIZE = 20
ROUTE_FIELDS = ("tenant_id", "address", "note", "expected_version")
REROUTE_FIELDS = ("number", "tenant_id", "address", "note")
TRIAGE_REASONS = {
    "ambiguous district name": "区县名称重名，无法确定所在省份",
    "province not recognised": "地址中看不出省份",
}


class HqTriagePages:
    """HQ's triage queue and routing; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/hq/triage", roles=HQ)
    def hq_triage_page(self, request, page):
        args = request.args
        return self._hq_triage(request, page, routed=args.get("routed"), to=args.get("to"), was=args.get("from"))

    @page("POST", "/hq/triage/<string:ticket_id>/route", roles=HQ)
    def hq_triage_route_page(self, request, page, ticket_id):
        form = page.form(*ROUTE_FIELDS)
        payload = dict(form.payload(expected_version=int), action="route")
        try:
            ticket = self.intake.transition(ticket_id, payload)
        except DomainError as exc:
            if exc.http_status == 404:
                raise
            if "expected_version" in (exc.fields or {}):  # another person routed it meanwhile
                form.add_error(GENERAL, exc.message)
            else:
                form.take(exc)
            return self._hq_triage(request, page, failed=ticket_id, form=form, status=exc.http_status)
        return page.redirect("/hq/triage?" + urlencode({"routed": ticket["number"], "to": ticket["tenant_id"]}))

    @page("POST", "/hq/triage/reroute", roles=HQ)
    def hq_triage_reroute_page(self, request, page):
        form = page.form(*REROUTE_FIELDS)
        number = form.text("number")
        found = self.intake.list_tickets({"q": number, "limit": 5})["items"] if number else []
        ticket = next((t for t in found if t["number"] == number), None)
        if ticket is None:
            form.add_error("number", "没有这个工单号" if number else "请填写工单号")
            return self._hq_triage(request, page, reroute=form, status=422)
        payload = dict(form.payload(), action="route", expected_version=ticket["version"])
        payload.pop("number")
        try:
            new = self.intake.transition(ticket["id"], payload)
        except DomainError as exc:
            form.take(exc, aliases={"action": GENERAL, "expected_version": GENERAL})
            return self._hq_triage(request, page, reroute=form, status=exc.http_status)
        query = {"routed": new["number"], "to": new["tenant_id"], "from": number}
        return page.redirect("/hq/triage?" + urlencode(query))

    def _hq_triage(self, request, page, *, failed=None, form=None, status=200, routed=None, to=None, **more):
        number = page_number(request.args.get("page"))
        found = self.intake.triage_queue({"limit": PAGE_SIZE, "offset": (number - 1) * PAGE_SIZE})
        centers = sorted(page.portal.directory.centers.values(), key=lambda c: c.id)
        pages = max(1, -(-found["total"] // PAGE_SIZE))
        return page.render(
            "hq/triage.html",
            status=status,
            tickets=found["items"],
            total=found["total"],
            number=number,
            pages=pages,
            link=lambda n: "/hq/triage?" + urlencode({"page": n}),
            centers=[(c.id, c.name) for c in centers],
            reasons=TRIAGE_REASONS,
            failed=failed,
            form=form or Form(ROUTE_FIELDS),
            routed=routed,
            routed_to=to,
            routed_from=more.get("was"),
            reroute=more.get("reroute") or Form(REROUTE_FIELDS),
        )
