"""The regional center's callbacks (回访; a mixin of GatewayService; role ``center``, its tenant).

- ``/center/callbacks``: the callback agent's work queue, what qa says is to be called
  (``qa.work_list``, ``GET /api/v1/qa/callbacks``: the tenant's own and sampled service callbacks,
  follow-ups, the seven-day tracking of every served ticket (七日用户追踪), the complaint's three-day
  callback (投诉三日回访) and care calls), today's and the overdue ones first; the callbacks that came
  back dissatisfied (``status=negative``) to be closed; the month's care-call list planned on request
  (``qa.plan_care_calls``, ``POST /api/v1/qa/care-calls``).
- ``/center/callbacks/<id>``: the script of one call (seed 001's work order: on site within 24 h?
  service delivered? fee schedule shown? and the satisfaction score) with the customer and the
  ticket, recorded with ``qa.record_result`` (``POST /api/v1/qa/callbacks/<id>/result``; not reached:
  an attempt); a dissatisfied one is closed with ``qa.close_callback`` (``.../close``).

qa decides who calls what and what a negative answer sets off; another center's callback is not
found (404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.gateway.portal import labels
from services.gateway.portal.forms import Form
from services.gateway.portal.web import aware_time, page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError, NotFound
from shared.rpc import RpcProxy

CENTER = ("center",)
PAGE = 200
QUESTIONS = (  # 客户服务工作单: the customer's answers (seed 001)
    ("onsite_within_24h", "技师是否在 24 小时内（或您约定的时间）上门？"),
    ("service_delivered", "服务是否到位，故障是否已排除？"),
    ("fee_schedule_shown", "技师是否出示了服务收费标准？"),
)
RESULT_FIELDS = ("reached", "onsite_within_24h", "service_delivered", "fee_schedule_shown", "satisfaction", "comment")
SATISFACTION = ((5, "非常满意"), (4, "满意"), (3, "一般"), (2, "不满意"), (1, "非常不满意"))
DONE = {"recorded": "回访结果已记录。", "attempt": "已记录一次未接通。", "closed": "不满意回访已结案。"}


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class CenterCallbackPages:
    """The callback agent's work; `GatewayService` inherits it."""

    qa = RpcProxy("qa")
    intake = RpcProxy("intake")

    @page("GET", "/center/callbacks", roles=CENTER)
    def center_callbacks_page(self, request, page):
        planned = self.qa.work_list({"status": "planned", "limit": PAGE})
        negative = self.qa.work_list({"status": "negative", "limit": PAGE})
        tickets = self._callback_tickets(planned["items"] + negative["items"])
        today = page.now.astimezone(LOCAL_TZ).date()
        rows = [call_view(c, tickets, page.now) for c in planned["items"]]
        due_today = [r for r in rows if r["overdue"] or r["planned_day"] <= today]
        month = page.now.astimezone(LOCAL_TZ)
        return page.render(
            "center/callbacks.html",
            today=due_today,
            later=[r for r in rows if r not in due_today],
            total=planned["total"],
            negative=[call_view(c, tickets, page.now) for c in negative["items"]],
            notice=DONE.get(request.args.get("done", "")),
            care=request.args.get("care"),
            months=_months(month),
            form=Form(("month",), {"month": _months(month)[1][0]}),
        )

    @page("POST", "/center/callbacks/care", roles=CENTER)
    def center_care_calls_page(self, request, page):
        month = request.form.get("month", "")
        planned = self.qa.plan_care_calls({"month": month})
        count = sum(int((s or {}).get("planned") or 0) for s in planned.values() if isinstance(s, dict))
        return page.redirect(f"/center/callbacks?care={count}")

    @page(("GET", "POST"), "/center/callbacks/<string:callback_id>", roles=CENTER)
    def center_callback_page(self, request, page, callback_id):
        callback = self.qa.get_callback(callback_id)  # another tenant's: NotFound, a 404 page
        form = page.form(*RESULT_FIELDS)
        close = page.form("outcome", "note")
        status = 200
        if request.method == "POST":
            try:
                if request.form.get("close"):
                    self.qa.close_callback(callback_id, close.payload())
                    return page.redirect("/center/callbacks?done=closed")
                reached = request.form.get("reached") != "no"
                payload = form.payload(
                    onsite_within_24h=_yes_no,
                    service_delivered=_yes_no,
                    fee_schedule_shown=_yes_no,
                    satisfaction=int,
                )
                payload["reached"] = reached
                codes = request.form.getlist("reason_codes")
                form.values["reason_codes"] = codes
                if codes:
                    payload["reason_codes"] = codes
                if not reached:  # an attempt: nothing was answered
                    payload = {"reached": False, **({"comment": payload["comment"]} if "comment" in payload else {})}
                self.qa.record_result(callback_id, payload)
                return page.redirect(f"/center/callbacks?done={'recorded' if reached else 'attempt'}")
            except DomainError as exc:
                (close if request.form.get("close") else form).take(exc)
                status = exc.http_status
        ticket = self._callback_ticket(callback["ticket_id"])
        return page.render(
            "center/callback.html",
            status=status,
            call=call_view(callback, {callback["ticket_id"]: ticket} if ticket else {}, page.now),
            ticket=ticket,
            form=form,
            close=close,
            questions=QUESTIONS,
            satisfaction=SATISFACTION,
            reasons=list(labels.TABLES["callback_reason"].items()),
        )

    def _callback_ticket(self, ticket_id: str) -> dict[str, Any] | None:
        try:
            return self.intake.get_ticket(ticket_id)
        except NotFound:
            return None

    def _callback_tickets(self, callbacks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The callbacks' tickets (customer, phone, number) by id, as intake gives them."""
        found = {}
        for ticket_id in sorted({c["ticket_id"] for c in callbacks})[:PAGE]:
            ticket = self._callback_ticket(ticket_id)
            if ticket is not None:
                found[ticket_id] = ticket
        return found


def call_view(callback: dict[str, Any], tickets: dict[str, dict[str, Any]], now: datetime) -> dict[str, Any]:
    planned = aware_time(callback.get("planned_at")) or now
    ticket = tickets.get(callback["ticket_id"]) or {}
    return dict(
        callback,
        ticket=ticket,
        planned_day=planned.astimezone(LOCAL_TZ).date(),
        customer=ticket.get("customer_name"),
        phone=ticket.get("phone"),
        number=ticket.get("number"),
    )


def _months(now: datetime) -> list[tuple[str, str]]:
    """This month and the two before it, as (YYYY-MM, name)."""
    out = []
    year, month = now.year, now.month
    for _ in range(3):
        out.append((f"{year:04d}-{month:02d}", f"{year} 年 {month} 月"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out
