"""Signing in, out and changing the password in a real browser (headless Chromium). The tests
share one platform (module_platforms); each signs in with an account of its own, so one locked
or given a new password leaves the others alone."""

from __future__ import annotations

import pytest

from tests.portal_fixtures import PASSWORD, add_account


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + dispatch + gateway, as tests/portal_fixtures.py's `portal_platform` (three failed
    sign-ins lock an account), started once for the module."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    return module_platforms(IntakeService, DispatchService, GatewayService, LOGIN_MAX_FAILURES=3)


def signed_in(browser):
    """Past the login page (at the role's home, whichever it is), with a session."""
    return not browser.path.startswith("/login") and browser.cookie("fsm_session") is not None


def test_a_page_without_a_session_goes_to_the_login_page_and_back_after_signing_in(browser, portal_platform):
    add_account(portal_platform, "agent-back", role="center", tenant="C01", name="武汉中心 李四")
    browser.open("/account/password")
    assert browser.path == "/login?next=/account/password"
    assert browser.title.startswith("登录") and browser.find("html").get_attribute("lang") == "zh-CN"
    browser.fill(username="agent-back", password=PASSWORD)
    browser.submit()
    assert browser.path == "/account/password"
    header = browser.find("header.top").text
    assert "武汉中心 李四" in header and "区域服务中心" in header and "武汉区域服务中心" in header
    session = browser.cookie("fsm_session")
    assert session["httpOnly"] is True and session["sameSite"] == "Lax" and session["secure"] is False


def test_a_wrong_password_is_shown_next_to_the_password_field(browser, portal_platform):
    add_account(portal_platform, "agent-wrong", role="center", tenant="C01")
    browser.sign_in("agent-wrong", "not-the-password")
    assert browser.path.startswith("/login")
    assert browser.field_error("password") == "用户名或密码错误"
    assert browser.field_error("username") is None
    assert browser.find("#f-password").get_dom_attribute("aria-invalid") == "true"
    assert browser.find("#f-username").get_attribute("value") == "agent-wrong"  # kept; the password is not
    assert browser.find("#f-password").get_attribute("value") == ""
    assert browser.cookie("fsm_session") is None


def test_repeated_failures_lock_the_account_with_a_clear_message(browser, portal_platform):
    add_account(portal_platform, "agent-locked", role="center", tenant="C01")
    for _ in range(2):  # LOGIN_MAX_FAILURES=3 in these tests
        browser.sign_in("agent-locked", "guessing-wrong")
        assert browser.field_error("password") == "用户名或密码错误"
    browser.sign_in("agent-locked", "guessing-wrong")
    assert browser.field_error("username") == "登录失败次数过多，请 15 分钟后再试"
    browser.sign_in("agent-locked", PASSWORD)  # the right password, during the lock
    assert browser.path.startswith("/login") and browser.cookie("fsm_session") is None
    assert "登录失败次数过多" in browser.field_error("username")


def test_a_form_posted_without_its_csrf_token_is_refused(browser, portal_platform):
    add_account(portal_platform, "agent-csrf", role="center", tenant="C01")
    browser.sign_in("agent-csrf")
    browser.open("/account/password")
    browser.fill(current_password=PASSWORD, new_password="brand-new-pw-9", new_password2="brand-new-pw-9")
    browser.driver.execute_script("document.querySelector('main input[name=csrf_token]').remove()")
    browser.submit()
    assert browser.title.startswith("请求被拒绝")
    assert "缺少安全校验码" in browser.text and "操作未执行" in browser.text
    # nothing changed: the old password still signs in
    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.sign_in("agent-csrf")
    assert signed_in(browser)


def test_logout_ends_the_session(browser, portal_platform):
    add_account(portal_platform, "agent-out", role="center", tenant="C01")
    browser.sign_in("agent-out")
    cookie = browser.cookie("fsm_session")["value"]
    browser.submit("header form.logout button")
    assert browser.path == "/login?done=signed_out" and "您已退出登录" in browser.text
    assert browser.cookie("fsm_session") is None
    # the old cookie put back opens nothing: the session is gone on the server
    browser.driver.add_cookie({"name": "fsm_session", "value": cookie, "path": "/"})
    browser.open("/")
    assert browser.path == "/login"


def test_changing_the_password(browser, portal_platform):
    add_account(portal_platform, "agent-newpw", role="center", tenant="C01")
    browser.sign_in("agent-newpw")
    browser.open("/account/password")
    browser.fill(current_password="not-it-at-all", new_password="brand-new-pw-9", new_password2="brand-new-pw-9")
    browser.submit()
    assert browser.field_error("current_password") == "当前密码不正确"
    browser.fill(current_password=PASSWORD, new_password="short", new_password2="short")
    browser.submit()
    assert browser.field_error("new_password") == "至少 8 个字符"
    browser.fill(current_password=PASSWORD, new_password="brand-new-pw-9", new_password2="brand-new-pw-0")
    browser.submit()
    assert browser.field_error("new_password2") == "两次输入的新密码不一致"
    browser.fill(current_password=PASSWORD, new_password="brand-new-pw-9", new_password2="brand-new-pw-9")
    browser.submit()
    assert browser.path == "/account/password?done=password" and "密码已修改" in browser.text
    browser.submit("header form.logout button")
    browser.sign_in("agent-newpw", PASSWORD)
    assert browser.field_error("password") == "用户名或密码错误"
    browser.sign_in("agent-newpw", "brand-new-pw-9")
    assert signed_in(browser)
