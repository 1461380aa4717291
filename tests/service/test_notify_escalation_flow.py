"""A major safety issue reaches its named managers in person over the real broker and a real SMTP
server (seeds 001, 004: 主管副总, 直至总经理): intake escalates to the vice president named in
COMPLAINT_ESCALATION, notify mails them by name and puts it in their own inbox; unacknowledged in
time, the watchdog re-escalates and the general manager gets the next mail."""

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.tenancy import Principal
from tests import notify_doubles as doubles
from tests.conftest import C01, HQ, Platform, wait_for

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
VP = Principal("c01-vp", "center", tenant="C01")
GM = Principal("c01-gm", "hq")
ESCALATION = {
    "ack_minutes": 30,
    "tenants": {
        "C01": [
            {"level": "vp", "title": "主管副总", "name": "王副总", "user": "c01-vp", "email": "vp@c01.example.com"},
            {"level": "gm", "title": "总经理", "name": "李总", "user": "c01-gm", "email": ["gm@c01.example.com"]},
        ]
    },
}
SAFETY = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "武汉安全投诉客户",
    "phone": "13800005555",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "机床漏电",
    "safety": True,
}


@pytest.fixture
def platform(runner_factory, service_config, tmp_path):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService

    smtp_port = doubles.free_port()
    config = dict(
        service_config,
        COMPLAINT_ESCALATION=json.dumps(ESCALATION, ensure_ascii=False),
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=smtp_port,
        NOTIFY_CONTACTS={"centers": {"C01": {"email": ["wuhan-center@example.com"]}}},
        NOTIFY_QUIET_HOURS="22:00-08:00",  # urgent: an escalation is sent at any hour all the same
        NOTIFY_RETRY_SECONDS=0.5,
        NOTIFY_SEND_TIMEOUT_SECONDS=3,
    )
    smtp = doubles.start("smtp", smtp_port, tmp_path / "mail")
    runner = runner_factory(config, IntakeService, NotifyService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    p.mail_dir = tmp_path / "mail"
    yield p
    doubles.stop(smtp)


def to_addr(mail):
    return mail["To"].addresses[0].addr_spec


def test_named_managers_get_the_escalation_and_the_re_escalation(platform, rpc_as):
    p = platform
    r = p.post(f"{API}/tickets", C01, json=SAFETY)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["escalation_manager"] == "c01-vp"

    vp_mail = wait_for(
        lambda: [m for m in doubles.mails(p.mail_dir) if to_addr(m) == "vp@c01.example.com"], what="the VP's e-mail"
    )
    assert len(vp_mail) == 1
    assert vp_mail[0]["To"].addresses[0].display_name == "主管副总 王副总"
    assert vp_mail[0]["Subject"] == f"【重大问题升级】{t['number']} 请主管副总 王副总确认"
    assert "危及人身安全" in vp_mail[0].get_content()
    # the center's generic address is told too, without the personal request
    wait_for(
        lambda: [m for m in doubles.mails(p.mail_dir) if to_addr(m) == "wuhan-center@example.com"],
        what="the center's e-mail",
    )
    # the VP's own inbox has it; the center's agent does not see the VP's personal notice
    mine = p.get(f"{API}/notify/inbox", VP).json()["items"]
    assert [n["kind"] for n in mine if n["ticket_id"] == t["id"] and n["audience"] == "user"] == ["escalated_manager"]
    agent = p.get(f"{API}/notify/inbox", C01).json()["items"]
    assert sorted(n["kind"] for n in agent if n["ticket_id"] == t["id"]) == ["escalated", "ticket_registered"]

    # not acknowledged within 30 minutes: the general manager is next, by name
    with rpc_as(HQ) as intake:
        assert intake.run_sla_check((datetime.now(TZ) + timedelta(minutes=31)).isoformat())["re_escalated"] == 1
    gm_mail = wait_for(
        lambda: [m for m in doubles.mails(p.mail_dir) if to_addr(m) == "gm@c01.example.com"], what="the GM's e-mail"
    )
    assert gm_mail[0]["To"].addresses[0].display_name == "总经理 李总"
    assert "上一级（c01-vp）未按时确认" in gm_mail[0].get_content()
    gm_inbox = p.get(f"{API}/notify/inbox", GM).json()["items"]
    assert [n for n in gm_inbox if n["audience"] == "user" and n["audience_id"] == "c01-gm"]
    assert len([m for m in doubles.mails(p.mail_dir) if to_addr(m) == "vp@c01.example.com"]) == 1
