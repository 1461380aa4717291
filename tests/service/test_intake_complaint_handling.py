"""Complaint handling through the running intake and gateway (issue 17.4): a grey-zone case waits
for HQ's ruling (seed 002); the first-contact owner hands over with a reason (首问负责制); a major
issue escalated to named managers goes on to the next when not acknowledged in time and stops
once acknowledged (seeds 001, 004), each time a ticket.escalated event and an audit entry."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.tenancy import Principal
from tests.conftest import C01, HQ, Platform
from tests.parts_fixtures import collector, wait_events
from tests.pdf_tools import pdf_text

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
COMPLAINT = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "武汉投诉客户",
    "phone": "13800004444",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "主轴异响",
}
VP = Principal("c01-vp", "center", tenant="C01")
GM = Principal("c01-gm", "hq")
ESCALATION = {
    "ack_minutes": 30,
    "tenants": {
        "C01": [
            {"level": "vp", "title": "主管副总", "name": "王副总", "user": "c01-vp"},
            {"level": "gm", "title": "总经理", "name": "李总", "user": "c01-gm"},
        ]
    },
}


@pytest.fixture
def handling(runner_factory, service_config):
    """intake + gateway with C01's managers named (COMPLAINT_ESCALATION as the environment gives it: JSON)."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(service_config, COMPLAINT_ESCALATION=json.dumps(ESCALATION, ensure_ascii=False))
    runner = runner_factory(config, IntakeService, GatewayService)
    runner.start()
    return Platform(runner, config)


def _step(platform, principal, ticket_id, **body):
    return platform.post(f"{API}/tickets/{ticket_id}/transitions", principal, json=body)


def _offered(platform, principal, ticket_id):
    r = platform.get(f"{API}/tickets/{ticket_id}/transitions", principal)
    assert r.status_code == 200, r.text
    return {s["action"] for s in r.json()["steps"]}


def _audit(platform, ticket_id):
    return platform.get(f"{API}/tickets/{ticket_id}", HQ).json()["audit"]


def test_grey_zone_waits_for_hq_and_the_owner_hands_over_with_a_reason(handling):
    p = handling
    t = p.post(f"{API}/tickets", C01, json=COMPLAINT).json()
    assert _step(p, C01, t["id"], action="register").status_code == 200
    # decided with the internal check: a grey zone, escalated to HQ
    r = _step(p, C01, t["id"], action="internal_check", responsibility="grey_zone", note="责任不清")
    assert r.status_code == 200, r.text
    assert (r.json()["responsibility"], r.json()["responsibility_by"]) == ("grey_zone", "wuhan-agent")

    refused = _step(p, C01, t["id"], action="negotiate")
    assert refused.status_code == 409 and "action" in refused.json()["error"]["fields"], refused.text
    assert "negotiate" not in _offered(p, C01, t["id"]) and "rule_grey_zone" in _offered(p, HQ, t["id"])
    assert _step(p, C01, t["id"], action="rule_grey_zone", responsibility="own", note="x").status_code == 409
    bad = _step(p, HQ, t["id"], action="rule_grey_zone", responsibility="own")
    assert bad.status_code == 422 and "note" in bad.json()["error"]["fields"], bad.text

    ruled = _step(p, HQ, t["id"], action="rule_grey_zone", responsibility="own", note="行政裁定：安装责任")
    assert ruled.status_code == 200, ruled.text
    assert (ruled.json()["responsibility"], ruled.json()["grey_zone_ruled_by"]) == ("own", "hq-admin")
    assert _step(p, C01, t["id"], action="negotiate").status_code == 200

    # the hand-over: the new owner and the reason required, each named; then on the ticket and in the trail
    missing = _step(p, C01, t["id"], action="hand_over")
    assert missing.status_code == 422 and {"owner_user", "note"} <= set(missing.json()["error"]["fields"])
    wrong = _step(p, C01, t["id"], action="negotiate", owner_user="zhang")
    assert wrong.status_code == 422 and "owner_user" in wrong.json()["error"]["fields"]
    moved = _step(p, C01, t["id"], action="hand_over", owner_user="wuhan-quality", note="转质量组跟踪到底")
    assert moved.status_code == 200 and moved.json()["owner_user"] == "wuhan-quality", moved.text

    trail = {a["action"]: a for a in _audit(p, t["id"])}
    assert trail["rule_grey_zone"]["user"] == "hq-admin" and trail["rule_grey_zone"]["data"]["before"] == "grey_zone"
    assert trail["hand_over"]["data"] == {"from_owner": "wuhan-agent", "to_owner": "wuhan-quality"}
    assert trail["hand_over"]["note"] == "转质量组跟踪到底" and trail["hand_over"]["user"] == "wuhan-agent"

    # the countermeasure, then the report (汇报) archives the complaint handling report, a PDF to download
    no_report = p.get(f"{API}/tickets/{t['id']}/complaint-report", C01)
    assert no_report.status_code == 404 and "ticket_id" in no_report.json()["error"]["fields"], no_report.text
    follow_up = (datetime.now(TZ) + timedelta(days=90)).date().isoformat()
    r = _step(
        p, C01, t["id"], action="record_countermeasure", countermeasure="安装规范培训，批次复检", follow_up_on=follow_up
    )
    assert r.status_code == 200 and r.json()["follow_up_on"] == follow_up, r.text
    for action in ("notify_result", "report"):
        assert _step(p, C01, t["id"], action=action, note="已书面告知客户").status_code == 200
    pdf = p.get(f"{API}/tickets/{t['id']}/complaint-report", C01)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf", pdf.text[:200]
    text, _ = pdf_text(pdf.content)
    for words in ("投诉处理报告", "安装规范培训", "行政裁定：安装责任", "wuhan-quality", follow_up):
        assert words in text, words


