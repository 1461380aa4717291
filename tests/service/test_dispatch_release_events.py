"""Dispatch's releases and return visits over the real broker, with intake, parts and the gateway:

(a) a visit planned at an outlet that gets `outlet.suspended` → `visit.released` (old outlet and
    technician, reason) → parts lets the reservation go at the old outlet, intake takes the ticket off
    the outlet; re-planned elsewhere, parts reserves afresh there; the stale release, delivered
    again after the re-plan, changes nothing;
(b) a negative callback on a completed visit → intake's `ticket.escalated` (negative_callback) →
    dispatch creates one return visit (same ticket, kind, more urgent, due by the on-site SLA from
    now), plans it, and intake follows; QA's `callback.closed` is audited by intake.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared import events as catalogue
from shared.tenancy import Principal
from tests.conftest import C01, HQ, Platform, wait_for
from tests.parts_fixtures import SPINDLE, collector, publish

API = "/api/v1"
OUT_A, OUT_B = "C01-O01", "C01-O02"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉释放测试公司",
    "phone": "13800000011",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2026-03-01",
    "fault": "主轴过热",
}


@pytest.fixture
def platform4(runner_factory, dispatch_config):
    """intake + dispatch + parts + gateway; the planner plans only when asked."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService

    config = dict(
        dispatch_config, DISPATCH_BATCH_SECONDS=3600, DISPATCH_REOPT_SECONDS=3600, PARTS_OVERDUE_CHECK_SECONDS=3600
    )
    runner = runner_factory(config, IntakeService, DispatchService, PartsService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def call(p, method, path, principal=C01, expect=200, **kw):
    r = p.request(method, API + path, principal, **kw)
    assert r.status_code == expect, f"{method} {path}: {r.status_code} {r.text}"
    return r.json()


def add_techs(p):
    until = (datetime.now(UTC) + timedelta(days=900)).date().isoformat()
    for outlet in (OUT_A, OUT_B):
        call(
            p,
            "POST",
            "/technicians",
            json={
                "id": f"{outlet}-RT1",
                "name": f"{outlet} 技师",
                "outlet_id": outlet,
                "skills": ["数控车床"],
                "certificates": {"数控车床": until},
                "home_lat": 30.58,
                "home_lon": 114.27,
                "daily_capacity": 4,
            },
        )


def visits_of(rpc_as, ticket_id):
    with rpc_as(C01, "dispatch") as dispatch:
        return dispatch.board({"ticket_id": ticket_id})["items"]


def plan(p):
    out = call(p, "POST", "/dispatch/reoptimise", json={"tenant_id": "C01"})
    assert out.get("skipped") is None, out


def scheduled_at(p, rpc_as, ticket_id, technician_id):
    """Pin the ticket's open visit to `technician_id` and plan: it is scheduled there."""
    visit = wait_for(
        lambda: [v for v in visits_of(rpc_as, ticket_id) if v["status"] == "unplanned"], what="an unplanned visit"
    )[0]
    call(p, "POST", f"/visits/{visit['id']}/pin", json={"technician_id": technician_id})
    plan(p)
    visit = call(p, "GET", f"/visits/{visit['id']}")
    assert visit["status"] == "scheduled" and visit["technician_id"] == technician_id, visit
    return visit


def reservations(rpc_as, visit_id):
    with rpc_as(C01, "parts") as parts:
        return parts.reservations({"visit_id": visit_id})["items"]


def ticket(rpc_as, ticket_id):
    with rpc_as(HQ, "intake") as intake:
        return intake.get_ticket(ticket_id)


def test_outlet_suspended_releases_visit_to_parts_and_intake(platform4, rpc_as):
    p = platform4
    add_techs(p)
    released = collector(p.config["AMQP_URI"], "visit.released", source="dispatch")
    t = call(p, "POST", "/tickets", json=REPAIR, expect=201)
    visit = scheduled_at(p, rpc_as, t["id"], f"{OUT_A}-RT1")
    assert visit["outlet_id"] == OUT_A
    held = wait_for(lambda: reservations(rpc_as, visit["id"]), what="parts reserved for the visit")
    assert [(r["part_no"], r["status"], r["outlet_id"]) for r in held] == [(SPINDLE, "reserved", OUT_A)], held
    before = wait_for(
        lambda: (lambda x: x if x["status"] == "scheduled" else None)(ticket(rpc_as, t["id"])),
        what="intake saw visit.scheduled",
    )
    assert before["assigned_outlet_id"] == OUT_A
    status_before_scheduling = next(a["from_state"] for a in before["audit"] if a["action"] == "visit_scheduled")
    with rpc_as(C01, "parts") as parts:
        wh_reserved = parts.stock({"location_id": "WH-C01", "part_no": SPINDLE})["items"][0]["reserved"]

    # certification suspends outlet A: dispatch takes the visit back and says so
    publish(
        p.config,
        "certification",
        "outlet.suspended",
        {"tenant_id": "C01", "outlet_id": OUT_A, "status": "suspended", "at": datetime.now(UTC), "reason": "整改"},
    )
    event = wait_for(lambda: [e for e in released() if e["visit_id"] == visit["id"]], what="visit.released")[0]
    assert (event["ticket_id"], event["outlet_id"], event["technician_id"], event["reason"]) == (
        t["id"],
        OUT_A,
        f"{OUT_A}-RT1",
        "outlet_suspended",
    ), event
    assert event["ticket_number"] == t["number"]  # the ticket as people read it (notify's texts)
    assert len(released()) == 1  # one visit released once
    now_visit = call(p, "GET", f"/visits/{visit['id']}")
    assert now_visit["status"] == "unplanned" and now_visit["outlet_id"] is None, now_visit

    # parts: the reservation at outlet A is released, the warehouse's hold is back
    wait_for(
        lambda: [r["status"] for r in reservations(rpc_as, visit["id"])] == ["released"],
        what="parts released the reservation",
    )
    with rpc_as(C01, "parts") as parts:
        assert parts.stock({"location_id": "WH-C01", "part_no": SPINDLE})["items"][0]["reserved"] == wh_reserved - 1
        assert parts.outlet_balance(OUT_A)["clear"] is True
    # intake: the ticket left outlet A and is back where it was before scheduling, with an audit row
    after = wait_for(
        lambda: (lambda x: x if x["assigned_outlet_id"] is None else None)(ticket(rpc_as, t["id"])),
        what="intake cleared the ticket's outlet",
    )
    assert after["status"] == status_before_scheduling != "scheduled", after["status"]
    row = next(a for a in after["audit"] if a["action"] == "visit_released")
    assert (row["from_state"], row["to_state"], row["note"]) == (
        "scheduled",
        status_before_scheduling,
        "outlet_suspended",
    ), row
    assert row["data"]["outlet_id"] == OUT_A and row["data"]["visit_id"] == visit["id"], row

    # re-planned at outlet B: parts reserves afresh there, intake follows
    plan(p)
    moved = call(p, "GET", f"/visits/{visit['id']}")
    assert moved["status"] == "scheduled" and moved["outlet_id"] == OUT_B, moved
    fresh = wait_for(
        lambda: [r for r in reservations(rpc_as, visit["id"]) if r["status"] == "reserved"],
        what="parts reserved afresh at outlet B",
    )
    assert [(r["part_no"], r["outlet_id"]) for r in fresh] == [(SPINDLE, OUT_B)], fresh
    wait_for(lambda: ticket(rpc_as, t["id"])["assigned_outlet_id"] == OUT_B, what="intake follows to outlet B")

    # the old release delivered again (new message id) after the re-plan is stale: nothing changes
    consumed = consumed_count("parts", "visit.released")
    publish(p.config, "dispatch", "visit.released", catalogue.load("visit.released", dict(event)))
    wait_for(lambda: consumed_count("parts", "visit.released") > consumed, what="parts consumed it")
    audit = wait_for(
        lambda: (lambda rows: rows if len(rows) == 2 else None)(
            [a for a in ticket(rpc_as, t["id"])["audit"] if a["action"] == "visit_released"]
        ),
        what="intake consumed it",
    )
    assert audit[1]["data"].get("stale") is True, audit
    res = reservations(rpc_as, visit["id"])
    assert sorted((r["outlet_id"], r["status"]) for r in res) == [(OUT_A, "released"), (OUT_B, "reserved")], res
    t_now = ticket(rpc_as, t["id"])
    assert t_now["assigned_outlet_id"] == OUT_B and t_now["status"] == "scheduled", t_now


def consumed_count(service, label):
    from shared.metrics import REGISTRY

    return (
        REGISTRY.get_sample_value("fsm_events_consumed_total", {"service": service, "event": label, "outcome": "ok"})
        or 0
    )


def test_negative_callback_creates_a_planned_return_visit(platform4, rpc_as):
    p = platform4
    add_techs(p)
    t = call(p, "POST", "/tickets", json=dict(REPAIR, phone="13800000012"), expect=201)
    first = scheduled_at(p, rpc_as, t["id"], f"{OUT_A}-RT1")
    outlet = Principal("o-clerk", "outlet", tenant="C01", outlet=OUT_A)
    with rpc_as(outlet, "dispatch") as dispatch:
        dispatch.check_in(first["id"], {"lat": 30.5, "lon": 114.4})
        dispatch.check_out(first["id"], {"work_done": "更换主轴轴承", "customer_confirmed": True})
    wait_for(lambda: ticket(rpc_as, t["id"])["status"] == "resolved", what="intake resolved the ticket")

    # QA's negative callback: intake reopens and escalates; dispatch makes one return visit
    callback_id = uuid.uuid4().hex
    negative = {
        "tenant_id": "C01",
        "ticket_id": t["id"],
        "callback_id": callback_id,
        "satisfaction": 1,
        "reason": "主轴仍然发热",
        "visit_id": first["id"],
        "outlet_id": OUT_A,
        "at": datetime.now(UTC),
    }
    event_id = publish(p.config, "qa", "callback.negative", negative)
    publish(p.config, "qa", "callback.negative", negative, event_id=event_id)  # redelivered: once
    t0 = datetime.now(UTC)
    back = wait_for(
        lambda: [v for v in visits_of(rpc_as, t["id"]) if v["id"] != first["id"]],
        what="dispatch created a return visit",
    )
    assert wait_for(lambda: ticket(rpc_as, t["id"])["status"] == "accepted", what="intake reopened")
    # an escalation while the return visit is open (another reason or the same) adds nothing
    publish(
        p.config,
        "intake",
        "ticket.escalated",
        {
            "tenant_id": "C01",
            "ticket_id": t["id"],
            "number": t["number"],
            "reason": "negative_callback",
            "level": "center",
        },
    )
    publish(
        p.config,
        "intake",
        "ticket.escalated",
        {"tenant_id": "C01", "ticket_id": t["id"], "number": t["number"], "reason": "safety", "level": "management"},
    )
    time.sleep(1.0)
    visits = visits_of(rpc_as, t["id"])
    assert len(visits) == 2, visits
    ret = next(v for v in visits if v["id"] != first["id"])
    assert ret["return_of"] == first["id"] and ret["kind"] == first["kind"], ret
    assert ret["status"] == "unplanned" and ret["priority"] == max(1, first["priority"] - 1), (ret, first)
    assert ret["product_line"] == first["product_line"] and ret["lat"] == first["lat"]
    due = datetime.fromisoformat(ret["onsite_due"])
    assert t0 - timedelta(minutes=1) < due and due > datetime.fromisoformat(ret["received_at"]), ret
    assert due > datetime.fromisoformat(first["onsite_due"]), (ret["onsite_due"], first["onsite_due"])

    # planned like any visit: visit.scheduled, and intake follows the return visit
    back = scheduled_at(p, rpc_as, t["id"], f"{OUT_B}-RT1")
    assert back["id"] == ret["id"] and back["outlet_id"] == OUT_B
    wait_for(
        lambda: (lambda x: x["status"] == "scheduled" and x["assigned_outlet_id"] == OUT_B)(ticket(rpc_as, t["id"])),
        what="intake saw the return visit scheduled",
    )
    outlet_b = Principal("o-clerk-b", "outlet", tenant="C01", outlet=OUT_B)
    with rpc_as(outlet_b, "dispatch") as dispatch:
        dispatch.check_in(back["id"], {"lat": 30.5, "lon": 114.4})
        dispatch.check_out(back["id"], {"work_done": "主轴重新校准", "customer_confirmed": True})
    wait_for(lambda: ticket(rpc_as, t["id"])["status"] == "resolved", what="resolved again")

    # QA closes the callback: intake audits it (the return visit is completed)
    publish(
        p.config,
        "qa",
        "callback.closed",
        {
            "tenant_id": "C01",
            "callback_id": callback_id,
            "ticket_id": t["id"],
            "visit_id": first["id"],
            "outlet_id": OUT_A,
            "outcome": "resolved",
            "at": datetime.now(UTC),
        },
    )
    closed = wait_for(
        lambda: [a for a in ticket(rpc_as, t["id"])["audit"] if a["action"] == "callback_closed"],
        what="intake audited callback.closed",
    )[0]
    assert closed["data"] == {"callback_id": callback_id, "outcome": "resolved", "return_visit_completed": True}
    assert closed["to_state"] == "resolved"


def test_upheld_callback_is_audited_and_closing_cancels_the_open_return_visit(platform4, rpc_as):
    """callback.closed without a completed return visit only audits; closing the ticket cancels the
    open return visit and leaves the completed first one (several visits per ticket)."""
    p = platform4
    add_techs(p)
    t = call(p, "POST", "/tickets", json=dict(REPAIR, phone="13800000013"), expect=201)
    first = scheduled_at(p, rpc_as, t["id"], f"{OUT_A}-RT1")
    with rpc_as(C01, "dispatch") as dispatch:
        dispatch.check_in(first["id"], {"lat": 30.5, "lon": 114.4})
        dispatch.check_out(first["id"], {"work_done": "更换主轴轴承", "customer_confirmed": True})
    wait_for(lambda: ticket(rpc_as, t["id"])["status"] == "resolved", what="resolved")
    publish(
        p.config,
        "qa",
        "callback.negative",
        {"tenant_id": "C01", "ticket_id": t["id"], "callback_id": "cb-3", "satisfaction": 2, "at": datetime.now(UTC)},
    )
    wait_for(lambda: len(visits_of(rpc_as, t["id"])) == 2, what="a return visit")
    # upheld, no return visit done: only the audit row, the ticket stays reopened
    publish(
        p.config,
        "qa",
        "callback.closed",
        {"tenant_id": "C01", "callback_id": "cb-3", "ticket_id": t["id"], "outcome": "upheld", "at": datetime.now(UTC)},
    )
    row = wait_for(
        lambda: [a for a in ticket(rpc_as, t["id"])["audit"] if a["action"] == "callback_closed"], what="audited"
    )[0]
    assert row["to_state"] == "accepted" and row["data"]["return_visit_completed"] is False, row
    # the center closes the ticket: dispatch cancels the open return visit, the completed one stays
    for action in ("resolve", "close"):
        call(p, "POST", f"/tickets/{t['id']}/transitions", json={"action": action, "note": "客户同意结案"})
    wait_for(
        lambda: sorted(v["status"] for v in visits_of(rpc_as, t["id"])) == ["cancelled", "completed"],
        what="dispatch cancelled the return visit",
    )
