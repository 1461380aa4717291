"""HQ routes triage tickets through the API (issue 17): a center that does not serve the customer's
province is refused (422 naming the field, nothing changed) unless the corrected address places
the customer there; a registered ticket its center has not started on is re-routed (the old one
cancelled, a new one registered in the new center); the audit entries name the target center
and the corrected address."""

from __future__ import annotations

from tests.conftest import C01, C02, HQ

API = "/api/v1"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "青山客户",
    "phone": "13800001111",
    "address": "青山区和平大道293号",  # 青山区: Wuhan (湖北, C01) or Baotou (内蒙古, C06)
    "product_line": "数控车床",
    "fault": "主轴异响",
}


def _step(platform, principal, ticket_id, action, **kw):
    return platform.post(f"{API}/tickets/{ticket_id}/transitions", principal, json={"action": action, **kw})


def _triage(platform, **over):
    r = platform.post(f"{API}/tickets", HQ, json=dict(REPAIR, **over))
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["tenant_id"], t["status"]) == ("HQ", "triage")
    return t


def test_a_center_that_does_not_serve_the_province_is_refused_unless_the_address_is_corrected(platform):
    t = _triage(platform)
    r = _step(platform, HQ, t["id"], "route", tenant_id="C04")  # Guangzhou serves neither candidate
    assert r.status_code == 422, r.text
    assert "tenant_id" in r.json()["error"]["fields"]
    r = _step(platform, HQ, t["id"], "route", tenant_id="C04", address="湖北省武汉市青山区和平大道293号")
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"tenant_id", "address"}, r.text
    unchanged = platform.get(f"{API}/tickets/{t['id']}", HQ).json()
    assert (unchanged["tenant_id"], unchanged["status"], unchanged["version"]) == ("HQ", "triage", t["version"])
    assert [a["action"] for a in unchanged["audit"]] == ["register"]
    # corrected into Guangdong, Guangzhou's center takes it
    r = _step(platform, HQ, t["id"], "route", tenant_id="C04", address="广东省广州市天河区天河路385号")
    assert r.status_code == 200, r.text
    routed = r.json()
    assert (routed["tenant_id"], routed["province"]) == ("C04", "广东省")
    assert routed["address"] == "广东省广州市天河区天河路385号"
    entry = platform.get(f"{API}/tickets/{t['id']}", HQ).json()["audit"][-1]
    assert entry["action"] == "route"
    assert entry["data"]["tenant_id"] == "C04" and entry["data"]["from_tenant_id"] == "HQ"
    assert entry["data"]["address"] == "广东省广州市天河区天河路385号"


def test_a_candidate_center_takes_an_ambiguous_address_placed_in_its_province(platform):
    t = _triage(platform)
    r = _step(platform, HQ, t["id"], "route", tenant_id="C01")
    assert r.status_code == 200, r.text
    routed = r.json()
    assert (routed["tenant_id"], routed["status"], routed["province"], routed["district"]) == (
        "C01",
        "registered",
        "湖北省",
        "青山区",
    )
    assert routed["tier"] == "local" and "onsite" in {d["sla"] for d in routed["deadlines"]}
    entry = platform.get(f"{API}/tickets/{t['id']}", C01).json()["audit"][-1]
    assert entry["data"]["tenant_id"] == "C01" and entry["data"]["address"] is None
    assert entry["data"]["province"] == "湖北省"  # the candidate district HQ's choice placed it in


