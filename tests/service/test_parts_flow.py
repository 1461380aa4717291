"""Parts over the real broker: visit scheduled → reserved → issued → consumed → RMA → received at the
warehouse (scanner, plain AMQP) → received at the factory → reconciled with no discrepancy.
Dispatch and intake lie outside parts: their events are published here as they publish them."""

import uuid

from services.parts.client import ReceiptClient
from services.parts.domain import month_of
from tests.conftest import C01, HQ
from tests.parts_fixtures import (  # noqa: F401
    SPINDLE,
    collector,
    now,
    parts_config,
    parts_service,
    publish,
    ticket_registered,
    visit_event,
    wait_events,
    wait_rpc,
)


def test_visit_to_reconciled_without_discrepancy(parts_service, parts_config, rpc_as):
    amqp = parts_config["AMQP_URI"]
    received = collector(amqp, "parts.return_received")
    reconciled = collector(amqp, "parts.reconciled")
    ticket, visit = uuid.uuid4().hex, uuid.uuid4().hex
    publish(parts_config, "intake", "ticket.registered", ticket_registered(ticket))
    publish(parts_config, "dispatch", "visit.scheduled", visit_event(visit, ticket))

    # scheduled → reserved at the outlet's regional warehouse: what 主轴过热 on a CK6150 needs
    res = wait_rpc(rpc_as, C01, "reservations", lambda r: r["total"] >= 1, {"visit_id": visit})["items"]
    assert [(r["part_no"], r["quantity"], r["status"], r["warehouse_id"]) for r in res] == [
        (SPINDLE, 1, "reserved", "WH-C01")
    ]
    with rpc_as(C01, "parts") as parts:
        wh = parts.stock({"location_id": "WH-C01", "part_no": SPINDLE})["items"][0]
        assert (wh["on_hand"], wh["reserved"], wh["available"]) == (3, 1, 2)
        # 备件发放: the reserved unit goes to the outlet with its serial
        issued = parts.issue(
            {
                "outlet_id": "C01-O01",
                "lines": [
                    {"part_no": SPINDLE, "quantity": 1, "serials": ["SPB-N-0001"], "reservation_id": res[0]["id"]}
                ],
            }
        )
        assert issued["warehouse_id"] == "WH-C01"
        wh = parts.stock({"location_id": "WH-C01", "part_no": SPINDLE})["items"][0]
        assert (wh["on_hand"], wh["reserved"]) == (2, 0)
        outlet = parts.stock({"location_id": "C01-O01"})["items"]
        assert [(s["part_no"], s["on_hand"]) for s in outlet] == [(SPINDLE, 1)]

    # consumed at check-out: new serial in, old part out → an RMA with a due date
    publish(
        parts_config,
        "dispatch",
        "visit.completed",
        visit_event(
            visit,
            ticket,
            parts_used=[
                {"part_no": SPINDLE, "quantity": 1, "new_serial": "SPB-N-0001", "removed_serial": "SPB-O-7788"}
            ],
        ),
    )
    rma = wait_rpc(rpc_as, C01, "rmas", lambda r: r["total"] == 1, {"visit_id": visit})["items"][0]
    assert rma["status"] == "open" and rma["removed_serial"] == "SPB-O-7788" and rma["warehouse_id"] == "WH-C01"
    with rpc_as(C01, "parts") as parts:
        assert parts.reservations({"visit_id": visit})["items"][0]["status"] == "consumed"
        assert parts.stock({"location_id": "C01-O01", "condition": "good"})["items"] == []
        old = parts.stock({"location_id": "C01-O01", "condition": "defective"})["items"]
        assert [(s["part_no"], s["on_hand"]) for s in old] == [(SPINDLE, 1)]

    # the warehouse scanner receives the old part (the same scan twice counts once)
    with ReceiptClient(amqp) as scanner:
        scan = f"WH-C01-{uuid.uuid4().hex[:8]}"
        scanner.post({"scan_id": scan, "location_id": "WH-C01", "rma_no": rma["rma_no"], "serial": "SPB-O-7788"})
        scanner.post({"scan_id": scan, "location_id": "WH-C01", "rma_no": rma["rma_no"], "serial": "SPB-O-7788"})
    event = wait_events(received, rma_no=rma["rma_no"])[0]
    assert event["late"] is False and event["location_id"] == "WH-C01" and event["tenant_id"] == "C01"
    wait_rpc(rpc_as, C01, "get_rma", lambda r: r["status"] == "received_warehouse", rma["rma_no"])

    # the factory's returns desk receives it and records its inspection
    with ReceiptClient(amqp) as desk:
        desk.post(
            {
                "scan_id": f"F-{uuid.uuid4().hex[:8]}",
                "location_id": "FACTORY",
                "rma_no": rma["rma_no"],
                "serial": "SPB-O-7788",
                "inspection": "defect_confirmed",
                "note": "内圈磨损",
            }
        )
    done = wait_rpc(rpc_as, HQ, "get_rma", lambda r: r["status"] == "inspected", rma["rma_no"])
    assert done["inspection"] == "defect_confirmed" and done["factory_serial"] == "SPB-O-7788"
    assert [m["kind"] for m in done["movements"]] == ["return"] * 4  # two legs per step

    with rpc_as(HQ, "parts") as parts:
        assert parts.stock({"location_id": "WH-C01", "condition": "defective"})["items"] == []
        factory = parts.stock({"location_id": "FACTORY", "condition": "defective"})["items"]
        assert [(s["part_no"], s["on_hand"]) for s in factory] == [(SPINDLE, 1)]
        assert parts.recompute_balances()["mismatches"] == []
        assert parts.scan_status(scan)["outcome"] == "accepted"

    # reconciled: issued 1 = consumed 1 = returned 1, nothing on hand, no discrepancy
    month = month_of(now())
    with rpc_as(C01, "parts") as parts:
        out = parts.reconcile({"month": month, "location_id": "C01-O01"})
        report = out["reports"][0]
        assert report["discrepancies"] == [], report
        f = report["figures"]
        assert (f["issued"], f["consumed"], f["returned"], f["on_hand"], f["open_rmas"]) == (1, 1, 1, 0, 0)
        wh = parts.reconcile({"month": month, "location_id": "WH-C01"})["reports"][0]
        assert wh["discrepancies"] == [], wh
        assert (wh["figures"]["issued"], wh["figures"]["returned"], wh["figures"]["forwarded"]) == (1, 1, 1)
        assert wh["figures"]["received"] > 0  # the opening stock
    events = wait_events(reconciled, n=1, location_id="C01-O01")
    assert events[0]["discrepancies"] == 0 and events[0]["month"] == month
    wait_events(reconciled, n=1, location_id="WH-C01")
