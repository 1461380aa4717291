"""The complaint case workflow through the gateway: the whole path with its audit trail,
illegal steps refused with 409 and nothing changed, outlets refused."""

from datetime import UTC, datetime, timedelta

from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ

API = "/api/v1"
OUTLET = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
COMPLAINT = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "武汉投诉公司",
    "phone": "13800001111",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "主轴精度不达标",
}

PATH = [  # (action, from case state, to case state)
    ("register", "accepted", "registered"),
    ("internal_check", "registered", "internal_check"),
    ("plan_dispatch", "internal_check", "dispatch_plan"),
    ("verify_on_site", "dispatch_plan", "onsite_verification"),
    ("negotiate", "onsite_verification", "negotiation"),
    ("order_rectification", "negotiation", "rectification"),
    ("pay_compensation", "rectification", "compensation"),
    ("notify_result", "compensation", "result_notice"),
    ("report", "result_notice", "reported"),
    ("sign_agreement", "reported", "agreement"),
    ("close_case", "agreement", "closed"),
]


def _step(platform, principal, ticket_id, action, **kw):
    return platform.post(f"{API}/tickets/{ticket_id}/transitions", principal, json={"action": action, **kw})


def _get(platform, ticket_id, principal=HQ):
    r = platform.get(f"{API}/tickets/{ticket_id}", principal)
    assert r.status_code == 200, r.text
    return r.json()


def _at(s):
    return datetime.fromisoformat(s)


def test_complaint_full_path_with_audit(platform):
    t = platform.post(f"{API}/tickets", C01, json=COMPLAINT).json()
    assert (t["status"], t["case_state"], t["priority"]) == ("registered", "accepted", 2)
    assert {d["sla"] for d in t["deadlines"]} >= {"accept", "complaint_plan", "complaint_close"}
    start = datetime.now(UTC) - timedelta(seconds=5)

    r = _step(platform, C01, t["id"], "accept", note="受理")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    version = r.json()["version"]
    for action, _before, after in PATH:
        r = _step(
            platform,
            C01,
            t["id"],
            action,
            note=f"step {action}",
            cause="质量",
            responsibility="own",
            expected_version=version,
        )
        assert r.status_code == 200, (action, r.text)
        out = r.json()
        assert out["case_state"] == after, action
        assert out["version"] == version + 1
        version = out["version"]

    final = _get(platform, t["id"])
    assert final["status"] == "closed" and final["case_state"] == "closed" and final["closed_at"]
    audit = final["audit"]
    assert [a["action"] for a in audit] == ["register", "accept"] + [p[0] for p in PATH]
    assert audit[1]["from_state"] == "registered" and audit[1]["to_state"] == "accepted"
    end = datetime.now(UTC) + timedelta(seconds=5)
    for entry, (action, before, after) in zip(audit[2:], PATH):
        assert (entry["from_state"], entry["to_state"]) == (before, after), entry
        assert entry["user"] == C01.user and entry["role"] == "center"
        assert _at(entry["at"]).tzinfo is not None, entry["at"]  # a time without offset is ambiguous
        assert start <= _at(entry["at"]) <= end
        assert entry["note"] == f"step {action}"
        assert entry["data"]["responsibility"] == "own"
    stamps = [_at(a["at"]) for a in audit]
    assert stamps == sorted(stamps)
    met = {d["sla"]: d for d in final["deadlines"]}
    assert met["accept"]["met_at"] and met["complaint_plan"]["met_at"] and met["complaint_close"]["met_at"]
    assert met["complaint_close"]["breached_at"] is None

    # a closed case does not move any more
    r = _step(platform, C01, t["id"], "withdraw")
    assert r.status_code == 409, r.text
    assert _get(platform, t["id"])["case_state"] == "closed"


