"""The regional center's customer archive (客户档案, 产品档案; a mixin of GatewayService; role
``center``, its tenant).

- ``/center/customers``: the center's customers, searched by name, company, phone or external id,
  paged; ``view=due``: those not reviewed for a year (seed 001: 每年更新一次), ``view=duplicates``:
  those flagged as possible duplicates (``intake.list_customers``, ``GET /api/v1/customers``);
  ``/center/customers.csv`` the archive as ``GET /api/v1/customers.csv`` gives it.
- ``/center/customers/<id>``: the customer's card (客户信息卡) with its products and service history
  (``intake.get_customer``); a form updates its contacts and consent (``intake.update_customer``,
  ``PATCH /api/v1/customers/<id>``: the record counts as reviewed); a flagged customer offers a merge
  into each candidate (``intake.merge_customers``, ``POST /api/v1/customers/merge``) or its keeping
  apart (``intake.keep_customer_apart``, ``POST /api/v1/customers/<id>/keep-apart``). Refusals are
  shown by the field intake names; another center's customer is a 404.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import page, page_number
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
PAGE = 50
VIEWS = (("", "全部客户"), ("due", "待年度更新"), ("duplicates", "疑似重复"))
CONTACT_FIELDS = ("phones", "email", "company", "addresses", "consent_to_contact")
MERGE_FIELDS = ("survivor_id", "merged_id", "note")
DONE = {"merged": "已合并", "kept_apart": "已确认不是重复", "updated": "已更新，档案记为本日复核"}


class CenterCustomerPages:
    """The customer archive's pages; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/center/customers", roles=CENTER)
    def center_customers_page(self, request, page):
        form = Form(("q", "view"), {n: request.args.get(n, "") for n in ("q", "view")})
        number = page_number(request.args.get("page"))
        view = form.text("view") if form.text("view") in ("due", "duplicates") else ""
        query: dict[str, Any] = {"limit": PAGE, "offset": (number - 1) * PAGE}
        if form.text("q"):
            query["q"] = form.text("q")
        if view == "due":
            query["due_for_review"] = True
        elif view == "duplicates":
            query["duplicates"] = True
        found, status = {"items": [], "total": 0}, 200
        try:
            found = self.intake.list_customers(query)
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
        kept = {n: form.text(n) for n in ("q", "view") if form.text(n)}
        return page.render(
            "center/customers.html",
            status=status,
            form=form,
            views=VIEWS,
            view=view,
            customers=found["items"],
            total=found["total"],
            number=number,
            more=number * PAGE < found["total"],
            link=lambda n: "/center/customers?" + urlencode(dict(kept, page=n)),
        )

    @page("GET", "/center/customers.csv", roles=CENTER)
    def center_customers_csv_page(self, request, page):
        name = f"customers-{page.user.tenant_id}-{page.now.date().isoformat()}.csv"
        return Response(
            "\ufeff" + self.intake.customers_csv(),
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": f"attachment; filename={name}"},
        )

    @page(("GET", "POST"), "/center/customers/<string:customer_id>", roles=CENTER)
    def center_customer_page(self, request, page, customer_id):
        customer = self.intake.get_customer(customer_id)  # another center's: NotFound, a 404 page
        contacts = Form(CONTACT_FIELDS, contact_values(customer))
        merge = Form(MERGE_FIELDS)
        status = 200
        if request.method == "POST":
            action = request.form.get("action")
            try:
                if action == "merge":
                    merge = page.form(*MERGE_FIELDS)
                    survivor = self.intake.merge_customers(merge.payload())
                    return page.redirect(f"/center/customers/{survivor['id']}?done=merged")
                if action == "keep_apart":
                    merge = page.form(*MERGE_FIELDS)
                    self.intake.keep_customer_apart(customer_id, {"note": merge.text("note")})
                    return page.redirect(f"/center/customers/{customer_id}?done=kept_apart")
                contacts = page.form(*CONTACT_FIELDS)
                self.intake.update_customer(customer_id, contact_payload(contacts))
                return page.redirect(f"/center/customers/{customer_id}?done=updated")
            except DomainError as exc:
                (merge if action in ("merge", "keep_apart") else contacts).take(exc)
                status = exc.http_status
        return page.render(
            "center/customer.html",
            status=status,
            customer=customer,
            contacts=contacts,
            merge=merge,
            done=DONE.get(request.args.get("done") or ""),
            general=GENERAL,
        )


def _lines(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").replace("，", ",").replace("\n", ",").split(",") if part.strip()]


def contact_values(customer: dict[str, Any]) -> dict[str, str]:
    """The card's contacts as the form shows them (lists one per comma)."""
    consent = customer.get("consent_to_contact")
    return {
        "phones": ", ".join(customer.get("phones") or []),
        "email": customer.get("email") or "",
        "company": customer.get("company") or "",
        "addresses": "\n".join(customer.get("addresses") or []),
        "consent_to_contact": "" if consent is None else ("yes" if consent else "no"),
    }


def contact_payload(form: Form) -> dict[str, Any]:
    """The posted contacts as intake's CustomerPatch: lists split on commas or lines, consent yes/no."""
    payload: dict[str, Any] = {"phones": _lines(form.text("phones")), "addresses": _lines(form.text("addresses"))}
    payload["email"] = form.text("email")
    payload["company"] = form.text("company")
    if form.text("consent_to_contact") in ("yes", "no"):
        payload["consent_to_contact"] = form.text("consent_to_contact") == "yes"
    return payload
