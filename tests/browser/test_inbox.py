"""The inbox (站内通知) in a real browser, every role: a center user sees a breach notice appear
(Chinese, Beijing time, marked unread), marks it read with the form's button, and sets their own
preferences, an error shown next to the field notify names; an outlet user reads their own inbox,
a warehouse account is told it has none; a phone's width. The tests share one platform."""

from __future__ import annotations

import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from shared import clock, tenancy
from shared.clock import LOCAL_TZ
from tests.portal_fixtures import add_account


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """notify + gateway (with its accounts), shared by the module's tests."""
    from services.gateway.service import GatewayService
    from services.notify.service import NotifyService

    return module_platforms(NotifyService, GatewayService, NOTIFY_QUIET_HOURS="off")


def breach(platform, number, tenant="C01", outlet=None):
    now = clock.now()
    body = {
        "tenant_id": tenant,
        "ticket_id": f"t-{uuid.uuid4().hex[:10]}",
        "number": number,
        "sla": "onsite",
        "due_at": now.isoformat(),
        "detected_at": now.isoformat(),
        "assigned_outlet_id": outlet,
    }
    headers = {"nameko.event_id": uuid.uuid4().hex, "nameko.principal": tenancy.service_principal("intake").encode()}
    event_dispatcher(platform.config, headers=headers)("intake", "sla.breached", body)
    return now


def test_a_notice_appears_and_is_marked_read(browser, portal_platform):
    add_account(portal_platform, "c1-inbox", role="center", tenant="C01", name="武汉中心 调度 王五")
    browser.sign_in("c1-inbox")
    assert "通知" in [a.text for a in browser.find_all("header nav a")]
    browser.open("/inbox")
    assert "暂无通知" in browser.text or "C01-INBOX-1" not in browser.text

    at = breach(portal_platform, "C01-INBOX-1")
    item = browser.wait_until(
        lambda: browser.open("/inbox").find_all(".inbox-item.is-unread") and browser.find(".inbox-item.is-unread"),
        what="the breach notice in the inbox",
    )
    notice_id = item.get_attribute("id")
    assert "【超时警告】C01-INBOX-1 上门超时" in item.text and "未读" in item.text
    assert at.astimezone(LOCAL_TZ).strftime("%H:%M") in item.text  # Beijing time
    assert "条未读" in browser.find(".summary").text
    # another center's notice never shows here
    breach(portal_platform, "C02-INBOX-9", tenant="C02")

    browser.submit(f"#{notice_id} form button[type=submit]")
    assert browser.path == "/inbox?done=read"
    assert "已标记为已读" in browser.text
    read = browser.find(f"#{notice_id}")
    assert "is-unread" not in read.get_attribute("class") and "已读于" in read.text
    assert not read.find_elements("css selector", "form")
    assert "C02-INBOX-9" not in browser.text
    browser.open("/inbox?unread=1")
    assert "C01-INBOX-1" not in browser.text

    browser.phone()
    browser.open("/inbox")
    assert browser.scroll_width() <= browser.inner_width()


def test_preferences_form_shows_errors_next_to_the_field_and_saves(browser, portal_platform):
    add_account(portal_platform, "c1-prefs", role="center", tenant="C01", name="武汉中心 主管 赵六")
    browser.sign_in("c1-prefs")
    browser.open("/inbox")
    browser.driver.find_element("link text", "通知设置").click()
    browser.wait_until(lambda: browser.path == "/inbox/preferences", what="the settings page")
    assert browser.find("#ch-sla_breached-inbox").is_selected()
    assert not browser.find("#ch-sla_breached-email").is_selected()

    browser.find("#ch-sla_breached-email").click()  # e-mail chosen, no address given
    browser.fill(quiet_hours="半夜")
    browser.submit("main form.prefs button[type=submit]")
    assert browser.field_error("email") == "已选择用邮件接收通知，请填写邮箱"
    assert "22:00-08:00" in browser.field_error("quiet_hours")
    assert browser.find("#ch-sla_breached-email").is_selected()  # what was typed stays

    browser.fill(email="zhao@c01.example.com", quiet_hours="22:30-07:30")
    browser.find("#ch-callback_due-inbox").click()  # no more callback reminders in my inbox
    browser.submit("main form.prefs button[type=submit]")
    assert browser.path == "/inbox/preferences?done=saved" and "通知设置已保存" in browser.text
    assert browser.find("#f-email").get_attribute("value") == "zhao@c01.example.com"
    assert browser.find("#f-quiet_hours").get_attribute("value") == "22:30-07:30"
    assert browser.find("#ch-sla_breached-email").is_selected()
    assert not browser.find("#ch-callback_due-inbox").is_selected()
    browser.phone()
    browser.open("/inbox/preferences")
    assert browser.scroll_width() <= browser.inner_width()


