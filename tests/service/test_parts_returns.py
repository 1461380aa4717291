"""Receipts from scanners and the returns desk (plain AMQP), overdue returns on the product clock,
and the answer to an account-clearing request — over the real broker."""

import json
from datetime import timedelta

import pytest
from kombu import Connection

from services.parts.client import ReceiptClient, ReceiptError
from tests.conftest import C01, HQ, wait_for
from tests.parts_fixtures import (  # noqa: F401
    WH_C01,
    WH_C02,
    collector,
    moved_clock,
    now,
    parts_config,
    parts_service,
    publish,
    wait_events,
    wait_rpc,
)
from tests.service.test_parts_discrepancies import run_visit


def test_unknown_rma_is_rejected_and_kept_for_review(parts_service, parts_config, rpc_as):
    with ReceiptClient(parts_config["AMQP_URI"]) as scanner:
        scan = scanner.post({"location_id": "WH-C01", "rma_no": "RMA-C01-250101-NOPE", "serial": "X-1"})
        scanner.post({"scan_id": scan, "location_id": "WH-C01", "rma_no": "RMA-C01-250101-NOPE"})  # again
    status = wait_rpc(rpc_as, HQ, "scan_status", lambda s: True, scan)
    assert status["outcome"] == "rejected" and status["detail"] == "unknown RMA RMA-C01-250101-NOPE"
    with rpc_as(WH_C01, "parts") as parts:  # the receiving warehouse sees it, with what was scanned
        kept = parts.rejected_receipts()
        assert kept["total"] == 1
        assert kept["items"][0]["payload"]["serial"] == "X-1"
        assert kept["items"][0]["reason"] == "unknown RMA RMA-C01-250101-NOPE"
    with rpc_as(WH_C02, "parts") as parts:  # another tenant's warehouse does not
        assert parts.rejected_receipts()["total"] == 0
    with rpc_as(C01, "parts") as parts:
        assert parts.stock({"location_id": "WH-C01", "condition": "defective"})["items"] == []
        done = parts.resolve_rejected(scan, {"resolution": "tag misread; RMA-C01-250101-NOPE is a typo"})
        assert done["resolution"].startswith("wuhan-agent:")
        assert parts.rejected_receipts()["total"] == 0
        assert parts.rejected_receipts({"unresolved": False})["total"] == 1


def test_factory_before_warehouse_is_rejected(parts_service, parts_config, rpc_as):
    rma = run_visit(parts_config, rpc_as, receipt=None)
    with ReceiptClient(parts_config["AMQP_URI"]) as desk:
        scan = desk.post({"location_id": "FACTORY", "rma_no": rma["rma_no"]})
    status = wait_rpc(rpc_as, HQ, "scan_status", lambda s: True, scan)
    assert status["outcome"] == "rejected" and "not yet received at a warehouse" in status["detail"]
    with rpc_as(HQ, "parts") as parts:
        assert parts.get_rma(rma["rma_no"])["status"] == "open"


def test_duplicate_stock_scan_counts_once_and_malformed_scan_is_dead_lettered(parts_service, parts_config, rpc_as):
    amqp = parts_config["AMQP_URI"]
    with rpc_as(HQ, "parts") as parts:
        before = parts.stock({"location_id": "WH-C02", "part_no": "LGA-AF-01"})["items"][0]["on_hand"]
    with ReceiptClient(amqp) as scanner:
        body = {
            "scan_id": "WH-C02-IN-0001",
            "kind": "stock",
            "location_id": "WH-C02",
            "part_no": "LGA-AF-01",
            "quantity": 5,
            "note": "到货入库",
        }
        scanner.post(body)
        scanner.post(body)
        scanner.post({"scan_id": "WH-C02-IN-BAD", "kind": "stock", "location_id": "WH-C02", "quantity": -3})
    wait_rpc(rpc_as, HQ, "scan_status", lambda s: s["outcome"] == "accepted", "WH-C02-IN-0001")

    def dead():
        with Connection(amqp) as conn:
            msg = conn.channel().basic_get("parts.dead-letter", no_ack=True)
            return json.loads(msg.body) if msg else None

    assert wait_for(dead)["scan_id"] == "WH-C02-IN-BAD"  # kept in the dead-letter queue, not lost
    with rpc_as(WH_C02, "parts") as parts:
        after = parts.stock({"location_id": "WH-C02", "part_no": "LGA-AF-01"})["items"][0]["on_hand"]
        moves = parts.movements({"location_id": "WH-C02", "kind": "receipt", "part_no": "LGA-AF-01"})
    assert after == before + 5
    assert [m["quantity"] for m in moves["items"] if m["ref"] == "WH-C02-IN-0001"] == [5]


