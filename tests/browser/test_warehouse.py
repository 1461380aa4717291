"""The parts warehouse's screens in a real browser, on parts and the gateway: the clerk books a
receipt by hand (new stock, and an old part against its return with one more unit than the outlet
booked) and sees it in the recent receipts and in the month's reconciliation, by kind, part,
outlet name and quantity; the export downloads as CSV and XLSX; stock per location with its
filters; the returns due with the overdue one in red; the returns' states. Bad input is shown next
to its field and books nothing; a center's or an outlet's person is refused the warehouse's pages;
no page scrolls sideways at 390 px."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests

from services.parts.domain import month_of
from shared import clock
from shared.tenancy import Principal
from shared.tenants import TenantDirectory
from tests.conftest import C01, wait_for
from tests.parts_fixtures import SPINDLE, publish, visit_event
from tests.portal_fixtures import API, add_account

WH_C01 = Principal("wh-clerk", "warehouse", tenant="C01", warehouse="WH-C01")
PAGES = tuple(f"/warehouse/{p}" for p in ("receipts", "stock", "returns", "rmas", "reconciliation"))


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """parts + gateway (with its accounts), shared by the module's tests: all the warehouse's
    pages need (the tests find their rows by return number)."""
    from services.gateway.service import GatewayService
    from services.parts.service import PartsService

    return module_platforms(PartsService, GatewayService, PARTS_OVERDUE_CHECK_SECONDS=3600)


def api(platform, method, path, principal=C01, expect=200, **kw):
    r = platform.request(method, API + path, principal, **kw)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json()


def open_return(platform, visit, removed_serial, days_ago=0):
    """A spindle issued to C01-O01 and used on `visit` `days_ago` days ago: the return it opens."""
    api(platform, "POST", "/parts/issues", expect=201, json={"outlet_id": "C01-O01", "lines": [{"part_no": SPINDLE}]})
    used = [{"part_no": SPINDLE, "quantity": 1, "new_serial": None, "removed_serial": removed_serial}]
    at = clock.now() - timedelta(days=days_ago)
    publish(platform.config, "dispatch", "visit.completed", visit_event(visit, f"t-{visit}", parts_used=used, at=at))
    return wait_for(
        lambda: next(iter(api(platform, "GET", f"/parts/rmas?visit_id={visit}")["items"]), None),
        what=f"the return of {visit}",
    )


def choose(browser, name, value):
    from selenium.webdriver.support.ui import Select

    Select(browser.find(f"select[name={name}]")).select_by_value(value)


def scans_booked(platform):
    return api(platform, "GET", "/parts/scans", WH_C01)["total"]


def test_the_warehouse_books_a_receipt_by_hand_and_reconciles_the_month(browser, portal_platform):
    p = portal_platform
    outlet_name = TenantDirectory.from_config(p.config).outlets["C01-O01"].name
    late = open_return(p, "wh-visit-late", "SPB-O-1001", days_ago=40)
    fresh = open_return(p, "wh-visit-fresh", "SPB-O-2002")
    add_account(p, "wh-clerk", role="warehouse", tenant="C01", warehouse="WH-C01", name="武汉备件库 李四")
    booked = scans_booked(p)  # the module's other test may have run first on this platform
    browser.sign_in("wh-clerk")
    assert browser.path == "/warehouse/receipts"
    assert [a.text for a in browser.find_all("nav.nav a")][:5] == ["收货登记", "库存", "待返旧件", "返厂", "对账"]

    # bad input: shown next to its field, nothing booked
    choose(browser, "kind", "rma")
    browser.submit("#receipt-form button[type=submit]")
    assert "旧件签收须填写返厂单号" in browser.field_error("rma_no")
    choose(browser, "kind", "stock")
    choose(browser, "part_no", SPINDLE)
    browser.fill(quantity="0")
    browser.submit("#receipt-form button[type=submit]")
    assert "不能小于 1" in (browser.field_error("quantity") or "") or "之间" in browser.field_error("quantity")
    browser.fill(rma_no="RMA-NO-SUCH")
    choose(browser, "kind", "rma")
    browser.fill(quantity="1")
    browser.submit("#receipt-form button[type=submit]")
    assert "没有这个返厂单" in browser.field_error("rma_no")
    assert scans_booked(p) == booked

    # new stock by hand, then the fresh return's old part with one unit more than booked
    before = api(p, "GET", f"/parts/stock?location_id=WH-C01&part_no={SPINDLE}&condition=good")["items"][0]["on_hand"]
    browser.open("/warehouse/receipts")
    choose(browser, "part_no", SPINDLE)
    browser.fill(quantity="2", serials="SPB-N-9001, SPB-N-9002", note="工厂补货")
    browser.submit("#receipt-form button[type=submit]")
    assert "已登记：新件入库" in browser.find("#receipt-done").text
    browser.open("/warehouse/receipts?kind=rma")
    browser.fill(rma_no=fresh["rma_no"], quantity="2", serial="SPB-O-2002")
    browser.submit("#receipt-form button[type=submit]")
    assert "备件库签收" in browser.find("#receipt-done").text and fresh["rma_no"] in browser.find("#receipt-done").text
    recent = browser.find("#recent-receipts").text
    assert "新件入库" in recent and "旧件签收" in recent and fresh["rma_no"] in recent and "已入账" in recent
    after = api(p, "GET", f"/parts/stock?location_id=WH-C01&part_no={SPINDLE}&condition=good")["items"][0]["on_hand"]
    assert after == before + 2 and scans_booked(p) == booked + 2

    # stock per location, filtered
    browser.open(f"/warehouse/stock?location_id=WH-C01&part_no={SPINDLE}")
    rows = browser.find_all("table.stock tbody tr")
    assert [r.get_attribute("data-part") for r in rows] == [SPINDLE, SPINDLE]  # good and the old part
    good = next(r.text for r in rows if "良品" in r.text)
    old = next(r.text for r in rows if "旧件" in r.text)
    assert f"\n{after}\n" in good and "\n2\n" in old  # on hand: good, and the two old parts received

    # returns due: the late one red, the received one gone from the list
    browser.open("/warehouse/returns")
    due = browser.find(f"#rma-{late['rma_no']}")
    assert "is-overdue" in due.get_attribute("class") and "已逾期" in due.text and outlet_name in due.text
    assert not browser.find_all(f"#rma-{fresh['rma_no']}")
    browser.open("/warehouse/rmas")
    assert "备件库已签收" in browser.find(f"#rma-{fresh['rma_no']}").text
    assert "实收 2" in browser.find(f"#rma-{fresh['rma_no']}").text
    assert "待寄回" in browser.find(f"#rma-{late['rma_no']}").text

    # the month's reconciliation: the receipt's surplus and the late return, by name
    browser.open("/warehouse/reconciliation")
    browser.submit("#run-reconciliation")
    report = browser.find(".reconciliation[data-location='WH-C01']")
    received = int(report.find_element("css selector", "[data-figure=received] b").text)
    assert received >= 2
    surplus = report.find_element("css selector", f"tr.discrepancy[data-ref='{fresh['rma_no']}']")
    assert "数量不符" in surplus.text and outlet_name in surplus.text and "主轴" in surplus.text
    missing = report.find_element("css selector", f"tr.discrepancy[data-ref='{late['rma_no']}']")
    assert "已使用未返旧件" in missing.text and outlet_name in missing.text

    # the export, as the signed-in browser downloads it
    session = requests.Session()
    for c in browser.driver.get_cookies():
        session.cookies.set(c["name"], c["value"])
    r = session.get(browser.find("#export-csv").get_attribute("href"), timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    text = r.content.decode("utf-8-sig")
    assert fresh["rma_no"] in text and "quantity_mismatch" in text and month_of(clock.now()) in text
    r = session.get(browser.find("#export-xlsx").get_attribute("href"), timeout=30)
    assert r.status_code == 200 and r.content[:2] == b"PK", r.headers

    # a phone's width: nothing scrolls sideways
    browser.phone()
    for path in PAGES:
        browser.open(path)
        assert browser.scroll_width() <= 390, path


def test_the_warehouse_pages_are_not_for_a_center_or_an_outlet(browser, portal_platform):
    p = portal_platform
    add_account(p, "c1-boss", role="center", tenant="C01")
    add_account(p, "o5-user")
    add_account(p, "wh-clerk", role="warehouse", tenant="C01", warehouse="WH-C01", name="武汉备件库 李四")
    booked = scans_booked(p)
    for user in ("c1-boss", "o5-user"):
        browser.driver.delete_all_cookies()
        browser.sign_in(user)
        for path in ("/warehouse/receipts", "/warehouse/reconciliation.csv"):
            browser.open(path)
            assert "无权操作" in browser.title + browser.text, (user, path)
    # a receipt posted without the form's token books nothing
    browser.driver.delete_all_cookies()
    browser.sign_in("wh-clerk")
    browser.driver.execute_script(
        "const f = document.querySelector('#receipt-form form');"
        "f.querySelector('[name=csrf_token]').remove(); f.querySelector('[name=quantity]').value = '3';"
    )
    choose(browser, "part_no", SPINDLE)
    browser.submit("#receipt-form button[type=submit]")
    assert "安全校验码" in browser.text
    assert scans_booked(p) == booked
