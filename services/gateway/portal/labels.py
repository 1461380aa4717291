"""Names rather than codes: what the portal shows for the services' codes (roles, statuses,
kinds, tiers, warranty) and for tenants and outlets (from the tenant directory).

A code the portal has no name for is shown as it is. Add the names a new page needs here.
"""

from __future__ import annotations

ROLES = {"hq": "总部", "center": "区域服务中心", "outlet": "服务网点", "warehouse": "备件库", "customer": "客户"}
DUTIES = {"technical_lead": "技术负责人", "service_head": "服务部部长"}
VISIT_STATUS = {
    "unplanned": "待排程",
    "scheduled": "已排程",
    "started": "服务中",
    "completed": "已完成",
    "unassignable": "无法派工",
    "cancelled": "已取消",
}
TICKET_KINDS = {"repair": "维修", "install": "安装", "complaint": "投诉", "consultation": "咨询"}
TIERS = {"local": "本地", "in_province": "省内", "out_of_province": "省外"}
WARRANTY = {"warranty": "保修", "self_paid": "自费", "unknown": "待确认"}
REMEDIES = {"return": "退货期内", "exchange": "换货期内", "repair": "维修"}

TABLES = {
    "role": ROLES,
    "duty": DUTIES,
    "visit_status": VISIT_STATUS,
    "ticket_kind": TICKET_KINDS,
    "tier": TIERS,
    "warranty": WARRANTY,
    "remedy": REMEDIES,
}


def label(code: object, table: str) -> str:
    """The name of `code` in `table` (one of TABLES), or the code itself; "" for none."""
    if code is None or code == "":
        return ""
    return TABLES[table].get(str(code), str(code))


def site_name(directory: object, site_id: object) -> str:
    """A tenant's or an outlet's name from the directory, else its id."""
    if not site_id:
        return ""
    for group in ("centers", "outlets"):
        site = getattr(directory, group, {}).get(str(site_id))
        if site is not None:
            return str(site.name)
    return str(site_id)


def _outlet_tables() -> None:
    """The outlet's parts, money and standing pages name their codes in labels_outlet."""
    from services.gateway.portal.labels_outlet import OUTLET_TABLES

    TABLES.update(OUTLET_TABLES)


_outlet_tables()
