"""The center's returns and exchanges page (/center/returns, 退换机) in a real browser: reached from
the navigation, the cases named in Chinese, filtered by step, and the page fits a phone (390 px)
and a desktop (1280 px)."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import Select

from tests.browser.test_center_tickets import agent
from tests.portal_fixtures import add_account
from tests.service.test_portal_returns import LEAD, _case


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + dispatch + gateway (with its accounts), shared by the module's tests."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    return module_platforms(IntakeService, DispatchService, GatewayService)


def test_the_returns_page_lists_filters_and_fits_a_phone_and_a_desktop(browser, portal_platform):
    p = portal_platform
    kept = _case(p, "CK6150BR0001", 2, "return")
    swapped = _case(p, "CK6150BR0002", 25, "exchange")
    r = p.post(
        f"/api/v1/returns/{swapped['id']}/steps",
        LEAD,
        json={"action": "inspect", "quality_fault": True, "finding": "主轴缺陷"},
    )
    assert r.status_code == 200, r.text
    agent(p)
    add_account(p, LEAD.user, role="center", tenant="C01", name="武汉中心 技术主管 王五")
    browser.sign_in("c1-agent")
    browser.find('nav a[href="/center/returns"]').click()
    assert browser.title.startswith("退换机"), browser.title
    assert browser.find(f"#return-{kept['id']}") and browser.find(f"#return-{swapped['id']}")
    assert "检测：主轴缺陷（武汉中心 技术主管 王五）" in browser.text  # a name, not the user id
    assert "购买后第 25 天申请" in browser.text and "已检测" in browser.text and "换机" in browser.text
    Select(browser.find("#f-step")).select_by_visible_text("已检测")
    browser.find(".filter-form button[type=submit]").click()
    assert "step=inspected" in browser.driver.current_url
    assert not browser.find_all(f"#return-{kept['id']}") and browser.find(f"#return-{swapped['id']}")
    assert browser.scroll_width() <= 1280
    browser.phone()
    browser.open("/center/returns")
    assert browser.scroll_width() <= 390, browser.scroll_width()