def test_hq_re_routes_a_registered_ticket_to_another_center(platform):
    t = _triage(platform)
    first = _step(platform, HQ, t["id"], "route", tenant_id="C01").json()
    assert first["status"] == "registered"
    # the customer was in Jinan after all: HQ re-routes, with the corrected address
    r = _step(platform, HQ, t["id"], "route", tenant_id="C02", address="山东省济南市历下区泉城路1号")
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["id"] != t["id"] and new["number"].startswith("C02-")
    assert (new["tenant_id"], new["status"], new["province"]) == ("C02", "registered", "山东省")
    assert new["received_at"] == first["received_at"] and new["customer_name"] == "青山客户"
    assert platform.get(f"{API}/tickets/{new['id']}", C02).status_code == 200
    assert platform.get(f"{API}/tickets/{new['id']}", C01).status_code == 404
    old = platform.get(f"{API}/tickets/{t['id']}", C01).json()
    assert old["status"] == "cancelled"
    entry = old["audit"][-1]
    assert entry["action"] == "route" and entry["to_state"] == "cancelled"
    assert entry["data"]["tenant_id"] == "C02" and entry["data"]["from_tenant_id"] == "C01"
    assert entry["data"]["address"] == "山东省济南市历下区泉城路1号" and entry["data"]["to_number"] == new["number"]
    opened = platform.get(f"{API}/tickets/{new['id']}", HQ).json()["audit"]
    assert [a["action"] for a in opened] == ["route"] and opened[0]["data"]["from_number"] == t["number"]


def test_a_ticket_its_center_started_on_is_not_re_routed(platform):
    t = _triage(platform)
    _step(platform, HQ, t["id"], "route", tenant_id="C01")
    assert _step(platform, C01, t["id"], "accept").status_code == 200
    r = _step(platform, HQ, t["id"], "route", tenant_id="C02", address="山东省济南市历下区泉城路1号")
    assert r.status_code == 409 and "action" in r.json()["error"]["fields"], r.text
    assert platform.get(f"{API}/tickets/{t['id']}", C01).json()["tenant_id"] == "C01"


def test_the_triage_queue_gives_hq_each_ticket_with_why_and_its_candidate_centers(platform):
    from tests.openapi_check import AnswerCheck

    t = _triage(platform)
    nowhere = _triage(platform, address="某某路1号", customer_name="无省客户")
    check = AnswerCheck(platform.get("/openapi.json").json())
    r = platform.get(f"{API}/triage", HQ)
    assert r.status_code == 200, r.text
    check(r)
    queue = {item["id"]: item for item in r.json()["items"]}
    assert r.json()["total"] == 2 and set(queue) == {t["id"], nowhere["id"]}
    assert queue[t["id"]]["triage_reason"] == "ambiguous district name"
    assert queue[t["id"]]["candidates"] == [
        {"tenant_id": "C06", "province": "内蒙古自治区"},
        {"tenant_id": "C01", "province": "湖北省"},
    ]
    assert queue[nowhere["id"]]["candidates"] == []
    assert queue[nowhere["id"]]["triage_reason"] == "province not recognised"
    assert platform.get(f"{API}/triage", C01).status_code == 403
    assert platform.get(f"{API}/triage?limit=0", HQ).status_code == 422
    _step(platform, HQ, t["id"], "route", tenant_id="C01")
    assert [i["id"] for i in platform.get(f"{API}/triage", HQ).json()["items"]] == [nowhere["id"]]


def test_a_re_routed_ticket_moves_its_visit_to_the_new_center_in_dispatch(full_platform):
    """Dispatch hears both facts: the old center's visit is cancelled (ticket.closed), the new
    center gets a visit of the new ticket (ticket.registered); each stays in its own tenant."""
    from tests.conftest import wait_for

    p = full_platform

    def visits(ticket_id, principal=HQ):
        r = p.get(f"{API}/dispatch/board?ticket_id={ticket_id}", principal)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    body = dict(REPAIR, address="湖北省武汉市洪山区珞喻路1号", customer_name="改派客户")
    t = p.post(f"{API}/tickets", C01, json=body).json()
    [first] = wait_for(lambda: visits(t["id"]), what="the visit in Wuhan")
    assert first["tenant_id"] == "C01"
    r = _step(p, HQ, t["id"], "route", tenant_id="C02", address="山东省济南市历下区泉城路1号")
    assert r.status_code == 200, r.text
    new = r.json()
    wait_for(lambda: [v["status"] for v in visits(t["id"])] == ["cancelled"], what="the Wuhan visit cancelled")
    [moved] = wait_for(lambda: visits(new["id"], C02), what="a visit in Jinan")
    assert moved["tenant_id"] == "C02" and moved["ticket_id"] == new["id"]
    assert visits(new["id"], C01) == [] and visits(t["id"], C02) == []
