"""HQ's view of the network (a mixin of GatewayService; role ``hq``, every tenant).

- ``/hq/rankings?tenant=&month=``: every center's outlets ranked by the month's published scorecard
  (``qa.scorecards``, ``GET /api/v1/qa/scorecards?month=&tenant_id=``), outlets by name; those qa
  marks as not rated (``rated: false``, too few facts) listed apart. ``/hq/rankings/<outlet>?month=``
  one outlet's card with every point traced to its fact (``qa.get_scorecard``, ``GET
  /api/v1/qa/scorecards/<outlet>/<month>``), drawn by the outlet's own partial.
- ``/hq/centers``: the regional centers' monthly and year-end assessments ranked (`pages_hq_centers`).
- ``/hq/network?tenant=&capacity=&gaps_only=``: seed 003's network plan, outlets needed per area
  against those operating (``certification.network_plan``, ``GET /api/v1/network-plan``).
- ``/hq/tariffs?tenant=&on=``: the tariff in force for a center on a day, per product line and
  service range (``settlement.tariff_in_force``, ``GET /api/v1/settlement/tariff``), each entry with
  the version it comes from; ``/hq/tariffs/publish`` a center's override version of the flat fees
  (``settlement.publish_tariff``, ``POST /api/v1/settlement/tariffs``: a version may not overlap
  another of its center, settlement's rule), its refusal shown by the field it names.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.gateway.portal.forms import Form
from services.gateway.portal.labels import site_name
from services.gateway.portal.pages_hq_centers import HqCenterPages
from services.gateway.portal.pages_outlet_standing import MONTHS, months_before
from services.gateway.portal.web import page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError
from shared.rpc import RpcProxy

HQ = ("hq",)
LABOUR_KINDS = (("install", "安装"), ("maintenance", "保养"), ("repair", "维修"))
FAULT_CLASSES = (
    ("general", "一般"),
    ("electrical", "电气"),
    ("mechanical", "机械"),
    ("hydraulic_thermal", "液压/热工"),
)
OTHER_ENTRIES = (
    ("visit_fee", "上门费（每次）", "¥"),
    ("parts_handling_fee", "配件装卸费（每件）", "¥"),
    ("self_paid_outlet_share", "自费收入网点分成", ""),
    ("late_part_return_fee", "旧件逾期返还费", "¥"),
    ("part_return_grace_days", "旧件返还宽限（天）", ""),
    ("unreturned_part_value", "未返旧件扣款（无单价时）", "¥"),
)


# the override form: (field, label, converter); a center's version names only the entries it changes
PUBLISH_ENTRIES = (
    ("visit_fee", "上门费（元/次）", "amount"),
    ("travel_allowance_per_day", "出差补助（元/天）", "amount"),
    ("travel_km_per_day", "出差每天计算公里数", "whole"),
    ("parts_handling_fee", "配件装卸费（元/件）", "amount"),
    ("late_part_return_fee", "旧件逾期返还费（元）", "amount"),
)
PUBLISH_FIELDS = ("for_tenant", "version_id", "valid_from", "valid_to") + tuple(e[0] for e in PUBLISH_ENTRIES)
PUBLISH_ALIASES = {"tenant": "for_tenant", "id": "version_id"}


def override_payload(form: Form) -> dict[str, Any]:
    """The override form as settlement's tariff version: id, tenant, validity and the entries
    filled in, as numbers where they are (what is not goes as typed: settlement names it)."""
    payload: dict[str, Any] = {"id": form.text("version_id"), "tenant": form.text("for_tenant")}
    for name in ("valid_from", "valid_to"):
        if form.text(name):
            payload[name] = form.text(name)
    for name, _, kind in PUBLISH_ENTRIES:
        text = form.text(name)
        if text is None:
            continue
        try:
            payload[name] = int(text) if kind == "whole" or text.isdigit() else float(text)
        except ValueError:
            payload[name] = text
    return payload


def _months(page: Any) -> list[str]:
    today = page.now.astimezone(LOCAL_TZ).date()
    return [f"{today.year:04d}-{today.month:02d}"] + months_before(today, MONTHS - 1)


def _center_filter(page: Any, form: Form) -> str | None:
    """The `tenant` filter: a center of the directory, else an error next to the field."""
    tenant = form.text("tenant")
    if tenant is not None and tenant not in page.portal.directory.centers:
        form.add_error("tenant", "没有这个服务中心")
        return None
    return tenant


def _centers(page: Any) -> list[tuple[str, str]]:
    return [(c.id, c.name) for c in sorted(page.portal.directory.centers.values(), key=lambda c: c.id)]


def labour_rows(values: dict[str, Any]) -> list[dict[str, Any]]:
    """The labour fees per product line (the default line last): install, maintenance and repair by
    fault class, each a number or None where the tariff has none."""
    rows = []
    lines = values.get("labour") or {}
    for line in sorted(lines, key=lambda name: (name == "_default", name)):
        kinds = lines[line]
        fees: dict[str, Any] = {}
        for kind, _ in LABOUR_KINDS:
            fee = kinds.get(kind)
            if isinstance(fee, dict):
                for cls, _ in FAULT_CLASSES:
                    fees[f"{kind}.{cls}"] = fee.get(cls)
            else:
                fees[kind] = fee
        rows.append({"line": line, "fees": fees})
    return rows


def transport_rows(values: dict[str, Any]) -> list[tuple[str, Any]]:
    """The transport bands as (range, fee): ``0–10 公里``, ..., ``200 公里以上``."""
    rows, lower = [], 0
    for band in values.get("transport_bands") or []:
        up = band.get("up_to_km")
        rows.append((f"{lower}–{up} 公里" if up is not None else f"{lower} 公里以上", band.get("fee")))
        lower = up if up is not None else lower
    return rows


class HqNetworkPages(HqCenterPages):
    """Rankings (the outlets', and the centers' from `HqCenterPages`), scorecards, the network plan
    and the tariffs; `GatewayService` inherits it."""

    qa = RpcProxy("qa")
    certification = RpcProxy("certification")
    settlement = RpcProxy("settlement")

    @page("GET", "/hq/rankings", roles=HQ)
    def hq_rankings_page(self, request, page):
        months = _months(page)
        form = Form(("tenant", "month"), {n: request.args.get(n, "") for n in ("tenant", "month")})
        tenant = _center_filter(page, form)
        asked = form.text("month")
        if asked is not None and asked not in months:
            form.add_error("month", "请选择近 12 个月中的一个月份")
            asked = None
        cards: list[dict[str, Any]] = []
        month = asked or months[1]
        if form.ok:
            query = {"tenant_id": tenant} if tenant else {}
            # asked: that month; else the latest published of this month and the one before
            for candidate in [asked] if asked else months[:2]:
                cards = self.qa.scorecards(dict(query, month=candidate))
                month = candidate
                if cards:
                    break
        rated = [c for c in cards if c.get("rated", True) is not False]
        return page.render(
            "hq/rankings.html",
            status=200 if form.ok else 422,
            form=form,
            month=month,
            months=months,
            centers=_centers(page),
            tenant=tenant,
            rated=rated,
            unrated=[c for c in cards if c.get("rated", True) is False],
        )

    @page("GET", "/hq/rankings/<string:outlet_id>", roles=HQ)
    def hq_scorecard_page(self, request, page, outlet_id):
        months = _months(page)
        month = request.args.get("month") or months[1]
        card = self.qa.get_scorecard(outlet_id, month)  # none published: NotFound, a 404 page
        return page.render("hq/scorecard.html", card=card, month=month, months=months, visit_base="")

    @page("GET", "/hq/network", roles=HQ)
    def hq_network_page(self, request, page):
        names = ("tenant", "capacity", "gaps_only")
        form = Form(names, {n: request.args.get(n, "") for n in names})
        tenant = _center_filter(page, form)
        plan = None
        if form.ok:
            query: dict[str, Any] = {"gaps_only": form.value("gaps_only") == "yes"}
            if tenant:
                query["tenant_id"] = tenant
            if form.text("capacity"):
                query["capacity"] = form.text("capacity")
            try:
                plan = self.certification.network_plan(query)
            except DomainError as exc:
                form.take(exc)
        return page.render(
            "hq/network.html", status=200 if form.ok else 422, form=form, plan=plan, centers=_centers(page)
        )

    @page("GET", "/hq/tariffs", roles=HQ)
    def hq_tariffs_page(self, request, page):
        return self._tariffs(request, page, Form(PUBLISH_FIELDS))

    @page("POST", "/hq/tariffs/publish", roles=HQ)
    def hq_publish_tariff_page(self, request, page):
        form = page.form(*PUBLISH_FIELDS)
        if form.text("for_tenant") is None:  # this form writes a center's override, never HQ's whole tariff
            form.add_error("for_tenant", "请选择服务中心")
            return self._tariffs(request, page, form, status=422)
        try:
            done = self.settlement.publish_tariff(override_payload(form))
        except DomainError as exc:
            form.take(exc, aliases=PUBLISH_ALIASES)
            return self._tariffs(request, page, form, status=exc.http_status)
        query = f"tenant={done['tenant']}&on={done['valid_from']}&published={done['id']}"
        return page.redirect(f"/hq/tariffs?{query}")

    def _tariffs(self, request, page, publish: Form, status: int = 200):
        form = Form(("tenant", "on"), {n: request.args.get(n, "") for n in ("tenant", "on")})
        tenant = _center_filter(page, form)
        if form.text("on"):
            try:
                date.fromisoformat(form.text("on") or "")
            except ValueError:
                form.add_error("on", "日期无效（格式：年-月-日）")
        tariff = None
        if form.ok:
            query = {k: v for k, v in (("tenant_id", tenant), ("on", form.text("on"))) if v}
            tariff = self.settlement.tariff_in_force(query)
        values = tariff["values"] if tariff else {}
        published = request.args.get("published")
        return page.render(
            "hq/tariffs.html",
            status=status if form.ok else 422,
            form=form,
            publish=publish,
            entries=PUBLISH_ENTRIES,
            notice=f"已发布 {site_name(page.portal.directory, tenant)} 的调整版本 {published}" if published else None,
            tariff=tariff,
            centers=_centers(page),
            kinds=LABOUR_KINDS,
            classes=FAULT_CLASSES,
            labour=labour_rows(values),
            transport=transport_rows(values),
            others=OTHER_ENTRIES,
        )