def test_illegal_steps_leave_the_case_unchanged(platform):
    t = platform.post(f"{API}/tickets", C01, json=COMPLAINT).json()
    for action in ("sign_agreement", "close_case", "report", "notify_result", "verify_on_site", "explode"):
        r = _step(platform, C01, t["id"], action)
        assert r.status_code in (409, 422), (action, r.text)
        err = r.json()["error"]
        assert "action" in err["fields"]
        if action != "explode":
            assert r.status_code == 409 and err["code"] == "invalid_transition"
    after = _get(platform, t["id"])
    assert (after["case_state"], after["status"], after["version"]) == ("accepted", "registered", t["version"])
    assert [a["action"] for a in after["audit"]] == ["register"]

    # another center cannot even see it; HQ can run the step
    assert _step(platform, C02, t["id"], "register").status_code == 404
    r = _step(platform, HQ, t["id"], "register")
    assert r.status_code == 200 and r.json()["case_state"] == "registered"
    # withdraw from the middle closes the ticket
    r = _step(platform, C01, t["id"], "withdraw", note="客户撤诉")
    assert r.status_code == 200
    assert (r.json()["case_state"], r.json()["status"]) == ("withdrawn", "closed")


def test_outlet_cannot_run_case_steps(platform):
    t = platform.post(f"{API}/tickets", C01, json=COMPLAINT).json()
    # before assignment the outlet does not see the case at all
    assert _step(platform, OUTLET, t["id"], "register").status_code == 404
    assert _step(platform, C01, t["id"], "assign_outlet", outlet_id="C01-O01").status_code == 200
    version = _get(platform, t["id"])["version"]
    assert _get(platform, t["id"], OUTLET)["id"] == t["id"]
    for action in ("register", "withdraw", "accept", "close", "cancel"):
        r = _step(platform, OUTLET, t["id"], action)
        assert r.status_code in (403, 409), (action, r.text)
    after = _get(platform, t["id"])
    assert (after["case_state"], after["status"], after["version"]) == ("accepted", "registered", version)


def test_ticket_actions_by_role_through_the_api(platform):
    repair = dict(COMPLAINT, kind="repair", customer_name="武汉维修公司")
    t = platform.post(f"{API}/tickets", C01, json=repair).json()
    customer = Principal("c", "customer", tenant="C01", customer=t["customer_id"])
    for principal in (customer,):
        r = _step(platform, principal, t["id"], "accept")
        assert r.status_code == 409, r.text
    # route is HQ's; a registered ticket may be re-routed, but not to the center it is with
    assert _step(platform, C01, t["id"], "route", tenant_id="C01").status_code == 409
    r = _step(platform, HQ, t["id"], "route", tenant_id="C01")
    assert r.status_code == 422 and "tenant_id" in r.json()["error"]["fields"], r.text
    # the status path
    for action, status in (
        ("accept", "accepted"),
        ("reply_phone", "accepted"),
        ("schedule", "scheduled"),
        ("start_visit", "on_site"),
        ("resolve", "resolved"),
        ("close", "closed"),
    ):
        r = _step(platform, C01, t["id"], action)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["status"] == status
    assert _step(platform, C01, t["id"], "cancel").status_code == 409
    final = _get(platform, t["id"])
    assert [a["action"] for a in final["audit"]][1:] == [
        "accept",
        "reply_phone",
        "schedule",
        "start_visit",
        "resolve",
        "close",
    ]
    assert final["closed_at"]


def test_triage_ticket_routed_by_hq(platform):
    body = dict(COMPLAINT, kind="repair", address="青山区和平大道293号", customer_name="青山客户")
    t = platform.post(f"{API}/tickets", HQ, json=body).json()
    assert (t["tenant_id"], t["status"], t["tier"]) == ("HQ", "triage", None)
    assert "onsite" not in {d["sla"] for d in t["deadlines"]}
    assert platform.get(f"{API}/tickets/{t['id']}", C01).status_code == 404
    assert _step(platform, C01, t["id"], "route", tenant_id="C01").status_code == 404
    r = _step(platform, HQ, t["id"], "route")
    assert r.status_code == 422 and "tenant_id" in r.json()["error"]["fields"]
    r = _step(platform, HQ, t["id"], "route", tenant_id="C01", address="湖北省武汉市青山区和平大道293号")
    assert r.status_code == 200, r.text
    routed = r.json()
    assert (routed["tenant_id"], routed["status"], routed["tier"]) == ("C01", "registered", "local")
    assert "onsite" in {d["sla"] for d in routed["deadlines"]}
    got = platform.get(f"{API}/tickets/{t['id']}", C01)
    assert got.status_code == 200, got.text
    assert [a["action"] for a in got.json()["audit"]] == ["register", "route"]
