"""Browser tests: the portal in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, installed by scripts/ensure_tools.sh, which ``make test`` runs; fsm/browser.py
starts it), driven with Selenium, against the platform started as the service tests start it (tests/portal_fixtures.py).

One browser for the session; each test starts with no cookies at desktop width. A test that fails
leaves a screenshot of the page in var/test-screenshots/ (the path is printed). A missing browser
or driver fails the tests; they never skip.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from fsm.browser import DESKTOP, BrowserMissing, desktop, phone, screenshot, start_chromium
from shared import clock
from tests.portal_fixtures import *  # noqa: F401,F403
from tests.portal_fixtures import PASSWORD

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "test-screenshots"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Each phase's report on the test item, so the browser fixture knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def chromium():
    try:
        driver = start_chromium()
    except BrowserMissing as exc:
        pytest.fail(str(exc))  # a test without its browser fails; it never skips
    yield driver
    driver.quit()


class Browser:
    """The driver with the portal's vocabulary: open a path, sign in, read a field's error."""

    def __init__(self, driver, base_url):
        self.driver = driver
        self.base_url = base_url

    # -- moving around
    def open(self, path):
        self.driver.get(self.base_url + path)
        return self

    @property
    def path(self):
        url = self.driver.current_url
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    def sign_in(self, username, password=PASSWORD, path="/login"):
        self.open(path)
        self.fill(username=username, password=password)
        self.submit()
        return self

    def fill(self, **fields):
        from selenium.webdriver.common.by import By

        for name, value in fields.items():
            element = self.driver.find_element(By.NAME, name)
            element.clear()
            element.send_keys(value)

    def submit(self, selector="main form button[type=submit]"):
        """Click a form's button and wait for the next page."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        old = self.driver.find_element(By.TAG_NAME, "html")
        self.driver.find_element(By.CSS_SELECTOR, selector).click()
        WebDriverWait(self.driver, 30).until(lambda driver: _gone(old, ec))

    # -- reading the page
    def find(self, selector):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def find_all(self, selector):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    @property
    def text(self):
        return self.find("body").text

    @property
    def title(self):
        return self.driver.title

    def field_error(self, name):
        """The error shown with field `name`: the message in the same .field as its input, or None."""
        found = self.find_all(f".field:has(#f-{name}) .field-error")
        return found[0].text if found else None

    def cookie(self, name):
        return self.driver.get_cookie(name)

    def scroll_width(self):
        return self.driver.execute_script("return document.documentElement.scrollWidth")

    def inner_width(self):
        return self.driver.execute_script("return window.innerWidth")

    # -- sizes and pictures
    def phone(self):
        """A 390 px wide phone screen (device metrics, mobile viewport)."""
        phone(self.driver)
        return self

    def desktop(self):
        desktop(self.driver)
        return self

    def screenshot(self, path, full_page=True):
        """The page as a PNG at `path` (the whole length of the page unless `full_page` is False)."""
        return screenshot(self.driver, path, full_page)

    def wait_until(self, condition, timeout=30, what="the page"):
        from selenium.common.exceptions import StaleElementReferenceException

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = condition()
            except StaleElementReferenceException:  # re-rendered (htmx) between two reads: not yet
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{what}: not so within {timeout} s (at {self.path})")


def _gone(element, ec):
    """The element left the page: stale, or (a redirect caught mid-read) its node no longer in
    the document, which Chromium reports as an inspector error rather than as staleness."""
    from selenium.common.exceptions import WebDriverException

    try:
        return ec.staleness_of(element)(None)
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise


@pytest.fixture
def browser(chromium, portal_platform, request):
    """The session's browser, cookies cleared, desktop width, pointed at this test's platform; a
    screenshot of the page in var/test-screenshots/ if the test fails; the clock reset and the page
    left after."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    chromium.set_window_size(*DESKTOP)
    b = Browser(chromium, portal_platform.base_url)
    yield b
    clock.reset()  # a test that moved the clock leaves it right for the next one on a shared platform
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        path = SCREENSHOTS / f"{name}.png"
        try:
            b.screenshot(path, full_page=False)
            print(f"\nscreenshot of the failed test's page: {path} (at {chromium.current_url})")
        except Exception as exc:  # the browser itself may be what failed
            print(f"\nno screenshot of the failed test's page: {exc!r}")
    try:  # leave the page: one that polls (htmx) must not be sent to sign in during the next test
        chromium.get("about:blank")
    except Exception as exc:
        print(f"\nthe browser did not leave the test's page: {exc!r}")