def test_an_outlet_reads_its_own_and_a_warehouse_has_none(browser, portal_platform):
    add_account(portal_platform, "o5-inbox", role="outlet", tenant="C01", outlet="C01-O05")
    breach(portal_platform, "C01-OUTLET-5", outlet="C01-O05")
    breach(portal_platform, "C01-OUTLET-6", outlet="C01-O06")
    browser.sign_in("o5-inbox")
    browser.wait_until(lambda: "C01-OUTLET-5" in browser.open("/inbox").text, what="the outlet's notice")
    assert "C01-OUTLET-6" not in browser.text

    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    add_account(portal_platform, "w-inbox", role="warehouse", tenant="C01", warehouse="W-C01")
    browser.sign_in("w-inbox")
    browser.open("/inbox")
    assert "暂无站内通知" in browser.text
    assert browser.open("/inbox/preferences").title.startswith("无权操作")


def test_a_long_inbox_comes_in_pages(browser, portal_platform):
    add_account(portal_platform, "c5-inbox", role="center", tenant="C05", name="成都中心 调度 孙七")
    for i in range(52):  # one page and two notices more
        breach(portal_platform, f"C05-PAGE-{i:02d}", tenant="C05")
    browser.sign_in("c5-inbox")
    browser.wait_until(lambda: "共 52 条" in browser.open("/inbox").text, what="52 notices in the inbox")
    assert len(browser.find_all(".inbox-item")) == 50 and "第 1 页" in browser.find("nav.pager").text
    assert not browser.find_all("nav.pager a[rel=prev]")
    browser.driver.get(browser.find("nav.pager a[rel=next]").get_attribute("href"))
    assert browser.path == "/inbox?page=2" and len(browser.find_all(".inbox-item")) == 2
    assert "C05-PAGE-00" in browser.text  # the oldest, on the second page
    assert not browser.find_all("nav.pager a[rel=next]") and browser.find_all("nav.pager a[rel=prev]")
    browser.open("/inbox?unread=1&page=2")  # the filter kept from page to page
    assert browser.find("nav.pager a[rel=prev]").get_attribute("href").endswith("/inbox?unread=1&page=1")

    # 全部标为已读 on the unread filter's first page: every unread notice (the two on page 2 too) up to
    # the newest shown; one come since stays unread; another center's stay as they were
    C05 = tenancy.Principal("c5-inbox", "center", tenant="C05")
    C02 = tenancy.Principal("c2-inbox", "center", tenant="C02")
    breach(portal_platform, "C02-ALL-1", tenant="C02")
    inbox = "/api/v1/notify/inbox"
    browser.wait_until(lambda: portal_platform.get(inbox, C02).json()["unread"] >= 1, what="C02's notice")
    c02_unread = portal_platform.get(inbox, C02).json()["unread"]
    browser.open("/inbox?unread=1")
    breach(portal_platform, "C05-LATE", tenant="C05")
    browser.wait_until(lambda: portal_platform.get(inbox, C05).json()["unread"] == 53, what="the late notice")
    browser.submit("form.mark-all button[type=submit]")
    assert browser.path == "/inbox?unread=1&done=all_read"
    assert "已全部标为已读" in browser.text and "共 1 条" in browser.text
    assert [e.text for e in browser.find_all(".inbox-subject")] == ["【超时警告】C05-LATE 上门超时"]
    assert portal_platform.get(inbox, C02).json()["unread"] == c02_unread
    bad = portal_platform.post(f"{inbox}/read", C05, json={"upto": "x"})
    assert bad.status_code == 422 and "upto" in bad.json()["error"]["fields"]
    assert portal_platform.post(f"{inbox}/read", C05, json={}).json() == {"marked": 1, "unread": 0}
    browser.open("/inbox")
    assert not browser.find_all("form.mark-all") and not browser.find_all(".inbox-item.is-unread")
