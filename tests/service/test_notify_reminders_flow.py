"""The warnings that come before a miss, over the real broker: intake's watchdog warns once when
most of a deadline's window has passed (sla.at_risk) and qa tells a center once of a callback
coming due (callback.due); notify puts both into the center's portal inbox in Chinese."""

from datetime import datetime, timedelta

import pytest

from tests.conftest import C01, C02, HQ, Platform, wait_for
from tests.qa_fixtures import REPAIR, now_utc, qa_config, send, visit  # noqa: F401

API = "/api/v1"


@pytest.fixture
def platform(runner_factory, qa_config):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService
    from services.qa.service import QaService

    config = dict(qa_config, NOTIFY_QUIET_HOURS="off", SLA_AT_RISK_SHARE="0.8")
    runner = runner_factory(config, IntakeService, QaService, NotifyService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def inbox(p, principal):
    r = p.get(f"{API}/notify/inbox", principal)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_sla_at_risk_and_callback_due_reach_the_center_inbox_once(platform, rpc_as, send):
    p = platform
    r = p.post(f"{API}/tickets", C01, json=REPAIR)
    assert r.status_code == 201, r.text
    ticket = r.json()
    onsite = next(d for d in ticket["deadlines"] if d["sla"] == "onsite")
    received, due = datetime.fromisoformat(ticket["received_at"]), datetime.fromisoformat(onsite["due_at"])

    with rpc_as(HQ) as intake:
        early = intake.run_sla_check((received + (due - received) * 0.1).isoformat())
        assert early["at_risk"] == 0  # a tenth of the window: nothing yet
        at = received + (due - received) * 0.85
        first = intake.run_sla_check(at.isoformat())
        again = intake.run_sla_check((at + timedelta(minutes=1)).isoformat())
    assert first["at_risk"] >= 1 and again["at_risk"] == 0  # each deadline warns once

    subject = f"【时效预警】{ticket['number']} 上门即将超时"
    warned = wait_for(lambda: [n for n in inbox(p, C01) if n["subject"] == subject], what="the at-risk notice")
    assert len(warned) == 1 and "80%" in warned[0]["body"] and "（北京时间）" in warned[0]["body"]
    assert not [n for n in inbox(p, C02) if n["ticket_id"] == ticket["id"]]  # not another center's

    # a completed visit plans the ticket's seven-day tracking call; when it comes due, C01 is told once
    send("dispatch", "visit.completed", visit("v-remind-1", "t-remind", "C01-O01", now_utc()))
    with rpc_as(HQ, "qa") as qa:
        wait_for(
            lambda: [
                c
                for c in qa.work_list({"status": "all", "purpose": "tracking", "caller": "all"})["items"]
                if c["ticket_id"] == "t-remind"
            ],
            what="the tracking call",
        )
        assert qa.run_callback_reminders(now_utc().isoformat())["told"] == 0  # a week away
        later = (now_utc() + timedelta(days=9)).isoformat()
        assert qa.run_callback_reminders(later)["told"] >= 1
        assert qa.run_callback_reminders(later)["told"] == 0
    reminded = wait_for(
        lambda: [n for n in inbox(p, C01) if n["kind"] == "callback_due" and n["ticket_id"] == "t-remind"],
        what="the callback-due notice",
    )
    assert {n["subject"] for n in reminded} == {"【回访提醒】服务单 t-remind"}
    assert any("七天内用户追踪" in n["body"] for n in reminded)
    assert not [n for n in inbox(p, C02) if n["ticket_id"] == "t-remind"]
