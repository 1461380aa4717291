"""The parts warehouse's pages in `fsm demo` (called by the gateway's part, ``demo.py``): the demo's
warehouse clerk signs in through the portal's form in a headless Chromium, books one receipt of new
stock by hand (as a scanner would send it), runs the month's reconciliation, and the receipts,
stock, returns due, returns to the factory and the reconciliation are photographed, each at 390 px
and 1280 px, into the run folder.

The browser comes in as ``fsm.browser`` (a service's own modules do not import the command).
"""

from __future__ import annotations

from typing import Any

from services.gateway.demo_center import _select, _type, _wait

PAGES = (
    ("receipts", "the warehouse's receipts: the hand-booking form and the recent receipts"),
    ("stock", "the warehouse's stock per location"),
    ("returns", "parts issued and old parts due back, overdue in red"),
    ("rmas", "old-part returns on their way to the factory, by state"),
    ("reconciliation", "the month's reconciliation with its discrepancies and exports"),
)


def screenshots(ctx: Any, account: dict[str, Any], browser: Any) -> list[str]:
    """The report's lines; each picture is recorded as a document of the run."""
    try:
        driver = browser.start_chromium()
    except browser.BrowserMissing as exc:
        return [f"  warehouse screenshots: none ({exc})"]
    folder = ctx.run_folder("screenshots")
    base = ctx.gateway.base_url
    written: list[tuple[Any, str]] = []
    booked = None
    try:
        for width, size in (("390", browser.phone), ("1280", browser.desktop)):
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            size(driver)
            _sign_in(driver, base, account)
            if booked is None:  # one receipt booked and the month reconciled; both widths show them
                part = driver.find_elements("css selector", "select[name=part_no] option[value]:not([value=''])")
                if part:
                    _select(driver, "part_no", part[0].get_attribute("value"))
                    _type(driver, quantity="5", note="演示：工厂补货（手工登记）")
                    driver.find_element("css selector", "#receipt-form button[type=submit]").click()
                    _wait(lambda: driver.find_elements("css selector", "#receipt-done"), "the receipt booked")
                    booked = driver.find_element("css selector", "#receipt-done").text
                driver.get(base + "/warehouse/reconciliation")
                driver.find_element("css selector", "#run-reconciliation").click()
                _wait(lambda: "done=1" in driver.current_url, "the month reconciled")
            for name, what in PAGES:
                driver.get(f"{base}/warehouse/{name}")
                shot = browser.screenshot(driver, folder / f"warehouse-{name}-{width}.png")
                written.append((shot, f"{what}, {width} px"))
    except Exception as exc:  # pictures are a by-product: the demo goes on, and says what happened
        return [f"  warehouse screenshots: stopped ({type(exc).__name__}: {exc})"]
    finally:
        driver.quit()
    for path, what in written:
        ctx.record_document(path, what)
    return [
        f"  {account['username']} books a receipt by hand at /warehouse/receipts: {booked or 'none'}; "
        f"warehouse screenshots: {len(written)} (receipts, stock, returns due, returns to the factory, "
        "the month's reconciliation; 390 px and 1280 px)",
    ]


def _sign_in(driver: Any, base: str, account: dict[str, Any]) -> None:
    driver.get(base + "/login?next=/warehouse/receipts")
    driver.find_element("name", "username").send_keys(account["username"])
    driver.find_element("name", "password").send_keys(account["password"])
    driver.find_element("css selector", "main form button[type=submit]").click()
    _wait(lambda: driver.current_url.split("?")[0].endswith("/warehouse/receipts"), "the warehouse's receipts")
