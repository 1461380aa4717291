"""HQ's SLA overview (a mixin of GatewayService; role ``hq``, every tenant).

- ``/hq/sla?period=week|month&sla=``: the commitments across every center, week by week or month
  by month: met in time, late (met late or breached), at risk and still open, per center (by name)
  and per SLA tier (local / in-province / out-of-province), as server-drawn SVG charts
  (`slachart`), with each one's share met in time. The figures are intake's SLA report, the RPC
  behind ``GET /api/v1/sla/report`` (``intake.sla_report``).
- ``/hq/sla/live``: the same figures alone, which the page's htmx poll fetches every
  ``PORTAL_REFRESH_SECONDS`` (30) and swaps in, so the charts move on without a reload (no inline script).
"""

from __future__ import annotations

from urllib.parse import urlencode

from services.gateway.portal import labels, slachart
from services.gateway.portal.forms import Form
from services.gateway.portal.web import page
from shared.errors import DomainError
from shared.rpc import RpcProxy

HQ = ("hq",)
PERIODS = {"week": 12, "month": 12}  # how many of each the page shows
SLA_CHOICES = (
    ("onsite", "上门"),
    ("accept", "受理"),
    ("phone_reply", "电话回复"),
    ("forward", "转派（1 小时）"),
    ("complaint_plan", "投诉处理方案"),
    ("complaint_close", "投诉结案"),
)
TRIAGE_NAME = "总部待分派"
UNPLACED_NAME = "未定（待分派）"


class HqSlaPages:
    """HQ's SLA overview; `GatewayService` inherits it."""

    intake = RpcProxy("intake")

    @page("GET", "/hq/sla", roles=HQ)
    def hq_sla_page(self, request, page):
        return self._hq_sla(request, page, "hq/sla.html")

    @page("GET", "/hq/sla/live", roles=HQ)
    def hq_sla_live_page(self, request, page):
        """The charts alone, with the same choices: what the page's htmx poll swaps in."""
        return self._hq_sla(request, page, "hq/_sla_live.html")

    def _hq_sla(self, request, page, template: str):
        form = Form(("period", "sla"), {n: request.args.get(n, "") for n in ("period", "sla")})
        if not form.text("period"):
            form.values["period"] = "week"
        period = form.text("period")
        query = dict(form.payload(), periods=PERIODS.get(period or "", 12))
        status = 200
        try:
            report = self.intake.sla_report(query)
        except DomainError as exc:
            form.take(exc)
            status = exc.http_status
            report = {"period": "week", "sla": None, "starts": [], "rows": [], "by_tenant": [], "by_tier": []}
        directory = page.portal.directory
        centers = {c.id: c.name for c in sorted(directory.centers.values(), key=lambda c: c.id)}
        centers["HQ"] = TRIAGE_NAME
        tiers = dict(labels.TIERS, unplaced=UNPLACED_NAME)
        kept = {n: form.text(n) for n in ("period", "sla") if form.text(n)}
        return page.render(
            template,
            status=status,
            form=form,
            report=report,
            by_center=slachart.charts(report, "tenant_id", centers),
            by_tier=slachart.charts(report, "tier", tiers),
            legend=slachart.legend(),
            sla_choices=SLA_CHOICES,
            sla_name=dict(SLA_CHOICES).get(report.get("sla") or "", "全部时限"),
            live="/hq/sla/live?" + urlencode(kept),
            link=lambda **over: "/hq/sla?" + urlencode(dict(kept, **over)),
        )
