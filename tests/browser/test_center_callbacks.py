"""The regional center's callbacks in a real browser: a completed visit puts a callback in the
agent's work queue for today, the script's three questions and the satisfaction score are
recorded (a missing score shown next to it), a dissatisfied answer comes back to be closed, a
customer not reached is an attempt, another center's callback is not found, a phone's width. The
tests share one platform (each finds its own callbacks by id or customer)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from nameko.standalone.events import event_dispatcher

from shared import clock
from shared import events as catalogue
from tests.browser.test_center_tickets import agent, register
from tests.conftest import C01, C02, wait_for
from tests.qa_fixtures import visit


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + dispatch + qa + gateway (with its accounts), shared by the module's tests."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.qa.service import QaService

    return module_platforms(
        IntakeService, DispatchService, QaService, GatewayService, QA_AUTO_MONTHLY="false", QA_SAMPLE_SEED="test-seed"
    )


def completed(platform, ticket, outlet="C01-O01", tenant="C01", principal=C01):
    """The ticket's visit done by a franchised outlet (dispatch's fact): qa plans its callback."""
    dispatch = event_dispatcher(platform.config)
    at = clock.now() - timedelta(hours=2)
    body = visit(f"v-{ticket['id'][:8]}", ticket["id"], outlet, at, tenant=tenant)
    dispatch(
        "dispatch", "visit.completed", json.loads(json.dumps(catalogue.dump("visit.completed", body), default=str))
    )

    def planned():
        r = platform.get("/api/v1/qa/callbacks", principal, params={"purpose": "service"})  # not its tracking call
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["items"] if c["ticket_id"] == ticket["id"]), None)

    return wait_for(planned, what="the callback planned")


def test_the_agent_calls_back_with_the_script_and_records_the_answers(browser, portal_platform):
    happy = register(portal_platform, customer_name="满意客户")
    unhappy = register(portal_platform, customer_name="不满意客户", phone="13900002222")
    calls = {t["customer_name"]: completed(portal_platform, t) for t in (happy, unhappy)}
    agent(portal_platform, "c1-caller")
    browser.sign_in("c1-caller")
    browser.open("/center/callbacks")
    today = browser.find("#today").text
    assert "满意客户" in today and "不满意客户" in today and "13900002222" in today and "服务回访" in today
    # each served ticket's seven-day tracking call (七天内用户追踪) is on the list too, by its name
    assert "七日用户追踪" in today
    # the script: three questions and the score; a score left out is shown next to it
    browser.open(f"/center/callbacks/{calls['满意客户']['id']}")
    assert "24 小时" in browser.find("#q-onsite_within_24h").text and "收费标准" in browser.text
    for name in ("onsite_within_24h", "service_delivered", "fee_schedule_shown"):
        browser.find(f"input[name={name}][value=yes]").click()
    browser.submit("#record")
    assert "请选择满意度" in browser.find("#q-satisfaction .field-error").text
    assert browser.find("input[name=onsite_within_24h][value=yes]").is_selected()  # answers kept
    assert _callback(portal_platform, calls["满意客户"])["status"] == "planned"
    browser.find("input[name=satisfaction][value='5']").click()
    browser.submit("#record")
    assert browser.path.startswith("/center/callbacks") and "回访结果已记录" in browser.find(".notice").text
    done = _callback(portal_platform, calls["满意客户"])
    assert done["status"] == "done" and done["satisfaction"] == 5 and done["done_by"] == "c1-caller"
    assert (done["onsite_within_24h"], done["service_delivered"], done["fee_schedule_shown"]) == (True, True, True)
    # a dissatisfied customer: a "no", a low score and the reasons; it comes back to be closed
    browser.find(f"#callback-{calls['不满意客户']['id']} a.call-link").click()
    browser.wait_until(lambda: browser.find_all("#script"))
    browser.find("input[name=onsite_within_24h][value=no]").click()
    browser.find("input[name=satisfaction][value='2']").click()
    browser.find("input[name=reason_codes][value=late_arrival]").click()
    browser.fill(comment="等了两天才来")
    browser.submit("#record")
    negative = browser.find(f"#negative #callback-{calls['不满意客户']['id']}")
    assert "不满意客户" in negative.text
    recorded = _callback(portal_platform, calls["不满意客户"])
    assert recorded["status"] == "negative" and recorded["reason_codes"] == ["late_arrival"]
    assert recorded["onsite_within_24h"] is False and recorded["comment"] == "等了两天才来"
    negative.find_element("css selector", "a.call-link").click()
    browser.wait_until(lambda: browser.find_all("#close"))
    assert "上门不及时" in browser.find("#result").text and "否" in browser.find("#result").text
    browser.submit("#close button[type=submit]")
    assert browser.field_error("outcome") and browser.field_error("note")  # nothing chosen, nothing closed
    from selenium.webdriver.support.ui import Select

    Select(browser.find("select[name=outcome]")).select_by_value("resolved")
    browser.fill(note="返修后客户认可")
    browser.submit("#close button[type=submit]")
    assert "已结案" in browser.find(".notice").text and browser.find_all("#negative") == []
    assert _callback(portal_platform, calls["不满意客户"])["status"] == "closed"


def test_a_customer_not_reached_is_an_attempt(browser, portal_platform):
    call = completed(portal_platform, register(portal_platform, customer_name="没人接"))
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/callbacks/{call['id']}")
    browser.submit("#not-reached")
    assert "未接通" in browser.find(".notice").text
    again = _callback(portal_platform, call)
    assert again["status"] == "planned" and again["attempts"] == 1
    assert "未接通 1 次" in browser.find(f"#callback-{call['id']}").text


def test_another_centers_callback_is_not_found_and_the_queue_fits_a_phone(browser, portal_platform):
    jinan = register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    other = completed(portal_platform, jinan, outlet="C02-O01", tenant="C02", principal=C02)
    completed(portal_platform, register(portal_platform, customer_name="武汉客户"))
    agent(portal_platform)
    browser.phone()
    browser.sign_in("c1-agent")
    browser.open(f"/center/callbacks/{other['id']}")
    assert browser.title.startswith("未找到") and "济南重工" not in browser.text
    browser.open("/center/callbacks")
    assert "武汉客户" in browser.text and "济南重工" not in browser.text
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.find("#today a.call-link").click()
    browser.wait_until(lambda: browser.find_all("#script"))
    assert browser.scroll_width() <= 390, browser.scroll_width()


def _callback(platform, call):
    r = platform.get(f"/api/v1/qa/callbacks/{call['id']}", C01)
    assert r.status_code == 200, r.text
    return r.json()
