"""Bad input through the gateway: 400/422 in the one error shape, the field named, nothing written."""

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import C01, HQ

API = "/api/v1"
GOOD = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "received_at": "2025-06-10T10:00:00+08:00",
    "fault": "无法启动",
}


def _without(field):
    body = dict(GOOD)
    del body[field]
    return body


def _with(**kw):
    body = dict(GOOD)
    body.update(kw)
    return body


def _future():
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


def _total(platform):
    r = platform.get(f"{API}/tickets", HQ)
    assert r.status_code == 200, r.text
    return r.json()["total"]


def _check(r, field, statuses=(400, 422)):
    assert r.status_code in statuses, (field, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] and err["message"], err
    assert field in err.get("fields", {}), (field, err)


def test_register_rejects_bad_input_and_writes_nothing(platform):
    assert platform.post(f"{API}/tickets", C01, json=GOOD).status_code == 201  # the baseline is good
    before = _total(platform)
    cases = [(_without(f), f) for f in ("kind", "channel", "customer_name", "phone", "address", "product_line")]
    cases += [
        (_with(kind="complaint", product_line=None), "product_line"),
        (_with(kind="foo"), "kind"),
        (_with(channel="pigeon"), "channel"),
        (_with(phone="abc"), "phone"),
        (_with(phone=""), "phone"),
        (_with(customer_name=""), "customer_name"),
        (_with(address="x"), "address"),
        (_with(postcode="43"), "postcode"),
        (_with(purchase_date="2025-13-40"), "purchase_date"),
        (_with(purchase_date="yesterday"), "purchase_date"),
        (_with(received_at="not a time"), "received_at"),
        (_with(received_at=_future()), "received_at"),
        (_with(purchase_date="2025-06-11", received_at="2025-06-10T10:00:00+08:00"), "purchase_date"),
        (_with(wished_visit_at="someday"), "wished_visit_at"),
        (_with(colour="red"), "colour"),
        (_with(tenant_id="C99"), "tenant_id"),
        (_with(address="山东省济南市历下区经十路100号"), "address"),  # outside C01's territory
        (_with(safety="maybe"), "safety"),
        (_with(customer_name=123), "customer_name"),
    ]
    for body, field in cases:
        r = platform.post(f"{API}/tickets", C01, json=body)
        _check(r, field)
    # bodies that are not a JSON object
    raw = [
        ("{not json", "_body"),
        ("", "_body"),
        (json.dumps([GOOD]), "_schema"),
        ("42", "_schema"),
        ('"text"', "_schema"),
    ]
    for data, field in raw:
        r = platform.post(f"{API}/tickets", C01, data=data.encode(), headers={"Content-Type": "application/json"})
        _check(r, field)
    assert _total(platform) == before


def test_transition_rejects_bad_input(platform):
    t = platform.post(f"{API}/tickets", C01, json=GOOD).json()
    url = f"{API}/tickets/{t['id']}/transitions"
    cases = [
        ({"action": "explode"}, "action", (422,)),
        ({}, "action", (422,)),
        ({"action": "accept", "colour": "red"}, "colour", (422,)),
        ({"action": "assign_outlet"}, "outlet_id", (422,)),
        ({"action": "assign_outlet", "outlet_id": "C99-O01"}, "outlet_id", (422,)),
        ({"action": "assign_outlet", "outlet_id": "C02-O01"}, "outlet_id", (422,)),  # another center's outlet
        ({"action": "register", "responsibility": "nobody"}, "responsibility", (422,)),
        ({"action": "accept", "expected_version": t["version"] + 5}, "expected_version", (409,)),
        ({"action": "resolve"}, "action", (409,)),  # not from registered
        ({"action": "register"}, "action", (409,)),  # a case step on a repair ticket
        ({"action": "route", "tenant_id": "C02"}, "action", (409,)),  # HQ only, triage only
    ]
    for body, field, statuses in cases:
        _check(platform.post(url, C01, json=body), field, statuses)
    for data, field in (("{", "_body"), ("[]", "_schema")):
        _check(platform.post(url, C01, data=data, headers={"Content-Type": "application/json"}), field)
    after = platform.get(f"{API}/tickets/{t['id']}", HQ).json()
    assert (after["status"], after["version"], after["assigned_outlet_id"]) == ("registered", t["version"], None)
    assert [a["action"] for a in after["audit"]] == ["register"]


def test_list_query_rejects_bad_parameters(platform):
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"kind": "foo"}, "kind"),
        ({"sort": "x"}, "sort"),
        ({"received_from": "never"}, "received_from"),
    ):
        _check(platform.get(f"{API}/tickets", C01, params=params), field, (422,))
