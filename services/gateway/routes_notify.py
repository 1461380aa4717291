"""Gateway routes of the notify service (a mixin of GatewayService): the portal inbox.

Each signed-in center, outlet and HQ user reads the inbox of its audience: a center its tenant's
notices, an outlet its own, HQ its own; notify's database session scopes the rows by the
caller's principal, so another center's notice does not exist for it (404). Centers and HQ also
read the delivery log (every notice by e-mail, SMS and inbox with its status).
"""

from __future__ import annotations

from services.gateway.api import API, api, json_body, query_args
from services.notify import contracts
from shared.rpc import RpcProxy


class NotifyRoutes:
    """The notify endpoints under /api/v1; `GatewayService` inherits them."""

    notify = RpcProxy("notify")

    @api(
        "GET",
        f"{API}/notify/inbox",
        "Your inbox (站内通知): a center's tenant notices, an outlet's own, HQ's; newest first "
        "(unread=true: only the unread)",
        query=contracts.InboxQuery,
        response=contracts.InboxPage,
        tag="notify",
    )
    def notify_inbox(self, request, principal):
        return self.notify.inbox(query_args(request))

    @api(
        "POST",
        f"{API}/notify/inbox/read",
        "Mark every unread notice of your inbox read (全部标为已读: your own only, the kinds you switched off "
        "stay as they are); upto: only those up to that notice id (the newest you saw)",
        body=contracts.MarkAllReadBody,
        response=contracts.MarkedAllOut,
        tag="notify",
    )
    def notify_mark_all_read(self, request, principal):
        return self.notify.mark_all_read(json_body(request))

    @api(
        "POST",
        f"{API}/notify/inbox/<string:notice_id>/read",
        "Mark a notice of your inbox read (404 if it is not in your inbox)",
        response=contracts.NoticeOut,
        tag="notify",
    )
    def notify_mark_read(self, request, principal, notice_id):
        return self.notify.mark_read(notice_id)

    @api(
        "GET",
        f"{API}/notify/notices",
        "Notices and their delivery status by e-mail, SMS and inbox (center: its tenant's; HQ: all)",
        query=contracts.NoticeQuery,
        response=contracts.NoticePage,
        tag="notify",
    )
    def notify_notices(self, request, principal):
        return self.notify.notices(query_args(request))

    @api(
        "GET",
        f"{API}/notify/preferences",
        "Your notice preferences (个人通知设置): channels per notice kind, your e-mail and phone, quiet hours",
        response=contracts.PreferencesOut,
        tag="notify",
    )
    def notify_preferences(self, request, principal):
        return self.notify.get_preferences()

    @api(
        "PUT",
        f"{API}/notify/preferences",
        "Change your notice preferences (fields left out stay); 422 naming each wrong field",
        body=contracts.PreferencesBody,
        response=contracts.PreferencesOut,
        tag="notify",
    )
    def notify_set_preferences(self, request, principal):
        return self.notify.set_preferences(json_body(request))
