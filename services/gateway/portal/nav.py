"""The navigation of each role: (label, path) in the order the header shows them. The first
entry is the role's home: ``/`` takes a signed-in person there. A new page of a role adds its
line here (docs/portal.md)."""

from __future__ import annotations

NAV: dict[str, list[tuple[str, str]]] = {
    "outlet": [
        ("任务", "/outlet/jobs"),
        ("备件", "/outlet/parts"),
        ("结算", "/outlet/money"),
        ("考评", "/outlet/standing"),
        ("档案", "/outlet/file"),
    ],
    "center": [
        ("工单", "/center/tickets"),
        ("登记工单", "/center/register"),
        ("派工看板", "/center/dispatch"),
        ("回访", "/center/callbacks"),
        ("客户档案", "/center/customers"),
        ("退换机", "/center/returns"),
        ("网点", "/center/outlets"),
        ("结算审核", "/center/claims"),
        ("台帐", "/center/ledger"),
        ("报表", "/center/reports"),
    ],
    "hq": [
        ("审批", "/hq/approvals"),
        ("网点排名", "/hq/rankings"),
        ("中心考核", "/hq/centers"),
        ("网点布局", "/hq/network"),
        ("结算标准", "/hq/tariffs"),
        ("SLA 总览", "/hq/sla"),
        ("待分派", "/hq/triage"),
        ("报表", "/hq/reports"),
    ],
    "warehouse": [
        ("收货登记", "/warehouse/receipts"),
        ("库存", "/warehouse/stock"),
        ("待返旧件", "/warehouse/returns"),
        ("返厂", "/warehouse/rmas"),
        ("对账", "/warehouse/reconciliation"),
    ],
}

#: the path prefixes of portal pages: their routing errors are HTML pages, not the API's JSON
PREFIXES = ("/login", "/logout", "/account", "/inbox", "/static", "/outlet", "/center", "/hq", "/warehouse")


def nav_for(role: str, path: str) -> list[dict[str, object]]:
    """The role's entries, the one `path` is under marked current."""
    return [
        {"label": label, "href": href, "current": path == href or path.startswith(href.rstrip("/") + "/")}
        for label, href in NAV.get(role, [])
    ]


def home_of(role: str) -> str | None:
    entries = NAV.get(role) or []
    return entries[0][1] if entries else None
