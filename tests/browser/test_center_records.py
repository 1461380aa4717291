"""The regional center's ledger and claims in a real browser: the ledger (台帐) lists its tenant's
tickets by name and exports the same rows as CSV; a claim waits in the audit queue with the rules'
findings, the center's auditor approves it on to the technical lead, an adjustment without a reason
is refused next to the field, another center's claim is not found, a phone's width."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from nameko.standalone.events import event_dispatcher

from shared import clock
from shared import events as catalogue
from tests.browser.test_center_tickets import agent, register
from tests.conftest import C02, HQ, Platform, wait_for
from tests.portal_fixtures import add_account, portal_config
from tests.settlement_fixtures import visit_event


@pytest.fixture
def portal_platform(runner_factory, dispatch_config):
    """intake + dispatch + settlement + gateway (with its accounts)."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.settlement.service import SettlementService

    config = portal_config(dispatch_config, DISPATCH_BATCH_SECONDS=3600)
    runner = runner_factory(config, IntakeService, DispatchService, SettlementService, GatewayService)
    runner.start()
    yield Platform(runner, config)
    clock.reset()


def claim_for(platform, ticket, tenant="C01", outlet="C01-O01", **over):
    """The ticket's visit done by `outlet` (dispatch's fact): settlement makes the claim."""
    visit_id = f"v{uuid.uuid4().hex[:12]}"
    body = visit_event(visit_id, ticket["id"], tenant, outlet, at=datetime.now(UTC) - timedelta(hours=3), **over)
    dispatch = event_dispatcher(platform.config, headers={"nameko.event_id": uuid.uuid4().hex})
    dispatch(
        "dispatch", "visit.completed", json.loads(json.dumps(catalogue.dump("visit.completed", body), default=str))
    )

    def made():
        r = platform.get("/api/v1/settlement/claims?limit=500", HQ)
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["items"] if c["visit_id"] == visit_id), None)

    return wait_for(made, what="the claim made")


def claim(platform, claim_id):
    r = platform.get(f"/api/v1/settlement/claims/{claim_id}", HQ)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_ledger_lists_the_centers_tickets_and_exports_them_as_csv(browser, portal_platform):
    mine = [register(portal_platform, customer_name=n) for n in ("台帐客户甲", "台帐客户乙")]
    register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/ledger")
    table = browser.find("table.ledger").text
    assert all(t["number"] in table for t in mine) and "济南重工" not in table
    assert "热线电话" in table and "维修" in table and "已登记" in table  # names, not codes
    browser.open("/center/ledger?received_from=yesterday")
    assert "日期无效" in browser.field_error("received_from")
    # the CSV export, as the signed-in browser downloads it
    browser.open("/center/ledger")
    link = browser.find("#ledger-csv").get_attribute("href")
    session = requests.Session()
    for c in browser.driver.get_cookies():
        session.cookies.set(c["name"], c["value"])
    r = session.get(link, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["工单号", "服务中心", "客户"]
    assert sorted(row[0] for row in rows[1:]) == sorted(t["number"] for t in mine)
    assert requests.get(link, timeout=30, allow_redirects=False).status_code in (302, 303)  # not signed in


def test_the_center_audits_a_claim_with_the_rules_findings(browser, portal_platform):
    bought = (clock.now().date() - timedelta(days=100)).isoformat()  # within the warranty
    ticket = register(portal_platform, customer_name="结算客户", purchase_date=bought)
    unsigned = claim_for(
        portal_platform, register(portal_platform, customer_name="未签字客户", purchase_date=bought), confirmed=False
    )
    pending = claim_for(portal_platform, ticket)
    agent(portal_platform, "c1-auditor")
    add_account(portal_platform, "c1-lead", role="center", tenant="C01", duty="technical_lead", name="技术负责人")
    browser.sign_in("c1-auditor")
    # settlement's rules rejected the claim without the customer's signature: it says which rule
    browser.open("/center/claims?status=rejected")
    assert "客户确认：驳回" in browser.find(f"#claim-{unsigned['id']}").text
    browser.open("/center/claims")
    row = browser.find(f"#claim-{pending['id']}")
    assert "襄阳新阳特约服务站" in row.text and f"claim-{unsigned['id']}" not in browser.driver.page_source
    row.find_element("css selector", "a").click()
    browser.wait_until(lambda: browser.find_all("#rules"))
    rules = browser.find("#rules").text
    assert "保修有效性" in rules and "客户确认" in rules and "通过" in rules and "中心审核中" in browser.text
    browser.submit("#audit-form button[data-action=adjust]")
    assert browser.field_error("reason") or browser.field_error("amount")
    assert claim(portal_platform, pending["id"])["status"] == "center_review"
    browser.submit("#audit-form button[data-action=approve]")
    assert "已核准" in browser.find(".notice").text
    after = claim(portal_platform, pending["id"])
    assert after["status"] == "tech_review" and after["audits"][-1]["user"] == "c1-auditor"
    # the technical lead takes the next level; the auditor may not
    browser.open(f"/center/claims/{pending['id']}")
    browser.submit("#audit-form button[data-action=approve]")
    assert browser.find(".form-errors").text and claim(portal_platform, pending["id"])["status"] == "tech_review"
    browser.open("/logout")
    browser.driver.delete_all_cookies()
    browser.sign_in("c1-lead")
    browser.open(f"/center/claims/{pending['id']}")
    browser.fill(reason="已电话核实客户确认完工")
    browser.submit("#audit-form button[data-action=approve]")
    assert claim(portal_platform, pending["id"])["status"] == "hq_review"


def test_another_centers_claim_is_not_found_and_the_pages_fit_a_phone(browser, portal_platform):
    jinan = register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    other = claim_for(portal_platform, jinan, tenant="C02", outlet="C02-O01")
    claim_for(portal_platform, register(portal_platform, customer_name="武汉客户"))
    agent(portal_platform)
    browser.phone()
    browser.sign_in("c1-agent")
    browser.open(f"/center/claims/{other['id']}")
    assert browser.title.startswith("未找到")
    for path in ("/center/claims", "/center/ledger"):
        browser.open(path)
        assert browser.scroll_width() <= 390, (path, browser.scroll_width())
    assert "济南" not in browser.text
