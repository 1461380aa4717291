"""ticket.registered → visit.scheduled → check-in → visit.completed over the real broker."""

from services.dispatch.schemas import technician_row_to_payload
from shared.tenancy import Principal
from tests.conftest import C01, HQ, technician_rows, wait_for

REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


def test_ticket_to_completed_visit(full_platform, rpc_as):
    with rpc_as(C01, "dispatch") as dispatch:
        results = dispatch.import_technicians([technician_row_to_payload(r) for r in technician_rows("C01")])
        assert all(r["ok"] for r in results), results
    from shared.metrics import REGISTRY

    lag = {"service": "dispatch", "event": "ticket.registered"}
    lag_before = REGISTRY.get_sample_value("fsm_event_lag_seconds_count", lag) or 0
    r = full_platform.post("/api/v1/tickets", C01, json=REPAIR)
    assert r.status_code == 201, r.text
    ticket = r.json()

    def scheduled():
        with rpc_as(C01, "dispatch") as dispatch:
            items = dispatch.board({})["items"]
            return [i for i in items if i["ticket_id"] == ticket["id"] and i["status"] == "scheduled"]

    visit = wait_for(scheduled)[0]
    # the queue lag from intake's commit to dispatch's consumption was measured
    assert REGISTRY.get_sample_value("fsm_event_lag_seconds_count", lag) == lag_before + 1
    assert visit["technician_id"].startswith("C01-")
    outlet = Principal("o", "outlet", tenant="C01", outlet=visit["outlet_id"])
    with rpc_as(outlet, "dispatch") as dispatch:
        started = dispatch.check_in(visit["id"], {"lat": 30.5, "lon": 114.4})
        assert started["status"] == "started" and started["onsite_on_time"] is True
        done = dispatch.check_out(visit["id"], {"work_done": "更换继电器", "customer_confirmed": True})
        assert done["status"] == "completed"

    def resolved():
        with rpc_as(HQ) as intake:
            t = intake.get_ticket(ticket["id"])
            return t if t["status"] == "resolved" else None

    t = wait_for(resolved)
    onsite = next(d for d in t["deadlines"] if d["sla"] == "onsite")
    assert onsite["met_at"] is not None and onsite["breached_at"] is None

    # the service ledger: on site, the check-out's work done and the technician by name (服务人员)
    names = {row["id"]: row["name"] for row in technician_rows("C01")}
    assert (t["service_mode"], t["work_done"], t["technician_name"]) == (
        "onsite",
        "更换继电器",
        names[visit["technician_id"]],
    )


def test_a_complaint_about_fees_gets_no_visit(full_platform, rpc_as):
    fees = dict(REPAIR, kind="complaint", complaint_category="fees", fault="上门费收取过高")
    r = full_platform.post("/api/v1/tickets", C01, json=fees)
    assert r.status_code == 201, r.text
    complaint = r.json()
    r = full_platform.post("/api/v1/tickets", C01, json=dict(REPAIR, customer_name="武汉对照公司"))
    assert r.status_code == 201, r.text
    repair = r.json()

    def board():
        with rpc_as(C01, "dispatch") as dispatch:
            return {i["ticket_id"] for i in dispatch.board({})["items"]}

    # dispatch has taken the later repair's ticket.registered: the fee complaint's came before it
    seen = wait_for(lambda: (b := board()) and repair["id"] in b and b, what="the repair's visit")
    assert complaint["id"] not in seen
