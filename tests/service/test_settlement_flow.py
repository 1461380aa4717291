"""Settlement over the real broker: claims from visit.completed + ticket.registered, idempotence."""

from datetime import UTC

from tests.conftest import HQ, wait_for
from tests.settlement_fixtures import (  # noqa: F401
    OUTLET_A,
    new_id,
    publish,
    settlement_platform,
    ticket_event,
    visit_event,
    wait_claim,
)


def test_claim_from_visit_and_ticket_once(settlement_platform, publish, rpc_as):
    tid, vid = new_id("T"), new_id("V")
    # the visit arrives before its ticket: the claim is made once both are there
    event = visit_event(vid, tid)
    publish("visit.completed", event, event_id="evt-visit-1")
    publish("ticket.registered", ticket_event(tid))
    claim = wait_claim(rpc_as, vid)
    # the same visit.completed again: redelivered (same id) and re-sent (new id)
    publish("visit.completed", event, event_id="evt-visit-1")
    publish("visit.completed", event, event_id="evt-visit-2")
    publish("ticket.registered", ticket_event(tid))
    marker_t, marker_v = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(marker_t))
    publish("visit.completed", visit_event(marker_v, marker_t))
    wait_claim(rpc_as, marker_v)  # everything published before it has been consumed
    with rpc_as(HQ, "settlement") as s:
        claims = s.list_claims({"limit": 500})["items"]
    mine = [c for c in claims if c["visit_id"] == vid]
    assert len(mine) == 1 and mine[0]["id"] == claim["id"]
    assert claim["status"] == "center_review"
    assert claim["tariff_versions"] == ["HQ-2026"]
    codes = {l["code"]: l for l in claim["price_lines"]}
    # grade A (C01-O01) × 315 (数控车床 repair, electrical: 无法启动) = 346.50
    assert codes["labour"]["amount"] == "346.50"
    assert codes["labour"]["tariff_line"] == "HQ-2026:labour/数控车床/repair/electrical"
    assert codes["transport"]["amount"] == "35.00"  # 25 km: band 10-30
    assert claim["tariff_total"] == "441.50"
    assert all(r["outcome"] == "pass" for r in claim["rules"]), claim["rules"]
    assert {r["rule"] for r in claim["rules"]} == {
        "warranty_valid",
        "duplicate_claim",
        "repeat_repair",
        "part_return",
        "sla_breach",
        "negative_callback",
        "customer_confirmed",
        "tariff_cap",
    }


def _listen(config, routing_keys):
    """A queue bound to settlement's events (declared before anything is published)."""
    from kombu import Connection, Exchange, Queue

    conn = Connection(config["AMQP_URI"])
    exchange = Exchange("settlement.events", type="topic", durable=True)
    queue = Queue(new_id("test-settlement-"), exchange=exchange, auto_delete=True)
    channel = conn.channel()
    queue = queue(channel)
    exchange(channel).declare()
    queue.declare()
    for key in routing_keys:
        queue.bind_to(exchange, routing_key=key)
    return conn, queue


def _received(queue, n, timeout=20):
    import time

    got = []
    deadline = time.time() + timeout
    while len(got) < n and time.time() < deadline:
        msg = queue.get(no_ack=True)
        if msg is None:
            time.sleep(0.1)
            continue
        got.append((msg.delivery_info["routing_key"], msg.payload))
    return got