def test_an_unacknowledged_escalation_goes_to_the_next_manager_and_stops_when_acknowledged(handling, rpc_as):
    p = handling
    drain = collector(p.config["AMQP_URI"], "ticket.escalated", source="intake")
    t = p.post(f"{API}/tickets", C01, json=dict(COMPLAINT, safety=True, fault="机床漏电")).json()
    assert (t["escalation_manager"], t["escalation_level"]) == ("c01-vp", 0)
    [first] = wait_events(drain, ticket_id=t["id"])
    assert (first["level"], first["manager"], first["manager_name"]) == ("vp", "c01-vp", "主管副总 王副总")

    with rpc_as(HQ) as intake:
        assert intake.run_sla_check((datetime.now(TZ) + timedelta(minutes=10)).isoformat())["re_escalated"] == 0
        assert intake.run_sla_check((datetime.now(TZ) + timedelta(minutes=31)).isoformat())["re_escalated"] == 1
    wait_events(drain, n=2, ticket_id=t["id"])
    got = p.get(f"{API}/tickets/{t['id']}", HQ).json()
    assert (got["escalation_manager"], got["escalation_level"]) == ("c01-gm", 1)
    assert [e["data"]["level"] for e in got["audit"] if e["action"] in ("escalate", "re_escalate")] == ["vp", "gm"]
    assert [e for e in wait_events(drain, n=2, ticket_id=t["id"]) if e["level"] == "gm"][0]["manager"] == "c01-gm"

    # the vice president is no longer asked; the general manager acknowledges
    assert _step(p, VP, t["id"], action="acknowledge_escalation").status_code == 409
    assert "acknowledge_escalation" in _offered(p, GM, t["id"])
    r = _step(p, GM, t["id"], action="acknowledge_escalation", note="已阅，质量部专人跟踪")
    assert r.status_code == 200 and r.json()["escalation_acked_by"] == "c01-gm", r.text
    with rpc_as(HQ) as intake:
        assert intake.run_sla_check((datetime.now(TZ) + timedelta(hours=5)).isoformat())["re_escalated"] == 0
    assert len([e for e in drain() if e["ticket_id"] == t["id"]]) == 2

    # a batch defect found at the on-site verification goes to the same managers, the issue named
    plain = p.post(f"{API}/tickets", C01, json=dict(COMPLAINT, customer_name="批次投诉客户")).json()
    assert plain["escalation_manager"] is None
    bad = _step(p, C01, plain["id"], action="escalate_major", note="同批次多台漏油")
    assert bad.status_code == 422 and "major_issue" in bad.json()["error"]["fields"], bad.text
    r = _step(p, C01, plain["id"], action="escalate_major", major_issue="batch_defect", note="同批次多台漏油")
    assert r.status_code == 200 and r.json()["escalation_manager"] == "c01-vp", r.text
    [found] = wait_events(drain, ticket_id=plain["id"])
    assert (found["reason"], found["manager"]) == ("batch_defect", "c01-vp")

    # one that waited in HQ's triage goes to the managers of the center HQ routes it to
    triage = p.post(f"{API}/tickets", HQ, json=dict(COMPLAINT, address="青山区和平大道293号", safety=True)).json()
    assert (triage["status"], triage["escalation_manager"]) == ("triage", None)
    routed = _step(p, HQ, triage["id"], action="route", tenant_id="C01")
    assert routed.status_code == 200 and routed.json()["escalation_manager"] == "c01-vp", routed.text
