"""Each reconciliation discrepancy kind, detected in its own test over the real broker: consumed but
not returned, returned but never issued, serial mismatch, quantity mismatch."""

import uuid

from services.parts.client import ReceiptClient
from services.parts.domain import month_of
from tests.conftest import C01
from tests.parts_fixtures import (  # noqa: F401
    SPINDLE,
    now,
    parts_config,
    parts_service,
    publish,
    ticket_registered,
    visit_event,
    wait_rpc,
)


def run_visit(config, rpc_as, *, issue=True, new_serial="SPB-N-1", removed_serial="SPB-O-1", receipt=None):
    """A CK6150 spindle job at C01-O01 up to the warehouse receipt (`receipt`: serial/quantity scanned,
    None = the old part never comes back). Returns the RMA as it ends."""
    ticket, visit = uuid.uuid4().hex, uuid.uuid4().hex
    publish(config, "intake", "ticket.registered", ticket_registered(ticket))
    publish(config, "dispatch", "visit.scheduled", visit_event(visit, ticket))
    res = wait_rpc(rpc_as, C01, "reservations", lambda r: r["total"] >= 1, {"visit_id": visit})["items"][0]
    with rpc_as(C01, "parts") as parts:
        if issue:
            parts.issue(
                {
                    "outlet_id": "C01-O01",
                    "lines": [
                        {"part_no": SPINDLE, "quantity": 1, "serials": [new_serial], "reservation_id": res["id"]}
                    ],
                }
            )
        else:  # the outlet's unit came from somewhere else: booked in at a stock count
            parts.adjust(
                {
                    "location_id": "C01-O01",
                    "part_no": SPINDLE,
                    "quantity": 1,
                    "reason": "盘点: unit found in the outlet's store",
                }
            )
    publish(
        config,
        "dispatch",
        "visit.completed",
        visit_event(
            visit,
            ticket,
            parts_used=[
                {
                    "part_no": SPINDLE,
                    "quantity": 1,
                    "new_serial": new_serial if issue else None,
                    "removed_serial": removed_serial,
                }
            ],
        ),
    )
    rma = wait_rpc(rpc_as, C01, "rmas", lambda r: r["total"] == 1, {"visit_id": visit})["items"][0]
    if receipt is not None:
        with ReceiptClient(config["AMQP_URI"]) as scanner:
            scanner.post(dict({"location_id": "WH-C01", "rma_no": rma["rma_no"]}, **receipt))
        rma = wait_rpc(rpc_as, C01, "get_rma", lambda r: r["status"] == "received_warehouse", rma["rma_no"])
    return rma


def reconcile(rpc_as, location):
    with rpc_as(C01, "parts") as parts:
        return parts.reconcile({"month": month_of(now()), "location_id": location})["reports"][0]


def kinds(report):
    return sorted({d["kind"] for d in report["discrepancies"]})


def test_consumed_but_not_returned(parts_service, parts_config, rpc_as):
    rma = run_visit(parts_config, rpc_as, receipt=None)
    outlet = reconcile(rpc_as, "C01-O01")
    assert kinds(outlet) == ["consumed_not_returned"]
    d = outlet["discrepancies"][0]
    assert (d["part_no"], d["quantity"], d["ref"]) == (SPINDLE, 1, rma["rma_no"])
    assert outlet["figures"]["open_rmas"] == 1 and outlet["figures"]["defective_on_hand"] == 1
    assert kinds(reconcile(rpc_as, "WH-C01")) == ["consumed_not_returned"]  # the warehouse waits for it too


def test_returned_but_never_issued(parts_service, parts_config, rpc_as):
    run_visit(parts_config, rpc_as, issue=False, receipt={"serial": "SPB-O-1"})
    outlet = reconcile(rpc_as, "C01-O01")
    assert kinds(outlet) == ["returned_not_issued"]
    assert outlet["discrepancies"][0]["quantity"] == 1
    f = outlet["figures"]
    assert (f["issued"], f["consumed"], f["returned"], f["adjusted"]) == (0, 1, 1, 1)


def test_serial_mismatch(parts_service, parts_config, rpc_as):
    rma = run_visit(parts_config, rpc_as, removed_serial="SPB-O-1", receipt={"serial": "SPB-O-9"})
    outlet = reconcile(rpc_as, "C01-O01")
    assert kinds(outlet) == ["serial_mismatch"]
    assert "SPB-O-1" in outlet["discrepancies"][0]["detail"] and "SPB-O-9" in outlet["discrepancies"][0]["detail"]
    assert outlet["discrepancies"][0]["ref"] == rma["rma_no"]
    assert kinds(reconcile(rpc_as, "WH-C01")) == ["serial_mismatch"]


def test_quantity_mismatch(parts_service, parts_config, rpc_as):
    run_visit(parts_config, rpc_as, receipt={"serial": "SPB-O-1", "quantity": 2})
    outlet = reconcile(rpc_as, "C01-O01")
    assert kinds(outlet) == ["quantity_mismatch"]
    assert outlet["discrepancies"][0]["quantity"] == 1
    wh = reconcile(rpc_as, "WH-C01")
    assert kinds(wh) == ["quantity_mismatch"]
    with rpc_as(C01, "parts") as parts:  # both units were taken in, the ledger still adds up
        assert parts.recompute_balances("WH-C01")["mismatches"] == []
