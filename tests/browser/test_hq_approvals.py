"""HQ's console (part B) in a real browser, on one platform (gateway, certification, qa, settlement):
the service head approves an outlet application at HQ's step (a rejection without its reason is
shown by its field and changes nothing; the approval moves the outlet on and out of the queue); the
buttons offered are exactly the steps certification's API allows; a claim the center and its
technical lead approved waits at HQ's level and HQ approves it; the month's rankings list the
outlets by name across centers and filter by center, and an outlet's scorecard traces its points to
the fact; the network plan and the tariffs are shown; every page fits a phone; a center's and an
outlet's account are refused."""

from __future__ import annotations

import pytest

from shared import clock
from tests.certification_fixtures import HEAD, NEW_OUTLET, cert_config, drive
from tests.conftest import C01, HQ, Platform
from tests.portal_fixtures import API, add_account, portal_config
from tests.settlement_fixtures import C01_LEAD, new_id, publish, ticket_event, visit_event, wait_claim  # noqa: F401


@pytest.fixture
def portal_platform(runner_factory, service_config):
    """gateway + certification + qa + settlement; nothing acts on a timer; a month without jobs is
    rated (QA_SCORECARD_MIN_JOBS 0), so the ranking has every outlet."""
    from services.certification.service import CertificationService
    from services.gateway.service import GatewayService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    config = cert_config(portal_config(service_config, QA_AUTO_MONTHLY="false", QA_SCORECARD_MIN_JOBS=0, max_workers=6))
    runner = runner_factory(config, GatewayService, CertificationService, QaService, SettlementService)
    runner.start()
    yield Platform(runner, config)
    clock.reset()


def status_of(platform, outlet_id):
    return platform.get(f"{API}/outlets/{outlet_id}", HQ).json()["status"]


def offered(browser):
    return [f.get_attribute("id") for f in browser.find_all("form.outlet-step")]


def claim_at_hq(platform, rpc_as, publish):  # noqa: F811
    """A completed visit's claim, approved by the center and its technical lead: at HQ's level."""
    ticket, visit = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(ticket))
    publish("visit.completed", visit_event(visit, ticket))
    claim = wait_claim(rpc_as, visit)
    for level, who in (("center", C01), ("technical_lead", C01_LEAD)):
        r = platform.post(
            f"{API}/settlement/claims/{claim['id']}/audit", who, json={"level": level, "action": "approve"}
        )
        assert r.status_code == 200, r.text
    return claim


