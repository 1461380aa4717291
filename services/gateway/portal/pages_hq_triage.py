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
TRIAGE_REASONS = {
    "ambiguous district name": "区县名称重名，无法确定所在省份",
    "province not recognised": "地址中看不出省份",
}


class HqTriagePages:
    """HQ's triage queue and routing; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/hq/triage", roles=HQ)
    def hq_triage_page(self, request, page):
        routed = request.args.get("routed")
        return self._hq_triage(request, page, routed=routed, to=request.args.get("to"))

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

    def _hq_triage(self, request, page, *, failed=None, form=None, status=200, routed=None, to=None):
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
        )
