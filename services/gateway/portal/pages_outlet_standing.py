"""The outlet's standing (a mixin that `OutletPages` inherits; role ``outlet``): the monthly
scorecard with every point traced to the facts behind it, rank, grade and stars; its outlet file
with its technicians' certificates and their expiry dates; and a request to end the agreement.

The RPCs are those behind ``GET /api/v1/qa/scorecards/<outlet>/<month>`` (``qa.get_scorecard``:
the published card, its lines carrying their facts), ``GET /api/v1/outlet/file``
(``certification.get_outlet`` of the caller's own outlet), ``GET /api/v1/certification/technicians``
and ``POST /api/v1/outlets/<id>/steps`` with ``request_revocation`` (an outlet may file only
``outlet_request``, with its written request: certification's rule).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.gateway.portal.web import page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError, NotFound
from shared.rpc import RpcProxy

MONTHS = 12  # months offered in the scorecard's month picker
EXPIRING_DAYS = 60  # a certificate this close to its end is shown as expiring


def months_before(today: date, count: int) -> list[str]:
    """The `count` months before `today`'s, latest first (``2026-11``, ``2026-10``...)."""
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(f"{year:04d}-{month:02d}")
    return out


def certificate_state(cert: dict[str, Any], today: date) -> str:
    """valid | expiring | expired | ended: how a certificate stands today."""
    if cert.get("status") != "valid":
        return "ended"
    until = date.fromisoformat(cert["valid_until"])
    if until < today:
        return "expired"
    return "expiring" if until <= today + timedelta(days=EXPIRING_DAYS) else "valid"


class OutletStandingPages:
    """`/outlet/standing`, `/outlet/file` and the request to end the agreement; `OutletPages`
    inherits them."""

    qa = RpcProxy("qa")
    certification = RpcProxy("certification")

    @page("GET", "/outlet/standing", roles=("outlet",))
    def outlet_standing_page(self, request, page):
        today = page.now.astimezone(LOCAL_TZ).date()
        months = [f"{today.year:04d}-{today.month:02d}"] + months_before(today, MONTHS - 1)
        asked = request.args.get("month")
        if asked is not None and asked not in months:
            raise NotFound(f"no scorecard month {asked}")
        card = None
        # asked: that month; else the latest published of this month and the one before
        for month in [asked] if asked else months[:2]:
            try:
                card = self.qa.get_scorecard(page.user.outlet_id, month)
                break
            except NotFound:
                continue  # not published (yet) for that month
        month = asked or (card["month"] if card else months[1])
        return page.render("outlet/standing.html", card=card, month=month, months=months)

    @page("GET", "/outlet/file", roles=("outlet",))
    def outlet_file_page(self, request, page):
        outlet = self.certification.get_outlet(page.user.outlet_id)
        technicians = self.certification.list_technicians({})
        today = page.now.astimezone(LOCAL_TZ).date()
        for tech in technicians:
            tech["certificates"] = sorted(
                (dict(c, state=certificate_state(c, today)) for c in tech.get("certificates") or []),
                key=lambda c: c["valid_until"],
            )
        return page.render(
            "outlet/file.html",
            outlet=outlet,
            technicians=technicians,
            done=request.args.get("done") == "end_requested",
        )

    @page(("GET", "POST"), "/outlet/file/end-agreement", roles=("outlet",))
    def outlet_end_agreement_page(self, request, page):
        outlet_id = page.user.outlet_id
        form = page.form("revocation.written_request_ref", "revocation.details")
        status = 200
        if request.method == "POST":
            revocation = {"reason_code": "outlet_request"}
            for name in ("written_request_ref", "details"):
                text = form.text(f"revocation.{name}")
                if text is not None:
                    revocation[name] = text
            try:
                self.certification.outlet_step(outlet_id, {"action": "request_revocation", "revocation": revocation})
                return page.redirect("/outlet/file?done=end_requested")
            except DomainError as exc:
                form.take(exc, aliases={"action": "_form", "revocation": "_form"})
                status = exc.http_status
        outlet = self.certification.get_outlet(outlet_id)
        return page.render("outlet/end_agreement.html", status=status, form=form, outlet=outlet)
