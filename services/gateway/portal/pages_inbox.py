"""The inbox (站内通知; a mixin of GatewayService; every role).

- ``/inbox``: the signed-in person's notices, newest first, as notify gives them
  (``notify.inbox``, ``GET /api/v1/notify/inbox``: a center's tenant notices, an outlet's own,
  HQ's, and those addressed to the person (a named manager's escalation)); unread ones marked,
  each with a button that marks it read (``notify.mark_read``, ``POST
  /api/v1/notify/inbox/<id>/read``) by a form POST, and 全部标为已读 for every unread notice up to
  the newest shown (``notify.mark_all_read``, ``POST /api/v1/notify/inbox/read``), back to the
  same filter; ``?unread=1`` shows the unread alone;
  ``?page=N``: 50 a page, with 上一页/下一页.
- ``/inbox/preferences``: the person's own settings (``notify.get_preferences`` /
  ``set_preferences``, ``GET/PUT /api/v1/notify/preferences``): channels per kind of notice,
  their e-mail and phone, their quiet hours; notify's refusals next to the fields they name.

A warehouse account has no notices (no rule of notify addresses a warehouse): its page says so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from services.gateway.portal.forms import Form
from services.gateway.portal.web import page, page_number
from services.notify.contracts import CHANNEL_TITLES, KIND_TITLES
from shared.errors import DomainError
from shared.rpc import RpcProxy

WITH_INBOX = ("center", "outlet", "hq")
LIMIT = 50
PREF_FIELDS = ("email", "phone", "quiet_hours", *(f"channels.{kind}" for kind in KIND_TITLES))
DONE = {"read": "已标记为已读。", "all_read": "已全部标为已读。", "saved": "通知设置已保存。"}


class InboxPages:
    """The inbox and its settings; `GatewayService` inherits it."""

    notify = RpcProxy("notify")

    @page("GET", "/inbox")
    def inbox_page(self, request, page):
        role = page.user.role
        only_unread = request.args.get("unread") == "1"
        number = page_number(request.args.get("page"))
        found: dict[str, Any] = {"items": [], "total": 0, "unread": 0}
        if role in WITH_INBOX:
            query = {"limit": LIMIT, "offset": (number - 1) * LIMIT, **({"unread": True} if only_unread else {})}
            found = self.notify.inbox(query)
        kept = {"unread": "1"} if only_unread else {}
        return page.render(
            "inbox.html",
            has_inbox=role in WITH_INBOX,
            notices=found["items"],
            total=found["total"],
            unread=found["unread"],
            only_unread=only_unread,
            newest=max((n["id"] for n in found["items"]), default=None) if number == 1 else None,
            notice=DONE.get(request.args.get("done", "")),
            number=number,
            more=number * LIMIT < found["total"],
            link=lambda n: "/inbox?" + urlencode(dict(kept, page=n)),
        )

    @page("POST", "/inbox/<string:notice_id>/read", roles=WITH_INBOX)
    def inbox_mark_read_page(self, request, page, notice_id):
        self.notify.mark_read(notice_id)  # not in the caller's inbox: NotFound, a 404 page
        back = "/inbox?unread=1&done=read" if request.form.get("unread") == "1" else "/inbox?done=read"
        return page.redirect(back)

    @page("POST", "/inbox/read", roles=WITH_INBOX)
    def inbox_mark_all_read_page(self, request, page):
        upto = request.form.get("upto") or None  # the newest notice the page showed (a later one stays unread)
        self.notify.mark_all_read({"upto": upto})  # a bad upto: notify's 422
        back = "/inbox?unread=1&done=all_read" if request.form.get("unread") == "1" else "/inbox?done=all_read"
        return page.redirect(back)

    @page(("GET", "POST"), "/inbox/preferences", roles=WITH_INBOX)
    def inbox_preferences_page(self, request, page):
        status = 200
        if request.method == "POST":
            form = page.form("email", "phone", "quiet_hours")
            chosen = {kind: request.form.getlist(f"ch-{kind}") for kind in KIND_TITLES}
            form = Form(PREF_FIELDS, {**form.values, **{f"channels.{k}": v for k, v in chosen.items()}})
            body = {
                "email": form.text("email"),
                "phone": form.text("phone"),
                "quiet_hours": form.text("quiet_hours"),
                "channels": chosen,
            }
            try:
                self.notify.set_preferences(body)
                return page.redirect("/inbox/preferences?done=saved")
            except DomainError as exc:
                form.take(exc)
                status = exc.http_status
        else:
            current = self.notify.get_preferences()
            values = {name: current.get(name) or "" for name in ("email", "phone", "quiet_hours")}
            values.update({f"channels.{k}": v for k, v in current["channels"].items()})
            form = Form(PREF_FIELDS, values)
        return page.render(
            "inbox_preferences.html",
            status=status,
            form=form,
            kinds=list(KIND_TITLES.items()),
            channels=list(CHANNEL_TITLES.items()),
            notice=DONE.get(request.args.get("done", "")),
        )
