"""What intake tells a caller before acting, through the gateway's API: the registration preview
(GET /api/v1/tickets/preview), the steps allowed from a ticket's state (GET
/api/v1/tickets/<id>/transitions: exactly those POST .../transitions accepts, another tenant's
ticket not found), each deadline's state, and the list's outlet, due-before and urgency order."""

from __future__ import annotations

from datetime import timedelta

from shared import clock
from tests.conftest import C01, C02, HQ

API = "/api/v1"
WUHAN = "湖北省武汉市洪山区珞喻路1号"


def register(platform, principal=C01, **over):
    body = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": "武汉客户",
        "phone": "13800001111",
        "address": WUHAN,
        "product_line": "数控车床",
        **over,
    }
    r = platform.post(f"{API}/tickets", principal, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_preview_says_what_registering_would_decide(quiet_platform):
    r = quiet_platform.get(f"{API}/tickets/preview", C01, params={"address": WUHAN, "kind": "repair"})
    assert r.status_code == 200, r.text
    place = r.json()["placement"]
    assert (place["district"], place["tier"], place["tenant_id"], place["ambiguous"]) == (
        "洪山区",
        "local",
        "C01",
        False,
    )
    assert "onsite" in r.json()["deadlines"]
    other = quiet_platform.get(f"{API}/tickets/preview", C01, params={"address": "山东省济南市历下区经十路1号"}).json()
    assert "address" in other["errors"] and other["placement"]["tenant_id"] is None
    bad = quiet_platform.get(f"{API}/tickets/preview", C01, params={"purchase_date": "not a date"})
    assert bad.status_code == 422 and "purchase_date" in bad.json()["error"]["fields"]
    outlet = quiet_platform.get(f"{API}/tickets/preview", C01.__class__("o", "outlet", tenant="C01", outlet="C01-O01"))
    assert outlet.status_code == 403
    r = quiet_platform.get(f"{API}/tickets", C01)
    assert r.json()["total"] == 0  # a preview registers nothing


def test_the_steps_offered_are_the_ones_the_transition_accepts(quiet_platform):
    ticket = register(quiet_platform, kind="complaint")
    steps = quiet_platform.get(f"{API}/tickets/{ticket['id']}/transitions", C01).json()
    offered = {s["action"]: s for s in steps["steps"]}
    assert {"register", "withdraw", "accept", "cancel", "assign_outlet"} <= set(offered)
    assert "route" not in offered and offered["register"]["kind"] == "case"
    assert offered["assign_outlet"]["needs"] == ["outlet_id"] and steps["version"] == ticket["version"]
    r = quiet_platform.post(f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "internal_check"})
    assert r.status_code == 409  # not offered, and refused
    r = quiet_platform.post(f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": "register"})
    assert r.status_code == 200, r.text
    after = {s["action"] for s in quiet_platform.get(f"{API}/tickets/{ticket['id']}/transitions", C01).json()["steps"]}
    assert "internal_check" in after and "register" not in after
    assert quiet_platform.get(f"{API}/tickets/{ticket['id']}/transitions", C02).status_code == 404


def test_deadline_states_and_the_lists_filters(quiet_platform):
    first = register(quiet_platform, customer_name="先到")
    r = quiet_platform.post(
        f"{API}/tickets/{first['id']}/transitions", C01, json={"action": "assign_outlet", "outlet_id": "C01-O05"}
    )
    assert r.status_code == 200, r.text
    clock.travel_to(clock.now() + timedelta(hours=20))  # its 24 h deadlines are 4 h away: at risk
    try:
        second = register(quiet_platform, customer_name="后到")
        listed = quiet_platform.get(f"{API}/tickets", C01, params={"order": "due"}).json()["items"]
        assert [t["id"] for t in listed] == [first["id"], second["id"]]
        states = {d["sla"]: d["state"] for d in listed[0]["deadlines"]}
        assert states == {"accept": "at_risk", "onsite": "at_risk", "phone_reply": "open"}
        assert {d["state"] for d in listed[1]["deadlines"]} == {"open"}
        newest = quiet_platform.get(f"{API}/tickets", C01).json()["items"]
        assert [t["id"] for t in newest] == [second["id"], first["id"]]
        soon = (clock.now() + timedelta(hours=5)).isoformat()
        due = quiet_platform.get(f"{API}/tickets", C01, params={"due_before": soon}).json()
        assert [t["id"] for t in due["items"]] == [first["id"]] and due["total"] == 1
        by_outlet = quiet_platform.get(f"{API}/tickets", HQ, params={"outlet_id": "C01-O05"}).json()["items"]
        assert [t["id"] for t in by_outlet] == [first["id"]]
        clock.travel_to(clock.now() + timedelta(hours=5))
        late = quiet_platform.get(f"{API}/tickets/{first['id']}", C01).json()
        assert {d["sla"]: d["state"] for d in late["deadlines"]}["onsite"] == "breached"
        bad = quiet_platform.get(f"{API}/tickets", C01, params={"order": "sideways"})
        assert bad.status_code == 422 and "order" in bad.json()["error"]["fields"]
    finally:
        clock.reset()
