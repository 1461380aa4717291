"""The regional center's ticket pages in a real browser: the hotline agent registers a ticket
with the live geocode preview and sees its number and deadlines at once, a bad phone number is
shown next to its field and changes nothing, a complaint walks its eleven steps from the ticket's
page, the queue's filters and SLA states and their live refresh, another center's ticket is not
found, a phone's width. The tests share one platform (each finds its own tickets by number or name)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest

from shared import clock
from tests.conftest import C01, C02
from tests.portal_fixtures import API, add_account

NUMBER = re.compile(r"^C01-\d{6}-[0-9A-Z]{8}$")
CASE_PATH = [
    ("register", "已立案"),
    ("internal_check", "内查"),
    ("plan_dispatch", "派员预案"),
    ("verify_on_site", "现场核实"),
    ("negotiate", "商务谈判"),
    ("order_rectification", "整改单"),
    ("pay_compensation", "退赔款"),
    ("notify_result", "处理结果通知单"),
    ("report", "已汇报"),
    ("sign_agreement", "签协议或纪要"),
    ("close_case", "结案"),
]


@pytest.fixture(scope="module")
def portal_platform(module_portal_platform):
    return module_portal_platform


def agent(platform, username="c1-agent"):
    return add_account(platform, username, role="center", tenant="C01", name="武汉中心 热线 李四")


def set_value(browser, name, value):
    """A date or datetime input's value as a picker would set it (typing depends on the locale)."""
    element = browser.find(f"[name={name}]")
    browser.driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
        element,
        value,
    )


def choose(browser, name, value):
    from selenium.webdriver.support.ui import Select

    Select(browser.find(f"select[name={name}]")).select_by_value(value)


def tickets_of(platform, principal=C01):
    r = platform.get(f"{API}/tickets?limit=100", principal)
    assert r.status_code == 200, r.text
    return r.json()["items"]


@contextmanager
def refreshing_every(platform, seconds):
    """The running gateway's live parts refresh every `seconds` (config PORTAL_REFRESH_SECONDS)
    while in the block: a test sees a refresh without waiting out the default."""
    from dataclasses import replace

    portal = next(d for d in platform.containers["gateway"].dependencies if type(d).__name__ == "Portal")
    kept = portal.settings
    portal.settings = replace(kept, refresh_seconds=seconds)
    try:
        yield
    finally:
        portal.settings = kept


