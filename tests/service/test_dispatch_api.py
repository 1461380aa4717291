"""Dispatch through the gateway: the on-site flow, pins, bad input and tenancy (real broker)."""

import csv
import io
from datetime import UTC, datetime, timedelta, timezone

from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, Platform, technician_rows, wait_for

API = "/api/v1"
WUHAN = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉派工公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}
JINAN = dict(WUHAN, customer_name="济南派工公司", address="山东省济南市历下区经十路100号")
# C01-O05 (Ezhou) is the outlet within a day's round trip of Wuhan; C01-O01 (Xiangyang) is not
O05 = Principal("o5", "outlet", tenant="C01", outlet="C01-O05")
O01 = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")


def assert_error(r, status, field=None):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    if field is not None:
        assert field in err.get("fields", {}), err
    return err


def import_technicians(platform, principal, rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    r = platform.post(
        f"{API}/technicians/import",
        principal,
        data=buf.getvalue().encode("utf-8"),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["failed"] == 0, body
    return body


def board(platform, principal, **params):
    r = platform.get(f"{API}/dispatch/board", principal, params=params)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == len(page["items"]), page
    return page["items"]


def register(platform, principal, body):
    """A ticket through the API; returns its visit once dispatch has it."""
    r = platform.post(f"{API}/tickets", principal, json=body)
    assert r.status_code == 201, r.text
    ticket = r.json()
    return wait_for(lambda: next((v for v in board(platform, HQ) if v["ticket_id"] == ticket["id"]), None))


def reoptimise(platform, principal, tenant=None):
    kw = {"json": {"tenant_id": tenant}} if tenant else {}
    r = platform.post(f"{API}/dispatch/reoptimise", principal, **kw)
    assert r.status_code == 200, r.text
    assert "skipped" not in r.json(), r.json()
    return r.json()


def visit(platform, visit_id, principal=HQ):
    r = platform.get(f"{API}/visits/{visit_id}", principal)
    assert r.status_code == 200, r.text
    return r.json()


def test_ticket_to_completed_visit_through_the_gateway(quiet_platform):
    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    v = register(p, C01, WUHAN)
    assert v["status"] == "unplanned" and v["tenant_id"] == "C01"
    assert_error(p.get(f"{API}/visits/{v['id']}", O05), 404)  # not the outlet's job (yet)
    r = p.post(f"{API}/visits/{v['id']}/pin", C01, json={"technician_id": "C01-O05-T1"})
    assert r.status_code == 200, r.text
    result = reoptimise(p, C01)
    assert result["scheduled"] >= 1, (result, visit(p, v["id"])["unassignable_reason"])
    v = visit(p, v["id"])
    assert (v["status"], v["technician_id"], v["outlet_id"]) == ("scheduled", "C01-O05-T1", "C01-O05")
    assert v["route_order"] == 1 and v["planned_km"] > 0

    runs = p.get(f"{API}/dispatch/plan-runs", C01).json()
    assert runs and runs[0]["tenant_id"] == "C01" and runs[0]["trigger"] == "manual"

    # the technician's day, as JSON and as CSV
    day = datetime.fromisoformat(v["planned_arrival"]).astimezone(timezone(timedelta(hours=8))).date()
    r = p.get(f"{API}/technicians/C01-O05-T1/route", C01, params={"date": day.isoformat()})
    assert r.status_code == 200, r.text
    route = r.json()
    assert [s["visit_id"] for s in route["stops"]] == [v["id"]] and route["stops"][0]["order"] == 1
    r = p.get(f"{API}/technicians/C01-O05-T1/route.csv", C01, params={"date": day.isoformat()})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["ticket_number"] for row in rows] == [v["ticket_number"]]
    assert_error(p.get(f"{API}/technicians/C01-O05-T1/route", C01, params={"date": "tomorrow"}), 422, "date")
    assert_error(p.get(f"{API}/technicians/nobody/route", C01, params={"date": day.isoformat()}), 404)

    # the outlet sees the job and does it; another outlet does not see it
    jobs = p.get(f"{API}/outlet/jobs", O05).json()
    assert [j["id"] for j in jobs["items"]] == [v["id"]]
    assert p.get(f"{API}/outlet/jobs", O01).json()["items"] == []
    assert_error(p.get(f"{API}/outlet/jobs", C01), 403)
    r = p.post(f"{API}/visits/{v['id']}/check-in", O05, json={"lat": 30.5, "lon": 114.4})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "started" and r.json()["onsite_on_time"] is True
    r = p.post(
        f"{API}/visits/{v['id']}/check-out",
        O05,
        json={
            "work_done": "更换继电器",
            "customer_confirmed": True,
            "parts_used": [{"part_no": "RL-24V", "quantity": 1}],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "completed"

    def resolved():
        t = p.get(f"{API}/tickets/{v['ticket_id']}", HQ).json()
        return t if t["status"] == "resolved" else None

    t = wait_for(resolved)
    onsite = next(d for d in t["deadlines"] if d["sla"] == "onsite")
    assert onsite["met_at"] is not None and onsite["breached_at"] is None
    doc = p.get("/openapi.json").json()
    for path in (
        "/api/v1/dispatch/board",
        "/api/v1/visits/{visit_id}/check-in",
        "/api/v1/technicians/import",
        "/api/v1/technicians/{technician_id}/route.csv",
        "/api/v1/outlet/jobs",
    ):
        assert path in doc["paths"], path
    assert set(doc["paths"]["/api/v1/visits/{visit_id}/pin"]) == {"post", "delete"}


def test_pinned_visit_stays_across_reoptimisations(quiet_platform):
    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    visits = [register(p, C01, dict(WUHAN, customer_name=f"武汉钉住{i}", phone=f"1380000000{i}")) for i in range(4)]
    target = visits[0]
    r = p.post(f"{API}/visits/{target['id']}/pin", C01, json={"technician_id": "C01-O05-T2"})
    assert r.status_code == 200, r.text
    assert r.json()["pinned_technician_id"] == "C01-O05-T2"
    for _ in range(2):
        reoptimise(p, C01)
        got = visit(p, target["id"])
        assert (got["status"], got["technician_id"], got["pinned_technician_id"]) == (
            "scheduled",
            "C01-O05-T2",
            "C01-O05-T2",
        )
    # unpinned, the visit is free again (and the API says so)
    r = p.request("DELETE", f"{API}/visits/{target['id']}/pin", C01)
    assert r.status_code == 200, r.text
    assert r.json()["pinned_technician_id"] is None
    # an outlet may not pin, nor re-optimise
    assert_error(p.post(f"{API}/visits/{target['id']}/pin", O01, json={"technician_id": "C01-O01-T1"}), 403)
    assert_error(p.post(f"{API}/dispatch/reoptimise", O01), 403)


def test_bad_input_changes_nothing(quiet_platform):
    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    v = register(p, C01, WUHAN)
    assert p.post(f"{API}/visits/{v['id']}/pin", C01, json={"technician_id": "C01-O05-T1"}).status_code == 200
    reoptimise(p, C01)
    before = visit(p, v["id"])
    assert before["status"] == "scheduled" and before["outlet_id"] == "C01-O05"
    vid = before["id"]

    def unchanged():
        assert visit(p, vid) == dict(before, late_risk=visit(p, vid)["late_risk"])

    now = datetime.now(UTC)
    # position outside China
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 60, "lon": 114.4}), 422, "lat")
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 30.5, "lon": 10}), 422, "lon")
    # a check-in in the future, a missing position, an unknown field, not JSON
    assert_error(
        p.post(
            f"{API}/visits/{vid}/check-in",
            O05,
            json={"lat": 30.5, "lon": 114.4, "at": (now + timedelta(hours=2)).isoformat()},
        ),
        422,
        "at",
    )
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O05, json={"lon": 114.4}), 422, "lat")
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 30.5, "lon": 114.4, "x": 1}), 422, "x")
    assert_error(
        p.post(f"{API}/visits/{vid}/check-in", O05, data=b"{not json", headers={"Content-Type": "application/json"}),
        400,
    )
    # someone else's visit: another outlet of the tenant, another tenant's center
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O01, json={"lat": 30.5, "lon": 114.4}), 404)
    assert_error(p.post(f"{API}/visits/{vid}/check-in", C02, json={"lat": 30.5, "lon": 114.4}), 404)
    assert_error(p.get(f"{API}/visits/{vid}", O01), 404)
    # the visit's outlet naming a technician who is not the visit's
    assert_error(
        p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 30.5, "lon": 114.4, "technician_id": "C01-O05-T2"}),
        422,
        "technician_id",
    )
    # check-out before any check-in
    assert_error(p.post(f"{API}/visits/{vid}/check-out", O05, json={"work_done": "x", "customer_confirmed": True}), 409)
    # unknown visit
    assert_error(p.get(f"{API}/visits/nope", C01), 404)
    assert_error(p.post(f"{API}/visits/nope/check-in", O05, json={"lat": 30.5, "lon": 114.4}), 404)
    assert_error(p.post(f"{API}/visits/nope/pin", C01, json={"technician_id": "C01-O01-T1"}), 404)
    # pin to an unknown technician, to another tenant's, to one without the skill
    assert_error(p.post(f"{API}/visits/{vid}/pin", C01, json={"technician_id": "ghost"}), 422, "technician_id")
    import_technicians(p, C02, technician_rows("C02")[:1])
    assert_error(
        p.post(f"{API}/visits/{vid}/pin", C01, json={"technician_id": technician_rows("C02")[0]["id"]}),
        422,
        "technician_id",
    )
    assert_error(p.post(f"{API}/visits/{vid}/pin", C01, json={}), 422, "technician_id")
    assert_error(p.post(f"{API}/visits/{vid}/pin", C01, json={"technician_id": "C01-O05-T3"}), 422, "technician_id")
    unchanged()

    # technicians: unknown product line, unknown outlet, bad shifts, position outside China
    tech = {
        "id": "C01-NEW-1",
        "name": "新人",
        "outlet_id": "C01-O01",
        "skills": ["数控车床"],
        "certificates": {"数控车床": "2030-01-01"},
        "home_lat": 30.6,
        "home_lon": 114.3,
    }
    for change, field in (
        ({"skills": ["飞机"]}, "skills"),
        ({"outlet_id": "C09-O99"}, "outlet_id"),
        ({"shift_start": "25:00"}, "shift_start"),
        ({"shift_end": "7pm"}, "shift_end"),
        ({"shift_start": "18:00", "shift_end": "08:00"}, "shift_end"),
        ({"home_lat": 60.0}, "home_lat"),
        ({"certificates": {"数控车床": "soon"}}, "certificates"),
        ({"daily_capacity": 0}, "daily_capacity"),
    ):
        assert_error(p.post(f"{API}/technicians", C01, json=dict(tech, **change)), 422, field)
    assert "C01-NEW-1" not in {t["id"] for t in p.get(f"{API}/technicians", C01).json()}
    # a center may not add a technician to another tenant's outlet
    assert_error(p.post(f"{API}/technicians", C02, json=tech), 422, "outlet_id")
    assert_error(p.post(f"{API}/technicians", C02, json=dict(tech, outlet_id=None, tenant_id="C01")), 422, "tenant_id")
    c02_tech = dict(tech, id="C01-O05-T1", outlet_id="C02-O01")  # the id of a C01 technician
    assert_error(p.post(f"{API}/technicians", C02, json=c02_tech), 422, "id")
    assert "C01-NEW-1" not in {t["id"] for t in p.get(f"{API}/technicians", HQ).json()}
    r = p.post(f"{API}/technicians", C01, json=tech)
    assert r.status_code == 200, r.text
    assert r.json()["tenant_id"] == "C01"
    r = p.post(f"{API}/technicians/import", C01, data=b"", headers={"Content-Type": "text/csv"})
    assert_error(r, 400)
    unchanged()

    # now the real check-in, then out-of-order times and doubles
    at_in = now - timedelta(minutes=30)
    r = p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 30.5, "lon": 114.4, "at": at_in.isoformat()})
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["status"] == "started"
    assert datetime.fromisoformat(started["started_at"]) == at_in
    assert_error(p.post(f"{API}/visits/{vid}/check-in", O05, json={"lat": 30.5, "lon": 114.4}), 409)
    assert_error(
        p.post(
            f"{API}/visits/{vid}/check-out",
            O05,
            json={"work_done": "x", "customer_confirmed": True, "at": (at_in - timedelta(minutes=5)).isoformat()},
        ),
        422,
        "at",
    )
    assert_error(
        p.post(f"{API}/visits/{vid}/check-out", O05, json={"work_done": "", "customer_confirmed": True}),
        422,
        "work_done",
    )
    assert_error(p.post(f"{API}/visits/{vid}/check-out", O05, json={"work_done": "x"}), 422, "customer_confirmed")
    assert_error(p.post(f"{API}/visits/{vid}/pin", C01, json={"technician_id": "C01-O05-T2"}), 422)
    assert visit(p, vid)["status"] == "started" and visit(p, vid)["version"] == started["version"]
    r = p.post(f"{API}/visits/{vid}/check-out", O05, json={"work_done": "x", "customer_confirmed": False})
    assert r.status_code == 200, r.text
    assert_error(p.post(f"{API}/visits/{vid}/check-out", O05, json={"work_done": "x", "customer_confirmed": True}), 409)


