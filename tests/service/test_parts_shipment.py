"""寄回 through the gateway: the outlet holding an old part records the waybill it sent the part
under (POST /parts/rmas/<no>/shipment); once, while the return is open; another outlet does not
reach it; bad input names the field and changes nothing; the warehouse's scan still receives it."""

import uuid

from services.parts.client import ReceiptClient
from tests.conftest import C01, HQ
from tests.parts_fixtures import (  # noqa: F401
    OUTLET_1,
    OUTLET_2,
    SPINDLE,
    WH_C01,
    parts_config,
    parts_platform,
    publish,
    ticket_registered,
    visit_event,
    wait_rpc,
)

P = "/api/v1/parts"


def test_an_outlet_ships_its_old_part_once_and_the_warehouse_receives_it(parts_platform, parts_config, rpc_as):
    p = parts_platform
    ticket, visit = uuid.uuid4().hex, uuid.uuid4().hex
    publish(parts_config, "intake", "ticket.registered", ticket_registered(ticket))
    publish(
        parts_config,
        "dispatch",
        "visit.completed",
        visit_event(visit, ticket, parts_used=[{"part_no": SPINDLE, "quantity": 1, "removed_serial": "OLD-7"}]),
    )
    rma = wait_rpc(rpc_as, C01, "rmas", lambda r: r["total"] == 1, {"visit_id": visit})["items"][0]
    assert rma["shipped_at"] is None and rma["waybill_no"] is None
    ship = f"{P}/rmas/{rma['rma_no']}/shipment"

    # bad input: the field is named, nothing is recorded
    for body, field in (({}, "waybill_no"), ({"waybill_no": ""}, "waybill_no"), ({"waybill_no": "x", "y": 1}, "y")):
        r = p.post(ship, OUTLET_1, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], r.text
    # another outlet does not see it; a warehouse may not say the outlet shipped
    assert p.post(ship, OUTLET_2, json={"waybill_no": "SF1"}).status_code == 404
    assert p.post(ship, WH_C01, json={"waybill_no": "SF1"}).status_code == 403
    assert p.get(f"{P}/rmas/{rma['rma_no']}", C01).json()["shipped_at"] is None

    r = p.post(ship, OUTLET_1, json={"waybill_no": "SF1234567890", "carrier": "顺丰"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["waybill_no"], out["carrier"], out["status"]) == ("SF1234567890", "顺丰", "open")
    assert out["shipped_at"] and out["shipped_by"] == OUTLET_1.user
    # once
    r = p.post(ship, OUTLET_1, json={"waybill_no": "SF999"})
    assert r.status_code == 409 and "waybill_no" in r.json()["error"]["fields"], r.text
    assert p.get(f"{P}/rmas/{rma['rma_no']}", HQ).json()["waybill_no"] == "SF1234567890"

    # the warehouse's scan receives it as before; a received return is not shipped again
    with ReceiptClient(parts_config["AMQP_URI"]) as scanner:
        scanner.post({"location_id": "WH-C01", "rma_no": rma["rma_no"], "serial": "OLD-7"})
    wait_rpc(rpc_as, C01, "get_rma", lambda x: x["status"] == "received_warehouse", rma["rma_no"])
    r = p.post(ship, C01, json={"waybill_no": "SF2"})
    assert r.status_code == 409 and "rma_no" in r.json()["error"]["fields"], r.text
