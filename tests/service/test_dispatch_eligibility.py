"""Who may be planned: expired technicians and revoked outlets never are (certification events
over the real broker, from the moment they arrive)."""

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from nameko.standalone.events import event_dispatcher

from shared import events as catalogue
from shared.tenancy import Principal
from tests.conftest import C01, HQ, wait_for

API = "/api/v1"
LOCAL = ZoneInfo("Asia/Shanghai")
WUHAN = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉资格公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


def publish(config, event_type, payload):
    """A certification event as the certification service would publish it (schema-checked)."""
    body = catalogue.dump(event_type, payload)
    event_dispatcher(config)("certification", event_type, body)


def tech(tid, outlet, cert_until, **kw):
    """A technician with a home in Wuhan (a day's round trip from every test address)."""
    body = {
        "id": tid,
        "name": tid,
        "outlet_id": outlet,
        "skills": ["数控车床"],
        "certificates": {"数控车床": cert_until.isoformat()},
        "home_lat": 30.58,
        "home_lon": 114.27,
        "daily_capacity": 4,
    }
    body.update(kw)
    return body


def add_techs(p, *bodies):
    for body in bodies:
        r = p.post(f"{API}/technicians", C01, json=body)
        assert r.status_code == 200, r.text


def board(p, principal=C01):
    r = p.get(f"{API}/dispatch/board", principal)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def register(p, n):
    ids = []
    for i in range(n):
        r = p.post(f"{API}/tickets", C01, json=dict(WUHAN, customer_name=f"武汉资格{i}", phone=f"1390000000{i}"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    wait_for(lambda: {v["ticket_id"] for v in board(p)} >= set(ids))
    return ids


def reoptimise(p):
    r = p.post(f"{API}/dispatch/reoptimise", C01)
    assert r.status_code == 200, r.text
    assert "skipped" not in r.json(), r.json()
    return board(p)


def today():
    return datetime.now(UTC).astimezone(LOCAL).date()


def test_expired_technician_is_never_planned(quiet_platform):
    p = quiet_platform
    add_techs(
        p,
        tech("C01-X-EXP", "C01-O05", today() - timedelta(days=1)),
        tech("C01-X-OK1", "C01-O05", today() + timedelta(days=900)),
        tech("C01-X-OK2", "C01-O05", today() + timedelta(days=900)),
    )
    register(p, 3)
    for _ in range(2):
        items = reoptimise(p)
        assert {v["status"] for v in items} == {"scheduled"}, items
        assert {v["technician_id"] for v in items} <= {"C01-X-OK1", "C01-X-OK2"}
    target = items[0]["id"]
    # nor can a dispatcher pin the visit to it
    r = p.post(f"{API}/visits/{target}/pin", C01, json={"technician_id": "C01-X-EXP"})
    assert r.status_code == 422 and "technician_id" in r.json()["error"]["fields"], r.text

    # OK1's certificate expires: its planned visits go back at once, and it is planned no more
    publish(
        p.config,
        "technician.expired",
        {
            "tenant_id": "C01",
            "technician_id": "C01-X-OK1",
            "outlet_id": "C01-O05",
            "product_line": "数控车床",
            "valid_until": None,
            "at": datetime.now(UTC),
        },
    )

    def ok1_gone():
        techs = {t["id"]: t for t in p.get(f"{API}/technicians", C01).json()}
        return "数控车床" not in techs["C01-X-OK1"]["certificates"] and all(
            v["technician_id"] != "C01-X-OK1" for v in board(p)
        )

    wait_for(ok1_gone)
    for _ in range(2):
        items = reoptimise(p)
        assert {v["status"] for v in items} == {"scheduled"}, items
        assert {v["technician_id"] for v in items} == {"C01-X-OK2"}

    # a certificate granted again makes the technician eligible again (for the days it covers)
    publish(
        p.config,
        "technician.certified",
        {
            "tenant_id": "C01",
            "technician_id": "C01-X-EXP",
            "outlet_id": "C01-O05",
            "product_line": "数控车床",
            "valid_until": today() + timedelta(days=400),
            "at": datetime.now(UTC),
        },
    )
    wait_for(lambda: p.post(f"{API}/visits/{target}/pin", C01, json={"technician_id": "C01-X-EXP"}).status_code == 200)
    items = reoptimise(p)
    assert next(v for v in items if v["id"] == target)["technician_id"] == "C01-X-EXP"
    assert "C01-X-OK1" not in {v["technician_id"] for v in items}


def test_certificate_expiring_inside_the_horizon(quiet_platform):
    """A certificate valid until the first planning day allows that day only."""
    p = quiet_platform
    from shared.workcal import ChinaCalendar

    cal = ChinaCalendar.default()
    # the first day whose shift (08:30-18:00) is still ahead by more than half an hour
    d = today()
    now_local = datetime.now(UTC).astimezone(LOCAL)
    if not cal.is_workday(d) or now_local >= datetime.combine(d, datetime.min.time(), LOCAL) + timedelta(
        hours=17, minutes=30
    ):
        d = cal.next_workday(d)
    while not cal.is_workday(d):
        d = cal.next_workday(d)
    add_techs(p, tech("C01-X-LAST", "C01-O05", d, daily_capacity=20))
    register(p, 6)
    items = reoptimise(p)
    for v in items:
        if v["status"] == "scheduled":
            assert v["technician_id"] == "C01-X-LAST"
            assert datetime.fromisoformat(v["planned_arrival"]).astimezone(LOCAL).date() == d, v
        else:
            assert v["status"] == "unassignable", v


def test_revoked_outlet_takes_no_job_from_the_moment_the_event_arrives(quiet_platform):
    p = quiet_platform
    far = today() + timedelta(days=900)
    # C01-O01 is in Xiangyang, but these two of its technicians live in Wuhan
    add_techs(
        p,
        tech("C01-O01-W1", "C01-O01", far),
        tech("C01-O01-W2", "C01-O01", far),
        tech("C01-O05-W1", "C01-O05", far),
        tech("C01-O05-W2", "C01-O05", far),
    )
    register(p, 4)
    items = board(p)
    pinned = items[0]["id"]
    assert p.post(f"{API}/visits/{pinned}/pin", C01, json={"technician_id": "C01-O01-W1"}).status_code == 200
    items = reoptimise(p)
    assert {v["status"] for v in items} == {"scheduled"}
    on_o01 = {v["id"] for v in items if v["outlet_id"] == "C01-O01"}
    assert pinned in on_o01
    o01 = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
    assert {v["id"] for v in p.get(f"{API}/outlet/jobs", o01).json()["items"]} == on_o01

    publish(
        p.config,
        "outlet.revoking",
        {
            "tenant_id": "C01",
            "outlet_id": "C01-O01",
            "status": "revoking",
            "at": datetime.now(UTC),
            "kind": "franchised",
            "reason": "连续两次考核不合格",
        },
    )
    # released at once, before any re-plan: the outlet has no job left and cannot check in
    wait_for(lambda: all(v["outlet_id"] != "C01-O01" for v in board(p)))
    released = {v["id"]: v for v in board(p) if v["id"] in on_o01}
    assert {v["status"] for v in released.values()} == {"unplanned"}
    assert released[pinned]["pinned_technician_id"] is None
    assert p.get(f"{API}/outlet/jobs", o01).json()["items"] == []
    r = p.post(f"{API}/visits/{pinned}/check-in", o01, json={"lat": 30.5, "lon": 114.4})
    assert r.status_code == 404, r.text
    r = p.post(f"{API}/visits/{pinned}/pin", C01, json={"technician_id": "C01-O01-W2"})
    assert r.status_code == 422 and "technician_id" in r.json()["error"]["fields"], r.text

    # re-planned to the other outlet, and no later plan uses the revoked one
    for _ in range(2):
        items = reoptimise(p)
        assert {v["status"] for v in items} == {"scheduled"}, items
        assert {v["outlet_id"] for v in items} == {"C01-O05"}
    publish(
        p.config,
        "outlet.revoked",
        {"tenant_id": "C01", "outlet_id": "C01-O01", "status": "revoked", "at": datetime.now(UTC)},
    )
    time.sleep(0.5)
    items = reoptimise(p)
    assert {v["outlet_id"] for v in items} == {"C01-O05"}
    assert board(p, HQ) == items

    # a suspended outlet likewise; reinstated (effective) it takes jobs again
    publish(
        p.config,
        "outlet.suspended",
        {"tenant_id": "C01", "outlet_id": "C01-O05", "status": "suspended", "at": datetime.now(UTC)},
    )
    wait_for(lambda: {v["status"] for v in board(p)} == {"unplanned"})
    items = reoptimise(p)
    assert {v["status"] for v in items} == {"unassignable"}
    assert all(
        "C01-O05 is suspended" in v["unassignable_reason"] or "outlet" in v["unassignable_reason"] for v in items
    ), items
    publish(
        p.config,
        "outlet.effective",
        {"tenant_id": "C01", "outlet_id": "C01-O05", "status": "effective", "at": datetime.now(UTC)},
    )
    wait_for(lambda: p.post(f"{API}/visits/{pinned}/pin", C01, json={"technician_id": "C01-O05-W1"}).status_code == 200)
    items = reoptimise(p)
    assert {v["status"] for v in items} == {"scheduled"}
    assert {v["outlet_id"] for v in items} == {"C01-O05"}


def test_probation_limit_line_eligibility_and_reinstatement(quiet_platform):
    """On probation an outlet holds at most its job limit; a line it lost eligibility for goes to
    others at once; reinstated it takes jobs again."""
    p = quiet_platform
    far = today() + timedelta(days=900)
    add_techs(
        p,
        tech("C01-O05-W1", "C01-O05", far),
        tech("C01-O05-W2", "C01-O05", far),
        tech("C01-O01-W1", "C01-O01", far),
        tech("C01-O01-W2", "C01-O01", far),
    )
    now = datetime.now(UTC)
    # C01-O05 on probation with a limit of 1 concurrent job
    publish(
        p.config,
        "outlet.probation",
        {"tenant_id": "C01", "outlet_id": "C01-O05", "status": "probation", "at": now, "job_limit": 1},
    )
    time.sleep(0.5)
    register(p, 4)
    items = reoptimise(p)
    # one re-plan may add at most up to the limit to what it already held (it held none)
    by_outlet = {}
    for v in items:
        by_outlet.setdefault(v["outlet_id"], []).append(v)
    assert {v["status"] for v in items} == {"scheduled"}, items
    assert len(by_outlet.get("C01-O05", [])) <= 1, by_outlet
    items = reoptimise(p)
    assert len([v for v in items if v["outlet_id"] == "C01-O05"]) <= 1, items

    # C01-O01 loses 数控车床 (too few certified technicians): its visits go back, then elsewhere
    publish(
        p.config,
        "outlet.line_eligibility",
        {
            "tenant_id": "C01",
            "outlet_id": "C01-O01",
            "status": "effective",
            "at": now,
            "product_line": "数控车床",
            "eligible": False,
        },
    )
    wait_for(lambda: all(v["outlet_id"] != "C01-O01" for v in board(p)))
    r = p.post(f"{API}/visits/{items[0]['id']}/pin", C01, json={"technician_id": "C01-O01-W1"})
    assert r.status_code == 422, r.text
    items = reoptimise(p)
    assert "C01-O01" not in {v["outlet_id"] for v in items}
    # the line restored and the probation outlet reinstated as effective: both take jobs again
    publish(
        p.config,
        "outlet.line_eligibility",
        {
            "tenant_id": "C01",
            "outlet_id": "C01-O01",
            "status": "effective",
            "at": now,
            "product_line": "数控车床",
            "eligible": True,
        },
    )
    publish(
        p.config, "outlet.reinstated", {"tenant_id": "C01", "outlet_id": "C01-O05", "status": "effective", "at": now}
    )
    wait_for(
        lambda: (
            p.post(f"{API}/visits/{items[0]['id']}/pin", C01, json={"technician_id": "C01-O01-W1"}).status_code == 200
        )
    )
    r = (
        p.delete(f"{API}/visits/{items[0]['id']}/pin", C01)
        if hasattr(p, "delete")
        else p.request("DELETE", f"{API}/visits/{items[0]['id']}/pin", C01)
    )
    assert r.status_code == 200, r.text