def test_tenancy_of_the_board(quiet_platform):
    p = quiet_platform
    import_technicians(p, HQ, technician_rows("C01") + technician_rows("C02"))
    w = register(p, C01, WUHAN)
    j = register(p, C02, JINAN)
    assert (w["tenant_id"], j["tenant_id"]) == ("C01", "C02")
    assert {v["id"] for v in board(p, C01)} == {w["id"]}
    assert {v["id"] for v in board(p, C02)} == {j["id"]}
    assert {v["id"] for v in board(p, HQ)} == {w["id"], j["id"]}
    assert board(p, C01, outlet_id="C02-O01") == []
    # another tenant's visit does not exist for a center: read, pin, unpin, check in
    assert_error(p.get(f"{API}/visits/{j['id']}", C01), 404)
    assert_error(p.post(f"{API}/visits/{j['id']}/pin", C01, json={"technician_id": "C01-O01-T1"}), 404)
    assert_error(p.request("DELETE", f"{API}/visits/{j['id']}/pin", C01), 404)
    assert_error(p.post(f"{API}/visits/{j['id']}/check-in", C01, json={"lat": 36.6, "lon": 117.0}), 404)
    # nor may it re-optimise another tenant, or HQ a tenant that does not exist
    assert_error(p.post(f"{API}/dispatch/reoptimise", C01, json={"tenant_id": "C02"}), 403)
    assert_error(p.post(f"{API}/dispatch/reoptimise", HQ, json={"tenant_id": "C99"}), 422, "tenant_id")
    assert_error(p.post(f"{API}/dispatch/reoptimise", C01, json={"tenant": "C01"}), 422, "tenant")
    assert visit(p, j["id"], C02)["status"] == "unplanned"

    # plans: C01's outlets get C01's jobs only; outlets see their own jobs only
    assert p.post(f"{API}/visits/{w['id']}/pin", C01, json={"technician_id": "C01-O05-T1"}).status_code == 200
    reoptimise(p, C01)
    reoptimise(p, HQ, "C02")
    assert visit(p, j["id"], C02)["status"] == "scheduled"
    assert {v["id"] for v in p.get(f"{API}/outlet/jobs", O05).json()["items"]} == {w["id"]}
    assert p.get(f"{API}/outlet/jobs", O01).json()["items"] == []
    assert {v["id"] for v in board(p, O05)} == {w["id"]}
    j_outlet = Principal("oj", "outlet", tenant="C02", outlet=visit(p, j["id"])["outlet_id"])
    assert {v["id"] for v in p.get(f"{API}/outlet/jobs", j_outlet).json()["items"]} == {j["id"]}
    runs_c01 = p.get(f"{API}/dispatch/plan-runs", C01).json()
    assert {r["tenant_id"] for r in runs_c01} == {"C01"}
    assert {r["tenant_id"] for r in p.get(f"{API}/dispatch/plan-runs", HQ).json()} == {"C01", "C02"}
    # technicians: each center its own; an outlet its own
    assert {t["tenant_id"] for t in p.get(f"{API}/technicians", C02).json()} == {"C02"}
    assert {t["outlet_id"] for t in p.get(f"{API}/technicians", O01).json()} == {"C01-O01"}
    # route of another tenant's technician: not found
    assert_error(p.get(f"{API}/technicians/C01-O01-T1/route", C02, params={"date": "2026-01-05"}), 404)


def test_manual_reoptimise_waits_for_a_running_batch_solve(working_morning, runner_factory, dispatch_config):
    """A dispatcher's re-optimise during the batch timer's solve is not skipped: it waits, then plans
    (before the shifts start, so the visit the batch planned is not already on the road)."""
    from services.dispatch.service import DispatchService, PlannerState
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(dispatch_config, DISPATCH_TIME_LIMIT=2.0, DISPATCH_BATCH_SECONDS=0.3)
    runner = runner_factory(config, IntakeService, DispatchService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    container = p.containers["dispatch"]
    planner = next(d for d in container.dependencies if isinstance(d, PlannerState)).planner
    import_technicians(p, C01, technician_rows("C01"))
    register(p, C01, WUHAN)
    wait_for(lambda: "C01" in planner.solving, interval=0.05)  # the timer's batch solve (2 s)
    result = reoptimise(p, C01)
    assert result["visits"] == 1 and result["scheduled"] == 1, result
    runs = p.get(f"{API}/dispatch/plan-runs", C01).json()
    assert [r["trigger"] for r in runs][:2] == ["manual", "batch"], runs
