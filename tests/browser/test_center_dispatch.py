"""The regional center's dispatch board in a real browser: a new visit waits, the dispatcher
re-plans and sees it on a technician's timeline with its drive and service, pins it to another
technician (a refusal shown next to the choice), a visit planned while the board is open shows
without a reload, another center's visit is not found, a phone's width. The tests share one
platform (each finds its own visits by id)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests

from shared.clock import LOCAL_TZ
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_center_tickets import agent, choose, refreshing_every, register
from tests.conftest import C01, C02, technician_rows, wait_for
from tests.portal_fixtures import API, _import_technicians


@pytest.fixture(scope="module")
def portal_platform(module_portal_platform):
    return module_portal_platform


def visit_of(platform, ticket, principal=C01):
    def found():
        r = platform.get(f"{API}/dispatch/board?ticket_id={ticket['id']}", principal)
        assert r.status_code == 200, r.text
        return next(iter(r.json()["items"]), None)

    return wait_for(found, what="dispatch heard of the ticket")


def test_the_dispatcher_replans_and_sees_the_visit_on_the_board(working_morning, browser, portal_platform):
    _import_technicians(portal_platform, technician_rows("C01"))
    ticket = register(portal_platform, customer_name="武汉精工机械有限公司")
    visit = visit_of(portal_platform, ticket)
    assert visit["status"] == "unplanned"
    agent(portal_platform, "c1-dispatcher")
    browser.sign_in("c1-dispatcher")
    browser.open("/center/dispatch")
    waiting = browser.find(f"#waiting-{visit['id']}")
    assert ticket["number"] in waiting.text and "待排程" in waiting.text and "武汉精工机械有限公司" in waiting.text
    assert browser.find_all(f"#visit-{visit['id']}") == []
    browser.submit("#replan")
    assert "已重新排程" in browser.find(".notice").text
    assert "手动" in browser.find("#last-run").text and re.search(r"排入 [1-9]\d* 个", browser.find("#last-run").text)
    stop = browser.find(f".timeline #visit-{visit['id']}")
    assert ticket["number"] in stop.text and "武汉精工机械有限公司" in stop.text
    assert "行驶" in stop.text and "服务 " in stop.text and re.search(r"\d\d:\d\d–\d\d:\d\d", stop.text)
    planned = visit_of(portal_platform, ticket)
    assert planned["status"] == "scheduled"
    timeline = browser.find(f"#tech-{planned['technician_id']}")
    assert timeline.find_elements("css selector", "svg rect.service-block")  # drawn on the timeline
    assert browser.find_all(f"#waiting-{visit['id']}") == []
    # pin it to another technician near Wuhan: the board shows it on that one's timeline, pinned
    other = next(t for t in ("C01-O05-T1", "C01-O05-T2") if t != planned["technician_id"])
    browser.find(f"#visit-{visit['id']} .stop-actions a").click()
    browser.wait_until(lambda: browser.path.startswith(f"/center/dispatch/visits/{visit['id']}/pin"))
    choose(browser, "technician_id", "C01-O05-T3")  # 李海涛 has no 数控车床 skill
    browser.submit()
    assert browser.field_error("technician_id"), browser.text
    assert visit_of(portal_platform, ticket)["pinned_technician_id"] is None
    choose(browser, "technician_id", other)
    browser.submit()
    assert browser.path.startswith("/center/dispatch") and "已锁定技师" in browser.find(".notice").text
    moved = browser.find(f"#tech-{other} #visit-{visit['id']}")
    assert "已锁定" in moved.text
    pinned = visit_of(portal_platform, ticket)
    assert pinned["pinned_technician_id"] == other and pinned["technician_id"] == other


def test_a_visit_planned_after_the_board_opened_shows_without_a_reload(working_morning, browser, portal_platform):
    _import_technicians(portal_platform, technician_rows("C01"))
    agent(portal_platform, "c1-dispatcher")
    browser.sign_in("c1-dispatcher")
    with refreshing_every(portal_platform, 1):
        browser.open("/center/dispatch")
        browser.driver.execute_script("window.openedOnce = true")  # gone if the page were loaded again
        ticket = register(portal_platform, customer_name="看板刷新客户")
        visit = visit_of(portal_platform, ticket)
        # dispatch hears of it: it waits on the board, then someone else re-plans (the API's call)
        browser.wait_until(lambda: browser.find_all(f"#waiting-{visit['id']}"), timeout=15, what="the visit waiting")
        r = portal_platform.post(f"{API}/dispatch/reoptimise", C01)
        assert r.status_code == 200, r.text
        stop = browser.wait_until(
            lambda: browser.find_all(f".timeline #visit-{visit['id']}"), timeout=15, what="the visit on a timeline"
        )
        assert ticket["number"] in stop[0].text and "看板刷新客户" in stop[0].text
        assert browser.find_all(f"#waiting-{visit['id']}") == []
        assert browser.driver.execute_script("return window.openedOnce") is True
    # what the poll fetches: the board alone; without a session, htmx is sent to sign in
    live = f"{portal_platform.base_url}/center/dispatch/live"
    signed_in = requests.Session()
    for c in browser.driver.get_cookies():
        signed_in.cookies.set(c["name"], c["value"])
    r = signed_in.get(live, headers={"HX-Request": "true"}, timeout=30)
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="board"') and "<html" not in r.text
    r = requests.get(live, headers={"HX-Request": "true"}, timeout=30, allow_redirects=False)
    assert r.headers["HX-Redirect"].startswith("/login?next=") and "<div" not in r.text


def test_another_centers_visit_is_not_found(working_morning, browser, portal_platform):
    jinan = register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    visit = visit_of(portal_platform, jinan, C02)
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/dispatch/visits/{visit['id']}/pin")
    assert browser.title.startswith("未找到")
    browser.open("/center/dispatch")
    assert "济南重工" not in browser.text and jinan["number"] not in browser.text


def test_the_board_fits_a_phone(working_morning, browser, portal_platform):
    _import_technicians(portal_platform, technician_rows("C01"))
    visits = [
        visit_of(portal_platform, register(portal_platform, customer_name=name))
        for name in ("武汉精工机械有限公司", "武汉江岸汽配厂")
    ]
    r = portal_platform.post(f"{API}/dispatch/reoptimise", C01)
    assert r.status_code == 200, r.text
    agent(portal_platform)
    browser.phone()
    browser.sign_in("c1-agent")
    browser.open("/center/dispatch")
    assert all(browser.find_all(f".stop-line#visit-{v['id']}") for v in visits)
    assert browser.scroll_width() <= 390, browser.scroll_width()
    assert 0 < browser.find(".timeline-bar").size["width"] <= 390


def test_the_board_says_why_the_centers_outlet_cannot_be_kept(working_morning, browser, portal_platform):
    """The center assigned the ticket to its Zhengzhou outlet, out of a shift's reach of Wuhan: the
    planner keeps the assignment and the waiting visit says why it cannot be planned (issue 19)."""
    _import_technicians(portal_platform, technician_rows("C01"))
    ticket = register(portal_platform, customer_name="武汉远派测试厂")
    visit = visit_of(portal_platform, ticket)
    r = portal_platform.post(
        f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "assign_outlet", "outlet_id": "C01-O07"}
    )
    assert r.status_code == 200, r.text
    wait_for(lambda: visit_of(portal_platform, ticket)["required_outlet_id"] == "C01-O07", what="outlet kept")
    r = portal_platform.post(f"{API}/dispatch/reoptimise", C01)
    assert r.status_code == 200 and r.json()["constraints_unmet"] >= 1, r.text
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/dispatch")
    reason = browser.find(f"#waiting-{visit['id']} .constraint-unmet").text
    # the outlet by its name (shared/data/tenants.yaml), not its code
    assert "中心指派的网点 郑州嘉禾特约服务站 无法接此单" in reason and "路程太远" in reason, reason
    browser.screenshot(SCREENSHOTS / "center-dispatch-constraint-1280.png")
    browser.phone()
    browser.open("/center/dispatch")
    assert browser.find(f"#waiting-{visit['id']} .constraint-unmet").is_displayed()
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.screenshot(SCREENSHOTS / "center-dispatch-constraint-390.png")


def _local_day(moment):
    return datetime.fromisoformat(moment).astimezone(LOCAL_TZ).date().isoformat()


def test_the_dispatcher_confirms_an_appointment_and_sees_a_reasoned_replan_move_it(
    working_morning, browser, portal_platform
):
    """Issue 19 point 2 on the board: 确认预约 keeps the planned arrival across re-plans; a re-plan
    needs a reason to move it, and the moved visit is listed with the time told and the reason."""
    _import_technicians(portal_platform, technician_rows("C01"))
    # in Jingzhou, assigned first to the outlet ~124 km away (arrives late), then to the one ~8 km away
    ticket = register(portal_platform, customer_name="荆州预约确认测试厂", address="湖北省荆州市荆州区北京路9号")
    visit = visit_of(portal_platform, ticket)

    def assign(outlet):
        r = portal_platform.post(
            f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "assign_outlet", "outlet_id": outlet}
        )
        assert r.status_code == 200, r.text
        wait_for(lambda: visit_of(portal_platform, ticket)["required_outlet_id"] == outlet, what="outlet kept")

    assign("C01-O02")
    assert portal_platform.post(f"{API}/dispatch/reoptimise", C01).status_code == 200
    planned = visit_of(portal_platform, ticket)
    assert planned["status"] == "scheduled" and planned["appointment_at"] is None
    day = _local_day(planned["planned_arrival"])
    agent(portal_platform, "c1-dispatcher")
    browser.sign_in("c1-dispatcher")
    browser.open(f"/center/dispatch?day={day}")
    stop = f"#visit-{visit['id']}"
    assert "已确认预约" not in browser.find(stop).text
    browser.submit(f"{stop} .confirm-appointment button")
    assert "已确认预约" in browser.find(".notice").text
    told = datetime.fromisoformat(visit_of(portal_platform, ticket)["appointment_at"])
    assert told == datetime.fromisoformat(planned["planned_arrival"])
    shown = browser.find(f"{stop} .appointment-confirmed").text
    assert shown == f"已确认预约 {told.astimezone(LOCAL_TZ):%H:%M}", shown
    assert browser.find_all(f"{stop} .confirm-appointment") == []  # confirmed: no button any more

    # the center hands it to the near outlet: a re-plan without a reason keeps the customer's time
    assign("C01-O03")
    browser.open(f"/center/dispatch?day={day}")
    browser.submit("#replan")
    kept = visit_of(portal_platform, ticket)
    assert kept["outlet_id"] == "C01-O03" and kept["appointment_at"] is not None
    assert abs(datetime.fromisoformat(kept["planned_arrival"]) - told) <= timedelta(hours=1)
    assert browser.find_all("#moved") == []
    # a reason too long: refused next to the field, nothing re-planned
    runs = portal_platform.get(f"{API}/dispatch/plan-runs", C01).json()
    browser.fill(reason="改" * 501)
    browser.submit("#replan")
    assert "500" in (browser.field_error("reason") or ""), browser.text
    assert portal_platform.get(f"{API}/dispatch/plan-runs", C01).json()[0] == runs[0]
    # with a reason the plan may move it: listed with the time told and the reason, to be confirmed again
    browser.fill(reason="客户同意改约上午")
    browser.submit("#replan")
    moved = visit_of(portal_platform, ticket)
    assert moved["appointment_at"] is None and moved["appointment_moved_reason"] == "客户同意改约上午"
    assert "原因：客户同意改约上午，改动已确认预约 1 个" in browser.find("#last-run").text
    row = browser.find(f"#moved-{visit['id']}").text
    assert ticket["number"] in row and "荆州预约确认测试厂" in row and "客户同意改约上午" in row, row
    assert f"原定 {told.astimezone(LOCAL_TZ):%m-%d %H:%M}" in row, row
    browser.phone()
    browser.open(f"/center/dispatch?day={day}")
    assert browser.find(f"#moved-{visit['id']}").is_displayed()
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.screenshot(SCREENSHOTS / "center-dispatch-appointment-moved-390.png")
    browser.desktop()
    browser.open(f"/center/dispatch?day={day}")
    browser.submit(f"#moved-{visit['id']} button")  # the new time told to the customer
    assert browser.find_all("#moved") == []
    again = visit_of(portal_platform, ticket)
    assert again["appointment_at"] == again["planned_arrival"] and again["appointment_moved_reason"] is None
    browser.screenshot(SCREENSHOTS / "center-dispatch-appointment-1280.png")