def test_hq_approves_an_outlet_and_a_claim_ranks_outlets_and_refuses_others(browser, portal_platform, rpc_as, publish):  # noqa: F811
    p = portal_platform
    drive(rpc_as, NEW_OUTLET, "technical_reviewed")
    claim = claim_at_hq(p, rpc_as, publish)
    month = clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m")
    finding = {"outlet_id": "C01-O05", "kind": "no_periodic_inspection", "ref": "巡查-0017", "note": "三月未巡查"}
    assert p.post(f"{API}/qa/findings", C01, json=finding).status_code == 201
    assert p.post(f"{API}/qa/scorecards/publish", HQ, json={"month": month}).status_code == 200
    add_account(p, "hq-head", role="hq", duty="service_head", name="总部 服务部部长")
    add_account(p, "c1-agent", role="center", tenant="C01")
    add_account(p, "o5-user", tenant="C01", outlet="C01-O05")

    # the queue: the application waits for the head's approval, with exactly the API's steps
    browser.sign_in("hq-head")
    browser.open("/hq/approvals")
    group = browser.find("#group-technical_reviewed").text
    assert "武汉新立特约服务站" in group and "武汉区域服务中心" in group
    api = p.get(f"{API}/outlets/{NEW_OUTLET}/steps", HEAD).json()
    assert [s["action"] for s in api["steps"]] == ["head_approval"]
    assert offered(browser) == [f"step-{NEW_OUTLET}-head_approval"]
    form = f"#step-{NEW_OUTLET}-head_approval"
    # a rejection needs its reason: shown by the field, nothing done
    browser.submit(f"{form} button[data-decision=reject]")
    assert browser.path.split("?")[0] == f"/hq/approvals/outlets/{NEW_OUTLET}" and browser.field_error("reason")
    assert status_of(p, NEW_OUTLET) == "technical_reviewed"
    browser.submit(f"{form} button[data-decision=pass]")
    assert browser.path.split("?")[0] == "/hq/approvals" and "已完成：服务部部长审批" in browser.find(".notice").text
    assert status_of(p, NEW_OUTLET) == "approved"
    assert not browser.find_all(f"#outlet-{NEW_OUTLET}") and "没有等待总部审核、审批的网点" in browser.text
    # the claim at HQ's level: its rules, then HQ's approval
    assert "襄阳新阳特约服务站" in browser.find(f"#claim-{claim['id']}").text
    browser.open(f"/hq/approvals/claims/{claim['id']}")
    assert "总部审核" in browser.find("#audit-form").text and browser.find_all("#rules tbody tr")
    browser.submit("#audit-form button[data-action=approve]")
    assert browser.path.split("?")[0] == "/hq/approvals" and "没有等待总部审核的申报" in browser.find("#claims").text
    assert p.get(f"{API}/settlement/claims/{claim['id']}", HQ).json()["status"] == "approved"
    browser.open(f"/hq/approvals/outlets/{NEW_OUTLET}")
    assert offered(browser) == [] and "服务部部长审批" in browser.find("#history").text

    # rankings across the centers, by name; a center's filter; the scorecard traced to its fact
    browser.open(f"/hq/rankings?month={month}")
    text = browser.text
    assert "黄石恒达自办服务点" in text and "青岛泰和特约服务站" in text and "C01-O05" not in text
    last = browser.find("#ranking li.row:last-child").text  # the finding's two points: last of 36
    assert "黄石恒达自办服务点" in last and "98" in last and "第 36 名" in last
    browser.driver.get(browser.find("a[href^='/hq/rankings/C01-O05']").get_attribute("href"))
    assert browser.path.split("?")[0] == "/hq/rankings/C01-O05"
    line = browser.find("#line-service_management").text
    assert "未定期巡查" in line and "-2 分" in line and "巡查-0017" in line
    browser.open(f"/hq/rankings?month={month}&tenant=C02")
    assert "青岛泰和特约服务站" in browser.text and "黄石恒达自办服务点" not in browser.text
    browser.open("/hq/rankings?month=1999-01")
    assert browser.field_error("month")

    browser.open("/hq/network?capacity=1000")
    assert "所需网点" in browser.find("#totals").text and browser.find_all("#areas li.row")
    browser.open("/hq/network?capacity=abc")
    assert browser.field_error("capacity")
    browser.open("/hq/tariffs?tenant=C02")
    assert "数控车床" in browser.find("#labour").text and "济南" in browser.find(".summary").text
    # a center's override: a negative fee is shown by its field, nothing published; then published
    browser.find("#publish summary").click()
    browser.fill(version_id="C01-2027", visit_fee="-5", travel_allowance_per_day="170")
    browser.find("[name=for_tenant] option[value=C01]").click()
    browser.driver.execute_script("document.querySelector('[name=valid_from]').value = '2027-01-01'")
    browser.submit("#publish button[type=submit]")
    assert browser.field_error("visit_fee") and browser.find("#publish").get_attribute("open") is not None
    in_2027 = {"tenant_id": "C01", "on": "2027-01-01"}
    assert p.get(f"{API}/settlement/tariff", HQ, params=in_2027).json()["versions"] == ["HQ-2026"]
    browser.fill(visit_fee="80")
    browser.submit("#publish button[type=submit]")
    assert "C01-2027" in browser.find(".notice").text and "¥80" in browser.find("#others").text
    assert p.get(f"{API}/settlement/tariff", HQ, params=in_2027).json()["values"]["visit_fee"] == 80

    browser.phone()
    for path in (
        "/hq/approvals",
        f"/hq/approvals/outlets/{NEW_OUTLET}",
        f"/hq/rankings?month={month}",
        f"/hq/rankings/C01-O05?month={month}",
        "/hq/network",
        "/hq/tariffs",
    ):
        browser.open(path)
        assert browser.scroll_width() <= 390, (path, browser.scroll_width())

    # a center's and an outlet's account: refused
    for username in ("c1-agent", "o5-user"):
        browser.driver.delete_all_cookies()
        browser.sign_in(username)
        browser.open("/hq/approvals")
        assert browser.title.startswith("无权操作") and "武汉新立" not in browser.text
