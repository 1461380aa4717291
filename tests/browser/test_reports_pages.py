"""The reports pages in a real browser (issue 18.5): HQ's /hq/reports lists the stored monthly reports
(each center by name, the national roll-up, the quarter's satisfaction reports) and downloads a PDF
whose text names the center; a month refused is shown next to its field; a center's
/center/reports lists its own reports only and makes its month's XLSX now; both at a phone's width."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.browser.test_center_tickets import set_value
from tests.conftest import C01, HQ
from tests.portal_fixtures import add_account
from tests.report_waiting import generate_and_wait

MONTH = "2026-03"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "test-screenshots"  # pictures to look at


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake, parts, settlement, qa and the gateway (with its accounts), shared by the module's tests."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    platform = module_platforms(
        IntakeService,
        PartsService,
        SettlementService,
        QaService,
        GatewayService,
        QA_AUTO_MONTHLY="false",
        PORTAL_REFRESH_SECONDS=1,  # the requests' progress polled by htmx
    )
    generate_and_wait(platform, MONTH)  # made in the background by qa; 202 at once
    return platform


def _live_text(browser, selector):
    """The text of a part htmx swaps (empty while the swap replaces it under the reader)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        return browser.find(selector).text
    except (StaleElementReferenceException, NoSuchElementException):
        return ""


def _session(browser):
    session = requests.Session()
    for c in browser.driver.get_cookies():
        session.cookies.set(c["name"], c["value"])
    return session


