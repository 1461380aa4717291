"""The center's pages in `fsm demo` (called by the gateway's part, ``demo.py``): the demo's center
account signs in through the portal's form in a headless Chromium, registers a hotline ticket in
its own city (the form with its geocode preview, then the new ticket's page with its number and
deadlines; one ticket, shown at both widths), and the queue, the dispatch board, the reports (last
month's, made by ``demo_reports``), the returns, the notices and the notice settings (then the
settings refusing wrong quiet hours, the error by the field) are photographed, each at 390 px and
1280 px, into the run folder.

The browser comes in as ``fsm.browser`` (a service's own modules do not import the command).
"""

from __future__ import annotations

import time
from typing import Any

PAGES = ("register", "ticket", "queue", "board")
MORE = (
    ("reports", "/center/reports", "the center's reports: last month's stored, one made now, the written part"),
    ("returns", "/center/returns", "the center's return and exchange cases (退换机) by step"),
    ("inbox", "/inbox", "the center's notices (SLA breaches, escalations, new tickets), one marked read; first screen"),
    ("preferences", "/inbox/preferences", "a person's notice settings: channels per kind, e-mail, phone, quiet hours"),
)
QUIET_WRONG = "25:00-08:00"  # refused by notify, named next to the field


def screenshots(ctx: Any, account: dict[str, Any], browser: Any) -> list[str]:
    """The report's lines; each picture is recorded as a document of the run."""
    try:
        driver = browser.start_chromium()
    except browser.BrowserMissing as exc:
        return [f"  center screenshots: none ({exc})"]
    folder = ctx.run_folder("screenshots")
    base = ctx.gateway.base_url
    center = ctx.directory.centers.get(account.get("tenant") or "")
    address = "湖北省武汉市洪山区珞喻路1号"
    if center is not None:
        address = f"{center.province}{center.city}{center.district or ''}人民路1号"
    written: list[tuple[Any, str]] = []
    number = ticket_url = None
    marked = False
    try:
        for width, size in (("390", browser.phone), ("1280", browser.desktop)):
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            size(driver)
            _sign_in(driver, base, account)
            driver.get(base + "/center/register")
            _type(driver, customer_name="演示客户 武汉精工机械有限公司", phone="027-87654321", address=address)
            _select(driver, "product_line", next(iter(ctx.directory.product_lines), ""))
            _type(driver, model="VMC850", fault="主轴异响，无法启动")
            driver.execute_script(
                "var e = document.getElementById('f-purchase_date'); e.value = '2025-06-01';"
                "e.dispatchEvent(new Event('change', {bubbles: true}));"
            )
            _wait(lambda: driver.find_elements("css selector", "[data-preview=warranty]"), "the preview")
            shot = browser.screenshot(driver, folder / f"center-register-{width}.png")
            written.append((shot, f"the center's new-ticket form with its geocode preview, {width} px"))
            if ticket_url is None:  # one ticket registered; the other width shows the same page
                driver.find_element("css selector", "#ticket-form button[type=submit]").click()
                _wait(lambda: driver.find_elements("css selector", "#new-number"), "the new ticket's page")
                ticket_url = driver.current_url
                number = driver.find_element("css selector", "#new-number").text
            else:
                driver.get(ticket_url)
            shot = browser.screenshot(driver, folder / f"center-ticket-{width}.png")
            written.append((shot, f"a newly registered ticket with its number and deadlines, {width} px"))
            driver.get(base + "/center/tickets")
            shot = browser.screenshot(driver, folder / f"center-queue-{width}.png")
            written.append((shot, f"the center's ticket queue with SLA states, {width} px"))
            driver.get(base + "/center/dispatch")
            shot = browser.screenshot(driver, folder / f"center-board-{width}.png")
            written.append((shot, f"the center's dispatch board, {width} px"))
            for name, path, what in MORE:
                driver.get(base + path)
                if name == "inbox" and not marked:  # the newest notice marked read by its button, once
                    driver.find_element("css selector", ".inbox-item form button[type=submit]").click()
                    marked = _wait(lambda: "done=read" in driver.current_url, "the notice marked read")
                shot = folder / f"center-{name}-{width}.png"  # the inbox's first screen: it runs to 50 notices
                written.append((browser.screenshot(driver, shot, full_page=name != "inbox"), f"{what}, {width} px"))
            _type(driver, quiet_hours=QUIET_WRONG)  # still on the settings: a wrong value, refused by its field
            driver.find_element("css selector", "form.prefs button[type=submit]").click()
            _wait(lambda: driver.find_elements("css selector", ".field-error"), "the refused quiet hours")
            shot = browser.screenshot(driver, folder / f"center-preferences-refused-{width}.png")
            written.append(
                (shot, f"the settings refusing quiet hours {QUIET_WRONG}, the error by the field, {width} px")
            )
    except Exception as exc:  # pictures are a by-product: the demo goes on, and says what happened
        return [f"  center screenshots: stopped ({type(exc).__name__}: {exc})"]
    finally:
        driver.quit()
    for path, what in written:
        ctx.record_document(path, what)
    return [
        f"  {account['username']} registers a hotline ticket at /center/register: {number}; "
        f"center screenshots: {len(written)} (new-ticket form, a ticket, the queue, the dispatch board, reports, "
        "returns, notices, notice settings and their refusal; 390 px and 1280 px)",
        "  the center's pages: /center/tickets (queue, SLA states, a ticket's workflow steps), /center/register "
        "(hotline form, geocode preview), /center/dispatch (board, re-plan, pin), /center/callbacks (script), "
        "/center/outlets (applications, reviews), /center/claims (audit), /center/ledger (台帐, CSV), "
        "/center/reports (monthly and quarterly reports), /center/returns (退换机), /inbox (通知, 通知设置)",
    ]


def _sign_in(driver: Any, base: str, account: dict[str, Any]) -> None:
    driver.get(base + "/login?next=/center/tickets")
    driver.find_element("name", "username").send_keys(account["username"])
    driver.find_element("name", "password").send_keys(account["password"])
    driver.find_element("css selector", "main form button[type=submit]").click()
    _wait(lambda: driver.current_url.split("?")[0].endswith("/center/tickets"), "the center's queue")


def _type(driver: Any, **fields: str) -> None:
    for name, value in fields.items():
        element = driver.find_element("name", name)
        element.clear()
        element.send_keys(value)


def _select(driver: Any, name: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    if value:
        Select(driver.find_element("name", name)).select_by_value(value)


def _wait(condition: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not shown within {timeout:.0f} s")
