"""All seven services in one runner on the real broker: a repair ticket from registration to a
monthly statement, a negative callback and its closing, an old part back through the scanner
client, and the revocation of another outlet with its account clearing.

Everything is driven through the gateway where an endpoint exists (RPC only for the parts
overdue check, which has no route); every assertion reads state back through the API or RPC, and
every answer is checked against the published OpenAPI document (tests/openapi_check.py).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from shared.tenancy import Principal
from tests.conftest import C01, HQ, Platform, wait_for
from tests.openapi_check import AnswerCheck

REPO = Path(__file__).resolve().parents[2]
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
API = "/api/v1"

C01_LEAD = Principal("e2e-c01-tech-lead", "center", tenant="C01", duty="technical_lead")
HQ_AUDITOR = Principal("e2e-hq-auditor", "hq")
HEAD = Principal("e2e-hq-service-head", "hq", duty="service_head")
WAREHOUSE = Principal("e2e-wh-wuhan", "warehouse", tenant="C01", warehouse="WH-C01")

OUTLET = "C01-O01"  # franchised, grade A, 襄阳: does the repair
REVOKED = "C01-O03"  # franchised, grade B, 荆州: gets revoked
O1 = Principal("e2e-o1-clerk", "outlet", tenant="C01", outlet=OUTLET)

SPINDLE = "CKL-SPB-6150"  # what 主轴过热 on a CK6150 needs (returnable)
PURCHASED = "2026-03-01"  # within the 1-year warranty of 数控车床

REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "襄阳精工机械有限公司",
    "phone": "13907101234",
    "address": "湖北省襄阳市樊城区人民路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "serial_no": "CK615026E2E01",
    "purchase_date": PURCHASED,
    "fault": "主轴过热",
}
SECOND = dict(
    REPAIR,
    customer_name="荆州华力机床厂",
    phone="13907161234",
    address="湖北省荆州市荆州区北京路1号",
    serial_no="CK615026E2E02",
    fault="主轴过热,运行异响",
)


@pytest.fixture
def platform7(runner_factory, dispatch_config):
    """All seven services; timers that would act on their own are slowed down (the test acts)."""
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    config = dict(
        dispatch_config,
        DISPATCH_BATCH_SECONDS=3600,
        DISPATCH_REOPT_SECONDS=3600,
        CERTIFICATION_CHECK_SECONDS=3600,
        PARTS_OVERDUE_CHECK_SECONDS=3600,
        QA_AUTO_MONTHLY="false",
        QA_SAMPLE_SEED="e2e-seed",
        max_workers=6,
    )
    runner = runner_factory(
        config,
        GatewayService,
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
    )
    runner.start()
    platform = Platform(runner, config)
    platform.answers = AnswerCheck(platform.get("/openapi.json").json())  # every answer as documented
    yield platform


def call(platform, method, path, principal, expect=(200, 201), **kw):
    r = platform.request(method, API + path, principal, **kw)
    assert r.status_code in ((expect,) if isinstance(expect, int) else expect), (
        f"{method} {path}: {r.status_code} {r.text}"
    )
    platform.answers(r)
    return r.json()


def poll(platform, path, principal, check, what, timeout=20):
    def probe():
        r = platform.get(API + path, principal)
        if r.status_code != 200:
            return None
        platform.answers(r)
        body = r.json()
        return body if check(body) else None

    return wait_for(probe, timeout=timeout, interval=0.2, what=what)


def technicians_csv(tenant):
    text = (REPO / "shared" / "data" / "technicians.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(r for r in rows if r["tenant_id"] == tenant)
    return out.getvalue()


def hand_priced(km, grade, parts, fault, product_line="数控车床", on=None):
    """The claim of a repair visit priced by hand from tariff_default.yaml (HQ version in force):
    labour of the fault class × grade coefficient + visit fee + transport band + parts handling."""
    doc = yaml.safe_load((REPO / "services/settlement/data/tariff_default.yaml").read_text(encoding="utf-8"))
    fault_class = next((c for c, words in doc["fault_classes"].items() if any(w in fault for w in words)), "general")
    on = on or datetime.now(LOCAL_TZ).date()
    version = next(
        v
        for v in doc["versions"]
        if v["tenant"] is None and v["valid_from"] <= on and (v["valid_to"] is None or on <= v["valid_to"])
    )
    cent = Decimal("0.01")
    labour = (
        Decimal(str(version["labour"][product_line]["repair"][fault_class]))
        * Decimal(str(version["grade_coefficient"][grade]))
    ).quantize(cent, ROUND_HALF_UP)
    transport = next(
        Decimal(str(b["fee"])) for b in version["transport_bands"] if b["up_to_km"] is None or km <= b["up_to_km"]
    )
    total = (
        labour + Decimal(str(version["visit_fee"])) + transport + Decimal(str(version["parts_handling_fee"])) * parts
    )
    return version["id"], total.quantize(cent)


def schedule(platform, ticket_id, technician_id):
    """The visit dispatch made for the ticket, pinned to `technician_id`, re-optimised: scheduled."""
    visit = poll(
        platform,
        "/dispatch/board",
        C01,
        lambda b: [v for v in b["items"] if v["ticket_id"] == ticket_id],
        f"dispatch has a visit for {ticket_id}",
    )
    visit = next(v for v in visit["items"] if v["ticket_id"] == ticket_id)
    call(platform, "POST", f"/visits/{visit['id']}/pin", C01, json={"technician_id": technician_id})
    plan = call(platform, "POST", "/dispatch/reoptimise", C01, json={"tenant_id": "C01"})
    assert plan.get("skipped") is None, plan
    visit = call(platform, "GET", f"/visits/{visit['id']}", C01)
    assert visit["status"] == "scheduled" and visit["technician_id"] == technician_id, visit
    return visit


def test_platform_flow(platform7, rpc_as):
    p = platform7
    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")

    # ------------------------------------------------------------ 1. ticket → visit → parts → on site
    imported = call(
        p,
        "POST",
        "/technicians/import",
        C01,
        data=technicians_csv("C01").encode("utf-8"),
        headers={"Content-Type": "text/csv"},
    )
    assert imported["failed"] == 0 and imported["imported"] == 21, imported

    ticket = call(p, "POST", "/tickets", C01, json=REPAIR, expect=201)
    assert ticket["tenant_id"] == "C01", ticket
    visit = schedule(p, ticket["id"], f"{OUTLET}-T1")
    assert visit["outlet_id"] == OUTLET
    poll(p, f"/tickets/{ticket['id']}", C01, lambda t: t["status"] == "scheduled", "intake saw visit.scheduled")

    # parts reserved what the fault needs at the outlet's regional warehouse, for this visit
    res = poll(
        p,
        f"/parts/reservations?visit_id={visit['id']}",
        C01,
        lambda r: r["items"],
        "parts reserved for the scheduled visit",
    )["items"]
    assert [(r["part_no"], r["quantity"], r["status"], r["outlet_id"], r["warehouse_id"]) for r in res] == [
        (SPINDLE, 1, "reserved", OUTLET, "WH-C01")
    ], res
    # the outlet asks for a spare for its shelf, then withdraws the request
    extra = call(
        p,
        "POST",
        "/parts/reservations",
        O1,
        expect=201,
        json={"outlet_id": OUTLET, "lines": [{"part_no": "CKL-RLY-01", "quantity": 2}]},
    )
    assert call(p, "DELETE", f"/parts/reservations/{extra[0]['id']}", O1)["status"] == "released"
    issued = call(
        p,
        "POST",
        "/parts/issues",
        WAREHOUSE,
        expect=201,
        json={
            "outlet_id": OUTLET,
            "lines": [{"part_no": SPINDLE, "quantity": 1, "serials": ["SPB-NEW-0001"], "reservation_id": res[0]["id"]}],
        },
    )
    assert issued["lines"][0]["serials"] == ["SPB-NEW-0001"]
    stock = call(p, "GET", f"/parts/stock?location_id={OUTLET}&part_no={SPINDLE}", C01)["items"]
    assert [(s["on_hand"], s["condition"]) for s in stock] == [(1, "good")], stock

    started = call(p, "POST", f"/visits/{visit['id']}/check-in", O1, json={"lat": 32.04, "lon": 112.14})
    assert started["status"] == "started"
    done = call(
        p,
        "POST",
        f"/visits/{visit['id']}/check-out",
        O1,
        json={
            "work_done": "更换主轴轴承, 试车正常",
            "customer_confirmed": True,
            "parts_used": [
                {"part_no": SPINDLE, "quantity": 1, "new_serial": "SPB-NEW-0001", "removed_serial": "SPB-OLD-7781"}
            ],
        },
    )
    assert done["status"] == "completed"

    # visit.completed reached intake (resolved), parts (consumption + RMA), settlement (claim), QA (callback)
    poll(p, f"/tickets/{ticket['id']}", C01, lambda t: t["status"] == "resolved", "intake resolved the ticket")
    rma = poll(p, f"/parts/rmas?visit_id={visit['id']}", C01, lambda r: r["items"], "parts opened an RMA")["items"][0]
    assert (rma["part_no"], rma["removed_serial"], rma["new_serial"], rma["status"], rma["outlet_id"]) == (
        SPINDLE,
        "SPB-OLD-7781",
        "SPB-NEW-0001",
        "open",
        OUTLET,
    ), rma
    res = call(p, "GET", f"/parts/reservations?visit_id={visit['id']}", C01)["items"]
    assert [r["status"] for r in res] == ["consumed"], res
    stock = call(p, "GET", f"/parts/stock?location_id={OUTLET}&part_no={SPINDLE}", C01)["items"]
    assert {s["condition"]: s["on_hand"] for s in stock} == {"defective": 1}, stock  # new one used, old one waits
    moves = call(p, "GET", f"/parts/movements?location_id={OUTLET}&kind=consumption", C01)["items"]
    assert any(m["quantity"] == -1 and m["serials"] == ["SPB-NEW-0001"] for m in moves), moves

    claims = poll(
        p,
        f"/settlement/claims?outlet_id={OUTLET}",
        C01,
        lambda c: c["items"],
        "settlement priced a claim from visit.completed",
    )["items"]
    assert len(claims) == 1 and claims[0]["visit_id"] == visit["id"], claims
    claim = call(p, "GET", f"/settlement/claims/{claims[0]['id']}", C01)
    assert claim["status"] == "center_review" and claim["held"] is False, claim

    callbacks = poll(
        p,
        "/qa/callbacks",
        C01,
        lambda w: [c for c in w["items"] if c["visit_id"] == visit["id"]],
        "QA planned a callback for the franchised outlet's job",
    )["items"]
    # the service callback (the job's seven-day tracking call is planned with it)
    callback = next(c for c in callbacks if c["visit_id"] == visit["id"] and c["purpose"] == "service")
    assert callback["stratum"] == "franchised" and callback["outlet_id"] == OUTLET, callback

    # ------------------------------------------------------------ 2. negative callback, then closed
    negative = call(
        p,
        "POST",
        f"/qa/callbacks/{callback['id']}/result",
        C01,
        json={
            "onsite_within_24h": True,
            "service_delivered": False,
            "fee_schedule_shown": True,
            "satisfaction": 1,
            "reason_codes": ["not_fixed"],
            "comment": "主轴仍然发热",
        },
    )
    assert negative["status"] == "negative", negative
    reopened = poll(
        p,
        f"/tickets/{ticket['id']}",
        C01,
        lambda t: t["status"] == "accepted",
        "intake reopened the ticket on callback.negative",
    )
    assert any(a["action"] == "callback_negative" for a in reopened["audit"]), reopened["audit"]
    held = poll(
        p,
        f"/settlement/claims/{claim['id']}",
        C01,
        lambda c: c["held"],
        "settlement held the claim on callback.negative",
    )
    assert [(h["kind"], h["ref"], h["status"]) for h in held["holds"]] == [("callback", callback["id"], "open")]

    closed = call(
        p,
        "POST",
        f"/qa/callbacks/{callback['id']}/close",
        C01,
        json={"outcome": "resolved", "note": "二次上门后客户确认正常"},
    )
    assert closed["status"] == "closed"
    released = poll(
        p,
        f"/settlement/claims/{claim['id']}",
        C01,
        lambda c: not c["held"],
        "settlement released the hold on callback.closed",
    )
    assert [(h["kind"], h["status"]) for h in released["holds"]] == [("callback", "released")]
    # the center settles the reopened ticket again and closes it
    for action in ("resolve", "close"):
        done_ticket = call(
            p, "POST", f"/tickets/{ticket['id']}/transitions", C01, json={"action": action, "note": "回访问题已处理"}
        )
    assert done_ticket["status"] == "closed", done_ticket

    # ------------------------------------------------------------ 3. the old part comes back (scanner)
    # parts finds the RMA overdue (checked as of a day after its due date): settlement holds the claim
    due = datetime.fromisoformat(rma["due_at"])
    with rpc_as(HQ, "parts") as parts:
        assert parts.run_overdue_check({"at": (due + timedelta(days=1)).isoformat()}) == {"overdue": 1}
    poll(
        p,
        f"/settlement/claims/{claim['id']}",
        C01,
        lambda c: c["held"] and any(h["kind"] == "part_return" and h["status"] == "open" for h in c["holds"]),
        "settlement held the claim on parts.return_overdue",
    )

    from services.parts.client import ReceiptClient

    with ReceiptClient(p.config["AMQP_URI"]) as scanner:
        scan_id = scanner.post(
            {
                "location_id": "WH-C01",
                "rma_no": rma["rma_no"],
                "part_no": SPINDLE,
                "serial": "SPB-OLD-7781",
                "scanned_by": "扫描枪-03",
            }
        )
    poll(p, f"/parts/scans/{scan_id}", WAREHOUSE, lambda s: s["outcome"] == "accepted", "parts applied the scan")
    back = call(p, "GET", f"/parts/rmas/{rma['rma_no']}", C01)
    assert back["status"] == "received_warehouse" and back["warehouse_location_id"] == "WH-C01" and not back["late"], (
        back
    )
    claim = poll(
        p,
        f"/settlement/claims/{claim['id']}",
        C01,
        lambda c: not c["held"],
        "settlement released the part hold on parts.return_received",
    )
    part_hold = next(h for h in claim["holds"] if h["kind"] == "part_return")
    assert part_hold["status"] == "released" and "WH-C01" in part_hold["release_reason"], part_hold
    assert next(r for r in claim["rules"] if r["rule"] == "part_return")["outcome"] == "pass", claim["rules"]

    # ------------------------------------------------------------ 4. three-level audit, statement
    for level, who in (("center", C01), ("technical_lead", C01_LEAD), ("hq", HQ_AUDITOR)):
        claim = call(
            p,
            "POST",
            f"/settlement/claims/{claim['id']}/audit",
            who,
            json={"level": level, "action": "approve", "reason": f"{level} ok"},
        )
    assert claim["status"] == "approved" and [a["level"] for a in claim["audits"]] == [
        "center",
        "technical_lead",
        "hq",
    ], claim
    assert claim["km"] == pytest.approx(visit["planned_km"]) and claim["grade"] == "A", claim
    version, expected = hand_priced(visit["planned_km"], "A", parts=1, fault=REPAIR["fault"])
    assert Decimal(claim["approved"]) == expected, (claim["approved"], expected, claim["price_lines"])
    assert {l["code"] for l in claim["price_lines"]} == {"labour", "visit_fee", "transport", "parts_handling"}
    assert all(str(l["tariff_line"]).startswith(version + ":") for l in claim["price_lines"]), claim["price_lines"]

    statement = call(p, "POST", "/settlement/statements", C01, expect=201, json={"outlet_id": OUTLET, "month": month})
    assert Decimal(statement["total"]) == expected, statement
    assert [l["claim_id"] for l in statement["lines"] if l["claim_id"]] == [claim["id"]], statement["lines"]
    mine = call(p, "GET", f"/settlement/statements/{statement['id']}", O1)  # the outlet sees its own statement
    assert mine["total"] == statement["total"]

    # ------------------------------------------------------------ 5. revoking another outlet of C01
    other = call(p, "POST", "/tickets", C01, json=SECOND, expect=201)
    visit2 = schedule(p, other["id"], f"{REVOKED}-T1")
    assert visit2["outlet_id"] == REVOKED
    held_for_it = poll(
        p,
        f"/parts/reservations?visit_id={visit2['id']}",
        C01,
        lambda r: r["items"],
        "parts reserved for the second visit",
    )["items"]

    steps = [
        ("request_revocation", C01, {"revocation": {"reason_code": "complaints", "details": "三个月内投诉 5 起"}}),
        ("revocation_center_review", C01, {"decision": "pass"}),
        ("revocation_technical_review", C01_LEAD, {"decision": "pass"}),
        ("revocation_approval", HEAD, {"decision": "pass"}),
    ]
    for action, who, body in steps:
        outlet = call(p, "POST", f"/outlets/{REVOKED}/steps", who, json=dict(body, action=action))
    assert outlet["status"] == "revoking", outlet

    # dispatch releases the outlet's planned visits at once (outlet.revoking) and says so
    # (visit.released): parts lets the visit's reservation at the outlet go, intake takes the
    # ticket off the outlet
    poll(
        p,
        f"/visits/{visit2['id']}",
        C01,
        lambda v: v["status"] == "unplanned" and v["outlet_id"] is None,
        "dispatch released the revoking outlet's visit",
        timeout=10,
    )
    poll(
        p,
        f"/parts/reservations?visit_id={visit2['id']}",
        C01,
        lambda r: [(x["id"], x["status"]) for x in r["items"]] == [(h["id"], "released") for h in held_for_it],
        "parts released the reservation on visit.released",
    )
    poll(
        p,
        f"/tickets/{other['id']}",
        C01,
        lambda t: (
            t["assigned_outlet_id"] is None
            and t["status"] == "registered"
            and any(a["action"] == "visit_released" for a in t["audit"])
        ),
        "intake took the ticket off the outlet, back to its status before scheduling",
    )

    # the clearing asked on revoking is answered by settlement with parts' balance; the only open
    # item parts could list is that reservation, which the release let go, so certification ends up
    # revoking the outlet without a hand re-request: either parts answered after the release (clear
    # at once), or it listed the reservation and certification asked again by itself
    outlet = poll(
        p,
        f"/outlets/{REVOKED}",
        C01,
        lambda o: o["status"] == "revoked",
        "certification revoked the outlet once its accounts cleared",
    )
    assert outlet["clearing_status"] == "cleared" and outlet["open_items"] == [], outlet
    steps = [s["action"] for s in outlet["steps"]]
    opened = [s for s in outlet["steps"] if s["action"] == "accounts_open"]
    for step in opened:  # any open answer listed the released reservation, and only it
        assert [(i["kind"], i["ref"]) for i in step["data"]["open_items"]] == [
            ("reservation", r["id"]) for r in held_for_it
        ], step
        assert Decimal(step["data"]["open_items"][0]["amount"]) == Decimal("3150.00"), step
    assert ("clearing_rerequested" in steps) == bool(opened) and steps[-1] == "accounts_cleared", steps
    with rpc_as(C01, "settlement") as settlement:  # settlement's record of the exchange (no route)
        last = settlement.clearing(outlet["clearing_request_id"])
    assert last["parts_received"] and last["answer"] == "account.cleared" and last["open_items"] == [], last
    assert call(p, "GET", f"/parts/outlets/{REVOKED}/balance", C01)["clear"] is True
    assert call(p, "GET", f"/settlement/outlets/{REVOKED}/open-items", C01) == []

    # dispatch plans the visit again, elsewhere (the revoked outlet takes no job); parts reserves
    # afresh at the new outlet; intake follows
    call(p, "POST", "/dispatch/reoptimise", C01, json={"tenant_id": "C01"})
    moved = call(p, "GET", f"/visits/{visit2['id']}", C01)
    assert moved["status"] == "scheduled" and moved["outlet_id"] not in (None, REVOKED), moved
    poll(
        p,
        f"/parts/reservations?visit_id={visit2['id']}&status=reserved",
        C01,
        lambda r: [x["outlet_id"] for x in r["items"]] == [moved["outlet_id"]],
        "parts reserved at the new outlet",
    )
    poll(
        p,
        f"/tickets/{other['id']}",
        C01,
        lambda t: t["assigned_outlet_id"] == moved["outlet_id"],
        "intake follows the re-planned visit",
    )
