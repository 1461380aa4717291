"""Names for the codes the outlet's parts, money and standing pages show (labels.py takes these
tables into its own, so templates use them as ``code | label("claim_status")``)."""

from __future__ import annotations

CLAIM_STATUS = {
    "center_review": "中心审核中",
    "tech_review": "技术负责人审核中",
    "hq_review": "总部审核中",
    "approved": "已核准",
    "rejected": "已驳回",
}
AUDIT_LEVEL = {"center": "服务中心", "technical_lead": "技术负责人", "hq": "总部"}
AUDIT_ACTION = {"approve": "核准", "adjust": "调整金额", "reject": "驳回"}
AUDIT_RULES = {
    "warranty_valid": "保修有效性",
    "duplicate_claim": "重复申报",
    "repeat_repair": "30 天内重复维修",
    "part_return": "旧件返还",
    "sla_breach": "时效违约",
    "negative_callback": "回访不满意",
    "customer_confirmed": "客户确认",
    "tariff_cap": "超出收费标准",
    "sla_breach_deduction": "时效违约扣款",
    "sla_breach:onsite": "上门超时扣款",
    "sla_breach:accept": "受理超时扣款",
    "sla_breach:phone_reply": "电话回复超时扣款",
    "sla_breach:forward": "转派超时扣款",
    "sla_breach:complaint_plan": "投诉方案超时扣款",
    "sla_breach:complaint_close": "投诉结案超时扣款",
    "part_not_returned": "旧件未返还",
    "late_part_return": "旧件返还逾期",
}
RULE_OUTCOME = {
    "pass": "通过",
    "reject": "驳回",
    "flag": "需复核",
    "hold": "暂缓结算",
    "deduct": "扣款",
    "cap": "按标准核减",
}
PAYER = {"warranty": "厂家（保修）", "customer": "客户（自费）", "self_paid": "客户（自费）"}
STATEMENT_STATUS = {"issued": "已出具", "partially_paid": "部分已付", "paid": "已结清", "open": "未结清"}
STATEMENT_LINE = {
    "claim": "服务费",
    "adjustment": "调整",
    "self_paid_outlet_share": "自费收款分成",
    "hold_released": "解除暂缓的服务费",
    "deduction": "扣款",
    "carry": "结转",
    "payment": "付款",
}
# a claim's price lines (settlement's domain.price)
PRICE_LINE = {
    "labour": "工时费",
    "visit_fee": "上门费",
    "transport": "交通费",
    "travel_allowance": "出差补助",
    "parts_handling": "配件装卸费",
}
HOLD_KIND = {"part_return": "旧件待返还", "callback": "回访不满意待处理"}
HOLD_STATUS = {"open": "暂缓中", "released": "已解除"}
STOCK_CONDITION = {"good": "良品", "defective": "旧件（待返厂）"}
RESERVATION_STATUS = {
    "reserved": "已预留",
    "short": "缺货待补",
    "issued": "已发放",
    "consumed": "已使用",
    "released": "已释放",
}
RESERVATION_SOURCE = {"visit": "派工自动预留", "request": "网点申请", "manual": "手工申请"}
RMA_STATUS = {
    "open": "待寄回",
    "received_warehouse": "备件库已签收",
    "received_factory": "工厂已签收",
    "inspected": "工厂已检验",
}
INSPECTION = {
    "defect_confirmed": "确认故障",
    "no_fault_found": "未发现故障",
    "wrong_part": "返错配件",
    "damaged_in_transit": "运输损坏",
}
OUTLET_STATUS = {
    "applied": "已申请",
    "center_reviewed": "中心已初审",
    "technical_reviewed": "技术已评审",
    "approved": "已批准",
    "probation": "试用期",
    "effective": "正式授权",
    "suspended": "暂停",
    "revocation_requested": "解约申请中",
    "revocation_center_reviewed": "解约中心已审",
    "revocation_technical_reviewed": "解约技术已审",
    "revoking": "解约清算中",
    "revoked": "已撤销",
    "rejected": "申请被拒",
}
OUTLET_KIND = {"franchised": "特约网点", "self_run": "自办网点", "dedicated": "授权专营店"}
CERT_STATUS = {"valid": "有效", "expired": "已过期", "revoked": "已吊销"}
REVOCATION_REASON = {
    "breach": "违约",
    "poor_quality": "服务质量差",
    "complaints": "投诉过多",
    "outlet_request": "网点申请解约",
    "probation_refused": "试用期考核未通过",
}
SCORE_SOURCE = {
    "visit.completed": "完工记录",
    "sla.breached": "时效超时",
    "callback": "回访",
    "finding": "检查记录",
    "complaint": "投诉",
    "qa": "质量部",
}

OUTLET_TABLES = {
    "claim_status": CLAIM_STATUS,
    "audit_level": AUDIT_LEVEL,
    "audit_action": AUDIT_ACTION,
    "audit_rule": AUDIT_RULES,
    "rule_outcome": RULE_OUTCOME,
    "payer": PAYER,
    "statement_status": STATEMENT_STATUS,
    "statement_line": STATEMENT_LINE,
    "price_line": PRICE_LINE,
    "hold_kind": HOLD_KIND,
    "hold_status": HOLD_STATUS,
    "stock_condition": STOCK_CONDITION,
    "reservation_status": RESERVATION_STATUS,
    "reservation_source": RESERVATION_SOURCE,
    "rma_status": RMA_STATUS,
    "inspection": INSPECTION,
    "outlet_status": OUTLET_STATUS,
    "outlet_kind": OUTLET_KIND,
    "cert_status": CERT_STATUS,
    "revocation_reason": REVOCATION_REASON,
    "score_source": SCORE_SOURCE,
}
