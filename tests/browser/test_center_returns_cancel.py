"""取消换机 on the center's returns page in a real browser: an exchange whose replacement awaits stock
offers the form on its row; sent without a reason it comes back with the error next to the reason
in Chinese and what was typed kept; 改为退款 with an amount cancels it (the row then names the
outcome, the reason, who and when, and offers no form); another center neither sees the case nor
cancels it (the 404 page). Screenshots at 390 px and 1280 px in var/test-screenshots/."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import C01
from tests.portal_fixtures import add_account
from tests.service.test_returns_refund_flow import LEAD
from tests.service.test_returns_replacement_cancel import _awaiting


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + parts + dispatch + gateway (with its accounts), shared by the module's tests."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService

    return module_platforms(
        IntakeService, PartsService, DispatchService, GatewayService, PARTS_OVERDUE_CHECK_SECONDS=3600
    )


def _row(browser, case_id):
    return browser.find(f"#return-{case_id}")


def test_the_center_cancels_a_waiting_replacement_for_a_refund_in_the_browser(browser, portal_platform):
    p = portal_platform
    _, case_id = _awaiting(p, "CK6150BC0001")
    add_account(p, "c1-exchanges", role="center", tenant="C01", name="武汉中心 换机专员 赵六")
    add_account(p, LEAD.user, role="center", tenant="C01", name="武汉中心 技术主管 王五")
    add_account(p, C01.user, role="center", tenant="C01", name="武汉中心 热线 李四")
    browser.sign_in("c1-exchanges")
    browser.open("/center/returns")
    assert browser.title.startswith("退换机"), browser.title
    row = _row(browser, case_id)
    assert "缺货待发" in row.text and "换机" in row.text
    assert "（武汉中心 技术主管 王五）" in row.text and "审批：武汉中心 热线 李四" in row.text, row.text
    browser.find(f"#cancel-{case_id} summary").click()
    browser.wait_until(lambda: browser.find(f"#f-reason-{case_id}").is_displayed(), what="the cancel form open")
    browser.screenshot(SCREENSHOTS / "center-returns-cancel-form-1280.png")

    # no reason: the error next to the reason, in Chinese; the outcome and amount typed are kept
    Select(browser.find(f"#f-outcome-{case_id}")).select_by_visible_text("改为退款")
    browser.fill(**{"refund_amount": "12800.00"})
    browser.submit(f"#cancel-button-{case_id}")
    assert browser.field_error(f"reason-{case_id}") == "必填", browser.text
    assert browser.field_error(f"refund_amount-{case_id}") is None
    assert browser.find(f"#cancel-{case_id}").get_attribute("open") is not None  # the form left open
    assert Select(browser.find(f"#f-outcome-{case_id}")).first_selected_option.text == "改为退款"
    assert browser.find(f"#f-refund_amount-{case_id}").get_attribute("value") == "12800.00"
    assert browser.find(f"#f-reason-{case_id}").get_attribute("aria-invalid") == "true"
    assert p.get(f"/api/v1/returns/{case_id}", C01).json()["step"] == "awaiting_stock"
    browser.screenshot(SCREENSHOTS / "center-returns-cancel-error-1280.png")
    browser.phone()
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.screenshot(SCREENSHOTS / "center-returns-cancel-error-390.png")
    browser.desktop()

    # 改为退款 with the amount: cancelled; the row says so, names who and when, offers no form
    browser.fill(**{"reason": "客户不愿等待新机，改为退款"})
    browser.submit(f"#cancel-button-{case_id}")
    assert browser.path.startswith("/center/returns?done=cancelled"), browser.path
    assert "换机已取消" in browser.find(".notice").text
    case = p.get(f"/api/v1/returns/{case_id}", C01).json()
    assert case["step"] != "awaiting_stock" and case["replacement_cancel_outcome"] == "refund", case
    row = _row(browser, case_id)
    cancelled = row.find_element("css selector", ".cancelled-replacement").text
    assert "换机已取消（改为退款）" in cancelled and "客户不愿等待新机，改为退款" in cancelled, cancelled
    assert "武汉中心 换机专员 赵六" in cancelled and "c1-exchanges" not in cancelled, cancelled
    assert not re.search(r"[a-z]+-[a-z]+", row.text), row.text  # no user ids, names only
    assert re.search(r"\d{2}-\d{2} \d{2}:\d{2}", cancelled), cancelled  # when, in Beijing time
    assert "refund" not in row.text and "awaiting_stock" not in row.text, row.text
    assert "缺货待发" not in row.text
    assert not browser.find_all(f"#cancel-{case_id}") and not browser.find_all(f"#cancel-button-{case_id}")
    assert browser.scroll_width() <= 1280
    browser.screenshot(SCREENSHOTS / "center-returns-cancelled-1280.png")
    browser.phone()
    browser.open(f"/center/returns#return-{case_id}")
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.screenshot(SCREENSHOTS / "center-returns-cancelled-390.png")


def test_another_center_neither_sees_nor_cancels_a_waiting_replacement(browser, portal_platform):
    p = portal_platform
    _, case_id = _awaiting(p, "CK6150BC0002")
    add_account(p, "c2-exchanges", role="center", tenant="C02", name="济南中心 换机专员 孙七")
    browser.sign_in("c2-exchanges")
    browser.open("/center/returns")
    assert browser.title.startswith("退换机"), browser.title
    assert not browser.find_all(f"#return-{case_id}") and not browser.find_all(f"#cancel-{case_id}")

    # the form posted anyway (the page's own session token, the case's address): refused, unchanged
    browser.driver.execute_script(
        """
        const form = document.createElement('form');
        form.method = 'post';
        form.action = '/center/returns/' + arguments[0] + '/cancel';
        form.id = 'forged';
        const fields = {csrf_token: document.querySelector('input[name=csrf_token]').value,
                        idempotency_key: 'forged-' + arguments[0], reason: '别的中心', outcome: 'withdraw'};
        for (const [name, value] of Object.entries(fields)) {
            const input = document.createElement('input');
            input.type = 'hidden'; input.name = name; input.value = value;
            form.appendChild(input);
        }
        const button = document.createElement('button');
        button.type = 'submit'; button.textContent = 'go';
        form.appendChild(button);
        document.querySelector('main').appendChild(form);
        """,
        case_id,
    )
    browser.submit("#forged button[type=submit]")
    assert browser.title.startswith("未找到"), browser.title  # the 404 page, as for another's records
    assert "您要找的内容不存在" in browser.text and not re.search(r"rc_|not found", browser.text), browser.text
    assert not browser.find_all(f"#return-{case_id}") and "换机已取消" not in browser.text
    browser.screenshot(SCREENSHOTS / "center-returns-cancel-other-center-1280.png")
    assert p.get(f"/api/v1/returns/{case_id}", C01).json()["step"] == "awaiting_stock"
    # the center's own page still offers it
    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    add_account(p, "c1-exchanges", role="center", tenant="C01", name="武汉中心 换机专员 赵六")
    browser.sign_in("c1-exchanges")
    browser.open("/center/returns")
    assert browser.find(f"#cancel-{case_id}")
