"""HQ's ranking of the regional centers in a real browser (issue 18.4): /hq/centers shows last
month "not assessed yet"; HQ assesses it with the page's button and sees the centers ranked by
name with grade A/B/C, each center's figures (its service turnover from settlement's claims among
them), a center with a missed deadline below one without; a wrong month is named next to its
field; the year-end ranking; a center's account is refused; the page fits a phone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from nameko.standalone.events import event_dispatcher

from shared import clock
from shared import events as catalogue
from tests.conftest import HQ, wait_for
from tests.portal_fixtures import add_account
from tests.qa_fixtures import visit


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """qa and the gateway, shared by the module's tests."""
    from services.gateway.service import GatewayService
    from services.qa.service import QaService

    return module_platforms(
        QaService, GatewayService, QA_AUTO_MONTHLY="false", QA_SAMPLE_SEED="test-seed", QA_ASSESSMENT_MIN_JOBS="1"
    )


def last_month():
    today = clock.now().astimezone(clock.LOCAL_TZ)
    first = today.replace(day=1, hour=10, minute=0, second=0, microsecond=0)
    served = first - timedelta(days=10)
    return served, served.strftime("%Y-%m")


def publish(platform, source, event_type, body):
    dispatch = event_dispatcher(platform.config)
    dispatch(source, event_type, json.loads(json.dumps(catalogue.dump(event_type, body), default=str)))


def test_hq_assesses_and_sees_the_centers_ranked_with_grades(browser, portal_platform):
    p = portal_platform
    served, month = last_month()
    publish(p, "dispatch", "visit.completed", visit("vh-c01", "th-c01", "C01-O01", served))
    publish(p, "dispatch", "visit.completed", visit("vh-c02", "th-c02", "C02-O01", served, tenant="C02"))
    breach = {
        "tenant_id": "C01",
        "ticket_id": "th-late",
        "number": "W-LATE",
        "sla": "accept",
        "due_at": served,
        "detected_at": served,
        "assigned_outlet_id": None,
    }
    publish(p, "intake", "sla.breached", breach)  # the center's own deadline: C01 loses 4 points
    claim = {
        "tenant_id": "C01",
        "claim_id": "cl-hq-1",
        "outlet_id": "C01-O01",
        "visit_id": "vh-c01",
        "ticket_id": "th-c01",
        "level": "hq",
        "action": "decide",
        "status": "approved",
        "amount": "1280.00",
        "at": served,
    }
    publish(p, "settlement", "claim.audited", claim)

    def recorded():
        facts = p.get("/api/v1/qa/center-facts", HQ, params={"month": month, "tenant_id": "C01"})
        jobs = p.get("/api/v1/qa/callbacks", HQ, params={"status": "all", "caller": "all"})
        return facts.status_code == 200 and len(facts.json()) >= 1 and jobs.json()["total"] >= 2

    wait_for(recorded, what="the month's facts recorded")
    add_account(p, "hq-centers", role="hq", name="总部 市场发展部 刘经理")
    browser.sign_in("hq-centers")
    browser.open(f"/hq/centers?period=month&month={month}")
    assert browser.title.startswith("中心考核排名")
    assert "尚未考核" in browser.find("#center-ranking").text

    def turnover_kept():  # the claim comes on its own queue: assess until it is counted
        browser.submit("#assess-now")
        assert "已完成考核" in browser.find(".notice").text
        return "¥1,280.00" in browser.find("#center-C01").text

    wait_for(turnover_kept, what="the claim counted in C01's turnover")
    rows = browser.find_all("#center-ranking li.row")
    order = [r.get_attribute("id") for r in rows]
    assert order[:2] == ["center-C02", "center-C01"], order
    c01, c02 = browser.find("#center-C01"), browser.find("#center-C02")
    assert "武汉区域服务中心" in c01.text and "济南区域服务中心" in c02.text
    assert c02.get_attribute("data-rank") == "1" and c01.get_attribute("data-rank") == "2"
    assert c01.get_attribute("data-grade") in ("A", "B", "C") and c02.get_attribute("data-grade") == "A"
    assert "第 1 名" in c02.text and "A 级" in c02.text and "100" in c02.text
    assert "营业额" in c01.text and "服务单 1" in c01.text
    # the centers without jobs are not rated and not ranked
    assert "南京区域服务中心" in browser.find("#center-unrated").text
    # a month outside the last twelve is refused next to its field
    browser.open("/hq/centers?period=month&month=2001-01")
    assert "近 12 个月" in browser.field_error("month")
    # the year-end assessment of this year
    browser.open("/hq/centers?period=year")
    browser.submit("#assess-now")
    year = browser.find("#center-ranking").text
    assert "济南区域服务中心" in year and "第 1 名" in year
    # the outlets' ranking links here
    browser.open("/hq/rankings")
    assert browser.find("#to-centers").get_attribute("href").endswith("/hq/centers")
    browser.phone()
    browser.open(f"/hq/centers?period=month&month={month}")
    assert browser.scroll_width() <= 390


def test_a_centers_account_may_not_see_the_ranking(browser, portal_platform):
    add_account(portal_platform, "c01-centers", role="center", name="武汉 李主任", tenant="C01")
    browser.sign_in("c01-centers")
    for path in ("/hq/centers", "/hq/centers?period=year"):
        browser.open(path)
        assert "无权操作" in browser.title, path