def register(platform, principal=C01, **over):
    body = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": "武汉精工机械有限公司",
        "phone": "13800001111",
        "address": "湖北省武汉市洪山区珞喻路1号",
        "product_line": "数控车床",
        "fault": "主轴异响",
        **over,
    }
    r = platform.post(f"{API}/tickets", principal, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_agent_registers_a_hotline_ticket_and_sees_its_number_and_deadlines(browser, portal_platform):
    agent(portal_platform)
    browser.sign_in("c1-agent", path="/login?next=/")
    assert browser.path == "/center/tickets"  # a center's home: its queue
    browser.open("/center/register")
    assert browser.title.startswith("登记工单")
    browser.fill(customer_name="武汉精工机械有限公司", phone="027-8765 4321")
    browser.fill(address="湖北省武汉市洪山区珞喻路1号")
    # the preview follows the typing (htmx, the geocoder intake registers with)
    preview = browser.wait_until(
        lambda: browser.find_all("[data-preview=place]") and browser.find("#geo-preview").text,
        what="the address preview",
    )
    assert "湖北省" in preview and "武汉市" in preview and "洪山区" in preview and "本地" in preview
    assert "武汉区域服务中心" in preview and "上门" in browser.find("[data-preview=deadlines]").text
    choose(browser, "product_line", "立式加工中心")
    bought = (clock.now().astimezone(clock.LOCAL_TZ).date() - timedelta(days=400)).isoformat()
    set_value(browser, "purchase_date", bought)
    # the preview answered for the purchase date (not the one before it); read in the page, as htmx
    # may swap the preview between finding its element and reading it
    read = "var e = document.querySelector('[data-preview=warranty]'); return e ? e.innerText : null"
    warranty = browser.wait_until(
        lambda: (text := browser.driver.execute_script(read)) and "未填" not in text and text,
        what="the warranty decision",
    )
    assert "保修期内" in warranty and "2 年保修" in warranty  # a 2-year line, bought 400 days ago
    browser.fill(fault="主轴异响，无法启动")
    browser.submit("#ticket-form button[type=submit]")
    # the ticket's page at once: its number and its deadlines
    assert browser.path.startswith("/center/tickets/") and browser.path.endswith("?registered=1")
    number = browser.find("#new-number").text
    assert NUMBER.match(number), number
    deadlines = {row.get_attribute("data-sla"): row.text for row in browser.find_all("tr.deadline")}
    assert {"accept", "phone_reply", "onsite"} <= set(deadlines)
    assert "进行中" in deadlines["onsite"] and "还剩" in deadlines["onsite"]
    assert "保修" in browser.find("#customer").text and "立式加工中心" in browser.find("#customer").text
    # it is the service's ticket, as the API gives it
    [ticket] = [t for t in tickets_of(portal_platform) if t["number"] == number]
    assert ticket["number"] == number and ticket["phone"] == "027-8765 4321" and ticket["warranty"] == "warranty"
    assert ticket["tier"] == "local" and ticket["owner_user"] == "c1-agent"
    # the queue lists it with its running deadlines
    browser.open("/center/tickets")
    row = browser.find(f"#ticket-{ticket['id']}")
    assert number in row.text and "武汉精工机械有限公司" in row.text and "受理" in row.text


def test_a_bad_phone_is_shown_next_to_its_field_and_registers_nothing(browser, portal_platform):
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/register")
    browser.fill(customer_name="武汉江岸汽配厂", phone="call me", address="湖北省武汉市江岸区解放大道1000号")
    choose(browser, "product_line", "数控车床")
    before = tickets_of(portal_platform)
    browser.submit("#ticket-form button[type=submit]")
    assert browser.path == "/center/register"
    assert "电话号码格式不正确" in browser.field_error("phone")
    assert browser.field_error("customer_name") is None and browser.field_error("address") is None
    # what was typed is kept; nothing was registered
    assert browser.find("#f-customer_name").get_attribute("value") == "武汉江岸汽配厂"
    assert browser.find("#f-phone").get_attribute("aria-invalid") == "true"
    assert tickets_of(portal_platform) == before
    # an address in another center's territory is refused next to the address, by the service
    browser.fill(phone="13800001111", address="山东省济南市历下区经十路1号")
    browser.submit("#ticket-form button[type=submit]")
    assert "不在本中心的服务区域内" in browser.field_error("address")
    assert browser.field_error("phone") is None and tickets_of(portal_platform) == before


def test_a_complaint_about_fees_is_registered_without_an_onsite_deadline(browser, portal_platform):
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/register")
    browser.fill(customer_name="武汉收费投诉客户", phone="13800002345", address="湖北省武汉市洪山区珞喻路1号")
    choose(browser, "product_line", "数控车床")
    choose(browser, "complaint_category", "fees")
    browser.fill(fault="上门费收取过高")
    browser.submit("#ticket-form button[type=submit]")
    # a category for a repair is refused next to the field
    assert browser.path == "/center/register"
    assert "仅投诉工单选择投诉类别" in browser.field_error("complaint_category")
    choose(browser, "kind", "complaint")
    # the preview promises no on-site time for it
    browser.wait_until(
        lambda: (
            browser.find_all("[data-preview=deadlines]") and "上门" not in browser.find("[data-preview=deadlines]").text
        ),
        what="the preview without an on-site deadline",
    )
    browser.submit("#ticket-form button[type=submit]")
    assert browser.path.endswith("?registered=1")
    deadlines = {row.get_attribute("data-sla") for row in browser.find_all("tr.deadline")}
    assert "onsite" not in deadlines and {"accept", "phone_reply", "complaint_plan"} <= deadlines


def test_the_preview_flags_an_ambiguous_district(browser, portal_platform):
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/register")
    browser.fill(address="市中区经十路164号")
    flagged = browser.wait_until(
        lambda: browser.find_all("[data-preview=ambiguous]") and browser.find("[data-preview=ambiguous]").text,
        what="the ambiguous name flagged",
    )
    assert "地名有歧义" in flagged and "市中区" in flagged and len(browser.find_all(".candidates li")) > 1


def test_a_complaint_walks_its_eleven_steps_from_the_ticket_page(browser, portal_platform):
    ticket = register(portal_platform, kind="complaint", fault="新机漏油，要求退货")
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/tickets/{ticket['id']}")
    assert "投诉受理" in browser.find(".tag-case").text
    for action, state in CASE_PATH:
        allowed = portal_platform.get(f"{API}/tickets/{ticket['id']}/transitions", C01).json()["steps"]
        offered = {b.get_attribute("data-action") for b in browser.find_all("#steps button[name=action]")}
        # exactly the steps intake allows from this state, a button each
        assert offered == {s["action"] for s in allowed}, (action, offered)
        if action == "negotiate":
            browser.fill(note="与客户商定退货并赔付运费")
            choose(browser, "responsibility", "own")
        browser.submit(f"#steps button[data-action={action}]")
        assert "已完成" in browser.find(".notice").text
        assert state in browser.find(".tag-case").text, (action, browser.find(".tag-case").text)
    assert "已关闭" in browser.find(".tag-status").text
    assert browser.find_all("#steps button.step-case") == []
    trail = browser.find("#audit").text
    assert "结案" in trail and "商务谈判" in trail and "与客户商定退货并赔付运费" in trail
    detail = portal_platform.get(f"{API}/tickets/{ticket['id']}", C01).json()
    assert detail["case_state"] == "closed" and detail["status"] == "closed"
    assert [a["action"] for a in detail["audit"]][-11:] == [a for a, _ in CASE_PATH]
    met = {d["sla"]: d["state"] for d in detail["deadlines"]}
    assert met["complaint_plan"] == "met" and met["complaint_close"] == "met"


def test_a_refused_step_changes_nothing_and_says_why(browser, portal_platform):
    ticket = register(portal_platform)
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/tickets/{ticket['id']}")
    # someone else cancels the ticket meanwhile: the page's accept button is now out of date
    r = portal_platform.post(f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "cancel"})
    assert r.status_code == 200, r.text
    browser.submit("#steps button[data-action=accept]")
    assert "工单已被他人更新" in browser.find(".form-errors").text
    assert portal_platform.get(f"{API}/tickets/{ticket['id']}", C01).json()["status"] == "cancelled"
    # assigning needs an outlet: the error is next to the outlet's choice
    other = register(portal_platform, customer_name="武汉江岸汽配厂")
    browser.open(f"/center/tickets/{other['id']}")
    browser.submit("#steps button[data-action=assign_outlet]")
    assert browser.field_error("outlet_id") and browser.title.startswith("工单")


