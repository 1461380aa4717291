"""The outlet's portal past its jobs list, in a real browser on all seven services: a visit checked
in (the phone's position) and out with a part from the outlet's stock and a signature drawn on the
canvas, the visit then completed with its record and signature; the parts page with the return the
part opened, sent back under a waybill; the money page, a statement and its PDF; the scorecard
traced to its facts; the outlet file; another outlet's visit, claim and statement are 404; a form
without its CSRF token is refused; no page scrolls sideways at 390 px. The tests share one
platform (module_platforms): each plans visits of its own and finds its claim by its visit."""

from __future__ import annotations

import re

import pytest
import requests

from shared import clock
from shared.tenancy import Principal
from tests.conftest import C01, HQ, wait_for
from tests.portal_fixtures import API, add_account, plan_outlet_visits, wuhan_tickets

SPINDLE = "CKL-SPB-6150"  # what 主轴异响 on a CK6150 may need (returnable: it opens a return)
O05 = Principal("o5-user", "outlet", tenant="C01", outlet="C01-O05")
C01_LEAD = Principal("c01-lead", "center", tenant="C01", duty="technical_lead")
ESTIMATED_POSITION = (30.512345, 114.412345)  # the phone's (emulated) position at the customer's


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """All seven services with the gateway's accounts (this module's platform: the money and
    standing pages need settlement, qa, certification and parts); nothing acts on a timer.
    Started once for the module's tests."""
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    return module_platforms(
        GatewayService,
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
        DISPATCH_REOPT_SECONDS=3600,
        CERTIFICATION_CHECK_SECONDS=3600,
        PARTS_OVERDUE_CHECK_SECONDS=3600,
        QA_AUTO_MONTHLY="false",
        LOGIN_MAX_FAILURES=3,
        max_workers=6,
    )


def api(platform, method, path, principal, expect=200, **kw):
    r = platform.request(method, API + path, principal, **kw)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json()


def stock_the_outlet(platform):
    """A spindle bearing issued from the Wuhan warehouse to C01-O05 (备件发放), with its serial."""
    api(
        platform,
        "POST",
        "/parts/issues",
        C01,
        expect=201,
        json={"outlet_id": "C01-O05", "lines": [{"part_no": SPINDLE, "quantity": 1, "serials": ["SPB-N-5501"]}]},
    )


