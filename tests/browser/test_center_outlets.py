"""The regional center's outlets in a real browser: an application waits for the center's review,
the agent reviews it with the site inspection (a missing date shown by its field, nothing done),
the technical lead's review is offered only to the technical lead (as certification's allowed steps
say, the API's too), another center's outlet is not found, a phone's width. The tests share one
platform (each finds its own applications by id)."""

from __future__ import annotations

import pytest

from tests.browser.test_center_tickets import agent
from tests.certification_fixtures import C01_TECH, cert_config, form
from tests.conftest import C01, C02
from tests.portal_fixtures import API, add_account


@pytest.fixture(scope="module")
def portal_platform(module_platforms):
    """intake + dispatch + certification + gateway (with its accounts), shared by the module's tests."""
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    return module_platforms(IntakeService, DispatchService, CertificationService, GatewayService, **cert_config({}))


def apply(platform, principal=C01, **over):
    r = platform.post(f"{API}/outlets", principal, json=form(**over))
    assert r.status_code == 201, r.text
    return r.json()


def status_of(platform, outlet_id):
    return platform.get(f"{API}/outlets/{outlet_id}", C01).json()["status"]


def test_an_application_is_reviewed_by_the_center_then_by_its_technical_lead(browser, portal_platform):
    outlet = apply(portal_platform)
    agent(portal_platform)
    add_account(portal_platform, "c1-lead", role="center", tenant="C01", duty="technical_lead", name="技术负责人 王工")
    browser.sign_in("c1-agent")
    browser.open("/center/outlets")
    assert "武汉新立特约服务站" in browser.find("#group-review").text and "已申请" in browser.text
    browser.find(f"#outlet-{outlet['id']} a").click()
    browser.wait_until(lambda: browser.find_all("#steps"))
    offered = [f.get_attribute("id") for f in browser.find_all("form.outlet-step")]
    assert offered == ["step-center_review"]  # not the technical lead's, not the head's
    api = portal_platform.get(f"{API}/outlets/{outlet['id']}/steps", C01).json()
    assert [s["action"] for s in api["steps"]] == ["center_review"]
    # the inspection's date is missing: shown by its field, nothing done
    browser.fill(inspector="武汉中心 李工", findings="场地、设备齐全")
    for name in ("premises_ok", "equipment_ok", "staff_ok"):
        browser.find(f"#step-center_review input[name={name}]").click()
    browser.find("#step-center_review input[name=decision][value=pass]").click()
    browser.submit("#step-center_review button[type=submit]")
    assert browser.field_error("inspected_on") and status_of(portal_platform, outlet["id"]) == "applied"
    browser.driver.execute_script(
        "document.querySelector('#step-center_review [name=inspected_on]').value = '2026-11-20'"
    )
    browser.submit("#step-center_review button[type=submit]")
    assert "已完成：中心审核" in browser.find(".notice").text and "中心已初审" in browser.find("#outlet-status").text
    assert status_of(portal_platform, outlet["id"]) == "center_reviewed"
    assert browser.find_all("form.outlet-step") == [] and "技术负责人" in browser.find("#steps").text
    assert "现场考察" not in browser.find("#steps").text and "中心审核" in browser.find("#history").text
    # the technical lead sees the next step, and only that one
    browser.driver.delete_all_cookies()
    browser.sign_in("c1-lead")
    browser.open(f"/center/outlets/{outlet['id']}")
    assert [f.get_attribute("id") for f in browser.find_all("form.outlet-step")] == ["step-technical_review"]
    api = portal_platform.get(f"{API}/outlets/{outlet['id']}/steps", C01_TECH).json()
    assert [s["action"] for s in api["steps"]] == ["technical_review"]
    browser.find("#step-technical_review input[name=decision][value=reject]").click()
    browser.submit("#step-technical_review button[type=submit]")  # a rejection needs its reason
    assert browser.field_error("reason") and status_of(portal_platform, outlet["id"]) == "center_reviewed"
    browser.find("#step-technical_review input[name=decision][value=pass]").click()
    browser.submit("#step-technical_review button[type=submit]")
    assert status_of(portal_platform, outlet["id"]) == "technical_reviewed"
    assert browser.find_all("form.outlet-step") == [] and "部长审批" in browser.find("#steps").text


def test_another_centers_outlet_is_not_found_and_the_pages_fit_a_phone(browser, portal_platform):
    jinan = apply(
        portal_platform,
        C02,
        name="济南新立特约服务站",
        province="山东省",
        city="济南市",
        district="历下区",
        lat=36.67,
        lon=117.02,
        premises={"address": "山东省济南市历下区经十路88号", "office_m2": 80, "workshop_m2": 300, "owned": False},
    )
    mine = apply(portal_platform, name="武汉光谷特约服务站")
    agent(portal_platform)
    browser.phone()
    browser.sign_in("c1-agent")
    browser.open(f"/center/outlets/{jinan['id']}")
    assert browser.title.startswith("未找到") and "济南新立" not in browser.text
    for path in ("/center/outlets", f"/center/outlets/{mine['id']}"):
        browser.open(path)
        assert browser.scroll_width() <= 390, (path, browser.scroll_width())
    assert "济南新立" not in browser.text