def test_staff_say_how_a_ticket_was_served_when_they_close_it(browser, portal_platform):
    ticket = register(portal_platform, kind="consultation", customer_name="远程咨询客户")
    r = portal_platform.post(f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "accept"})
    assert r.status_code == 200, r.text
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/tickets/{ticket['id']}")
    # with a step that does not close the ticket, the way of service is refused next to its field
    choose(browser, "service_mode", "remote")
    browser.submit("#steps button[data-action=reply_phone]")
    assert "仅在解决、关闭或结案时填写服务方式" in browser.field_error("service_mode")
    assert portal_platform.get(f"{API}/tickets/{ticket['id']}", C01).json()["version"] == r.json()["version"]
    choose(browser, "service_mode", "remote")
    browser.submit("#steps button[data-action=close]")
    closed = portal_platform.get(f"{API}/tickets/{ticket['id']}", C01).json()
    assert (closed["status"], closed["service_mode"]) == ("closed", "remote")
    [row] = [r for r in portal_platform.get(f"{API}/ledger", C01, params={"q": ticket["number"]}).json()]
    assert row["service_mode"] == "remote"


def test_another_centers_ticket_is_not_found(browser, portal_platform):
    jinan = register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/tickets/{jinan['id']}")
    assert browser.title.startswith("未找到") and "济南重工" not in browser.text
    browser.open(f"/center/tickets/{jinan['id']}/deadlines")  # what the page's refresh fetches
    assert browser.title.startswith("未找到") and "济南重工" not in browser.text
    browser.open("/center/tickets")
    assert "济南重工" not in browser.text and jinan["number"] not in browser.text
    browser.open("/center/tickets?q=济南重工")
    assert "没有符合条件的工单" in browser.text


