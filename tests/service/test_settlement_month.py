"""A month of one outlet end to end over the real broker: visits completed, a part returned
late, one SLA breach, one negative callback → the statement equals the one computed by hand."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from shared.tenants import TenantDirectory
from tests.conftest import C01, HQ, wait_for
from tests.parts_fixtures import collector
from tests.settlement_fixtures import (  # noqa: F401
    C01_LEAD,
    HQ_AUDITOR,
    OUTLET_A,
    new_id,
    publish,
    settlement_platform,
    ticket_event,
    visit_event,
    wait_claim,
)

UTC = UTC
SH = timezone(timedelta(hours=8))


def previous_month():
    today = datetime.now(SH).date().replace(day=1)
    last = today - timedelta(days=1)
    return last.strftime("%Y-%m"), last.year, last.month


def audit_all_levels(rpc_as, claim_id, tech=None):
    with rpc_as(C01, "settlement") as s:
        s.audit_claim(claim_id, {"level": "center", "action": "approve"})
    with rpc_as(C01_LEAD, "settlement") as s:
        s.audit_claim(claim_id, tech or {"level": "technical_lead", "action": "approve"})
    with rpc_as(HQ_AUDITOR, "settlement") as s:
        return s.audit_claim(claim_id, {"level": "hq", "action": "approve"})


def test_month_statement_equals_hand_computed(settlement_platform, publish, rpc_as):
    month, year, mon = previous_month()
    issued = collector(settlement_platform.config["AMQP_URI"], "statement.issued", source="settlement")

    def at(day, hour=10):
        return datetime(year, mon, day, hour, 0, tzinfo=SH)

    # pre-2026 months would be priced with HQ-2025: this test's figures are HQ-2026's
    assert year >= 2026
    t = {k: new_id("T") for k in ("v1", "v2", "v3", "v4", "v5")}
    v = {k: new_id("V") for k in t}
    publish("ticket.registered", ticket_event(t["v1"], fault="无法启动", received_at=at(4)))
    publish(
        "ticket.registered",
        ticket_event(t["v2"], kind="install", product_line="螺杆空压机", fault="安装调试", received_at=at(6)),
    )
    publish(
        "ticket.registered", ticket_event(t["v3"], product_line="立式加工中心", fault="液压系统漏油", received_at=at(9))
    )
    publish("ticket.registered", ticket_event(t["v4"], product_line="注塑机", fault="运行异响", received_at=at(13)))
    publish("ticket.registered", ticket_event(t["v5"], received_at=at(13)))
    publish("visit.completed", visit_event(v["v1"], t["v1"], at=at(5), planned_km=25.0))
    publish(
        "visit.completed",
        visit_event(v["v2"], t["v2"], at=at(8), planned_km=45.0, kind="install", product_line="螺杆空压机", parts=1),
    )
    publish("visit.completed", visit_event(v["v3"], t["v3"], at=at(12), planned_km=80.0, product_line="立式加工中心"))
    publish("visit.completed", visit_event(v["v4"], t["v4"], at=at(14), planned_km=8.0, product_line="注塑机"))
    publish("visit.completed", visit_event(v["v5"], t["v5"], at=at(15), confirmed=False))  # no signature
    # another outlet's visit must not reach this outlet's statement
    other_t, other_v = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(other_t, received_at=at(4)))
    publish("visit.completed", visit_event(other_v, other_t, outlet="C01-O03", at=at(5)))

    claims = {k: wait_claim(rpc_as, v[k]) for k in v}
    assert claims["v5"]["status"] == "rejected"
    assert next(r for r in claims["v5"]["rules"] if r["rule"] == "customer_confirmed")["outcome"] == "reject"

    # V3: the outlet claims more labour than the tariff allows (its claim amends the filed one)
    with rpc_as(OUTLET_A, "settlement") as s:
        c3 = s.submit_claim({"visit_id": v["v3"], "claimed": {"labour": "520.00"}})
    assert c3["id"] == claims["v3"]["id"] and c3["claimed_total"] == "690.00" and c3["approved"] == "654.00"
    assert next(r for r in c3["rules"] if r["rule"] == "tariff_cap")["outcome"] == "cap"

    # V2: its returnable part is overdue (held), then comes back late (released, late fee)
    publish(
        "parts.return_overdue",
        {
            "tenant_id": "C01",
            "rma_no": "RMA-" + v["v2"],
            "outlet_id": "C01-O01",
            "part_no": "P-0",
            "visit_id": v["v2"],
            "ticket_id": t["v2"],
            "due_at": at(10),
            "detected_at": at(11),
            "unit_cost": Decimal("180.00"),
        },
    )
    wait_claim(rpc_as, v["v2"], where=lambda c: c["held"])
    # V3: the on-site SLA of its ticket was breached by the outlet
    publish(
        "sla.breached",
        {
            "tenant_id": "C01",
            "ticket_id": t["v3"],
            "number": "C01-X3",
            "sla": "onsite",
            "due_at": at(10),
            "detected_at": at(11),
            "assigned_outlet_id": "C01-O01",
        },
    )
    wait_claim(
        rpc_as, v["v3"], where=lambda c: any(r["rule"] == "sla_breach" and r["outcome"] == "deduct" for r in c["rules"])
    )
    # V4: the customer's callback was negative (held until QA closes it)
    publish(
        "callback.negative",
        {
            "tenant_id": "C01",
            "ticket_id": t["v4"],
            "callback_id": "CB-" + v["v4"],
            "satisfaction": 2,
            "reason": "设备仍有异响",
            "visit_id": v["v4"],
            "outlet_id": "C01-O01",
            "at": at(17),
        },
    )
    wait_claim(rpc_as, v["v4"], where=lambda c: c["held"])
    publish(
        "parts.return_received",
        {
            "tenant_id": "C01",
            "rma_no": "RMA-" + v["v2"],
            "outlet_id": "C01-O01",
            "part_no": "P-0",
            "visit_id": v["v2"],
            "location_id": "WH-C01",
            "received_at": at(20),
            "late": True,
        },
    )
    c2 = wait_claim(rpc_as, v["v2"], where=lambda c: not c["held"])
    assert next(r for r in c2["rules"] if r["rule"] == "part_return")["outcome"] == "pass"

    # three-level audit; the technical lead adjusts V1 (no part was fitted)
    audit_all_levels(
        rpc_as,
        claims["v1"]["id"],
        {"level": "technical_lead", "action": "adjust", "amount": "400.00", "reason": "only an inspection was needed"},
    )
    for k in ("v2", "v3", "v4"):
        assert audit_all_levels(rpc_as, claims[k]["id"])["status"] == "approved"

    with rpc_as(C01, "settlement") as s:
        st = s.issue_statement({"outlet_id": "C01-O01", "month": month})

    # by hand, tariff HQ-2026, outlet C01-O01 grade A (labour × 1.10):
    # V1 数控车床 repair electrical 315×1.1=346.50 + visit 60 + 25 km 35           = 441.50
    #    technical lead adjusts to 400.00                                          →  -41.50
    # V2 螺杆空压机 install 525×1.1=577.50 + 60 + 45 km 70 + 1 part handling 20    = 727.50 (hold released)
    # V3 立式加工中心 repair hydraulic 440×1.1=484.00 + 60 + 80 km 110             = 654.00;
    #    claimed labour 520.00 → claimed 690.00, capped by the tariff              →  -36.00
    # V4 held (negative callback open): not on the statement; V5 rejected: not on it
    # deductions: late part return (RMA of V2) 30.00; on-site SLA breach of V3's ticket 100.00
    expected = [
        ("claim", claims["v1"]["id"], "441.50"),
        ("adjustment", claims["v1"]["id"], "-41.50"),
        ("hold_released", claims["v2"]["id"], "727.50"),
        ("claim", claims["v3"]["id"], "690.00"),
        ("adjustment", claims["v3"]["id"], "-36.00"),
        ("deduction", "RMA-" + v["v2"], "-30.00"),
        ("deduction", f"{t['v3']}:onsite", "-100.00"),
    ]
    assert [(l["kind"], l["ref"], l["amount"]) for l in st["lines"]] == expected
    assert st["total"] == "1651.50"
    assert sum(Decimal(l["amount"]) for l in st["lines"]) == Decimal(st["total"])
    rules = {l["kind"]: l["rule"] for l in st["lines"]}
    assert rules["adjustment"] in ("audit:technical_lead", "tariff_cap")
    sla_line = next(l for l in st["lines"] if l["ref"].endswith(":onsite"))
    assert sla_line["tariff_line"] == "HQ-2026:sla_deductions/onsite"
    assert f"(due {month}-10 10:00)" in sla_line["description"]  # local time to the minute, not UTC ISO
    assert "HQ-2026:labour/数控车床/repair/electrical" in st["lines"][0]["tariff_line"]

    # payment and balance; then QA closes the callback and V4 is released for the next statement
    with rpc_as(HQ, "settlement") as s:
        paid = s.record_payment(st["id"], {"amount": "1000.00", "reference": "BANK-001"})
        assert paid["status"] == "partially_paid" and paid["outstanding"] == "651.50"
        bal = s.balance("C01-O01")
        assert (bal["statements_total"], bal["paid"], bal["balance"], bal["held"]) == (
            "1651.50",
            "1000.00",
            "651.50",
            "500.00",
        )
        before = s.balance("C01-O01", {"at": (datetime.now(UTC) - timedelta(days=400)).isoformat()})
        assert before["balance"] == "0.00"
    publish(
        "callback.closed",
        {
            "tenant_id": "C01",
            "callback_id": "CB-" + v["v4"],
            "ticket_id": t["v4"],
            "visit_id": v["v4"],
            "outlet_id": "C01-O01",
            "outcome": "resolved",
            "at": datetime.now(UTC),
        },
    )
    wait_claim(rpc_as, v["v4"], where=lambda c: not c["held"])
    this_month = datetime.now(SH).strftime("%Y-%m")
    with rpc_as(C01, "settlement") as s:
        nxt = s.issue_statement({"outlet_id": "C01-O01", "month": this_month})
    assert [(l["kind"], l["amount"]) for l in nxt["lines"]] == [("hold_released", "500.00")]
    # statement.issued went out (the outbox relay published both)
    from shared.metrics import REGISTRY

    wait_for(
        lambda: (
            (
                REGISTRY.get_sample_value(
                    "fsm_events_published_total", {"service": "settlement", "event": "statement.issued"}
                )
                or 0
            )
            >= 2
        )
    )
    # ... naming the outlet, so notify's notice reads 贵网点（name） and the month, not the statement id
    events = wait_for(lambda: len(issued()) >= 2 and issued(), what="statement.issued on the broker")
    name = TenantDirectory.from_config(settlement_platform.config).outlets["C01-O01"].name
    assert {(e["outlet_id"], e["outlet_name"]) for e in events} == {("C01-O01", name)} and name
