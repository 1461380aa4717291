"""Complaints through the running intake and gateway, against the SLA watchdog (run_sla_check):
a complaint that walks register-first (立案) has its acceptance (受理) met and no acceptance breach."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.conftest import C01, HQ

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
COMPLAINT = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "武汉投诉客户",
    "phone": "13800003333",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "主轴过热",
}


def _register(platform, **kw):
    received = (datetime.now(TZ) - timedelta(hours=2)).isoformat()
    r = platform.post(f"{API}/tickets", C01, json={**COMPLAINT, "received_at": received, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def _deadlines(ticket):
    return {d["sla"]: d for d in ticket["deadlines"]}


def _sla_check(rpc_as, days):
    with rpc_as(HQ) as intake:
        return intake.run_sla_check((datetime.now(TZ) + timedelta(days=days)).isoformat())


def test_a_complaint_registered_first_has_its_acceptance_met_and_no_acceptance_breach(platform, rpc_as):
    t = _register(platform)
    assert (t["status"], t["case_state"]) == ("registered", "accepted")

    r = platform.post(f"{API}/tickets/{t['id']}/transitions", C01, json={"action": "register", "note": "立案"})
    assert r.status_code == 200, r.text
    after = r.json()
    assert (after["status"], after["case_state"]) == ("accepted", "registered")
    accept = _deadlines(after)["accept"]
    assert accept["met_at"] and accept["breached_at"] is None and accept["state"] == "met"
    assert datetime.fromisoformat(accept["met_at"]) <= datetime.fromisoformat(accept["due_at"])
    # accepted by the case step: `accept` itself no longer applies
    again = platform.post(f"{API}/tickets/{t['id']}/transitions", C01, json={"action": "accept"})
    assert again.status_code == 409, again.text

    # two days on, the watchdog breaches what is still open (the phone reply, the plan...), not the acceptance
    assert _sla_check(rpc_as, 2)["breached"] >= 1
    got = _deadlines(platform.get(f"{API}/tickets/{t['id']}", HQ).json())
    assert got["phone_reply"]["breached_at"] is not None
    assert got["accept"]["breached_at"] is None and got["accept"]["met_at"] == accept["met_at"]


def test_a_fee_complaint_has_no_onsite_deadline_and_no_onsite_breach_later(platform, rpc_as):
    fee = _register(platform, complaint_category="fees", fault="上门费收取过高", customer_name="收费投诉客户")
    product = _register(platform, complaint_category="product_quality", customer_name="质量投诉客户")
    assert fee["complaint_category"] == "fees"
    assert "onsite" not in _deadlines(fee) and "onsite" in _deadlines(product)
    assert {"accept", "phone_reply", "complaint_plan", "complaint_close"} <= set(_deadlines(fee))

    # a month on every open deadline is past due: the product complaint's on-site one is breached,
    # the fee complaint has none to breach
    assert _sla_check(rpc_as, 30)["breached"] >= 1
    fee_after = _deadlines(platform.get(f"{API}/tickets/{fee['id']}", HQ).json())
    product_after = _deadlines(platform.get(f"{API}/tickets/{product['id']}", HQ).json())
    assert "onsite" not in fee_after and fee_after["accept"]["breached_at"] is not None
    assert product_after["onsite"]["breached_at"] is not None

    # the category is for complaints only, named in the error
    r = platform.post(f"{API}/tickets", C01, json={**COMPLAINT, "kind": "repair", "complaint_category": "fees"})
    assert r.status_code in (400, 422) and "complaint_category" in r.json()["error"]["fields"], r.text
