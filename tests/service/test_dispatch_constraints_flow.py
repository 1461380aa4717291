"""The dispatcher's word counts, over the real broker with intake, dispatch and the gateway (issue
19 point 2, issue 17): the center's assign_outlet reaches the planner (ticket.outlet_assigned) and
only that outlet's technicians take the visit; an outlet that cannot take it is reported with the
reason (dispatch.constraint_unmet, and on the board); a visit whose appointment was confirmed keeps
its window across a re-plan, and only a re-plan with a reason moves it, recorded with the plan run.
(A pin kept across re-plans: tests/service/test_dispatch_api.py.)"""

from datetime import datetime, timedelta

import pytest

from services.dispatch.schemas import technician_row_to_payload
from tests.conftest import C01, Platform, technician_rows, wait_for
from tests.parts_fixtures import collector, wait_events

API = "/api/v1"
# from the site in Jingzhou: O03 ~8 km (32 min), O02 ~124 km (2 h 18 min); O01 has no technician in dispatch
NEAR, FAR, EMPTY = "C01-O03", "C01-O02", "C01-O01"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "荆州指派测试公司",
    "phone": "13800000021",
    "address": "湖北省荆州市荆州区北京路9号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2026-03-01",
    "fault": "主轴过热",
}


@pytest.fixture
def platform(runner_factory, dispatch_config, rpc_as):
    """intake + dispatch + gateway; the planner plans only when asked."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(dispatch_config, DISPATCH_BATCH_SECONDS=3600, DISPATCH_REOPT_SECONDS=3600)
    runner = runner_factory(config, IntakeService, DispatchService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    rows = [technician_row_to_payload(r) for r in technician_rows("C01") if r["outlet_id"] in (NEAR, FAR)]
    with rpc_as(C01, "dispatch") as dispatch:
        results = dispatch.import_technicians(rows)
    assert len(results) == 6 and all(x["ok"] for x in results), results
    return p


def _visit(p, ticket_id, **match):
    def found():
        r = p.get(f"{API}/dispatch/board?ticket_id={ticket_id}", C01)
        assert r.status_code == 200, r.text
        items = [v for v in r.json()["items"] if all(v.get(k) == val for k, val in match.items())]
        return items[0] if items else None

    return wait_for(found, what=f"visit of {ticket_id} with {match}")


def _replan(p, **body):
    r = p.post(f"{API}/dispatch/reoptimise", C01, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _assign(p, ticket_id, outlet):
    r = p.post(f"{API}/tickets/{ticket_id}/transitions", C01, json={"action": "assign_outlet", "outlet_id": outlet})
    assert r.status_code == 200, r.text


def test_assign_outlet_is_kept_or_the_planner_says_why(platform):
    p = platform
    unmet = collector(p.config["AMQP_URI"], "dispatch.constraint_unmet", source="dispatch")
    first = p.post(f"{API}/tickets", C01, json=REPAIR).json()
    second = p.post(f"{API}/tickets", C01, json=dict(REPAIR, phone="13800000022")).json()
    _visit(p, first["id"])
    _visit(p, second["id"])
    _replan(p)
    assert _visit(p, first["id"], status="scheduled")["outlet_id"] == NEAR  # the nearest outlet, unconstrained

    # the center assigns the first ticket to the far outlet: the planner keeps it
    _assign(p, first["id"], FAR)
    _visit(p, first["id"], required_outlet_id=FAR)
    result = _replan(p)
    visit = _visit(p, first["id"], status="scheduled")
    assert visit["outlet_id"] == FAR and visit["technician_id"].startswith(f"{FAR}-T")
    assert visit["constraint_unmet"] is None
    # a pin stays within the center's outlet, and is kept across re-plans
    r = p.post(f"{API}/visits/{visit['id']}/pin", C01, json={"technician_id": f"{NEAR}-T1"})
    assert r.status_code == 422 and "technician_id" in r.text, r.text
    other = next(t for t in (f"{FAR}-T1", f"{FAR}-T2") if t != visit["technician_id"])
    assert p.post(f"{API}/visits/{visit['id']}/pin", C01, json={"technician_id": other}).status_code == 200
    for _ in range(2):
        _replan(p)
        assert _visit(p, first["id"], status="scheduled")["technician_id"] == other

    # an outlet with no technician in dispatch cannot take the second: unassignable, and why
    _assign(p, second["id"], EMPTY)
    _visit(p, second["id"], required_outlet_id=EMPTY)
    result = _replan(p)
    assert result["constraints_unmet"] == 1, result
    visit = _visit(p, second["id"], status="unassignable")
    assert visit["technician_id"] is None
    assert visit["constraint_unmet"].startswith(f"outlet {EMPTY} assigned by the center cannot take it")
    assert "no technician of it in the horizon" in visit["constraint_unmet"]
    event = wait_events(unmet, visit_id=visit["id"])[0]
    assert event["constraint"] == "outlet" and event["required_outlet_id"] == EMPTY
    assert event["reason"] == visit["constraint_unmet"] and event["ticket_id"] == second["id"]
    # planned again with nothing changed: the same reason is not announced twice
    _replan(p)
    assert len([e for e in unmet() if e["visit_id"] == visit["id"]]) == 1


def test_a_confirmed_appointment_moves_only_with_a_reason(platform):
    p = platform
    ticket = p.post(f"{API}/tickets", C01, json=REPAIR).json()
    _visit(p, ticket["id"])
    r = p.post(f"{API}/visits/{_visit(p, ticket['id'])['id']}/confirm-appointment", C01)
    assert r.status_code == 422 and "visit_id" in r.text  # not planned yet: nothing to confirm
    _assign(p, ticket["id"], FAR)  # planned with the far outlet: arrives late in the day
    _visit(p, ticket["id"], required_outlet_id=FAR)
    _replan(p)
    visit = _visit(p, ticket["id"], status="scheduled")
    r = p.post(f"{API}/visits/{visit['id']}/confirm-appointment", C01)
    assert r.status_code == 200, r.text
    told = datetime.fromisoformat(r.json()["appointment_at"])
    assert told == datetime.fromisoformat(visit["planned_arrival"])

    # the center hands it to the near outlet, which could come hours earlier: the customer's time holds
    _assign(p, ticket["id"], NEAR)
    _visit(p, ticket["id"], required_outlet_id=NEAR)
    _replan(p)
    visit = _visit(p, ticket["id"], status="scheduled", outlet_id=NEAR)
    arrival = datetime.fromisoformat(visit["planned_arrival"])
    assert abs(arrival - told) <= timedelta(hours=1), (arrival, told)
    assert visit["appointment_at"] is not None and visit["constraint_unmet"] is None

    # a re-plan with a reason may move it: recorded with the plan run, the appointment to be confirmed again
    result = _replan(p, reason="客户同意改约上午")
    assert result["moved_confirmed"] == 1, result
    visit = _visit(p, ticket["id"], status="scheduled", outlet_id=NEAR)
    assert visit["appointment_at"] is None
    assert datetime.fromisoformat(visit["planned_arrival"]) < told - timedelta(hours=1)
    # the visit says what the customer had been told and why it moved (the board shows it) until confirmed again
    assert datetime.fromisoformat(visit["appointment_moved_from"]) == told
    assert visit["appointment_moved_reason"] == "客户同意改约上午"
    r = p.post(f"{API}/visits/{visit['id']}/confirm-appointment", C01)
    assert r.status_code == 200 and r.json()["appointment_moved_reason"] is None, r.text
    assert r.json()["appointment_moved_from"] is None and r.json()["appointment_at"] == visit["planned_arrival"]
    runs = p.get(f"{API}/dispatch/plan-runs", C01).json()
    assert (runs[0]["reason"], runs[0]["moved_confirmed"]) == ("客户同意改约上午", 1)
    assert runs[1]["reason"] is None

    # bad input names the field and changes nothing
    r = p.post(f"{API}/dispatch/reoptimise", C01, json={"reason": ""})
    assert r.status_code in (400, 422) and "reason" in r.text


def test_an_assignment_that_arrives_before_the_ticket_is_kept_for_its_visit(runner_factory, dispatch_config, rpc_as):
    """ticket.outlet_assigned and ticket.registered travel on queues of their own, so dispatch may
    hear of the assignment first: it is kept for the ticket and the visit opened later takes it."""
    from nameko.standalone.events import event_dispatcher

    from services.dispatch.service import DispatchService
    from shared import clock, tenancy

    runner = runner_factory(dict(dispatch_config, DISPATCH_BATCH_SECONDS=3600), DispatchService)
    runner.start()
    now = clock.now()
    publish = event_dispatcher(dispatch_config)
    ticket = {"tenant_id": "C01", "ticket_id": "t-early-assign", "number": "C01-EARLY-1"}
    publish("intake", "ticket.outlet_assigned", dict(ticket, outlet_id=NEAR, at=now.isoformat(), by="wuhan-agent"))

    def kept():
        from services.dispatch.models import OutletAssignment

        db = next(d for d in next(iter(runner.containers)).dependencies if type(d).__name__ == "Database")
        with db.store.uow(tenancy.service_principal("dispatch-test")) as uow:
            row = uow.session.get(OutletAssignment, "t-early-assign")
            return row is not None and row.outlet_id

    assert wait_for(kept, what="the assignment kept without a visit") == NEAR
    registered = dict(
        ticket,
        kind="repair",
        channel="hotline",
        priority=3,
        received_at=now.isoformat(),
        warranty="warranty",
        product_line="数控车床",
        tier="local",
        city="荆州市",
        lat=30.35,
        lon=112.19,
        geo_ambiguous=False,
        onsite_due=(now + timedelta(hours=24)).isoformat(),
    )
    publish("intake", "ticket.registered", registered)

    def visit():
        with rpc_as(C01, "dispatch") as dispatch:
            items = dispatch.board({"ticket_id": "t-early-assign"})["items"]
        return items[0] if items else None

    assert wait_for(visit, what="the visit opened")["required_outlet_id"] == NEAR