def test_hq_lists_every_centers_report_and_downloads_one(browser, portal_platform):
    add_account(portal_platform, "hq-reports", role="hq", name="总部 服务部")
    browser.sign_in("hq-reports")
    browser.open("/hq/reports")
    table = browser.find("table.reports").text
    assert "武汉区域服务中心" in table and "济南区域服务中心" in table and "全国" in table
    assert "服务月报" in table and "季度顾客满意度报告" in table and "2026 年第 1 季度" in table
    assert "2026 年 3 月" in table and "2026-03" not in table  # periods as people read them
    link = next(
        a.get_attribute("href")
        for row in browser.find_all("table.reports tbody tr")
        if "武汉区域服务中心" in row.text and "服务月报" in row.text
        for a in row.find_elements("css selector", "a")
        if a.text == "PDF"
    )
    pdf = _session(browser).get(link, timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout
    assert "武汉区域服务中心" in text.decode("utf-8")

    browser.open("/hq/reports/make?kind=monthly&month=2026-13&format=pdf")
    assert browser.field_error("month"), browser.text

    # a month's stored reports asked from the page: answered at once, made in the background, its
    # progress (排队中/生成中 x/y, then 已完成) swapped in by the page's htmx poll without a reload
    browser.open("/hq/reports")
    set_value(browser, "store_month", "")
    browser.submit("#store form button[type=submit]")
    assert browser.field_error("store_month"), browser.text
    set_value(browser, "store_month", "2026-04")
    browser.submit("#store form button[type=submit]")
    assert browser.path == "/hq/reports?done=asked#report-jobs"
    first = browser.find("#report-jobs .report-job").text
    assert "2026 年 4 月" in first and re.search(r"(排队中|生成中|已完成) \d+/7", first), first
    browser.wait_until(
        lambda: "已完成 7/7" in _live_text(browser, "#report-jobs .report-job"), timeout=180, what="the request done"
    )
    assert browser.path == "/hq/reports?done=asked#report-jobs"  # the same page: the poll brought the progress
    assert "新存 7 份" in browser.find("#report-jobs .report-job").text
    browser.phone()
    browser.open("/hq/reports")
    assert browser.scroll_width() <= 390, browser.scroll_width()
    links = browser.find("table.reports tbody td[data-label='下载']").find_elements("css selector", "a")
    assert [a.text for a in links] == ["PDF", "XLSX"]
    assert len({a.location["y"] for a in links}) == 1, "PDF and XLSX on one line beside the label"


def test_a_center_sees_its_own_reports_and_makes_its_month_now(browser, portal_platform):
    add_account(portal_platform, "c1-reports", role="center", tenant="C01", name="武汉中心 报表")
    browser.sign_in("c1-reports")
    browser.open("/center/reports")
    table = browser.find("table.reports").text
    assert "武汉区域服务中心" in table and "济南区域服务中心" not in table and "全国" not in table
    assert browser.find_all("[name=tenant]") == []  # a center picks no other center
    session = _session(browser)
    xlsx = session.get(f"{browser.base_url}/center/reports/make?kind=monthly&month={MONTH}&format=xlsx", timeout=60)
    assert xlsx.status_code == 200, xlsx.text[:300]
    from openpyxl import load_workbook

    assert "SLA按时率" in load_workbook(io.BytesIO(xlsx.content)).sheetnames
    hq_rows = portal_platform.get("/api/v1/reports?period=2026-03", HQ).json()["items"]
    roll_up = next(r for r in hq_rows if r["tenant_id"] == "HQ")
    assert session.get(f"{browser.base_url}/center/reports/{roll_up['id']}/pdf", timeout=30).status_code == 404

    # the month's written part, from the page: kept, and the stored month made again with it
    browser.open(f"/center/reports?notes_month={MONTH}")
    browser.fill(technical="主轴润滑不足导致异响", competitors="竞品上门时限缩短到12小时")
    browser.submit("#written form button[type=submit]")
    assert "已保存 2026 年 3 月 的书面报告" in browser.find("#written-done").text
    assert browser.find("#f-technical").get_attribute("value") == "主轴润滑不足导致异响"
    own = next(r for r in portal_platform.get(f"/api/v1/reports?period={MONTH}", C01).json()["items"])
    pdf = session.get(f"{browser.base_url}/center/reports/{own['id']}/pdf", timeout=30).content
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "主轴润滑不足导致异响" in text and "竞品上门时限缩短到12小时" in text
    set_value(browser, "notes_month", "")
    browser.submit("#written form button[type=submit]")
    assert browser.field_error("notes_month"), browser.text

    browser.phone()
    browser.open("/center/reports")
    assert browser.scroll_width() <= 390, browser.scroll_width()


def test_hq_rollup_made_in_the_background_then_offered(browser, portal_platform):
    """生成并下载 of a 全国汇总 not stored yet: the page shows the job's progress (排队中 or 生成中 x/7),
    htmx brings 已生成 and the file's link without a reload; the PDF is the roll-up; asked again, the
    month (over, so stored) downloads at once; a job not found says so in Chinese, never a 500."""
    add_account(portal_platform, "hq-rollup", role="hq", name="总部 汇总")
    fixture_job = portal_platform.get("/api/v1/reports/jobs/1", HQ).json()  # the fixture's request
    assert fixture_job["kind"] == "store", fixture_job
    store_job = fixture_job["id"]
    browser.sign_in("hq-rollup")
    browser.open("/hq/reports")
    set_value(browser, "month", "2026-02")
    assert browser.find("[name=tenant]").get_attribute("value") == "all"  # 全国汇总 by default
    browser.submit("form[action='/hq/reports/make'] button[type=submit]")
    asked = parse_qs(urlsplit(browser.path).query)
    assert urlsplit(browser.path).path == "/hq/reports" and browser.path.endswith("#rollup"), browser.path
    assert (asked["month"], asked["tenant"], asked["format"]) == (["2026-02"], ["all"], ["pdf"]), asked
    job_id = asked["rollup"][0]
    assert browser.find("[name=month]").get_attribute("value") == "2026-02"  # the form as asked
    first = browser.wait_until(lambda: _live_text(browser, "#rollup"), what="the roll-up's state")
    assert "2026 年 2 月全国汇总" in first and re.search(r"排队中|生成中 \d/7|已生成", first), first
    browser.screenshot(SHOTS / "hq-rollup-asked-desktop.png")
    link = browser.wait_until(
        lambda: browser.find_all("#rollup a[download]"), timeout=120, what="the roll-up's file offered"
    )[0]
    assert link.text == "下载2026 年 2 月全国汇总（PDF）"
    assert parse_qs(urlsplit(browser.path).query)["rollup"] == [job_id]  # the poll brought it, no reload
    browser.screenshot(SHOTS / "hq-rollup-done-desktop.png")
    session = _session(browser)
    pdf = session.get(link.get_attribute("href"), timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.content, capture_output=True, check=True).stdout
    assert "全国合计" in text.decode("utf-8") and "武汉区域服务中心" in text.decode("utf-8")

    now = session.get(f"{browser.base_url}/hq/reports/make?kind=monthly&month=2026-02&tenant=all&format=xlsx")
    assert now.status_code == 200 and now.headers["Content-Type"].startswith("application/vnd.openxmlformats")

    browser.phone()
    browser.open(f"/hq/reports?rollup={job_id}&format=pdf")
    assert browser.scroll_width() <= 390, browser.scroll_width()
    browser.screenshot(SHOTS / "hq-rollup-done-phone.png")
    for other in ("999999", "x", store_job):  # none, not a number, a stored reports' request
        browser.open(f"/hq/reports?rollup={other}&format=pdf")
        assert "找不到这次全国汇总的生成任务" in browser.find("#rollup").text
    assert session.get(f"{browser.base_url}/hq/reports/rollup/999999/pdf").status_code == 404
