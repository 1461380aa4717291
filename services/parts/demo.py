"""The parts part of `fsm demo`: stock at a regional warehouse, a scheduled visit's reservation
issued to its outlet (备件发放), the visit checked out with the part used, the RMA for the old
part, its receipt at the warehouse from a scanner (plain AMQP), and the month's reconciliation."""

from __future__ import annotations

import time
import uuid

from shared.tenancy import Principal

PARTS_API = "/api/v1/parts"


def _wait(fn, timeout=8.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    return None


def _scheduled_reservation(ctx, hq):
    """A reservation parts made for a visit dispatch scheduled (and that is still scheduled)."""
    status, body = ctx.gateway.call("GET", f"{PARTS_API}/reservations", hq, params={"status": "reserved", "limit": 200})
    if status != 200:
        return None
    for res in body["items"]:
        if res["source"] != "visit" or not res["visit_id"]:
            continue
        code, visit = ctx.gateway.call("GET", f"/api/v1/visits/{res['visit_id']}", hq)
        if code == 200 and visit["status"] == "scheduled" and visit.get("outlet_id") == res["outlet_id"]:
            return res
    return None


def run(ctx):
    from services.parts.client import ReceiptClient
    from services.parts.domain import month_of
    from shared.clock import now

    lines, ok = [], True
    gw = ctx.gateway
    hq = Principal("fsm-demo", "hq")
    keeper = Principal("wh-keeper", "warehouse", tenant="C01", warehouse="WH-C01")

    status, body = gw.call("GET", f"{PARTS_API}/stock", keeper, params={"location_id": "WH-C01", "limit": 500})
    if status != 200:
        return [f"  stock check failed: HTTP {status} {body}"], False
    units = sum(i["on_hand"] for i in body["items"])
    value = sum(float(i["value"]) for i in body["items"])
    lines.append(f"  stock WH-C01 (warehouse keeper): {body['total']} parts, {units} units, ¥{value:,.2f}")

    res = _scheduled_reservation(ctx, hq) if "dispatch" in ctx.names else None
    if res is None:
        lines.append("  (no scheduled visit with a reservation: requesting and issuing directly)")
        center = Principal("demo-agent", "center", tenant="C01")
        status, made = gw.call(
            "POST",
            f"{PARTS_API}/reservations",
            center,
            json={"outlet_id": "C01-O01", "lines": [{"part_no": "CKL-ENC-01", "quantity": 1}]},
        )
        if status != 201:
            return lines + [f"  request failed: HTTP {status} {made}"], False
        res = made[0]
    tenant = res["tenant_id"]
    ctx.notes["parts"] = {"tenant": tenant}  # the gateway's warehouse account keeps this warehouse
    center = Principal("demo-agent", "center", tenant=tenant)
    outlet = Principal("demo-outlet", "outlet", tenant=tenant, outlet=res["outlet_id"])
    new_serial = f"SN-{uuid.uuid4().hex[:8].upper()}"
    status, issued = gw.call(
        "POST",
        f"{PARTS_API}/issues",
        center,
        json={
            "outlet_id": res["outlet_id"],
            "lines": [
                {
                    "part_no": res["part_no"],
                    "quantity": res["quantity"],
                    "reservation_id": res["id"],
                    "serials": [new_serial] if res["quantity"] == 1 else [],
                }
            ],
        },
    )
    if status != 201:
        return lines + [f"  issue failed: HTTP {status} {issued}"], False
    lines.append(
        f"  reserved {res['part_no']} ×{res['quantity']} at {res['warehouse_id']} for "
        f"{'visit ' + res['visit_id'][:8] if res['visit_id'] else 'a request'}; issued to "
        f"{res['outlet_id']} ({issued['movement_no']}, serial {new_serial})"
    )
    if not res["visit_id"]:
        return lines, ok

    site = ctx.directory.outlets.get(res["outlet_id"])
    lat, lon = (site.lat, site.lon) if site else (30.6, 114.3)
    visit_path = f"/api/v1/visits/{res['visit_id']}"
    code, body = gw.call("POST", f"{visit_path}/check-in", outlet, json={"lat": lat, "lon": lon})
    if code == 200:
        removed = f"OLD-{uuid.uuid4().hex[:6].upper()}"
        code, body = gw.call(
            "POST",
            f"{visit_path}/check-out",
            outlet,
            json={
                "work_done": "更换配件",
                "customer_confirmed": True,
                "parts_used": [
                    {
                        "part_no": res["part_no"],
                        "quantity": res["quantity"],
                        "new_serial": new_serial,
                        "removed_serial": removed,
                    }
                ],
            },
        )
    if code != 200:
        return lines + [f"  check-in/out failed: HTTP {code} {body}"], False

    def rma():
        s, b = gw.call("GET", f"{PARTS_API}/rmas", outlet, params={"visit_id": res["visit_id"]})
        return b["items"][0] if s == 200 and b["items"] else None

    found = _wait(rma)
    if found is None:
        returnable = False
        lines.append(f"  visit checked out; {res['part_no']} is not returnable (no RMA)")
    else:
        returnable = True
        lines.append(
            f"  visit checked out: {found['rma_no']} for old part {found['removed_serial']}, due {found['due_at'][:10]}"
        )
        with ReceiptClient(ctx.config["AMQP_URI"]) as scanner:
            scan = scanner.post(
                {
                    "location_id": found["warehouse_id"],
                    "rma_no": found["rma_no"],
                    "serial": found["removed_serial"],
                    "scanned_by": "demo-scanner",
                }
            )

        def received():
            s, b = gw.call("GET", f"{PARTS_API}/rmas/{found['rma_no']}", hq)
            return b if s == 200 and b["status"] == "received_warehouse" else None

        got = _wait(received)
        if got is None:
            ok = False
            lines.append(f"  scan {scan} not applied in time")
        else:
            lines.append(
                f"  scanner receipt at {got['warehouse_location_id']} (AMQP, scan {scan[:8]}): "
                f"received, late={got['late']}"
            )
    status, rec = gw.call(
        "POST", f"{PARTS_API}/reconciliations", center, json={"month": month_of(now()), "location_id": res["outlet_id"]}
    )
    if status != 200:
        return lines + [f"  reconciliation failed: HTTP {status} {rec}"], False
    report = rec["reports"][0]
    f = report["figures"]
    lines.append(
        f"  reconciliation {rec['month']} {res['outlet_id']}: issued {f['issued']}, consumed "
        f"{f['consumed']}, returned {f['returned']}, on hand {f['on_hand']}; discrepancies "
        f"{report['discrepancy_count']} {report['by_kind'] or ''}".rstrip()
    )
    if returnable and report["by_kind"].get("consumed_not_returned"):
        ok = False
    # the month's reconciliation as the center downloads it, kept in the run folder
    resp = gw.http.get(
        f"{gw.base_url}{PARTS_API}/reconciliations.xlsx",
        params={"month": rec["month"]},
        headers={"Authorization": f"Bearer {gw.token(center)}"},
        timeout=30,
    )
    if resp.status_code == 200:
        path = ctx.run_folder("documents") / f"parts-reconciliation-{tenant}-{rec['month']}.xlsx"
        path.write_bytes(resp.content)
        ctx.record_document(path, f"parts reconciliation of {tenant} for {rec['month']}, XLSX")
    else:
        ok = False
        lines.append(f"  reconciliation XLSX -> HTTP {resp.status_code}")
    return lines, ok
