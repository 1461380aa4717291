"""The regional center's returns and exchanges (退换机; a mixin of GatewayService; role ``center``,
its tenant).

- ``/center/returns``: the center's return and exchange cases, newest first, filtered by step
  (``intake.list_returns``, ``GET /api/v1/returns``): the ticket, 退机 or 换机, the machine, the days
  since purchase (15 天包退, 30 天包换), who inspected and decided, the refund and where the case
  stands, in Beijing time. The steps themselves are taken through ``POST /api/v1/returns/<id>/steps``
  (docs/returns.md).
- ``POST /center/returns/<id>/cancel``: a replacement awaiting stock (缺货待发) cancelled from its row
  (``intake.cancel_replacement``, as ``POST /api/v1/returns/<id>/replacement/cancel``): the reason, and
  改为退款 (with the amount) or 客户撤回; the service's refusal is shown next to the field it names,
  the row's form kept open; another center's case is the 404 page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from services.gateway.models import User
from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import GATEWAY, page, page_number
from shared.errors import DomainError, NotFound
from shared.rpc import RpcProxy

CENTER = ("center",)
PAGE = 50
KINDS = {"return": "退机", "exchange": "换机"}
STEPS = labels.RETURN_STEPS
OUTCOMES = {"refund": "改为退款", "withdraw": "客户撤回"}
CANCEL_FIELDS = ("reason", "outcome", "refund_amount")
COUNTED_FROM = {"purchase_date": "购买", "installed_on": "安装"}


class CenterReturnPages:
    """The returns list; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/center/returns", roles=CENTER)
    def center_returns_page(self, request, page):
        return self._center_returns(request, page)

    @page("POST", "/center/returns/<string:case_id>/cancel", roles=CENTER)
    def center_cancel_replacement_page(self, request, page, case_id):
        """取消换机: the customer takes a refund instead or withdraws; parts then never sends it."""
        form = page.form(*CANCEL_FIELDS)
        try:
            self.intake.cancel_replacement(case_id, form.payload())
        except NotFound:
            raise  # another center's case (or none): the 404 page, as for its other records
        except DomainError as exc:
            form.take(exc, aliases={"step": GENERAL})
            return self._center_returns(request, page, status=exc.http_status, cancel=(case_id, form))
        return page.redirect("/center/returns?" + urlencode({"done": "cancelled"}) + f"#return-{case_id}")

    def _center_returns(self, request, page, status=200, cancel=None):
        form = Form(("step",), {"step": request.args.get("step", "")})
        number = page_number(request.args.get("page"))
        query: dict[str, Any] = {"limit": PAGE, "offset": (number - 1) * PAGE}
        if form.text("step"):
            query["step"] = form.text("step")
        found: dict[str, Any] = {"items": [], "total": 0}
        try:
            found = self.intake.list_returns(query)
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
        kept = {"step": form.text("step")} if form.text("step") else {}
        cancel_case, cancel_form = cancel or (None, None)
        return page.render(
            "center/returns.html",
            status=status,
            form=form,
            steps=list(STEPS.items()),
            step_label=STEPS,
            kind_label=KINDS,
            counted_label=COUNTED_FROM,
            outcomes=list(OUTCOMES.items()),
            outcome_label=OUTCOMES,
            cancel_case=cancel_case,
            cancel_form=cancel_form,
            blank_cancel=Form(CANCEL_FIELDS),
            done="换机已取消" if request.args.get("done") == "cancelled" else None,
            who=self._display_names(found["items"]),
            cases=found["items"],
            total=found["total"],
            number=number,
            more=number * PAGE < found["total"],
            link=lambda n: "/center/returns?" + urlencode(dict(kept, page=n)),
        )

    def _display_names(self, cases):
        """The people who inspected and decided, by the names their accounts carry (else the user id)."""
        users = {c[k] for c in cases for k in ("inspected_by", "decided_by", "replacement_cancelled_by") if c.get(k)}
        if not users:
            return {}
        with self.db.uow(GATEWAY) as uow:
            rows = uow.session.execute(select(User.username, User.display_name).where(User.username.in_(users)))
            return dict(rows.tuples().all())
