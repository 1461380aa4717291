"""Receipts booked by hand at the warehouse's desk (``POST /api/v1/parts/scans``, parts'
`book_receipt`): the scanner's message typed in, booked as the scanner's is. New stock goes on the
shelf; an old part comes in against its RMA, and a quantity other than the outlet booked shows in
the month's reconciliation with the outlet it concerns. What the scanner's would leave rejected is
refused naming the field and changes nothing; another warehouse's location is refused."""

from __future__ import annotations

from services.parts.domain import month_of
from shared.tenancy import Principal
from tests.conftest import C01
from tests.openapi_check import AnswerCheck
from tests.parts_fixtures import (  # noqa: F401
    SPINDLE,
    now,
    parts_config,
    parts_platform,
    publish,
    visit_event,
    wait_rpc,
)

P = "/api/v1/parts"
WH_C01 = Principal("wh-c01", "warehouse", tenant="C01", warehouse="WH-C01")


def on_hand(platform, location, part, condition="good"):
    r = platform.get(f"{P}/stock?location_id={location}&part_no={part}&condition={condition}", C01)
    assert r.status_code == 200, r.text
    return sum(s["on_hand"] for s in r.json()["items"])


def scans(platform):
    r = platform.get(f"{P}/scans", WH_C01)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_clerk_books_stock_and_an_old_part_by_hand(parts_platform, rpc_as):
    p = parts_platform
    documented = AnswerCheck(p.get("/openapi.json").json())  # every answer below as the document says
    before = on_hand(p, "WH-C01", SPINDLE)
    r = p.post(
        f"{P}/scans",
        WH_C01,
        json={"kind": "stock", "location_id": "WH-C01", "part_no": SPINDLE, "quantity": 2, "note": "补货"},
    )
    assert r.status_code == 201, r.text
    documented(r)
    booked = r.json()
    assert booked["outcome"] == "accepted" and booked["kind"] == "stock" and booked["scan_id"].startswith("HAND-")
    assert on_hand(p, "WH-C01", SPINDLE) == before + 2
    assert [s["scan_id"] for s in scans(p)["items"]] == [booked["scan_id"]]

    # what the scanner's would leave rejected: refused naming the field, nothing booked or kept
    for body, field in (
        ({"kind": "stock", "location_id": "WH-C01", "part_no": "NO-SUCH-PART", "quantity": 1}, "part_no"),
        ({"kind": "rma", "location_id": "WH-C01", "rma_no": "RMA-NONE"}, "rma_no"),
        ({"kind": "rma", "location_id": "WH-C01"}, "rma_no"),
        ({"kind": "stock", "location_id": "WH-C01", "part_no": SPINDLE, "quantity": 0}, "quantity"),
        ({"kind": "stock", "location_id": "WH-C01", "part_no": SPINDLE, "quantity": 2, "serials": ["A"]}, "serials"),
    ):
        r = p.post(f"{P}/scans", WH_C01, json=body)
        assert r.status_code == 422, (body, r.text)
        documented(r)
        assert field in r.json()["error"]["fields"], r.text
    # another warehouse's shelf is not the clerk's
    r = p.post(f"{P}/scans", WH_C01, json={"kind": "stock", "location_id": "WH-C02", "part_no": SPINDLE})
    assert r.status_code == 403, r.text
    assert on_hand(p, "WH-C01", SPINDLE) == before + 2 and scans(p)["total"] == 1
    r = p.get(f"{P}/receipts/rejected", WH_C01)
    assert r.status_code == 200 and r.json()["total"] == 0, r.text

    # an old part comes back: the outlet booked one, two arrive
    r = p.post(f"{P}/issues", C01, json={"outlet_id": "C01-O01", "lines": [{"part_no": SPINDLE, "quantity": 1}]})
    assert r.status_code == 201, r.text
    visit = "hand-receipt-visit"
    used = [{"part_no": SPINDLE, "quantity": 1, "new_serial": None, "removed_serial": "SPB-O-4242"}]
    publish(p.config, "dispatch", "visit.completed", visit_event(visit, "hand-ticket", parts_used=used))
    rma = wait_rpc(rpc_as, C01, "rmas", lambda r: r["total"] == 1, {"visit_id": visit})["items"][0]
    body = {"kind": "rma", "location_id": "WH-C01", "rma_no": rma["rma_no"], "quantity": 2, "serial": "SPB-O-4242"}
    r = p.post(f"{P}/scans", WH_C01, json=body)
    assert r.status_code == 201 and r.json()["detail"] == "warehouse", r.text
    r = p.get(f"{P}/rmas/{rma['rma_no']}", WH_C01)
    assert r.json()["status"] == "received_warehouse" and r.json()["warehouse_quantity"] == 2, r.text
    assert on_hand(p, "WH-C01", SPINDLE, "defective") == 2
    # the same return again is refused with its reason at the RMA's number
    r = p.post(f"{P}/scans", WH_C01, json=body)
    assert r.status_code == 422 and "rma_no" in r.json()["error"]["fields"], r.text

    r = p.post(f"{P}/reconciliations", WH_C01, json={"month": month_of(now())})
    assert r.status_code == 200, r.text
    documented(r)
    documented(p.get(f"{P}/reconciliations?month={month_of(now())}", WH_C01))
    documented(p.get(f"{P}/scans?kind=rma", WH_C01))
    report = r.json()["reports"][0]
    assert report["location_id"] == "WH-C01" and report["figures"]["received"] >= 2
    found = [d for d in report["discrepancies"] if d["ref"] == rma["rma_no"]]
    assert [(d["kind"], d["quantity"], d["outlet_id"]) for d in found] == [("quantity_mismatch", 1, "C01-O01")]