def test_account_clearing_waits_for_parts(settlement_platform, publish, rpc_as, service_config):
    from datetime import datetime

    conn, queue = _listen(service_config, ["account.*"])
    now = datetime.now(UTC)
    # C01-O02 has a claim in audit; C01-O04 has nothing open
    tid, vid = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(tid))
    publish("visit.completed", visit_event(vid, tid, outlet="C01-O02"))
    claim = wait_claim(rpc_as, vid)
    publish(
        "account.clearing_requested", {"tenant_id": "C01", "outlet_id": "C01-O02", "request_id": "REQ-1", "at": now}
    )

    def state(req):
        with rpc_as(HQ, "settlement") as s:
            try:
                return s.clearing(req)
            except Exception:
                return None

    assert wait_for(lambda: state("REQ-1"), what="request stored")["answer"] is None  # waits for parts
    publish(
        "parts.outlet_balance",
        {
            "tenant_id": "C01",
            "outlet_id": "C01-O02",
            "request_id": "REQ-1",
            "at": now,
            "open_items": [{"kind": "rma", "ref": "RMA-9", "description": "旧件未返", "amount": "180.00"}],
        },
    )
    # parts answers first for the other outlet: settlement waits for certification's request
    publish(
        "parts.outlet_balance",
        {"tenant_id": "C01", "outlet_id": "C01-O04", "request_id": "REQ-2", "at": now, "open_items": []},
    )
    assert wait_for(lambda: state("REQ-2"), what="parts stored")["answer"] is None
    publish(
        "account.clearing_requested", {"tenant_id": "C01", "outlet_id": "C01-O04", "request_id": "REQ-2", "at": now}
    )
    got = dict((p["request_id"], (key, p)) for key, p in _received(queue, 2))
    conn.release()
    key, body = got["REQ-1"]
    assert key == "account.open_items"
    assert {(i["kind"], i["ref"]) for i in body["open_items"]} == {("claim", claim["id"]), ("rma", "RMA-9")}
    assert got["REQ-2"][0] == "account.cleared" and got["REQ-2"][1]["open_items"] == []


def test_grade_change_and_bad_events(settlement_platform, publish, rpc_as, service_config):
    from datetime import datetime, timedelta

    from nameko.standalone.events import event_dispatcher

    now = datetime.now(UTC)
    # a malformed visit.completed is dead-lettered; the handler keeps working
    event_dispatcher(service_config)("dispatch", "visit.completed", {"tenant_id": "C01", "visit_id": 5})
    publish(
        "outlet.grade_changed",
        {
            "tenant_id": "C01",
            "outlet_id": "C01-O01",
            "status": "effective",
            "at": now - timedelta(days=3),
            "grade": "C",
            "previous_grade": "A",
        },
    )
    # a visit before the change is priced at A, one after at C
    t1, v1, t2, v2 = new_id("T"), new_id("V"), new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(t1))
    publish("ticket.registered", ticket_event(t2))
    publish("visit.completed", visit_event(v1, t1, at=now - timedelta(days=5)))
    publish("visit.completed", visit_event(v2, t2, at=now - timedelta(days=1)))
    before, after = wait_claim(rpc_as, v1), wait_claim(rpc_as, v2)
    labour = lambda c: next(l for l in c["price_lines"] if l["code"] == "labour")  # noqa: E731
    assert before["grade"] == "A" and labour(before)["amount"] == "346.50"
    assert after["grade"] == "C" and labour(after)["amount"] == "283.50"  # 315 × 0.90
    from shared.metrics import REGISTRY

    assert (
        REGISTRY.get_sample_value("fsm_dead_letters_total", {"service": "settlement", "source": "visit.completed"}) >= 1
    )


def test_tariff_versions_published_by_hq(settlement_platform, rpc_as):
    from shared.errors import Forbidden, ValidationFailed
    from tests.conftest import C01

    with rpc_as(C01, "settlement") as s:
        t = s.tariff_in_force({"on": "2026-05-01"})
        assert t["versions"] == ["HQ-2026"] and t["values"]["visit_fee"] == 60
        try:
            s.publish_tariff({"id": "C01-2027", "tenant": "C01", "valid_from": "2027-01-01", "visit_fee": 80})
            raise AssertionError("a center published a tariff")
        except Forbidden:
            pass
    with rpc_as(HQ, "settlement") as s:
        try:
            s.publish_tariff({"id": "C01-bad", "tenant": "C01", "valid_from": "2026-01-01", "visit_fee": "x"})
            raise AssertionError("accepted a bad fee")
        except ValidationFailed as exc:
            assert "visit_fee" in exc.fields
        s.publish_tariff(
            {
                "id": "C01-2026H2",
                "tenant": "C01",
                "valid_from": "2026-07-01",
                "visit_fee": 65,
                "sla_deductions": {"onsite": 120},
            }
        )
        h1 = s.tariff_in_force({"tenant_id": "C01", "on": "2026-06-30"})
        h2 = s.tariff_in_force({"tenant_id": "C01", "on": "2026-07-01"})
        assert h1["values"]["visit_fee"] == 60 and h2["values"]["visit_fee"] == 65
        assert h2["values"]["sla_deductions"] == {"onsite": 120, "complaint_close": 0}
        assert h2["sources"]["visit_fee"] == "C01-2026H2"
        try:
            s.publish_tariff({"id": "C01-overlap", "tenant": "C01", "valid_from": "2026-09-01", "visit_fee": 70})
            raise AssertionError("overlapping version accepted")
        except ValidationFailed as exc:
            assert "valid_from" in exc.fields