def test_receipt_without_parts_running_is_refused(rabbit_config):
    with ReceiptClient(rabbit_config["AMQP_URI"]) as scanner:
        with pytest.raises(ReceiptError) as info:
            scanner.post({"scan_id": "S-1", "location_id": "WH-C01", "rma_no": "RMA-X"})
    assert "not routable" in str(info.value) and "parts service" in str(info.value)


def test_cli_post_receipt_reports_the_verdict(parts_service, parts_config, capsys):
    from fsm.main import main

    code = main(
        [
            "--amqp-uri",
            parts_config["AMQP_URI"],
            "parts",
            "post-receipt",
            "--location",
            "WH-C01",
            "--rma",
            "RMA-C01-000000-NONE",
            "--serial",
            "Q-1",
            "--wait",
            "10",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "unknown RMA RMA-C01-000000-NONE" in err and "kept for review" in err
    assert json.loads(out.splitlines()[-1])["outcome"] == "rejected"


def test_overdue_return_is_published_and_a_late_receipt_flagged(parts_service, parts_config, rpc_as, moved_clock):
    overdue = collector(parts_config["AMQP_URI"], "parts.return_overdue")
    received = collector(parts_config["AMQP_URI"], "parts.return_received")
    rma = run_visit(parts_config, rpc_as, receipt=None)
    with rpc_as(HQ, "parts") as parts:
        assert parts.run_overdue_check() == {"overdue": 0}
        moved_clock.advance(timedelta(days=29))
        assert parts.run_overdue_check() == {"overdue": 0}
        moved_clock.advance(timedelta(days=4))  # past the 30 days (and the next working day)
        assert parts.run_overdue_check() == {"overdue": 1}
        assert parts.run_overdue_check() == {"overdue": 0}  # published once
        listed = parts.rmas({"overdue": True})["items"]
        assert [r["rma_no"] for r in listed] == [rma["rma_no"]] and listed[0]["ageing"] == "31-60"
        ageing = parts.rma_ageing()
        assert ageing[0]["outlet_id"] == "C01-O01" and ageing[0]["buckets"]["31-60"] == 1
    event = wait_events(overdue, rma_no=rma["rma_no"])[0]
    assert event["outlet_id"] == "C01-O01" and event["unit_cost"] == "3150.00" and event["tenant_id"] == "C01"
    with ReceiptClient(parts_config["AMQP_URI"]) as scanner:
        scanner.post({"location_id": "WH-C01", "rma_no": rma["rma_no"], "serial": "SPB-O-1"})
    assert wait_events(received, rma_no=rma["rma_no"])[0]["late"] is True


def test_clearing_request_is_answered_with_open_items(parts_service, parts_config, rpc_as):
    balances = collector(parts_config["AMQP_URI"], "parts.outlet_balance")
    run_visit(parts_config, rpc_as, receipt=None)  # an open RMA at C01-O01
    with rpc_as(C01, "parts") as parts:
        parts.issue({"outlet_id": "C01-O01", "lines": [{"part_no": "CKL-FAN-01", "quantity": 2}]})
        parts.request_parts({"outlet_id": "C01-O01", "lines": [{"part_no": "CKL-ENC-01", "quantity": 1}]})
    for outlet, request in (("C01-O01", "REQ-1"), ("C01-O03", "REQ-2")):
        publish(
            parts_config,
            "certification",
            "account.clearing_requested",
            {"tenant_id": "C01", "outlet_id": outlet, "request_id": request, "at": now()},
        )
    busy = wait_events(balances, request_id="REQ-1")[0]
    items = {(i["kind"], i["ref"]): i for i in busy["open_items"]}
    assert items[("stock", "CKL-FAN-01")]["amount"] == "170.00"
    assert [k for k in items if k[0] == "rma"] and [k for k in items if k[0] == "reservation"]
    assert wait_events(balances, request_id="REQ-2")[0]["open_items"] == []
    with rpc_as(C01, "parts") as parts:
        assert parts.outlet_balance("C01-O03") == {"outlet_id": "C01-O03", "open_items": [], "clear": True}
