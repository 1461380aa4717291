"""HQ's approvals and network pages in `fsm demo` (called by the gateway's part, ``demo.py``): the
demo's HQ account signs in through the portal's form in a headless Chromium and the approvals
queue, the month's rankings, the best-placed outlet's scorecard, the network plan and the tariffs
are photographed, each at 390 px and 1280 px, into the run folder.

The browser comes in as ``fsm.browser`` (a service's own modules do not import the command).
"""

from __future__ import annotations

from typing import Any

from services.gateway.demo_center import _wait

PAGES = (
    ("approvals", "/hq/approvals", "HQ's approvals: outlet reviews above the center, claims at HQ's level"),
    ("rankings", "/hq/rankings", "the outlets of every center ranked by the month's scorecard"),
    ("network", "/hq/network", "the network plan: outlets needed per area against present"),
    ("tariffs", "/hq/tariffs", "the settlement tariff in force per product line and service range"),
)


def screenshots(ctx: Any, account: dict[str, Any], browser: Any) -> list[str]:
    """The report's lines; each picture is recorded as a document of the run."""
    try:
        driver = browser.start_chromium()
    except browser.BrowserMissing as exc:
        return [f"  hq screenshots: none ({exc})"]
    folder = ctx.run_folder("screenshots")
    base = ctx.gateway.base_url
    written: list[tuple[Any, str]] = []
    try:
        for width, size in (("390", browser.phone), ("1280", browser.desktop)):
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            size(driver)
            _sign_in(driver, base, account)
            for name, path, what in PAGES:
                driver.get(base + path)
                written.append((browser.screenshot(driver, folder / f"hq-{name}-{width}.png"), f"{what}, {width} px"))
                if name == "rankings":
                    links = driver.find_elements("css selector", "#ranking a, #unrated a")
                    if links:
                        driver.get(links[0].get_attribute("href"))
                        shot = browser.screenshot(driver, folder / f"hq-scorecard-{width}.png")
                        written.append((shot, f"an outlet's scorecard, each point traced to its fact, {width} px"))
    except Exception as exc:  # pictures are a by-product: the demo goes on, and says what happened
        return [f"  hq screenshots: stopped ({type(exc).__name__}: {exc})"]
    finally:
        driver.quit()
    for path, what in written:
        ctx.record_document(path, what)
    return [
        f"  hq screenshots: {len(written)} (approvals, rankings, a scorecard, network plan, tariffs; "
        "390 px and 1280 px)",
        "  HQ's pages: /hq/approvals (outlet reviews and approvals, claims at HQ's audit level), /hq/rankings "
        "(every center's outlets by the month's scorecard, by center and month), /hq/network (outlets needed "
        "per area), /hq/tariffs (the tariff in force)",
    ]


def _sign_in(driver: Any, base: str, account: dict[str, Any]) -> None:
    driver.get(base + "/login?next=/hq/approvals")
    driver.find_element("name", "username").send_keys(account["username"])
    driver.find_element("name", "password").send_keys(account["password"])
    driver.find_element("css selector", "main form button[type=submit]").click()
    _wait(lambda: driver.current_url.split("?")[0].endswith("/hq/approvals"), "HQ's approvals")