def test_the_queue_filters_and_shows_each_deadline_state(browser, portal_platform):
    phone = "13977770001"  # these two tickets' own: the queue is filtered to them (q), whatever else it holds
    late = register(portal_platform, customer_name="超时客户", phone=phone)
    clock.travel_to(clock.now() + timedelta(hours=23))  # its 24 h on-site deadline is an hour away
    register(
        portal_platform, kind="install", customer_name="安装客户", phone=phone, address="湖北省宜昌市西陵区东山大道1号"
    )
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/tickets?q={phone}")
    first, second = browser.find_all("table.queue tbody tr")
    assert "超时客户" in first.text  # the most urgent first
    assert "is-at_risk" in first.get_attribute("class")
    assert first.find_elements("css selector", ".sla-at_risk") and "安装客户" in second.text
    clock.travel_to(clock.now() + timedelta(hours=2))
    browser.open(f"/center/tickets?kind=repair&q={phone}")
    [row] = browser.find_all("table.queue tbody tr")
    assert row.get_attribute("id") == f"ticket-{late['id']}" and "is-breached" in row.get_attribute("class")
    assert "已超时" in row.find_element("css selector", ".sla-breached").text
    browser.open(f"/center/tickets?tier=in_province&q={phone}")
    assert "安装客户" in browser.text and "超时客户" not in browser.text
    # a filter the service refuses: its error next to the field, no list, no 500
    browser.open("/center/tickets?due_before=tomorrow")
    assert browser.field_error("due_before") and "没有符合条件的工单" in browser.text


def test_the_queue_refreshes_itself(browser, portal_platform):
    """A ticket registered after the queue was opened shows in it, and a deadline's state moves on,
    in the queue and on the ticket's page, without a reload: htmx fetches the list (the deadlines)
    again every PORTAL_REFRESH_SECONDS."""
    phone = "13977770002"
    waiting = register(portal_platform, customer_name="等待客户", phone=phone)
    # its 24 h on-site deadline is at risk in its last 6 hours: a quarter of an hour before that
    clock.travel_to(clock.now() + timedelta(hours=17, minutes=45))
    agent(portal_platform)
    browser.sign_in("c1-agent")
    with refreshing_every(portal_platform, 1):
        browser.open(f"/center/tickets?q={phone}")
        assert "is-at_risk" not in browser.find(f"#ticket-{waiting['id']}").get_attribute("class")
        browser.driver.execute_script("window.openedOnce = true")  # gone if the page were loaded again
        ticket = register(portal_platform, customer_name="刷新客户", phone=phone)
        row = browser.wait_until(lambda: browser.find_all(f"#ticket-{ticket['id']}"), timeout=15, what="the new ticket")
        assert "刷新客户" in row[0].text
        clock.travel_to(clock.now() + timedelta(minutes=30))
        browser.wait_until(
            lambda: browser.find_all(f"#ticket-{waiting['id']}.is-at_risk"), timeout=15, what="the deadline at risk"
        )
        assert browser.driver.execute_script("return window.openedOnce") is True
        assert browser.find("#f-q").get_attribute("value") == phone  # the filter form is left as it was
        # the ticket's own page: its deadlines move on too
        browser.open(f"/center/tickets/{waiting['id']}")
        assert browser.find_all("tr.deadline-at_risk[data-sla=onsite]")
        browser.driver.execute_script("window.openedOnce = true")
        clock.travel_to(clock.now() + timedelta(hours=6))  # past its on-site deadline
        browser.wait_until(
            lambda: browser.find_all("tr.deadline-breached[data-sla=onsite]"), timeout=15, what="the deadline breached"
        )
        assert browser.driver.execute_script("return window.openedOnce") is True


def test_the_center_pages_fit_a_phone(browser, portal_platform):
    ticket = register(portal_platform, kind="complaint")
    agent(portal_platform)
    browser.phone()
    browser.sign_in("c1-agent")
    for path in ("/center/tickets", "/center/register", f"/center/tickets/{ticket['id']}"):
        browser.open(path)
        assert browser.inner_width() == 390 and browser.scroll_width() <= 390, (path, browser.scroll_width())
    browser.open("/center/register")
    browser.fill(address="湖北省武汉市洪山区珞喻路1号", phone="bad")
    browser.wait_until(lambda: browser.find_all("[data-preview=place]"), what="the preview")
    browser.submit("#ticket-form button[type=submit]")
    assert browser.field_error("phone") and browser.scroll_width() <= 390
