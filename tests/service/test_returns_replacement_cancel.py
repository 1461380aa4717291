"""Cancelling an exchange's replacement awaiting stock, through the running intake, parts,
settlement and gateway (RabbitMQ): bad input is a 422 naming the field and changes nothing, another
center's case a 404; the center cancels with a reason and the customer takes a refund instead (the
case becomes a received return, settlement pays it, the case is refunded and closed) or withdraws
(withdrawn); a unit received afterwards is not sent to the cancelled case; the same request with
the same Idempotency-Key answers the same, without it a 409 naming the step; a replacement already
issued is refused with a 409 naming the step."""

from tests.conftest import C01, C02, HQ, wait_for
from tests.parts_fixtures import collector
from tests.service.test_returns_refund_flow import (
    LEAD,
    _case,
    _exchange_received,
    _receipt,
    _step,
    _stock,
    _ticket,
    returns_platform,  # noqa: F401  (the fixture)
)

API = "/api/v1"


def _awaiting(p, serial):
    """An exchange received, its replacement asked with no unit in the warehouse: awaiting stock."""
    defective = _stock(p).get("defective", 0)
    if not defective:
        ticket, case_id = _exchange_received(p, serial)
    else:  # another machine is back already: the same steps, waiting for one more
        ticket = _ticket(p, 20, serial)
        r = p.post(f"{API}/tickets/{ticket['id']}/returns", C01, json={"kind": "exchange", "reason": "主轴异响"})
        case_id = r.json()["id"]
        assert _step(p, LEAD, case_id, action="inspect", quality_fault=True, finding="主轴缺陷").status_code == 200
        assert _step(p, C01, case_id, action="decide", approve=True).status_code == 200
        assert _step(p, C01, case_id, action="receive").status_code == 200
        wait_for(lambda: _stock(p).get("defective") == defective + 1, what="the exchanged machine in stock")
    assert _step(p, C01, case_id, action="issue_replacement").status_code == 200
    wait_for(lambda: _case(p, case_id)["step"] == "awaiting_stock", what="awaiting stock")
    return ticket, case_id


def _cancel(p, principal, case_id, key=None, **body):
    headers = {"Idempotency-Key": key} if key else {}
    return p.post(f"{API}/returns/{case_id}/replacement/cancel", principal, json=body, headers=headers)


def _audit(p, ticket):
    return p.get(f"{API}/tickets/{ticket['id']}", C01).json()["audit"]


def test_a_replacement_awaiting_stock_is_cancelled_for_a_refund_and_never_sent(returns_platform):
    p = returns_platform
    issued_events = collector(p.config["AMQP_URI"], "parts.replacement_issued")
    ticket, case_id = _awaiting(p, "CK6150CX0001")

    # bad input: 422 naming the field, nothing changed
    for body, field in (
        ({"outcome": "refund", "refund_amount": "12800.00"}, "reason"),
        ({"reason": "客户改为退款", "outcome": "swap"}, "outcome"),
        ({"reason": "客户改为退款", "outcome": "refund"}, "refund_amount"),
        ({"reason": "客户改为退款", "outcome": "refund", "refund_amount": "-1"}, "refund_amount"),
        ({"reason": "客户撤回", "outcome": "withdraw", "refund_amount": "10.00"}, "refund_amount"),
    ):
        r = _cancel(p, C01, case_id, **body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    assert _cancel(p, C02, case_id, reason="别的中心", outcome="withdraw").status_code == 404
    assert _case(p, case_id)["step"] == "awaiting_stock"

    body = {"reason": "缺货，客户同意改为退款", "outcome": "refund", "refund_amount": "12800.00"}
    r = _cancel(p, C01, case_id, key="cancel-cx0001", **body)
    assert r.status_code == 200, r.text
    case = r.json()
    assert (case["step"], case["kind"], case["refund_amount"]) == ("received", "return", "12800.00")
    assert (case["replacement_cancelled_by"], case["replacement_cancel_reason"]) == (C01.user, body["reason"])
    assert case["replacement_cancel_outcome"] == "refund" and case["replacement_cancelled_at"] and case["refund_id"]
    # retried with the same key: the same answer, nothing twice; without it: 409 naming the step
    again = _cancel(p, C01, case_id, key="cancel-cx0001", **body)
    assert again.status_code == 200 and again.json()["refund_id"] == case["refund_id"], again.text
    r = _cancel(p, C01, case_id, **body)
    assert r.status_code == 409 and "received" in r.json()["error"]["fields"]["step"][0], r.text

    # a new machine arrives: it stays on the shelf, the cancelled case gets nothing
    booked = _receipt(p, "CK6150NEW0101")
    assert booked["on_hand"] == 1, booked
    assert _stock(p) == {"defective": 1, "good": 1}
    assert [e for e in issued_events() if e["return_case_id"] == case_id] == []
    assert _case(p, case_id)["step"] == "received"

    # settlement pays the refund instead (one refund), the case is refunded and closed
    def recorded():
        return p.get(f"{API}/refunds", HQ, params={"return_case_id": case_id}).json()["items"] or None

    (refund,) = wait_for(recorded, what="the refund recorded in settlement")
    assert (refund["id"], refund["amount"], refund["status"]) == (case["refund_id"], "12800.00", "requested")
    r = p.post(f"{API}/refunds/{refund['id']}/pay", HQ, json={"payment_ref": "BANK-CX0001"})
    assert r.status_code == 200, r.text
    wait_for(lambda: _case(p, case_id)["step"] == "refunded", what="refunded")
    assert _step(p, C01, case_id, action="close").json()["step"] == "closed"
    (cancelled,) = [a for a in _audit(p, ticket) if a["action"] == "return_replacement_cancelled"]
    assert (cancelled["from_state"], cancelled["to_state"], cancelled["note"], cancelled["user"]) == (
        "awaiting_stock",
        "received",
        body["reason"],
        C01.user,
    )
    assert cancelled["data"]["outcome"] == "refund" and cancelled["data"]["kind"] == ["exchange", "return"]


def test_a_withdrawn_replacement_is_final_and_an_issued_one_is_not_cancelled(returns_platform):
    p = returns_platform
    ticket, withdrawn_id = _awaiting(p, "CK6150CX0002")
    r = _cancel(p, HQ, withdrawn_id, reason="客户撤回换机申请", outcome="withdraw")
    assert r.status_code == 200, r.text
    assert (r.json()["step"], r.json()["kind"], r.json()["closed_by"], r.json()["refund_id"]) == (
        "withdrawn",
        "exchange",
        HQ.user,
        None,
    )
    assert _step(p, C01, withdrawn_id, action="close").status_code == 409  # withdrawn is final

    # another exchange waits; a unit arrives and is issued to it: its cancel is refused, naming the step
    _, replaced_id = _awaiting(p, "CK6150CX0003")
    _receipt(p, "CK6150NEW0102")
    wait_for(lambda: _case(p, replaced_id)["step"] == "replaced", what="replaced")
    r = _cancel(p, C01, replaced_id, reason="太晚了", outcome="withdraw")
    assert r.status_code == 409 and "replaced" in r.json()["error"]["fields"]["step"][0], r.text
    assert "issued" in r.json()["error"]["message"], r.text
    assert _case(p, replaced_id)["replacement_cancelled_at"] is None
    assert _stock(p) == {"defective": 2, "good": 0}  # the unit went to the waiting case, not the withdrawn one
