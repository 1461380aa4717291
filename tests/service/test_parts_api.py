"""Parts through the gateway by role: a warehouse sees its own stock and returns, an outlet its
stock, requests and RMAs, a center its tenant, HQ all; bad input names the field; exports."""

import io
import uuid

from openpyxl import load_workbook

from services.parts.client import ReceiptClient
from services.parts.domain import month_of
from tests.conftest import C01, C02, HQ
from tests.parts_fixtures import (  # noqa
    CUSTOMER,
    OUTLET_1,
    OUTLET_2,
    OUTLET_C02,
    SPINDLE,
    WH_C01,
    WH_C02,
    WH_HQ,
    now,
    parts_config,
    parts_platform,
    publish,
    ticket_registered,
    visit_event,
    wait_rpc,
)

P = "/api/v1/parts"


def locations(platform, principal, **params):
    r = platform.get(f"{P}/stock", principal, params=dict(params, limit=5000))
    assert r.status_code == 200, r.text
    return {i["location_id"] for i in r.json()["items"]}


def test_stock_by_role(parts_platform):
    p = parts_platform
    r = p.post(f"{P}/issues", C01, json={"outlet_id": "C01-O01", "lines": [{"part_no": "CKL-FAN-01", "quantity": 3}]})
    assert r.status_code == 201, r.text
    assert locations(p, WH_C01) == {"WH-C01"}
    assert locations(p, WH_C01, location_id="WH-C02") == set()
    assert locations(p, WH_HQ) == {"WH-HQ"}
    assert locations(p, OUTLET_1) == {"C01-O01"}
    assert locations(p, OUTLET_2) == set()
    assert locations(p, C01) == {"WH-C01", "C01-O01"}
    assert locations(p, C02) == {"WH-C02"}
    assert locations(p, HQ) == {"WH-HQ", "WH-C01", "WH-C02", "WH-C03", "WH-C04", "WH-C05", "WH-C06", "C01-O01"}
    assert p.get(f"{P}/stock", CUSTOMER).status_code == 403
    assert {l["id"] for l in p.get(f"{P}/locations", WH_C01).json()} == {"WH-C01"}
    assert len([l for l in p.get(f"{P}/locations", C01).json() if l["kind"] == "outlet"]) == 7
    moves = p.get(f"{P}/movements", OUTLET_1, params={"kind": "issue"}).json()["items"]
    assert [(m["location_id"], m["quantity"]) for m in moves] == [("C01-O01", 3)]


def test_who_may_request_and_issue(parts_platform):
    p = parts_platform
    line = {"part_no": "CKL-ENC-01", "quantity": 1}
    r = p.post(f"{P}/reservations", OUTLET_1, json={"outlet_id": "C01-O01", "lines": [line]})
    assert r.status_code == 201 and r.json()[0]["status"] == "reserved", r.text
    res_id = r.json()[0]["id"]
    assert p.post(f"{P}/reservations", OUTLET_1, json={"outlet_id": "C01-O02", "lines": [line]}).status_code == 403
    assert p.post(f"{P}/reservations", C02, json={"outlet_id": "C01-O02", "lines": [line]}).status_code == 403
    # an outlet sees its own requests only
    assert [x["id"] for x in p.get(f"{P}/reservations", OUTLET_1).json()["items"]] == [res_id]
    assert p.get(f"{P}/reservations", OUTLET_2).json()["items"] == []
    assert p.get(f"{P}/reservations", C02).json()["items"] == []
    issue = {"outlet_id": "C01-O01", "lines": [dict(line, reservation_id=res_id, serials=["ENC-1"])]}
    assert p.post(f"{P}/issues", OUTLET_1, json=issue).status_code == 403
    assert p.post(f"{P}/issues", WH_C02, json=dict(issue, warehouse_id="WH-C01")).status_code == 403
    assert p.post(f"{P}/issues", C02, json=issue).status_code == 403
    r = p.post(f"{P}/issues", WH_C01, json=issue)
    assert r.status_code == 201, r.text
    again = p.post(f"{P}/issues", WH_C01, json=issue)
    assert again.status_code == 409 and again.json()["error"]["fields"] == {"reservation_id": ["already issued"]}


