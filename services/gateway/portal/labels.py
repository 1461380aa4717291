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
TICKET_KINDS = {"repair": "维修", "install": "安装", "maintenance": "保养", "complaint": "投诉", "consultation": "咨询"}
TIERS = {"local": "本地", "in_province": "省内", "out_of_province": "省外"}
WARRANTY = {"warranty": "保修", "self_paid": "自费", "unknown": "待确认"}
REMEDIES = {"return": "退货期内", "exchange": "换货期内", "repair": "维修"}
CHANNELS = {"hotline": "热线电话", "web": "网站", "fax": "传真", "portal": "客户门户"}
TICKET_STATUS = {
    "triage": "待总部分派",
    "registered": "已登记",
    "accepted": "已受理",
    "scheduled": "已排程",
    "on_site": "上门中",
    "resolved": "已解决",
    "closed": "已关闭",
    "cancelled": "已取消",
}
# the complaint case (seed 000: 投诉受理 → 立案 → 内查 → 派员预案 → 现场核实 → 商务谈判 → 整改单 → 退赔款 →
# 处理结果通知单 → 汇报 → 签协议或纪要)
CASE_STATES = {
    "accepted": "投诉受理",
    "registered": "已立案",
    "internal_check": "内查",
    "dispatch_plan": "派员预案",
    "onsite_verification": "现场核实",
    "negotiation": "商务谈判",
    "rectification": "整改单",
    "compensation": "退赔款",
    "result_notice": "处理结果通知单",
    "reported": "已汇报",
    "agreement": "签协议或纪要",
    "closed": "结案",
    "withdrawn": "撤诉",
}
# workflow steps (ticket actions and case steps) and the facts the audit trail records
STEPS = {
    "register": "立案",
    "internal_check": "内查",
    "plan_dispatch": "派员预案",
    "verify_on_site": "现场核实",
    "negotiate": "商务谈判",
    "order_rectification": "开具整改单",
    "pay_compensation": "退赔款",
    "notify_result": "处理结果通知",
    "report": "汇报",
    "sign_agreement": "签协议或纪要",
    "close_case": "结案",
    "withdraw": "撤诉",
    "accept": "受理",
    "reply_phone": "电话回复客户",
    "forward": "转派服务组",
    "assign_outlet": "指派网点",
    "schedule": "排程",
    "start_visit": "开始上门",
    "resolve": "标记已解决",
    "reopen": "重新处理",
    "close": "关闭工单",
    "cancel": "取消工单",
    "route": "分派到区域中心",
    # complaint handling (intake's complaints.STEPS; seeds 001, 002, 004)
    "decide_responsibility": "确定责任范围",
    "rule_grey_zone": "总部裁定责任（灰色地带）",
    "hand_over": "移交首问负责人",
    "record_countermeasure": "记录防止再发生对策",
    "acknowledge_escalation": "确认升级通知",
    "escalate_major": "上报重大问题",
}
AUDIT_ACTIONS = {
    **STEPS,
    "register": "登记",
    "visit_scheduled": "已排程上门",
    "visit_released": "排程撤回",
    "visit_started": "技师签到",
    "visit_completed": "上门完成",
    "callback_negative": "回访不满意",
    "callback_closed": "回访完成",
    "callback_completed": "回访记录",
    "refund_paid": "退赔款已付",
    "escalate": "重大问题上报",
    "re_escalate": "未确认，逐级上报",
    "escalation_unacknowledged": "上报无人确认",
    # returns and exchanges (退换机; intake's returns_service)
    "return_requested": "申请退机",
    "exchange_requested": "申请换机",
    "return_inspect": "退换机检测",
    "return_decide": "退换机审批",
    "return_receive": "退回机器入库",
    "return_issue_replacement": "申请发出换机",
    "replacement_short": "换机缺货待发",
    "replacement_issued": "换机已发出",
    "return_replacement_cancelled": "取消换机",
    "return_close": "退换机结案",
    "compensation_approved": "批准退赔款",
}
# a return or exchange case's steps (intake's returns.Step; /center/returns and the ticket's audit)
RETURN_STEPS = {
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
    "withdrawn": "已撤回",
}
RETURN_AUDIT = frozenset(
    (
        "return_requested",
        "exchange_requested",
        "return_inspect",
        "return_decide",
        "return_receive",
        "return_issue_replacement",
        "replacement_short",
        "replacement_issued",
        "return_replacement_cancelled",
        "return_close",
    )
)
SLAS = {
    "accept": "受理",
    "phone_reply": "电话回复",
    "forward": "转派（1 小时）",
    "onsite": "上门",
    "complaint_plan": "投诉处理方案",
    "complaint_close": "投诉结案",
}
DEADLINE_STATES = {
    "met": "按时完成",
    "met_late": "超时完成",
    "open": "进行中",
    "at_risk": "即将到期",
    "breached": "已超时",
    "void": "不再计时",
}
PRECISION = {"district": "区县", "city": "地市", "province": "省"}
# the ledger's 服务方式 (intake's ledger_cells.SERVICE_MODES)
SERVICE_MODES = {"onsite": "上门", "phone": "电话", "factory": "返厂", "remote": "远程"}
# what a complaint is about (shared.events.COMPLAINT_CATEGORIES; qa's causes)
COMPLAINT_CATEGORIES = {
    "product_quality": "产品质量",
    "installation": "安装质量",
    "repair_quality": "维修质量",
    "late_service": "服务不及时",
    "attitude": "服务态度",
    "fees": "收费问题",
    "parts": "配件问题",
    "information": "信息答复不及时",
    "other": "其他",
}
# the responsibility decided in a complaint case (seed 002; intake's complaints.RESPONSIBILITIES)
RESPONSIBILITIES = {"own": "本单位责任", "other_department": "其他部门责任", "grey_zone": "灰色地带"}
# a major issue escalated to the named managers (seeds 001, 004; intake's complaints.MAJOR)
MAJOR_ISSUES = {"safety": "危及人身安全", "batch_defect": "批量质量事故"}
# qa's callbacks (回访)
CALLBACK_PURPOSES = {
    "service": "服务回访",
    "followup": "七日跟踪",
    "tracking": "七日用户追踪",
    "complaint": "投诉三日回访",
    "care": "关怀回访",
}
CALLBACK_MODES = {"own": "本中心回访", "sampled": "抽样回访", "cross": "交叉回访"}
CALLBACK_STATUS = {"planned": "待回访", "done": "已回访", "negative": "不满意", "closed": "已结案"}
CALLBACK_REASONS = {
    "late_arrival": "上门不及时",
    "not_fixed": "故障未排除",
    "repeat_fault": "故障重复出现",
    "attitude": "服务态度差",
    "fee_dispute": "收费争议",
    "no_fee_schedule": "未出示收费标准",
    "site_not_clean": "现场未清理",
    "parts_delay": "配件等待",
    "no_signature": "工作单未签字",
    "praised": "表扬",
    "fast": "响应快",
    "other": "其他",
}

TABLES = {
    "role": ROLES,
    "duty": DUTIES,
    "visit_status": VISIT_STATUS,
    "ticket_kind": TICKET_KINDS,
    "tier": TIERS,
    "warranty": WARRANTY,
    "remedy": REMEDIES,
    "channel": CHANNELS,
    "ticket_status": TICKET_STATUS,
    "case_state": CASE_STATES,
    "step": STEPS,
    "ticket_audit": AUDIT_ACTIONS,
    "return_step": RETURN_STEPS,
    "sla": SLAS,
    "deadline_state": DEADLINE_STATES,
    "precision": PRECISION,
    "service_mode": SERVICE_MODES,
    "complaint_category": COMPLAINT_CATEGORIES,
    "responsibility": RESPONSIBILITIES,
    "major_issue": MAJOR_ISSUES,
    "callback_purpose": CALLBACK_PURPOSES,
    "callback_mode": CALLBACK_MODES,
    "callback_status": CALLBACK_STATUS,
    "callback_reason": CALLBACK_REASONS,
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
    from services.gateway.portal.labels_warehouse import WAREHOUSE_TABLES

    TABLES.update(OUTLET_TABLES)
    TABLES.update(WAREHOUSE_TABLES)


_outlet_tables()
