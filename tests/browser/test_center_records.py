"""The regional center's ledger and claims in a real browser: the ledger (台帐) lists its tenant's
tickets by name and exports the same rows as CSV; a claim waits in the audit queue with the rules'
findings, the center's auditor approves it on to the technical lead, an adjustment without a reason
is refused next to the field, another center's claim is not found, the month's reconciliation of
the center's outlets by name with their discrepancies (never another center's), a phone's width.
The tests share one platform (each finds its own tickets, claims and outlets)."""

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
from tests.conftest import C01, C02, HQ, wait_for
from tests.parts_fixtures import SPINDLE
from tests.portal_fixtures import API, add_account
from tests.settlement_fixtures import visit_event


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + dispatch + settlement + parts + gateway (with its accounts), shared by the module's tests."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.settlement.service import SettlementService

    return module_platforms(
        IntakeService,
        DispatchService,
        SettlementService,
        PartsService,
        GatewayService,
        PARTS_OVERDUE_CHECK_SECONDS=3600,
    )


def claim_for(platform, ticket, tenant="C01", outlet="C01-O01", parts_used=None, **over):
    """The ticket's visit done by `outlet` (dispatch's fact, with the parts it used): settlement
    makes the claim (parts books the parts)."""
    visit_id = f"v{uuid.uuid4().hex[:12]}"
    body = visit_event(visit_id, ticket["id"], tenant, outlet, at=datetime.now(UTC) - timedelta(hours=3), **over)
    if parts_used is not None:
        body["parts_used"] = parts_used
    dispatch = event_dispatcher(platform.config, headers={"nameko.event_id": uuid.uuid4().hex})
    dispatch(
        "dispatch", "visit.completed", json.loads(json.dumps(catalogue.dump("visit.completed", body), default=str))
    )

    def made():
        r = platform.get("/api/v1/settlement/claims?limit=500", HQ)
        assert r.status_code == 200, r.text
        return next((c for c in r.json()["items"] if c["visit_id"] == visit_id), None)

    return wait_for(made, what="the claim made")


def publish(platform, source, event_type, body):
    """`event_type` as `source` publishes it (catalogue-checked)."""
    dispatch = event_dispatcher(platform.config, headers={"nameko.event_id": uuid.uuid4().hex})
    dispatch(source, event_type, json.loads(json.dumps(catalogue.dump(event_type, body), default=str)))


def claim(platform, claim_id):
    r = platform.get(f"/api/v1/settlement/claims/{claim_id}", HQ)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_ledger_lists_the_centers_tickets_and_exports_them_as_csv(browser, portal_platform):
    mine = [register(portal_platform, customer_name=n, phone="13966660001") for n in ("台帐客户甲", "台帐客户乙")]
    register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open("/center/ledger")
    table = browser.find("table.ledger").text
    assert all(t["number"] in table for t in mine) and "济南重工" not in table
    assert "热线电话" in table and "维修" in table and "已登记" in table  # names, not codes
    # a checked-out visit and a recorded callback fill 服务方式, 服务内容, 服务人员 and 回访记录
    served, at = mine[0], datetime.now(UTC) - timedelta(hours=3)
    done = dict(visit_event("v-ledger-page", served["id"], at=at), work_done="更换主轴轴承", technician_name="周晓东")
    publish(portal_platform, "dispatch", "visit.completed", done)
    answers = {"callback_id": "cb-ledger-page", "ticket_id": served["id"], "purpose": "service", "satisfaction": 5}
    answers.update(tenant_id="C01", negative=False, comment="师傅很专业", at=at + timedelta(hours=2))
    publish(portal_platform, "qa", "callback.completed", answers)

    def recorded():
        rows = portal_platform.get(f"{API}/ledger", C01, params={"q": served["number"]}).json()
        return any(r["callback"] and r["work_done"] for r in rows)

    wait_for(recorded, what="the check-out and the callback in the ledger")
    browser.open(f"/center/ledger?q={served['number']}")
    row = browser.find("table.ledger tbody tr").text
    assert all(text in row for text in ("上门", "更换主轴轴承", "周晓东", "满意度 5/5", "师傅很专业")), row
    browser.open("/center/ledger?received_from=yesterday")
    assert "日期无效" in browser.field_error("received_from")
    # the CSV export of the rows shown (here this test's tickets), as the signed-in browser downloads it
    browser.open("/center/ledger?q=13966660001")
    link = browser.find("#ledger-csv").get_attribute("href")
    session = requests.Session()
    for c in browser.driver.get_cookies():
        session.cookies.set(c["name"], c["value"])
    r = session.get(link, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["工单号", "服务中心", "客户"]
    assert {"服务方式", "服务内容", "服务人员", "回访记录", "受理渠道"} <= set(rows[0])
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


def test_the_claims_page_shows_the_reconciliation_of_the_centers_outlets(browser, portal_platform):
    """An outlet fitted a spindle bearing it was never issued and has not sent the old one back: the
    month's reconciliation, run from the page, shows that outlet by name with its discrepancies;
    another center's outlet, reconciled by its own center, is not shown."""
    used = [{"part_no": SPINDLE, "quantity": 1, "new_serial": "SPB-N-77", "removed_serial": "SPB-O-77"}]
    claim_for(portal_platform, register(portal_platform, customer_name="对账客户"), outlet="C01-O02", parts_used=used)
    jinan = register(portal_platform, C02, customer_name="济南重工", address="山东省济南市历下区经十路1号")
    claim_for(portal_platform, jinan, tenant="C02", outlet="C02-O01", parts_used=used)
    month = f"{(datetime.now(UTC) - timedelta(hours=3)).astimezone(clock.LOCAL_TZ):%Y-%m}"  # when they were used
    r = portal_platform.post(f"{API}/parts/reconciliations", C02, json={"month": month})
    assert r.status_code == 200 and r.json()["with_discrepancies"] >= 1, r.text
    agent(portal_platform)
    browser.sign_in("c1-agent")
    browser.open(f"/center/claims?month={month}")
    assert "青岛泰和特约服务站" not in browser.find("#reconciliation").text  # C02-O01, Jinan's
    browser.submit("#reconcile")
    assert "已重新对账" in browser.find(".notice").text
    row = browser.find("#recon-C01-O02")
    assert "差异" in row.text and "主轴轴承" in row.text, row.text
    assert "已使用未返旧件" in row.text and "序列号不符" in row.text  # names, not codes
    stored = portal_platform.get(f"{API}/parts/reconciliations?month={month}&location_id=C01-O02", C01).json()
    assert stored["items"][0]["discrepancy_count"] == len(row.find_elements("css selector", "ul.discrepancies li"))
    ids = [e.get_attribute("id") for e in browser.find_all("#reconciliation li.row")]
    assert ids[0] == "recon-C01-O02" and "recon-C02-O01" not in ids and "recon-WH-C01" not in ids
    assert "青岛泰和特约服务站" not in browser.find("#reconciliation").text and "宜昌盛世特约服务站" in row.text
    # a month parts refuses, asked for or posted: shown by the month's field, nothing run
    browser.driver.execute_script("document.querySelector('.reconcile-form [name=month]').value = '2026-13'")
    browser.submit("#reconcile")
    assert "月份无效" in browser.field_error("month") and browser.find_all("#reconcile") == []
    assert browser.find_all(".notice") == [] and browser.title.startswith("结算审核")
    browser.open("/center/claims?month=2026-13")
    assert "月份无效" in browser.field_error("month") and browser.find_all("#reconcile") == []
    browser.phone()
    browser.open(f"/center/claims?month={month}")
    assert browser.scroll_width() <= 390, browser.scroll_width()