def test_bad_input_names_the_field_and_changes_nothing(parts_platform):
    p = parts_platform
    before = p.get(f"{P}/stock", C01, params={"location_id": "WH-C01", "part_no": SPINDLE}).json()["items"][0]
    cases = [
        ({"outlet_id": "C01-O01", "lines": [{"part_no": SPINDLE, "quantity": 0}]}, 422, "lines"),
        ({"outlet_id": "C01-O01", "lines": [{"part_no": "NOPE-1", "quantity": 1}]}, 422, "part_no"),
        ({"outlet_id": "C01-O01", "lines": [{"part_no": SPINDLE, "quantity": 2, "serials": ["A"]}]}, 422, "serials"),
        ({"outlet_id": "C01-O01", "lines": [{"part_no": SPINDLE, "quantity": 99}]}, 409, "quantity"),
        ({"outlet_id": "C09-O01", "lines": [{"part_no": SPINDLE}]}, 404, "outlet_id"),
        ({"lines": [{"part_no": SPINDLE}]}, 422, "outlet_id"),
    ]
    for body, status, field in cases:
        r = p.post(f"{P}/issues", C01, json=body)
        assert r.status_code == status, (body, r.text)
        assert field in r.json()["error"].get("fields", {}), (body, r.text)
    r = p.post(
        f"{P}/adjustments", C01, json={"location_id": "WH-C01", "part_no": SPINDLE, "quantity": -1, "reason": " "}
    )
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = p.post(
        f"{P}/adjustments", C01, json={"location_id": "WH-C01", "part_no": SPINDLE, "quantity": -50, "reason": "盘亏"}
    )
    assert r.status_code == 409 and "quantity" in r.json()["error"]["fields"]  # never below zero
    r = p.request("POST", f"{P}/issues", C01, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert p.get(f"{P}/reconciliations", C01, params={"month": "2025-13"}).status_code == 422
    after = p.get(f"{P}/stock", C01, params={"location_id": "WH-C01", "part_no": SPINDLE}).json()["items"][0]
    assert after == before


def test_returns_by_role_rejected_receipts_and_exports(parts_platform, parts_config, rpc_as):
    p = parts_platform
    ticket, visit = uuid.uuid4().hex, uuid.uuid4().hex
    publish(parts_config, "intake", "ticket.registered", ticket_registered(ticket))
    publish(parts_config, "dispatch", "visit.scheduled", visit_event(visit, ticket))
    wait_rpc(rpc_as, C01, "reservations", lambda r: r["total"] >= 1, {"visit_id": visit})
    publish(
        parts_config,
        "dispatch",
        "visit.completed",
        visit_event(
            visit,
            ticket,
            parts_used=[{"part_no": SPINDLE, "quantity": 1, "new_serial": None, "removed_serial": "OLD-1"}],
        ),
    )
    rma = wait_rpc(rpc_as, C01, "rmas", lambda r: r["total"] == 1, {"visit_id": visit})["items"][0]["rma_no"]
    for who, code in (
        (OUTLET_1, 200),
        (WH_C01, 200),
        (C01, 200),
        (HQ, 200),
        (OUTLET_2, 404),
        (OUTLET_C02, 404),
        (WH_C02, 404),
        (C02, 404),
        (CUSTOMER, 403),
    ):
        assert p.get(f"{P}/rmas/{rma}", who).status_code == code, who
    assert p.get(f"{P}/rmas", WH_C02).json()["items"] == []
    assert [r["rma_no"] for r in p.get(f"{P}/rmas", OUTLET_1).json()["items"]] == [rma]

    with ReceiptClient(parts_config["AMQP_URI"]) as scanner:
        bad = scanner.post({"location_id": "WH-C01", "rma_no": "RMA-C01-999999-XXXXXX"})
    wait_rpc(rpc_as, HQ, "scan_status", lambda s: True, bad)
    kept = p.get(f"{P}/receipts/rejected", WH_C01).json()["items"]
    assert [(k["scan_id"], k["reason"]) for k in kept] == [(bad, "unknown RMA RMA-C01-999999-XXXXXX")]
    assert p.get(f"{P}/receipts/rejected", WH_C02).json()["items"] == []
    assert p.get(f"{P}/receipts/rejected", OUTLET_1).status_code == 403

    month = month_of(now())
    assert p.post(f"{P}/reconciliations", OUTLET_1, json={"month": month}).status_code == 403
    r = p.post(f"{P}/reconciliations", C01, json={"month": month})
    assert r.status_code == 200, r.text
    assert r.json()["locations"] == 8  # WH-C01 and the 7 outlets of C01
    assert r.json()["with_discrepancies"] == 2  # C01-O01 and WH-C01 wait for the old part
    mine = p.get(f"{P}/reconciliations", OUTLET_1, params={"month": month}).json()["items"]
    # used without having been issued (no stock at the outlet) and not returned yet
    assert [(m["location_id"], sorted(d["kind"] for d in m["discrepancies"])) for m in mine] == [
        ("C01-O01", ["consumed_not_returned", "quantity_mismatch"])
    ]
    assert p.get(f"{P}/reconciliations", C02, params={"month": month}).json()["items"] == []
    csv_text = p.get(f"{P}/reconciliations.csv", C01, params={"month": month, "with_discrepancies": "true"}).text
    assert "consumed_not_returned" in csv_text and rma in csv_text
    x = p.get(f"{P}/reconciliations.xlsx", C01, params={"month": month})
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["summary", "discrepancies"]
    assert wb["summary"].max_row == 9
    assert {row[2].value for row in wb["discrepancies"].iter_rows(min_row=2)} == {
        "consumed_not_returned",
        "quantity_mismatch",
    }
    bal = p.get(f"{P}/outlets/C01-O01/balance", OUTLET_1).json()
    assert [i["kind"] for i in bal["open_items"]] == ["rma"] and bal["clear"] is False
    assert p.get(f"{P}/outlets/C01-O01/balance", OUTLET_2).status_code == 404