def draw_signature(browser):
    from selenium.webdriver.common.action_chains import ActionChains

    pad = browser.find("canvas[data-signature-pad]")
    browser.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    width = pad.size["width"]
    chain = ActionChains(browser.driver).move_to_element_with_offset(pad, -width // 3, 0).click_and_hold()
    for dx, dy in ((20, -15), (20, 25), (20, -30), (25, 20), (30, -10), (25, 15)):
        chain = chain.move_by_offset(dx, dy)
    chain.release().perform()


def allow_location(browser, lat, lon):
    """The phone shares its position: geolocation granted and set (Chromium's DevTools protocol)."""
    browser.driver.execute_cdp_cmd(
        "Browser.grantPermissions", {"origin": browser.base_url, "permissions": ["geolocation"]}
    )
    browser.driver.execute_cdp_cmd(
        "Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon, "accuracy": 12}
    )


def test_an_outlet_checks_a_visit_in_and_out_with_a_part_and_a_signature(working_morning, browser, portal_platform):
    p = portal_platform
    visits = plan_outlet_visits(p)
    stock_the_outlet(p)
    add_account(p, "o5-user", name="鄂州网点 张三")
    browser.sign_in("o5-user")
    assert browser.path == "/outlet/jobs"
    nav = [a.text for a in browser.find_all("nav.nav a")]
    assert nav[:5] == ["任务", "备件", "结算", "考评", "档案"], nav
    job = visits[0]["id"]
    browser.open(f"/outlet/jobs/{job}")
    assert "到达签到" in browser.text and "上门记录" not in browser.text

    # check-in: the phone's position fills the form; a position outside China is refused first
    allow_location(browser, *ESTIMATED_POSITION)
    browser.find("a[href$='/check-in']").click()
    browser.wait_until(lambda: browser.find("#f-lat").get_attribute("value"), what="the phone's position filled in")
    assert browser.find("#f-lat").get_attribute("value") == "30.512345"
    assert browser.find("#f-lon").get_attribute("value") == "114.412345"
    assert "已填入手机定位" in browser.find("[data-geo-status]").text
    browser.fill(lat="60")  # typed over by hand: Siberia
    browser.submit()
    assert browser.path == f"/outlet/jobs/{job}/check-in"
    assert browser.field_error("lat") == "位置不在中国大陆范围内"
    assert api(p, "GET", f"/visits/{job}", O05)["status"] == "scheduled"  # nothing changed
    browser.fill(lat="30.512345")
    browser.submit()
    assert browser.path == f"/outlet/jobs/{job}?done=check_in"
    assert "已签到" in browser.text and "服务中" in browser.text and "北纬 30.51234" in browser.text

    # check-out: without the work done nothing happens, the error is next to the field
    browser.find("a[href$='/check-out']").click()
    options = [o.text for o in browser.find_all("select[name='parts_used.0.part_no'] option")]
    assert any("主轴轴承" in o or SPINDLE in o for o in options), options
    browser.submit()
    assert browser.field_error("work_done") == "必填"
    assert api(p, "GET", f"/visits/{job}", O05)["status"] == "started"
    browser.fill(work_done="更换主轴轴承，试车正常")
    from selenium.webdriver.support.ui import Select

    Select(browser.find("select[name='parts_used.0.part_no']")).select_by_value(SPINDLE)
    browser.fill(**{"parts_used.0.quantity": "1", "parts_used.0.removed_serial": "SPB-O-9001"})
    browser.fill(**{"parts_used.0.new_serial": "SPB-N-5501"})
    browser.find("#f-customer_confirmed").click()
    draw_signature(browser)
    assert "已签名" in browser.find("[data-signature-status]").text
    browser.submit()
    assert browser.path == f"/outlet/jobs/{job}?done=check_out", browser.text
    text = browser.text
    assert "已签退，任务完成" in text and "已完成" in text and "更换主轴轴承，试车正常" in text
    assert "旧件 SPB-O-9001" in text and "已确认" in text
    signature = browser.find("img.signature").get_attribute("src")
    assert signature.startswith("data:image/png;base64,") and len(signature) > 500
    assert browser.driver.execute_script("return arguments[0].naturalWidth", browser.find("img.signature")) == 600
    done = api(p, "GET", f"/visits/{job}", O05)
    assert done["status"] == "completed" and done["signed"] and done["signature"] == signature
    assert done["parts_used"][0]["part_no"] == SPINDLE and done["customer_confirmed"] is True
    assert "完工签退" not in browser.text and "到达签到" not in browser.text

    # the part used opened a return to the factory, shown with its due date on the parts page
    wait_for(lambda: api(p, "GET", f"/parts/rmas?visit_id={job}", O05)["total"] == 1, what="the RMA opened")
    browser.open("/outlet/parts")
    returns = browser.find("#returns").text
    assert "待寄回" in returns and "SPB-O-9001" in returns and "到期" in returns and "还剩" in returns
    # sending it back: the waybill is required (the error next to it), then recorded
    rma = api(p, "GET", f"/parts/rmas?visit_id={job}", O05)["items"][0]["rma_no"]
    browser.submit(f"#rma-{rma} form.ship button")
    assert browser.path == f"/outlet/parts/rmas/{rma}/ship"
    assert browser.find(f"#rma-{rma} .field-error[data-field=waybill_no]").text == "必填"
    assert api(p, "GET", f"/parts/rmas/{rma}", O05)["shipped_at"] is None
    browser.fill(waybill_no="SF1234567890", carrier="顺丰速运")
    browser.submit(f"#rma-{rma} form.ship button")
    assert browser.path.startswith("/outlet/parts?done=shipped")
    assert "运单 SF1234567890（顺丰速运）" in browser.find(f"#rma-{rma}").text and "已登记寄回" in browser.text
    assert api(p, "GET", f"/parts/rmas/{rma}", O05)["waybill_no"] == "SF1234567890"
    browser.phone()
    for path in ("/outlet/parts", f"/outlet/jobs/{job}", f"/outlet/jobs/{visits[1]['id']}/check-in"):
        browser.open(path)
        assert browser.scroll_width() <= 390, (path, browser.scroll_width())


def test_money_standing_and_file_pages_and_what_another_outlet_cannot_reach(working_morning, browser, portal_platform):
    p = portal_platform
    # the repair in warranty (the maker pays: settled on the statement); its own on the shared platform
    visits = plan_outlet_visits(p, tickets=wuhan_tickets()[:1])
    job = visits[0]["id"]
    api(p, "POST", f"/visits/{job}/check-in", O05, json={"lat": 30.5, "lon": 114.4})
    api(p, "POST", f"/visits/{job}/check-out", O05, json={"work_done": "调整刀塔", "customer_confirmed": True})
    claim = wait_for(
        lambda: next((c for c in api(p, "GET", "/settlement/claims", O05)["items"] if c["visit_id"] == job), None),
        what="the visit's claim",
    )
    for level, who in (("center", C01), ("technical_lead", C01_LEAD), ("hq", HQ)):
        api(p, "POST", f"/settlement/claims/{claim['id']}/audit", who, json={"level": level, "action": "approve"})
    month = clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m")
    statement = api(p, "POST", "/settlement/statements", C01, expect=201, json={"outlet_id": "C01-O05", "month": month})
    api(
        p,
        "POST",
        "/qa/findings",
        C01,
        expect=201,
        json={"outlet_id": "C01-O05", "kind": "no_periodic_inspection", "ref": "巡查-0017", "note": "三月未巡查"},
    )
    api(p, "POST", "/qa/scorecards/publish", HQ, json={"month": month})
    add_account(p, "o5-user", name="鄂州网点 张三")
    add_account(p, "o1-user", tenant="C01", outlet="C01-O01")

    browser.sign_in("o5-user")
    browser.open("/outlet/money")
    text = browser.text
    assert "账户余额" in text and "已核准" in text and f"{int(month[5:])} 月" in text
    browser.find(f"#statement-{statement['id']} a").click()
    assert browser.path == f"/outlet/money/statements/{statement['id']}"
    assert "服务费" in browser.text and "下载 PDF" in browser.text
    # the PDF through the gateway with the browser's own session cookie
    session = requests.Session()
    session.cookies.set("fsm_session", browser.cookie("fsm_session")["value"])
    href = browser.find("a[href$='/download/pdf']").get_attribute("href")
    pdf = session.get(href, timeout=60)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "attachment" in pdf.headers["Content-Disposition"]
    xlsx = session.get(href.replace("/pdf", "/xlsx"), timeout=60)
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    browser.open(f"/outlet/money/claims/{claim['id']}")
    assert "审核规则" in browser.text and "已核准" in browser.text and "总部 · 核准" in browser.text

    # the scorecard: the finding's two points traced to its record
    browser.open(f"/outlet/standing?month={month}")
    card = browser.find("#scorecard").text
    assert "总分" in card and "星级" in card and "等级" in card and "中心内排名" in card
    line = browser.find("#line-service_management").text
    assert "未定期巡查" in line and "-2 分" in line and "巡查-0017" in line and "三月未巡查" in line

    browser.open("/outlet/file")
    assert "技师与资质证书" in browser.text and "有效期至" in browser.text

    pages = ("/outlet/money", f"/outlet/money/statements/{statement['id']}", f"/outlet/standing?month={month}")
    browser.phone()
    for path in pages + ("/outlet/file", f"/outlet/money/claims/{claim['id']}", "/outlet/file/end-agreement"):
        browser.open(path)
        assert browser.scroll_width() <= 390, (path, browser.scroll_width())
    browser.desktop()

    # another outlet: the visit, the claim, the statement and its PDF are not found
    browser.open("/logout")
    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.sign_in("o1-user")
    # an outlet without a job this month is not rated (未评), neither scored 100 nor ranked
    browser.open(f"/outlet/standing?month={month}")
    card = browser.find("#scorecard").text
    assert "未评" in card and "不参与排名" in card and "★" not in card and "100" not in card, card
    assert "得满分" not in browser.text and "25 / 25" not in browser.text
    browser.phone()
    assert browser.scroll_width() <= 390
    browser.desktop()
    for path in (
        f"/outlet/jobs/{job}",
        f"/outlet/jobs/{job}/check-in",
        f"/outlet/money/claims/{claim['id']}",
        f"/outlet/money/statements/{statement['id']}",
    ):
        browser.open(path)
        assert browser.title.startswith("未找到"), (path, browser.title)
    other = requests.Session()
    other.cookies.set("fsm_session", browser.cookie("fsm_session")["value"])
    assert other.get(href, timeout=30).status_code == 404


def test_a_check_in_posted_without_its_csrf_token_is_refused(working_morning, browser, portal_platform):
    p = portal_platform
    visits = plan_outlet_visits(p)
    add_account(p, "o5-user")
    browser.sign_in("o5-user")
    job = visits[0]["id"]
    browser.open(f"/outlet/jobs/{job}/check-in")
    browser.driver.execute_script("document.querySelector('main form input[name=csrf_token]').remove()")
    browser.fill(lat="30.5", lon="114.4")
    browser.submit()
    assert browser.title.startswith("请求被拒绝") and "安全校验码" in browser.text
    assert api(p, "GET", f"/visits/{job}", O05)["status"] == "scheduled"
    # a wrong token, sent by another site's page, is refused the same way
    session = requests.Session()
    session.cookies.set("fsm_session", browser.cookie("fsm_session")["value"])
    r = session.post(
        f"{p.base_url}/outlet/jobs/{job}/check-out",
        data={"csrf_token": "forged", "work_done": "x", "customer_confirmed": "on"},
        timeout=30,
    )
    assert r.status_code == 403 and re.search("安全校验码", r.text)
    # the end-agreement form likewise
    r = session.post(f"{p.base_url}/outlet/file/end-agreement", data={"revocation.details": "x"}, timeout=30)
    assert r.status_code == 403
    assert api(p, "GET", "/outlet/file", O05)["status"] != "revocation_requested"
