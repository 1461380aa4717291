"""HQ's SLA overview and triage queue in `fsm demo` (called by the gateway's part, ``demo.py``): the
demo's HQ account signs in through the portal's form in a headless Chromium and ``/hq/sla`` (the
charts per center and tier, by week) and ``/hq/triage`` (the requests whose center the address did
not tell, with their candidate centers), ``/hq/reports``, ``/hq/centers`` (this month's ranking
of the centers, assessed once by the page's own button) and ``/inbox`` are photographed at 390 px
and 1280 px into the run folder. Nothing is routed: the triage tickets stay for a person to route.

The browser comes in as ``fsm.browser`` (a service's own modules do not import the command).
"""

from __future__ import annotations

from typing import Any

from services.gateway.demo_center import _wait
from services.gateway.demo_reports import this_month

PAGES = (
    ("sla", "/hq/sla", "HQ's SLA overview: met, late, at risk per center and tier, week by week"),
    ("sla-month", "/hq/sla?period=month&sla=onsite", "HQ's on-site SLA month by month"),
    ("triage", "/hq/triage", "HQ's triage queue: why each request came to HQ and its candidate centers"),
    ("reports", "/hq/reports", "HQ's reports: every center's and the national roll-up, one made now, HQ's analysis"),
    ("centers", "/hq/centers?period=month&month={month}", "HQ's ranking of the centers, this month's assessment"),
    ("inbox", "/inbox", "HQ's notices: the escalations addressed to HQ, their first screen"),
)


def screenshots(ctx: Any, account: dict[str, Any], browser: Any) -> list[str]:
    """The report's lines; each picture is recorded as a document of the run."""
    try:
        driver = browser.start_chromium()
    except browser.BrowserMissing as exc:
        return [f"  hq sla/triage screenshots: none ({exc})"]
    folder = ctx.run_folder("screenshots")
    base = ctx.gateway.base_url
    written: list[tuple[Any, str]] = []
    waiting = 0
    assessed = None
    try:
        for width, size in (("390", browser.phone), ("1280", browser.desktop)):
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            size(driver)
            _sign_in(driver, base, account)
            for name, path, what in PAGES:
                driver.get(base + path.format(month=this_month()))
                if name == "centers" and assessed is None:  # assessed once, by the page's button
                    driver.find_element("css selector", "#assess-now").click()
                    _wait(lambda: "assessed=1" in driver.current_url, "the centers assessed")
                    assessed = len(driver.find_elements("css selector", "#center-ranking li.row"))
                shot = browser.screenshot(driver, folder / f"hq-{name}-{width}.png", full_page=name != "inbox")
                written.append((shot, f"{what}, {width} px"))
                if name == "triage":
                    waiting = len(driver.find_elements("css selector", "section.triage"))
    except Exception as exc:  # pictures are a by-product: the demo goes on, and says what happened
        return [f"  hq sla/triage screenshots: stopped ({type(exc).__name__}: {exc})"]
    finally:
        driver.quit()
    for path, what in written:
        ctx.record_document(path, what)
    return [
        f"  hq sla/triage screenshots: {len(written)} (SLA by week, on-site SLA by month, the triage queue "
        f"with {waiting} requests on its first page, reports, the centers assessed by /hq/centers' button "
        f"({assessed} ranked), notices; 390 px and 1280 px)",
        "  HQ's pages: /hq/sla (SLA per center and tier, by week or month, refreshed by itself), /hq/triage "
        "(requests to route, their candidate centers, routing with a corrected address), /hq/reports "
        "(reports, HQ's analysis), /hq/centers (the centers' assessment and ranking), /inbox (通知)",
    ]


def _sign_in(driver: Any, base: str, account: dict[str, Any]) -> None:
    driver.get(base + "/login?next=/hq/sla")
    driver.find_element("name", "username").send_keys(account["username"])
    driver.find_element("name", "password").send_keys(account["password"])
    driver.find_element("css selector", "main form button[type=submit]").click()
    _wait(lambda: driver.current_url.split("?")[0].endswith("/hq/sla"), "HQ's SLA overview")
