"""HQ's console (part A) in a real browser, on one platform for the module (intake + gateway): the
SLA overview draws a chart per center (by name) and per tier with the late deadlines in red and
refreshes itself without a reload; the triage queue shows why each ticket came to HQ and its
candidate centers, refuses a center that does not serve the customer's province next to the field
(nothing changed), and routes the ticket to a candidate, after which it leaves the queue; a
registered ticket is re-routed by its number (a new ticket in the new center); a center's account
is refused both pages; both fit a phone."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from shared import clock
from tests.conftest import C01, C02, HQ, wait_for
from tests.portal_fixtures import API, add_account

REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "phone": "13800001111",
    "product_line": "数控车床",
    "fault": "主轴异响",
}


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + gateway, shared by the module's tests; live parts poll every second."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    return module_platforms(IntakeService, GatewayService, PORTAL_REFRESH_SECONDS=1)


def register(platform, principal, address, **over):
    body = dict(REPAIR, customer_name=f"客户{uuid.uuid4().hex[:6]}", address=address, **over)
    r = platform.post(f"{API}/tickets", principal, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def fill_in(browser, scope, **fields):
    """Type into the fields of the form in `scope` (the triage cards' forms have fields of the same names)."""
    for name, value in fields.items():
        element = browser.find(f"{scope} [name={name}]")
        element.clear()
        element.send_keys(value)


def hq(platform):
    return add_account(platform, "hq-sla", role="hq", name="总部 服务部 王经理")


def test_hq_sees_sla_charts_per_center_and_tier_refreshed_without_a_reload(browser, portal_platform):
    # a Wednesday morning: the deadlines of requests taken now fall due this week (on a weekend
    # they would fall in the next one, past the chart's last week); `browser` resets the clock
    clock.travel_to(datetime(2026, 12, 9, 10, 0, tzinfo=clock.LOCAL_TZ))
    p = portal_platform
    register(p, C01, "湖北省武汉市洪山区珞喻路1号")
    late = (clock.now() - timedelta(days=3)).astimezone(clock.LOCAL_TZ).isoformat()
    register(p, C01, "湖北省宜昌市西陵区东山大道1号", received_at=late)  # its deadlines are past
    register(p, C02, "山东省济南市历下区泉城路1号")
    browser.sign_in(hq(p))
    browser.open("/hq/sla")
    assert browser.title.startswith("SLA 总览")
    wuhan = browser.find("#chart-center-C01")
    assert "武汉区域服务中心" in wuhan.text and "按时达成率" in wuhan.text
    assert wuhan.find_elements("css selector", "rect[data-state=late]")  # the back-dated ticket's
    assert "济南区域服务中心" in browser.find("#chart-center-C02").text
    assert not browser.find("#chart-center-C02").find_elements("css selector", "rect[data-state=late]")
    tiers = {c.get_attribute("data-key"): c.text for c in browser.find_all("#by-tier figure")}
    assert {"local", "in_province"} <= set(tiers) and "本地" in tiers["local"] and "省内" in tiers["in_province"]
    # by month, and one commitment
    browser.open("/hq/sla?period=month&sla=onsite")
    assert "上门" in browser.find("#sla-live .live-stamp").text and browser.find("#chart-center-C01")
    # the page moves on by itself: a ticket for Nanjing appears without a reload
    browser.open("/hq/sla")
    browser.driver.execute_script("document.body.dataset.marker = 'same-page'")
    assert not browser.find_all("#chart-center-C03")
    register(p, HQ, "江苏省南京市玄武区中山路1号")
    browser.wait_until(lambda: browser.find_all("#chart-center-C03"), what="Nanjing's chart")
    assert browser.driver.execute_script("return document.body.dataset.marker") == "same-page"
    # a wrong choice is named next to its field
    browser.open("/hq/sla?period=day")
    assert browser.find(".field-error[data-field=period]").text
    browser.phone()
    browser.open("/hq/sla")
    assert browser.scroll_width() <= 390


def test_hq_routes_a_triage_ticket_to_a_candidate_center_and_it_leaves_the_queue(browser, portal_platform):
    from selenium.webdriver.support.ui import Select

    p = portal_platform
    t = register(p, HQ, "青山区和平大道293号")  # 青山区: Wuhan (湖北) or Baotou (内蒙古)
    assert t["status"] == "triage"
    browser.sign_in(hq(p))
    browser.open("/hq/triage")
    card = browser.find(f"#triage-{t['id']}")
    assert t["number"] in card.text and "重名" in card.find_element("css selector", ".triage-reason").text
    candidates = card.find_element("css selector", ".route-candidates").text
    assert "武汉区域服务中心（湖北省）" in candidates and "沈阳区域服务中心（内蒙古自治区）" in candidates
    # Guangzhou serves neither province: refused next to the field, nothing changed
    Select(browser.find(f"#f-tenant_id-{t['id']}")).select_by_value("C04")
    browser.submit(f"#triage-{t['id']} button[type=submit]")
    error = browser.find(f"#triage-{t['id']} .field-error[data-field=tenant_id]").text
    assert "所选中心不负责" in error and "湖北省" in error
    assert p.get(f"{API}/tickets/{t['id']}", HQ).json()["status"] == "triage"
    # a candidate takes it
    Select(browser.find(f"#f-tenant_id-{t['id']}")).select_by_value("C01")
    browser.submit(f"#triage-{t['id']} button[type=submit]")
    assert t["number"] in browser.find("#routed").text and "武汉区域服务中心" in browser.find("#routed").text
    assert not browser.find_all(f"#triage-{t['id']}")
    routed = wait_for(lambda: p.get(f"{API}/tickets/{t['id']}", C01).json())
    assert (routed["status"], routed["province"]) == ("registered", "湖北省")
    assert routed["audit"][-1]["data"]["tenant_id"] == "C01"
    browser.phone()
    browser.open("/hq/triage")
    assert browser.scroll_width() <= 390


def test_hq_re_routes_a_registered_ticket_by_its_number(browser, portal_platform):
    from selenium.webdriver.support.ui import Select

    p = portal_platform
    register(p, HQ, "鼓楼区中山路1号")  # a triage card above, with fields of the same names
    t = register(p, C01, "湖北省武汉市洪山区珞喻路1号")
    browser.sign_in(hq(p))
    browser.open("/hq/triage")
    fill_in(browser, "#reroute", number="C01-000000-NOSUCH00")
    browser.submit("#reroute button[type=submit]")
    assert browser.field_error("number") == "没有这个工单号"
    # Jinan's center, the address left as it is: refused next to the center, nothing changed
    fill_in(browser, "#reroute", number=t["number"])
    Select(browser.find("#reroute [name=tenant_id]")).select_by_value("C02")
    browser.submit("#reroute button[type=submit]")
    assert "所选中心不负责湖北省" in browser.field_error("tenant_id")
    assert p.get(f"{API}/tickets/{t['id']}", C01).json()["status"] == "registered"
    # with the corrected address in Shandong it goes there, as a new ticket
    fill_in(browser, "#reroute", number=t["number"], address="山东省济南市历下区泉城路1号")
    Select(browser.find("#reroute [name=tenant_id]")).select_by_value("C02")
    browser.submit("#reroute button[type=submit]")
    notice = browser.find("#routed").text
    assert t["number"] in notice and "济南区域服务中心" in notice
    new_number = next(w for w in notice.replace("，", " ").split() if w.startswith("C02-"))
    assert p.get(f"{API}/tickets/{t['id']}", C01).json()["status"] == "cancelled"
    [moved] = p.get(f"{API}/tickets?q={new_number[:19]}", C02).json()["items"]
    assert (moved["status"], moved["province"], moved["customer_name"]) == ("registered", "山东省", t["customer_name"])


def test_a_center_account_is_refused_hqs_pages(browser, portal_platform):
    add_account(portal_platform, "c1-hq-probe", role="center", tenant="C01")
    browser.sign_in("c1-hq-probe")
    for path in ("/hq/sla", "/hq/triage", "/hq/sla/live"):
        browser.open(path)
        assert "无权操作" in browser.title, path
    assert portal_platform.get(f"{API}/triage", C01).status_code == 403
