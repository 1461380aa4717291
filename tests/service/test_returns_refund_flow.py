"""A return within 15 days through the running intake, parts, settlement and gateway (RabbitMQ):
the technical lead inspects, the center approves, the machine comes back into the center's
warehouse (a parts stock movement), HQ's settlement department pays the refund, which emits
settlement.refund_paid once and completes the case's step; the case ends closed. Bad input is a
422 naming the field and changes nothing; another center's case is a 404. An exchange within 30
days asks parts for the replacement: with a good unit in the warehouse parts books it out and the
case is replaced; with none the case awaits stock (nothing dead-lettered) and the unit is issued
when one is received. A complaint's compensation is approved by a technical lead, paid by HQ, and
moves the complaint case to 退赔款."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared import events, metrics
from shared.tenancy import TECHNICAL_LEAD, Principal
from tests.conftest import C01, C02, HQ, Platform, wait_for
from tests.parts_fixtures import collector, publish

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
LEAD = Principal("wuhan-lead", "center", tenant="C01", duty=TECHNICAL_LEAD)
MACHINE = "M-CK6150"


@pytest.fixture
def returns_platform(runner_factory, service_config):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.settlement.service import SettlementService

    config = dict(service_config, PARTS_OVERDUE_CHECK_SECONDS=3600)
    runner = runner_factory(config, IntakeService, PartsService, SettlementService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def _ticket(p, days_since_purchase, serial):
    today = datetime.now(TZ).date()
    body = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": "武汉退机客户",
        "phone": "13800005555",
        "address": "湖北省武汉市洪山区珞喻路1号",
        "product_line": "数控车床",
        "model": "CK6150",
        "serial_no": serial,
        "purchase_date": (today - timedelta(days=days_since_purchase)).isoformat(),
        "fault": "新机主轴异响,开机即报警",
    }
    r = p.post(f"{API}/tickets", C01, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _step(p, principal, case_id, **body):
    return p.post(f"{API}/returns/{case_id}/steps", principal, json=body)


def _handled(service, event_type):
    return metrics.EVENTS_CONSUMED.labels(service, event_type, "ok")._value.get()


def _stock(p):
    r = p.get(f"{API}/parts/stock", C01, params={"location_id": "WH-C01", "part_no": MACHINE, "include_zero": "true"})
    assert r.status_code == 200, r.text
    return {i["condition"]: i["on_hand"] for i in r.json()["items"]}


def test_a_return_within_15_days_ends_with_the_machine_in_stock_and_the_refund_paid(returns_platform):
    p = returns_platform
    paid_events = collector(p.config["AMQP_URI"], "settlement.refund_paid", source="settlement")
    returned_events = collector(p.config["AMQP_URI"], "return.machine_returned", source="intake")
    ticket = _ticket(p, 15, "CK6150RT0001")

    # bad input: 422 naming the field, nothing opened
    for body, field in [
        ({"kind": "refund", "reason": "主轴异响"}, "kind"),
        ({"kind": "return"}, "reason"),
        ({"kind": "return", "reason": "主轴异响", "purchase_date": "yesterday"}, "purchase_date"),
        ({"kind": "return", "reason": "主轴异响", "colour": "red"}, "colour"),
    ]:
        r = p.post(f"{API}/tickets/{ticket['id']}/returns", C01, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.status_code, r.text)
    late = _ticket(p, 16, "CK6150RT0002")  # day 16: no return (an exchange still)
    r = p.post(f"{API}/tickets/{late['id']}/returns", C01, json={"kind": "return", "reason": "主轴异响"})
    assert r.status_code == 422 and "exchange is possible" in r.json()["error"]["fields"]["kind"][0], r.text
    assert p.get(f"{API}/returns", C01).json()["total"] == 0

    r = p.post(f"{API}/tickets/{ticket['id']}/returns", C01, json={"kind": "return", "reason": "新机主轴异响"})
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["step"], case["days"], case["counted_from"], case["requested_by"]) == (
        "requested",
        15,
        "purchase_date",
        C01.user,
    )
    again = p.post(f"{API}/tickets/{ticket['id']}/returns", C01, json={"kind": "exchange", "reason": "再来一次"})
    assert again.status_code == 409, again.text

    # tenancy: another center sees neither the case nor the ticket
    assert p.get(f"{API}/returns/{case['id']}", C02).status_code == 404
    assert _step(p, C02, case["id"], action="close").status_code == 404
    assert (
        p.post(f"{API}/tickets/{ticket['id']}/returns", C02, json={"kind": "return", "reason": "x2"}).status_code == 404
    )
    assert p.get(f"{API}/returns", C02).json()["total"] == 0

    # the steps: wrong step 409, wrong role 403, missing result 422
    assert _step(p, C01, case["id"], action="receive").status_code == 409
    assert _step(p, C01, case["id"], action="inspect", quality_fault=True, finding="主轴轴承损坏").status_code == 403
    r = _step(p, LEAD, case["id"], action="inspect", finding="主轴轴承损坏")
    assert r.status_code == 422 and "quality_fault" in r.json()["error"]["fields"], r.text
    r = _step(p, LEAD, case["id"], action="inspect", quality_fault=True, finding="主轴轴承出厂缺陷,属质量问题")
    assert r.status_code == 200 and r.json()["inspected_by"] == LEAD.user, r.text
    r = _step(p, C01, case["id"], action="decide", approve=True)
    assert r.status_code == 422 and "refund_amount" in r.json()["error"]["fields"], r.text
    r = _step(p, C01, case["id"], action="decide", approve=True, refund_amount="12800.00", note="同意退机")
    assert r.status_code == 200, r.text
    assert (r.json()["step"], r.json()["decided_by"], r.json()["refund_amount"]) == ("approved", C01.user, "12800.00")
    assert _stock(p) == {}
    r = _step(p, C01, case["id"], action="receive", note="整机退回武汉配件库")
    assert r.status_code == 200 and r.json()["step"] == "received" and r.json()["refund_id"], r.text
    refund_id = r.json()["refund_id"]
    assert _step(p, C01, case["id"], action="close").status_code == 409  # not before the refund is paid

    # parts: the machine is in the center's warehouse, defective, with its serial
    wait_for(lambda: _stock(p).get("defective") == 1, what="the returned machine in stock")
    moves = p.get(f"{API}/parts/movements", C01, params={"location_id": "WH-C01", "part_no": MACHINE}).json()["items"]
    assert [(m["kind"], m["quantity"], m["serials"]) for m in moves] == [("return", 1, ["CK6150RT0001"])]
    # the same fact published again under a new message id books nothing more
    (event,) = [e for e in returned_events() if e["return_case_id"] == case["id"]]
    handled = _handled("parts", "return.machine_returned")
    publish(p.config, "intake", "return.machine_returned", events.load("return.machine_returned", event))
    wait_for(lambda: _handled("parts", "return.machine_returned") == handled + 1, what="the replay handled")
    assert _stock(p) == {"defective": 1}

    # settlement: the refund approved in intake, paid by HQ only
    def recorded():
        items = p.get(f"{API}/refunds", HQ, params={"return_case_id": case["id"]}).json()["items"]
        return items or None

    (refund,) = wait_for(recorded, what="the refund recorded in settlement")
    assert (refund["id"], refund["status"], refund["amount"], refund["kind"]) == (
        refund_id,
        "requested",
        "12800.00",
        "return",
    )
    assert p.get(f"{API}/refunds/{refund_id}", C02).status_code == 404
    assert p.post(f"{API}/refunds/{refund_id}/pay", C01, json={}).status_code == 403
    r = p.post(f"{API}/refunds/{refund_id}/pay", HQ, json={"payment_ref": 7})
    assert r.status_code == 422 and "payment_ref" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/refunds/{refund_id}/pay", HQ, json={"payment_ref": "BANK-20261203-01"})
    assert r.status_code == 200 and r.json()["status"] == "paid" and r.json()["paid_by"] == HQ.user, r.text
    assert p.post(f"{API}/refunds/{refund_id}/pay", HQ, json={}).status_code == 409

    # intake completes the case's step from settlement.refund_paid; the center closes it
    wait_for(lambda: p.get(f"{API}/returns/{case['id']}", C01).json()["step"] == "refunded", what="refunded")
    r = _step(p, C01, case["id"], action="close", note="退款已到账")
    assert r.status_code == 200 and r.json()["step"] == "closed" and r.json()["closed_by"] == C01.user, r.text

    (paid,) = wait_for(lambda: paid_events() or None, what="settlement.refund_paid")
    assert (paid["refund_id"], paid["return_case_id"], paid["ticket_id"], paid["amount"]) == (
        refund_id,
        case["id"],
        ticket["id"],
        "12800.00",
    )
    assert len(paid_events()) == 1  # emitted once (the second payment was refused)
    # heard again (a replay under a new message id): the closed case stays closed, audited as ignored
    publish(p.config, "settlement", "settlement.refund_paid", events.load("settlement.refund_paid", paid))
    wait_for(
        lambda: (
            sum(a["action"] == "refund_paid" for a in p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]) == 2
        ),
        what="the replayed payment audited",
    )
    final = p.get(f"{API}/returns/{case['id']}", C01).json()
    assert final["step"] == "closed" and final["refund_paid_at"]
    assert _stock(p).get("defective") == 1
    assert len(paid_events()) == 2  # ours, the replay: nothing more from settlement
    actions = [a["action"] for a in p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]]
    for expected in (
        "return_requested",
        "return_inspect",
        "return_decide",
        "return_receive",
        "refund_paid",
        "return_close",
    ):
        assert expected in actions, actions


def _dead(service, source):
    return metrics.DEAD_LETTERS.labels(service, source)._value.get()


def _exchange_received(p, serial):
    """An exchange within 30 days inspected, approved and its machine back in the warehouse."""
    ticket = _ticket(p, 30, serial)
    r = p.post(f"{API}/tickets/{ticket['id']}/returns", C01, json={"kind": "exchange", "reason": "主轴异响"})
    assert r.status_code == 201 and r.json()["days"] == 30, r.text
    case_id = r.json()["id"]
    assert _step(p, LEAD, case_id, action="inspect", quality_fault=True, finding="主轴缺陷").status_code == 200
    r = _step(p, C01, case_id, action="decide", approve=True, refund_amount="100.00")
    assert r.status_code == 422 and "refund_amount" in r.json()["error"]["fields"], (
        r.text
    )  # an exchange refunds nothing
    assert _step(p, C01, case_id, action="decide", approve=True).status_code == 200
    r = _step(p, C01, case_id, action="receive")
    assert r.status_code == 200 and r.json()["refund_id"] is None, r.text
    wait_for(lambda: _stock(p).get("defective") == 1, what="the exchanged machine in stock")
    return ticket, case_id


def _case(p, case_id):
    return p.get(f"{API}/returns/{case_id}", C01).json()


def _receipt(p, serial):
    r = p.post(
        f"{API}/parts/receipts",
        C01,
        json={"location_id": "WH-C01", "part_no": MACHINE, "quantity": 1, "serials": [serial]},
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_an_exchange_within_30_days_sends_the_replacement_out_of_the_warehouse(returns_platform):
    p = returns_platform
    issued_events = collector(p.config["AMQP_URI"], "parts.replacement_issued")
    short_events = collector(p.config["AMQP_URI"], "parts.replacement_short")
    late = _ticket(p, 31, "CK6150EX0031")
    r = p.post(f"{API}/tickets/{late['id']}/returns", C01, json={"kind": "exchange", "reason": "主轴异响"})
    assert r.status_code == 422 and "31" in r.json()["error"]["fields"]["kind"][0], r.text

    ticket, case_id = _exchange_received(p, "CK6150EX0030")
    # the warehouse receives a new machine from the factory, then the center asks for the replacement
    _receipt(p, "CK6150NEW0001")
    assert _stock(p) == {"defective": 1, "good": 1}
    r = _step(p, C01, case_id, action="issue_replacement", replacement_serial="CK6150EX0030")
    assert r.status_code == 422 and "replacement_serial" in r.json()["error"]["fields"], r.text
    assert _case(p, case_id)["step"] == "received"  # refused: nothing asked
    r = _step(p, C01, case_id, action="issue_replacement", note="仓库有新机")
    assert r.status_code == 200 and r.json()["step"] == "replacement_requested", r.text
    assert r.json()["replacement_requested_by"] == C01.user
    # parts books the unit on hand out and says so; the case is replaced from parts' answer
    final = wait_for(lambda: (c := _case(p, case_id))["step"] == "replaced" and c, what="the case replaced")
    assert (final["replacement_serial"], final["replaced_by"], final["awaiting_stock_at"]) == (
        "CK6150NEW0001",
        C01.user,
        None,
    )
    assert _stock(p) == {"defective": 1, "good": 0}
    moves = p.get(f"{API}/parts/movements", C01, params={"location_id": "WH-C01", "part_no": MACHINE}).json()["items"]
    assert sorted((m["kind"], m["quantity"], m["serials"]) for m in moves) == [
        ("issue", -1, ["CK6150NEW0001"]),
        ("receipt", 1, ["CK6150NEW0001"]),
        ("return", 1, ["CK6150EX0030"]),
    ]
    (issued,) = wait_for(issued_events, what="parts.replacement_issued")
    assert (issued["return_case_id"], issued["serial"], issued["waited"]) == (case_id, "CK6150NEW0001", False)
    assert short_events() == []
    assert _step(p, C01, case_id, action="issue_replacement").status_code == 409  # asked once
    assert _step(p, C01, case_id, action="close").json()["step"] == "closed"
    assert p.get(f"{API}/refunds", HQ, params={"return_case_id": case_id}).json()["total"] == 0
    actions = [a["action"] for a in p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]]
    assert (
        actions.index("return_issue_replacement") < actions.index("replacement_issued") < actions.index("return_close")
    )


def test_an_exchange_short_of_stock_awaits_it_and_is_replaced_when_a_unit_is_received(returns_platform):
    p = returns_platform
    issued_events = collector(p.config["AMQP_URI"], "parts.replacement_issued")
    short_events = collector(p.config["AMQP_URI"], "parts.replacement_short")
    requested_events = collector(p.config["AMQP_URI"], "return.replacement_requested", source="intake")
    dead = {
        ("parts", "return.replacement_requested"): _dead("parts", "return.replacement_requested"),
        ("intake", "parts.replacement_short"): _dead("intake", "parts.replacement_short"),
        ("intake", "parts.replacement_issued"): _dead("intake", "parts.replacement_issued"),
    }
    ticket, case_id = _exchange_received(p, "CK6150EX0029")
    assert _stock(p).get("good", 0) == 0  # no new machine in the warehouse
    r = _step(p, C01, case_id, action="issue_replacement")
    assert r.status_code == 200 and r.json()["step"] == "replacement_requested", r.text

    # parts has no good unit: it records the request as waiting and says so; the case awaits stock
    waiting = wait_for(lambda: (c := _case(p, case_id))["step"] == "awaiting_stock" and c, what="awaiting stock")
    assert waiting["awaiting_stock_at"] and waiting["replaced_at"] is None
    (short,) = wait_for(short_events, what="parts.replacement_short")
    assert (short["return_case_id"], short["location_id"], short["part_no"]) == (case_id, "WH-C01", MACHINE)
    assert _step(p, C01, case_id, action="close").status_code == 409  # not before the machine is sent
    # the request heard again under a new message id: nothing more (no second answer, no booking)
    (request,) = [e for e in requested_events() if e["return_case_id"] == case_id]
    handled = _handled("parts", "return.replacement_requested")
    publish(p.config, "intake", "return.replacement_requested", events.load("return.replacement_requested", request))
    wait_for(lambda: _handled("parts", "return.replacement_requested") == handled + 1, what="the replay handled")
    assert len(short_events()) == 1 and issued_events() == []
    assert _case(p, case_id)["step"] == "awaiting_stock"
    assert {k: _dead(*k) for k in dead} == dead  # a shortage is an answer, not a dead letter

    # a new machine is received: parts issues it to the waiting exchange in the same booking
    booked = _receipt(p, "CK6150NEW0002")
    assert booked["on_hand"] == 0, booked  # received and sent out at once
    final = wait_for(lambda: (c := _case(p, case_id))["step"] == "replaced" and c, what="the case replaced")
    assert (final["replacement_serial"], final["replaced_by"]) == ("CK6150NEW0002", C01.user)
    (issued,) = wait_for(issued_events, what="parts.replacement_issued")
    assert (issued["return_case_id"], issued["serial"], issued["waited"], issued["movement_no"]) == (
        case_id,
        "CK6150NEW0002",
        True,
        f"RX-{case_id}",
    )
    assert _stock(p) == {"defective": 1, "good": 0}
    # parts' answer heard again: the case stays replaced (audited as ignored)
    publish(p.config, "parts", "parts.replacement_issued", events.load("parts.replacement_issued", issued))
    wait_for(
        lambda: (
            sum(
                a["action"] == "replacement_issued" for a in p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]
            )
            == 2
        ),
        what="the replayed issue audited",
    )
    assert _case(p, case_id)["step"] == "replaced"
    assert _step(p, C01, case_id, action="close").json()["step"] == "closed"
    assert {k: _dead(*k) for k in dead} == dead
    actions = [a["action"] for a in p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]]
    for expected in ("return_issue_replacement", "replacement_short", "replacement_issued", "return_close"):
        assert expected in actions, actions


def test_a_complaints_compensation_is_approved_by_a_technical_lead_and_paid_by_hq(returns_platform):
    p = returns_platform
    r = p.post(
        f"{API}/tickets",
        C01,
        json={
            "kind": "complaint",
            "channel": "hotline",
            "customer_name": "武汉赔偿客户",
            "phone": "13800006666",
            "address": "湖北省武汉市洪山区珞喻路1号",
            "product_line": "数控车床",
            "model": "CK6150",
            "fault": "维修后再次故障,停产两天",
        },
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    body = {"amount": "1500.00", "reason": "停产损失补偿"}
    assert p.post(f"{API}/tickets/{ticket['id']}/compensation", LEAD, json=body).status_code == 409  # not yet
    for action in ("register", "internal_check", "negotiate"):
        r = p.post(f"{API}/tickets/{ticket['id']}/transitions", C01, json={"action": action, "note": action})
        assert r.status_code == 200, (action, r.text)
    assert r.json()["case_state"] == "negotiation"
    assert p.post(f"{API}/tickets/{ticket['id']}/compensation", C01, json=body).status_code == 403
    r = p.post(f"{API}/tickets/{ticket['id']}/compensation", LEAD, json={"amount": "lots", "reason": "x"})
    assert r.status_code == 422 and {"amount", "reason"} <= set(r.json()["error"]["fields"]), r.text
    assert p.post(f"{API}/tickets/{ticket['id']}/compensation", C02, json=body).status_code == 404  # another center
    r = p.post(f"{API}/tickets/{ticket['id']}/compensation", LEAD, json=body)
    assert r.status_code == 201 and r.json()["approved_by"] == LEAD.user, r.text
    refund_id = r.json()["refund_id"]
    assert p.post(f"{API}/tickets/{ticket['id']}/compensation", LEAD, json=body).status_code == 409

    def recorded():
        r = p.get(f"{API}/refunds/{refund_id}", C01)
        return r.json() if r.status_code == 200 else None

    refund = wait_for(recorded, what="the compensation recorded in settlement")
    assert (refund["kind"], refund["amount"], refund["return_case_id"]) == ("compensation", "1500.00", None)
    assert p.post(f"{API}/refunds/{refund_id}/pay", HQ, json={}).status_code == 200
    wait_for(
        lambda: p.get(f"{API}/tickets/{ticket['id']}", C01).json()["case_state"] == "compensation",
        what="the complaint case at 退赔款",
    )
