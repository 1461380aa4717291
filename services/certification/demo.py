"""The certification part of `fsm demo`: a new outlet from its application to effective (with a
refused out-of-order step and a certified technician on the way), one revocation on the
outlet's written request waiting for the accounts to be cleared, and HQ's network gaps."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from shared.tenancy import Principal

API = "/api/v1"
TENANT = "C03"
AGENT = Principal("demo-cert-agent-c03", "center", tenant=TENANT)
TECH_LEAD = Principal("demo-tech-lead-c03", "center", tenant=TENANT, duty="technical_lead")
HEAD = Principal("demo-service-head", "hq", duty="service_head")
HQ = Principal("demo-hq", "hq")
REVOKE = "C05-O05"  # on probation in tenants.yaml; it withdraws in writing
REVOKE_OUTLET = Principal("demo-outlet-c05-o05", "outlet", tenant="C05", outlet=REVOKE)
C05_AGENT = Principal("demo-cert-agent-c05", "center", tenant="C05")
C05_TECH = Principal("demo-tech-lead-c05", "center", tenant="C05", duty="technical_lead")

FORM = {
    "name": "宁波恒信特约服务站",
    "kind": "franchised",
    "legal_entity": "宁波恒信机电设备服务有限公司",
    "licence_no": "91330212MA2H4K7Q3N",
    "bank_account": {
        "bank": "中国银行宁波鄞州支行",
        "account_no": "3581588841003",
        "holder": "宁波恒信机电设备服务有限公司",
    },
    "premises": {"address": "浙江省宁波市鄞州区首南街道天童南路1088号", "office_m2": 60, "workshop_m2": 240},
    "equipment": ["注塑机液压测试台", "数控系统诊断仪", "服务车 浙B-7H215"],
    "staff": [
        {"name": "应国平", "position": "manager", "qualification": "机械工程师"},
        {"name": "胡志强", "position": "technician", "qualification": "注塑机维修高级工", "product_lines": ["注塑机"]},
        {"name": "俞佳", "position": "settlement"},
    ],
    "product_lines": ["注塑机"],
    "province": "浙江省",
    "city": "宁波市",
    "district": "鄞州区",
    "lat": 29.8167,
    "lon": 121.5470,
    "attachments": ["scan://licence/91330212MA2H4K7Q3N.pdf"],
}


def run(ctx):
    lines, ok = [], True
    gw = ctx.gateway

    def call(label, method, path, principal, expect=200, show=None, **kw):
        nonlocal ok
        status, body = gw.call(method, path, principal, **kw)
        good = status == expect
        ok = ok and good
        if status >= 400:
            err = body.get("error", {}) if isinstance(body, dict) else {}
            detail = f"HTTP {status} {err.get('code', '')}: {err.get('message', body)}"
        else:
            detail = f"HTTP {status}  {show(body) if show else ''}"
        lines.append(f"  {label:<40} -> {detail}{'' if good else f'  (expected {expect})'}")
        return body if good else None

    # ---------------------------------------------------------------- a new outlet
    outlet = call(
        "apply (center for the outlet, form)",
        "POST",
        f"{API}/outlets",
        AGENT,
        201,
        json=FORM,
        show=lambda b: f"{b['id']} {b['name']} {b['status']}",
    )
    if outlet is None:
        return lines, False
    oid = outlet["id"]
    steps = f"{API}/outlets/{oid}/steps"
    status_of = lambda b: b["status"]  # noqa: E731
    call(
        "head approval before the reviews",
        "POST",
        steps,
        HEAD,
        409,
        json={"action": "head_approval", "decision": "pass"},
    )
    today = datetime.now(UTC).date()
    call(
        "center review + site inspection",
        "POST",
        steps,
        AGENT,
        show=status_of,
        json={
            "action": "center_review",
            "decision": "pass",
            "attachments": ["photo://site/ningbo-1.jpg"],
            "inspection": {
                "inspected_on": today.isoformat(),
                "inspector": "南京中心 钱工",
                "premises_ok": True,
                "equipment_ok": True,
                "staff_ok": True,
                "findings": "维修场地 240㎡, 设备齐全",
            },
        },
    )
    call(
        "technical review by plain HQ user",
        "POST",
        steps,
        HQ,
        403,
        json={"action": "technical_review", "decision": "pass"},
    )
    call(
        "technical management review",
        "POST",
        steps,
        TECH_LEAD,
        show=status_of,
        json={"action": "technical_review", "decision": "pass"},
    )
    call(
        "service department head approval",
        "POST",
        steps,
        HEAD,
        show=status_of,
        json={"action": "head_approval", "decision": "pass", "reason": "宁波注塑机保有量缺口"},
    )
    signed = today - timedelta(days=95)  # the paper agreement was signed three months ago
    call(
        "agreement (signed 95 days ago), limit 3",
        "POST",
        steps,
        AGENT,
        show=lambda b: f"{b['status']} until {b['probation_until']}, {b['agreement']['number']}",
        json={
            "action": "issue_agreement",
            "agreement": {"valid_from": signed.isoformat(), "job_limit": 3, "terms": "特约服务协议 2026 版 (注塑机)"},
        },
    )
    tech_id = f"{oid}-T1"
    call(
        "exam passed: certificate for 2 years",
        "POST",
        f"{API}/certification/exams",
        AGENT,
        201,
        json={"technician_id": tech_id, "product_line": "注塑机", "score": "84"},
        show=lambda b: f"{tech_id} 注塑机 valid until {b['certificate']['valid_until']}",
    )
    call(
        "probation assessment passed",
        "POST",
        steps,
        AGENT,
        show=status_of,
        json={"action": "assess_probation", "result": "passed", "assessment": {"score": "89", "findings": "合格"}},
    )
    f = call(
        "the outlet reads its own file",
        "GET",
        f"{API}/outlet/file",
        Principal("demo-outlet", "outlet", tenant=TENANT, outlet=oid),
        show=lambda b: (
            f"{len(b['steps'])} steps, lines "
            + ", ".join(f"{x['product_line']}={'ok' if x['eligible'] else 'no'}" for x in b["lines"])
        ),
    )
    ok = ok and bool(f) and f["status"] == "effective"

    # ---------------------------------------------------------------- a revocation
    rsteps = f"{API}/outlets/{REVOKE}/steps"
    call(
        f"{REVOKE} asks in writing to withdraw",
        "POST",
        rsteps,
        REVOKE_OUTLET,
        show=status_of,
        json={
            "action": "request_revocation",
            "revocation": {
                "reason_code": "outlet_request",
                "written_request_ref": "doc://贵阳解约申请函.pdf",
                "details": "试用期内业务量不足, 申请解除合约",
            },
        },
    )
    call(
        "center review of the revocation",
        "POST",
        rsteps,
        C05_AGENT,
        show=status_of,
        json={"action": "revocation_center_review", "decision": "pass"},
    )
    call(
        "technical review of the revocation",
        "POST",
        rsteps,
        C05_TECH,
        show=status_of,
        json={"action": "revocation_technical_review", "decision": "pass"},
    )
    revoking = call(
        "head approval: clear the accounts",
        "POST",
        rsteps,
        HEAD,
        show=lambda b: f"{b['status']}, clearing {b['clearing_status']}",
        json={"action": "revocation_approval", "decision": "pass"},
    )
    if revoking:
        deadline = time.monotonic() + 4.0
        file = revoking
        while time.monotonic() < deadline:
            status, file = gw.call("GET", f"{API}/outlets/{REVOKE}", HQ)
            if status == 200 and file["clearing_status"] != "pending":
                break
            time.sleep(0.3)
        if file["status"] == "revoked":
            lines.append(f"  {'settlement answered':<40} -> accounts cleared: {REVOKE} revoked, outlet notified")
        elif file["clearing_status"] == "open_items":
            items = "; ".join(f"{i['kind']} {i['ref']}" for i in file["open_items"][:4])
            lines.append(f"  {'settlement answered':<40} -> open items listed: {items} (revoking, can re-request)")
        else:
            lines.append(f"  {'settlement answered':<40} -> not yet: {REVOKE} stays revoking, clearing pending")

    # ---------------------------------------------------------------- network planning
    plan = call(
        "network plan (HQ, capacity 1000/yr)",
        "GET",
        f"{API}/network-plan?capacity=1000&gaps_only=true",
        HQ,
        show=lambda b: f"{b['totals']['short']} outlets short in {len(b['areas'])} areas",
    )
    if plan:
        for a in plan["areas"][:3]:
            lines.append(
                f"    {a['tenant_id']} {a['city']}: {a['yearly_repairs']} repairs/yr, needs "
                f"{a['outlets_needed']}, has {a['outlets_current']}"
            )
    return lines, ok
