"""The outlet asks for a return visit (申请返修/二次上门) from its job page, in a real browser: no
form before the check-out; after it, a form whose errors show next to their fields and change
nothing; once asked, the page shows the return visit (its status, reason, then when it is
planned) and no longer offers the form while it is open; the page fits a phone."""

from __future__ import annotations

from datetime import timedelta

import requests

from shared import clock
from shared.workcal import ChinaCalendar
from tests.conftest import C01, wait_for
from tests.portal_fixtures import API, O05, add_account, plan_outlet_visits, wuhan_tickets

REASON = "主轴轴承需返厂更换，配件到货后二次上门"


def _api(platform, method, path, principal, expect=200, **kw):
    r = platform.request(method, API + path, principal, **kw)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json()


def _set_date(browser, name, value):
    """A date input's value as the browser's date picker would set it (typing depends on the locale)."""
    browser.driver.execute_script("arguments[0].value = arguments[1]", browser.find(f"input[name={name}]"), value)


def test_the_outlet_checks_out_asks_for_a_return_visit_and_sees_it(working_morning, browser, portal_platform):
    p = portal_platform
    (visit,) = plan_outlet_visits(p, tickets=wuhan_tickets()[:1])
    job = visit["id"]
    add_account(p, "o5-user", name="鄂州网点 张三")
    browser.sign_in("o5-user")
    browser.open(f"/outlet/jobs/{job}")
    assert "到达签到" in browser.text and "申请返修" not in browser.text  # before the check-out: no form
    # posted all the same (an old page): dispatch refuses it (409), the page says why, nothing asked
    r = requests.post(
        f"{browser.base_url}/outlet/jobs/{job}/return-visit",
        data={"csrf_token": browser.find("form.logout input[name=csrf_token]").get_attribute("value"), "reason": "x"},
        cookies={"fsm_session": browser.cookie("fsm_session")["value"]},
        timeout=10,
    )
    assert r.status_code == 409 and "尚未签退：签退后才能申请返修" in r.text, r.status_code

    # on site, then checked out (the portal's check-out form is test_outlet_portal's; this lean
    # platform has no parts service for its stock list)
    _api(p, "POST", f"/visits/{job}/check-in", O05, json={"lat": 30.5, "lon": 114.4})
    browser.open(f"/outlet/jobs/{job}")
    assert "申请返修" not in browser.text  # on site: not yet
    done = {"work_done": "更换密封圈，主轴轴承缺货", "customer_confirmed": True}
    _api(p, "POST", f"/visits/{job}/check-out", O05, json=done)
    browser.open(f"/outlet/jobs/{job}")
    form = browser.find("#return-request")
    assert "申请返修/二次上门" in form.text

    # without a reason: the error next to it, nothing asked
    browser.submit("#return-request button[type=submit]")
    assert browser.path == f"/outlet/jobs/{job}/return-visit"
    assert browser.field_error("reason") == "必填"
    # a wished date already past: named next to the date, the reason kept as typed
    yesterday = clock.now().astimezone(clock.LOCAL_TZ).date() - timedelta(days=1)
    browser.fill(reason=REASON)
    _set_date(browser, "wished_date", yesterday.isoformat())
    browser.submit("#return-request button[type=submit]")
    assert browser.field_error("wished_date") == "不能早于今天"
    assert browser.find("#f-reason").get_attribute("value") == REASON
    assert len(_api(p, "GET", f"/dispatch/board?ticket_id={visit['ticket_id']}", C01)["items"]) == 1

    wished = clock.now().astimezone(clock.LOCAL_TZ).date() + timedelta(days=1)
    while not ChinaCalendar.default().is_workday(wished):  # a day technicians are sent out
        wished += timedelta(days=1)
    _set_date(browser, "wished_date", wished.isoformat())
    browser.submit("#return-request button[type=submit]")
    assert browser.path == f"/outlet/jobs/{job}?done=return_visit#return-visits"
    assert "已申请返修上门" in browser.text
    visits = browser.find("#return-visits").text
    assert "返修上门 · 待排程" in visits and f"返修原因：{REASON}" in visits
    assert f"期望 {wished.isoformat()} 上门" in visits
    # while it is open the form is not offered; the API refuses a second one all the same
    assert browser.find_all("#return-request form") == []
    assert "本工单已有未完成的上门" in browser.find("#return-request").text  # said, not offered
    r = p.post(f"{API}/visits/{job}/return-visit", O05, json={"reason": "再次"})
    assert r.status_code == 409 and job in r.json()["error"]["message"]

    # planned: the page says when, with the technician who did the first visit
    _api(p, "POST", "/dispatch/reoptimise", C01)
    returning = wait_for(
        lambda: _api(p, "GET", f"/dispatch/board?ticket_id={visit['ticket_id']}&status=scheduled", C01)["items"],
        what="the return visit planned",
    )
    assert returning[0]["technician_id"] == "C01-O05-T1"
    browser.open(f"/outlet/jobs/{job}")
    assert "返修上门 · 已排程 · 计划" in browser.find("#return-visits").text
    browser.find("#return-visits a").click()
    assert browser.path == f"/outlet/jobs/{returning[0]['id']}"
    assert f"这是一次返修上门（网点申请）：{REASON}" in browser.text and "到达签到" in browser.text

    browser.phone()
    browser.open(f"/outlet/jobs/{job}")
    assert browser.scroll_width() <= 390, browser.scroll_width()
    # a form without its CSRF token is refused and asks nothing
    cookie = {"fsm_session": browser.cookie("fsm_session")["value"]}
    r = requests.post(
        f"{browser.base_url}/outlet/jobs/{job}/return-visit", data={"reason": "x"}, cookies=cookie, timeout=10
    )
    assert r.status_code == 403
    assert len(_api(p, "GET", f"/dispatch/board?ticket_id={visit['ticket_id']}", C01)["items"]) == 2
