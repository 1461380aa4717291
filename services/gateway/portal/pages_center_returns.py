"""The regional center's returns and exchanges (退换机; a mixin of GatewayService; role ``center``,
its tenant).

- ``/center/returns``: the center's return and exchange cases, newest first, filtered by step
  (``intake.list_returns``, ``GET /api/v1/returns``): the ticket, 退机 or 换机, the machine, the days
  since purchase (15 天包退, 30 天包换), who inspected and decided, the refund and where the case
  stands, in Beijing time. The steps themselves are taken through ``POST /api/v1/returns/<id>/steps``
  (docs/returns.md).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select

from services.gateway.models import User
from services.gateway.portal.forms import Form
from services.gateway.portal.web import GATEWAY, page, page_number
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
PAGE = 50
KINDS = {"return": "退机", "exchange": "换机"}
STEPS = {
    "requested": "已申请",
    "inspected": "已检测",
    "approved": "已批准",
    "rejected": "不予退换",
    "received": "已退回入库",
    "refunded": "已退款",
    "replacement_requested": "待发换机",
    "awaiting_stock": "缺货待发",
    "replaced": "已换机",
    "closed": "已结案",
}
COUNTED_FROM = {"purchase_date": "购买", "installed_on": "安装"}


class CenterReturnPages:
    """The returns list; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/center/returns", roles=CENTER)
    def center_returns_page(self, request, page):
        form = Form(("step",), {"step": request.args.get("step", "")})
        number = page_number(request.args.get("page"))
        query: dict[str, Any] = {"limit": PAGE, "offset": (number - 1) * PAGE}
        if form.text("step"):
            query["step"] = form.text("step")
        found, status = {"items": [], "total": 0}, 200
        try:
            found = self.intake.list_returns(query)
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
        kept = {"step": form.text("step")} if form.text("step") else {}
        return page.render(
            "center/returns.html",
            status=status,
            form=form,
            steps=list(STEPS.items()),
            step_label=STEPS,
            kind_label=KINDS,
            counted_label=COUNTED_FROM,
            who=self._display_names(found["items"]),
            cases=found["items"],
            total=found["total"],
            number=number,
            more=number * PAGE < found["total"],
            link=lambda n: "/center/returns?" + urlencode(dict(kept, page=n)),
        )

    def _display_names(self, cases):
        """The people who inspected and decided, by the names their accounts carry (else the user id)."""
        users = {c[k] for c in cases for k in ("inspected_by", "decided_by") if c.get(k)}
        if not users:
            return {}
        with self.db.uow(GATEWAY) as uow:
            rows = uow.session.execute(select(User.username, User.display_name).where(User.username.in_(users)))
            return dict(rows.tuples().all())
