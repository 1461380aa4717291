"""Notify through real RabbitMQ: a web ticket forwarded under the 1-hour rule reaches the center
by e-mail at a real SMTP server (once, though the fact arrives twice) and in its portal inbox
(not another center's); a visit planned gives the outlet and the customer an SMS at the
provider's HTTP double (a masked phone is recorded as undeliverable); an SMTP server that is down
at first gets the e-mail when it is back, by the retry timer."""

import uuid

import pytest
import requests
from nameko.standalone.events import event_dispatcher

from shared import clock, tenancy
from tests import notify_doubles as doubles
from tests.conftest import C01, C02, HQ, Platform, http_port_of, wait_for
from tests.openapi_check import AnswerCheck

API = "/api/v1"
O1 = tenancy.Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
CONTACTS = {
    "centers": {
        "C01": {"email": ["wuhan-center@example.com"], "phone": ["13800000001"]},
        "C02": {"email": ["jinan-center@example.com"]},
    },
    "outlets": {"C01-O01": {"email": ["o1@example.com"], "phone": ["13900000001"]}},
}
WEB_REQUEST = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


@pytest.fixture
def notify_platform(runner_factory, service_config, tmp_path):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService

    smtp_port, sms_port = doubles.free_port(), doubles.free_port()
    config = dict(
        service_config,
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=smtp_port,
        NOTIFY_SMS_URL=f"http://127.0.0.1:{sms_port}/sms",
        NOTIFY_CONTACTS=CONTACTS,
        NOTIFY_QUIET_HOURS="off",  # the test runs at any hour: quiet hours are the unit tests'
        NOTIFY_RETRY_SECONDS=0.5,
        NOTIFY_RETRY_BASE_SECONDS=0.5,
        NOTIFY_SEND_TIMEOUT_SECONDS=3,
    )
    runner = runner_factory(config, IntakeService, NotifyService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    p.check = AnswerCheck(p.get("/openapi.json").json())  # every answer as the document says
    p.smtp_port, p.sms_port = smtp_port, sms_port
    p.mail_dir, p.sms_dir = tmp_path / "mail", tmp_path / "sms"
    p.mail_dir.mkdir()
    p.sms_dir.mkdir()
    started = []
    p.start_double = lambda kind: started.append(
        doubles.start(kind, smtp_port if kind == "smtp" else sms_port, p.mail_dir if kind == "smtp" else p.sms_dir)
    )
    yield p
    for proc in started:
        doubles.stop(proc)


def publish(p, source, event_type, body, event_id):
    headers = {
        "nameko.event_id": event_id,
        "nameko.principal": tenancy.service_principal(source).encode(),
    }
    event_dispatcher(p.config, headers=headers)(source, event_type, body)


def notices(p, **query):
    r = p.get(f"{API}/notify/notices", HQ, params=query)
    assert r.status_code == 200, r.text
    p.check(r)
    return r.json()["items"]


def test_web_ticket_email_once_inbox_per_center_and_visit_sms(notify_platform):
    p = notify_platform
    p.start_double("smtp")
    p.start_double("sms")

    # a web request placed in C01's territory is forwarded to C01 at once: C01 gets an e-mail
    r = p.post(f"{API}/tickets", C01, json=WEB_REQUEST)
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    mail = wait_for(lambda: doubles.mails(p.mail_dir), what="the center's e-mail")[0]
    assert mail["To"] == "wuhan-center@example.com"
    assert mail["Subject"] == f"【网上报修转交】{number}"
    text = mail.get_content()
    assert "1 小时内受理" in text and "（北京时间）" in text and "无法启动" in text

    # the same fact delivered twice (one message id): still one e-mail
    event_id = uuid.uuid4().hex
    fact = {
        "tenant_id": "C01",
        "ticket_id": "t-dup",
        "number": "C01-DUP-0001",
        "kind": "repair",
        "channel": "web",
        "priority": 3,
        "received_at": clock.now().isoformat(),
        "warranty": "unknown",
        "geo_ambiguous": False,
    }
    publish(p, "intake", "ticket.registered", fact, event_id)
    publish(p, "intake", "ticket.registered", fact, event_id)
    wait_for(lambda: len(doubles.mails(p.mail_dir)) >= 2, what="the duplicate fact's e-mail")
    wait_for(
        lambda: len([n for n in notices(p, ticket_id="t-dup") if n["channel"] == "inbox"]) == 1,
        what="the duplicate fact's inbox notice",
    )
    # a third fact after both: once it is handled, the duplicate surely was too
    publish(p, "intake", "ticket.registered", dict(fact, ticket_id="t-after", number="C01-AFTER-01"), "after")
    wait_for(lambda: len(doubles.mails(p.mail_dir)) >= 3, what="the later fact's e-mail")
    subjects = [m["Subject"] for m in doubles.mails(p.mail_dir)]
    assert subjects.count("【网上报修转交】C01-DUP-0001") == 1, subjects
    assert len(notices(p, ticket_id="t-dup")) == 2  # e-mail + inbox, once each

    # the inbox: C01's user sees the notice, C02's does not, nor can mark it read
    r = p.get(f"{API}/notify/inbox", C01)
    p.check(r)
    inbox = r.json()
    mine = [n for n in inbox["items"] if n["subject"] == f"【网上报修转交】{number}"]
    assert len(mine) == 1 and mine[0]["read_at"] is None and inbox["unread"] == 3
    other = p.get(f"{API}/notify/inbox", C02).json()
    assert (other["items"], other["total"], other["unread"]) == ([], 0, 0)
    notice_id = mine[0]["id"]
    r = p.post(f"{API}/notify/inbox/{notice_id}/read", C02)
    assert r.status_code == 404, r.text
    p.check(r)
    r = p.post(f"{API}/notify/inbox/{notice_id}/read", C01)
    assert r.status_code == 200 and r.json()["read_at"], r.text
    p.check(r)
    assert p.get(f"{API}/notify/inbox?unread=true", C01).json()["unread"] == 2
    r = p.post(f"{API}/notify/inbox/not-a-number/read", C01)
    assert r.status_code == 422 and "notice_id" in r.json()["error"]["fields"], r.text
    p.check(r)
    r = p.get(f"{API}/notify/inbox?unread=maybe", C01)
    assert r.status_code == 422 and "unread" in r.json()["error"]["fields"], r.text
    warehouse = tenancy.Principal("w", "warehouse", tenant="C01", warehouse="W")
    assert p.get(f"{API}/notify/inbox", warehouse).status_code == 403  # no inbox for that role
    # C02's delivery log has none of C01's notices
    assert p.get(f"{API}/notify/notices", C02).json()["total"] == 0

    # a visit planned: the outlet and the customer get an SMS; a masked phone is recorded, not sent
    visit = {
        "tenant_id": "C01",
        "visit_id": "v-1",
        "ticket_id": "t-visit",
        "ticket_number": "C01-261204-VISIT",
        "outlet_id": "C01-O01",
        "technician_id": "C01-O01-T1",
        "at": clock.now().isoformat(),
        "planned_arrival": "2026-12-04T02:00:00+00:00",
        "product_line": "数控车床",
        "customer_phone": "13712345678",
    }
    publish(p, "dispatch", "visit.scheduled", visit, uuid.uuid4().hex)
    sms = wait_for(lambda: len(doubles.texts(p.sms_dir)) >= 2 and doubles.texts(p.sms_dir), what="two SMS")
    by_phone = {s["to"]: s["text"] for s in sms}
    assert set(by_phone) == {"13900000001", "13712345678"}
    assert "2026-12-04 10:00（北京时间）" in by_phone["13712345678"]  # 02:00 UTC
    assert "服务单 C01-261204-VISIT" in by_phone["13900000001"] and "t-visit" not in by_phone["13900000001"]
    # re-planned: 10 minutes later is no news; 3 hours later is, as a change notice
    publish(p, "dispatch", "visit.scheduled", dict(visit, planned_arrival="2026-12-04T02:10:00+00:00"), "replan-1")
    publish(p, "dispatch", "visit.scheduled", dict(visit, planned_arrival="2026-12-04T05:00:00+00:00"), "replan-2")
    sms = wait_for(lambda: len(doubles.texts(p.sms_dir)) >= 4 and doubles.texts(p.sms_dir), what="the change SMS")
    changed = [s["text"] for s in sms[2:] if s["to"] == "13712345678"]
    assert len(changed) == 1 and "时间已调整" in changed[0] and "2026-12-04 13:00（北京时间）" in changed[0], sms
    masked = dict(visit, visit_id="v-2", ticket_id="t-masked", customer_phone="137****5678")
    publish(p, "dispatch", "visit.scheduled", masked, uuid.uuid4().hex)
    customer = wait_for(
        lambda: [n for n in notices(p, ticket_id="t-masked") if n["audience"] == "customer"],
        what="the masked customer's notice",
    )[0]
    assert customer["status"] == "undeliverable" and "masked" in customer["error"]
    # the outlet reads its own inbox (its job notices), not the center's
    outlet_inbox = p.get(f"{API}/notify/inbox", O1).json()
    assert outlet_inbox["total"] == 3
    assert sorted(n["kind"] for n in outlet_inbox["items"]) == ["job_assigned", "job_assigned", "job_changed"]
    # 2 + 2 for the change + the outlet's for v-2 (none for the masked phone, none for 10 minutes)
    wait_for(lambda: len(doubles.texts(p.sms_dir)) >= 5, what="the outlet's SMS for v-2")
    assert len(doubles.texts(p.sms_dir)) == 5


def test_smtp_down_at_first_then_the_email_is_retried_and_sent(notify_platform):
    p = notify_platform  # no SMTP server yet
    fact = {
        "tenant_id": "C02",
        "ticket_id": "t-retry",
        "number": "C02-RETRY-01",
        "kind": "install",
        "channel": "web",
        "priority": 3,
        "received_at": clock.now().isoformat(),
        "warranty": "warranty",
        "geo_ambiguous": False,
    }
    publish(p, "intake", "ticket.registered", fact, uuid.uuid4().hex)

    def failed_once():
        found = [n for n in notices(p, ticket_id="t-retry", channel="email")]
        return found and found[0]["attempts"] >= 1 and found[0]["status"] == "pending" and found[0]

    notice = wait_for(failed_once, what="a failed first attempt")
    assert "SMTP 127.0.0.1" in notice["error"] and notice["next_attempt_at"]
    p.start_double("smtp")
    mail = wait_for(lambda: doubles.mails(p.mail_dir), what="the retried e-mail")[0]
    assert mail["To"] == "jinan-center@example.com" and mail["Subject"] == "【网上报修转交】C02-RETRY-01"
    sent = wait_for(
        lambda: [n for n in notices(p, ticket_id="t-retry", channel="email") if n["status"] == "sent"],
        what="the notice marked sent",
    )[0]
    assert sent["attempts"] >= 2 and sent["sent_at"]
    assert len(doubles.mails(p.mail_dir)) == 1
    # the metrics say so: retries, then sent; nothing waiting
    port = http_port_of(p.containers["notify"])
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    for outcome in ("retry", "sent"):
        assert f'fsm_notify_sent_total{{channel="email",outcome="{outcome}",service="notify"}}' in text, text[-2000:]
    assert 'fsm_notify_pending{channel="email",service="notify"} 0.0' in text