def test_part_never_returned_is_deducted_after_grace(settlement_platform, publish, rpc_as):
    """Held while the part is out; 30 days after its due date its value is deducted at the
    next statement and the claim is paid (held, then deducted)."""
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal

    from tests.conftest import C01
    from tests.settlement_fixtures import C01_LEAD, HQ_AUDITOR

    now = datetime.now(UTC)
    tid, vid = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(tid, received_at=now - timedelta(days=50)))
    publish("visit.completed", visit_event(vid, tid, at=now - timedelta(days=48), parts=1))
    claim = wait_claim(rpc_as, vid)
    publish(
        "parts.return_overdue",
        {
            "tenant_id": "C01",
            "rma_no": "RMA-" + vid,
            "outlet_id": "C01-O01",
            "part_no": "P-0",
            "visit_id": vid,
            "ticket_id": tid,
            "due_at": now - timedelta(days=33),
            "detected_at": now - timedelta(days=32),
            "unit_cost": Decimal("265.40"),
        },
    )
    held = wait_claim(rpc_as, vid, where=lambda c: c["held"])
    assert next(r for r in held["rules"] if r["rule"] == "part_return")["outcome"] == "hold"
    for principal, level in ((C01, "center"), (C01_LEAD, "technical_lead"), (HQ_AUDITOR, "hq")):
        with rpc_as(principal, "settlement") as s:
            s.audit_claim(claim["id"], {"level": level, "action": "approve"})
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    with rpc_as(HQ, "settlement") as s:
        items = s.open_items("C01-O01")
        assert {i["kind"] for i in items} == {"claim", "hold"}
        st = s.issue_statement({"outlet_id": "C01-O01", "month": month})
        after = s.get_claim(claim["id"])
    assert [(l["kind"], l["amount"]) for l in st["lines"]] == [("hold_released", "461.50"), ("deduction", "-265.40")]
    ded = st["lines"][1]
    assert ded["rule"] == "part_not_returned" and ded["tariff_line"] == "parts:unit_cost/P-0"
    assert st["total"] == "196.10"  # 346.50 + 60 + 35 + 20 (one part) - 265.40
    assert after["held"] is False and after["holds"][0]["status"] == "converted"
    assert after["statement_id"] == st["id"]


def test_outlet_fixes_a_rule_rejected_claim_and_openapi(settlement_platform, publish, rpc_as):
    """A claim rejected by the warranty rule for want of a purchase date: the outlet's claim
    gives the date from its work order and the claim is audited again."""
    from datetime import datetime, timedelta

    from tests.settlement_fixtures import OUTLET_A

    tid, vid = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(tid, warranty="unknown"))
    publish("visit.completed", visit_event(vid, tid))
    claim = wait_claim(rpc_as, vid)
    assert claim["status"] == "rejected"
    assert next(r for r in claim["rules"] if r["rule"] == "warranty_valid")["outcome"] == "reject"
    bought = (datetime.now(UTC) - timedelta(days=200)).date().isoformat()
    r = settlement_platform.post("/api/v1/settlement/claims", OUTLET_A, json={"visit_id": vid, "purchase_date": bought})
    assert r.status_code == 201, r.text
    fixed = r.json()
    assert fixed["id"] == claim["id"] and fixed["status"] == "center_review" and fixed["decided_at"] is None
    assert next(x for x in fixed["rules"] if x["rule"] == "warranty_valid")["outcome"] == "pass"
    doc = settlement_platform.get("/openapi.json").json()
    assert "/api/v1/settlement/claims/{claim_id}/audit" in doc["paths"] or any(
        "settlement/claims" in p for p in doc["paths"]
    )
    # the service's own metrics: claims by tenant and outcome
    from shared.metrics import REGISTRY

    assert (
        REGISTRY.get_sample_value(
            "fsm_settlement_claims_total", {"service": "settlement", "tenant": "C01", "outcome": "rejected"}
        )
        >= 1
    )
