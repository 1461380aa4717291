"""The hotline/fax bridge client against a real broker and a running intake."""

import time

import pytest

from services.intake.service import IntakeService
from shared.bridge import BridgeClient, BridgeError
from tests.conftest import HQ


def request(ref, name="武汉测试公司", address="湖北省武汉市洪山区珞喻路1号"):
    return {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": name,
        "phone": "138****0000",
        "address": address,
        "product_line": "数控车床",
        "model": "CK6150",
        "purchase_date": "2025-06-01",
        "fault": "无法启动",
        "external_ref": ref,
        "unknown_extra_column": "ignored by BridgeRequest",
    }


def wait_for_tickets(rpc_as, expected, timeout=15.0):
    deadline = time.monotonic() + timeout
    page = None
    while time.monotonic() < deadline:
        with rpc_as(HQ) as intake:
            page = intake.list_tickets({"channel": "hotline", "limit": 50})
        if page["total"] >= expected:
            return page
        time.sleep(0.2)
    return page


def test_bridge_registers_idempotently(container_factory, service_config, rpc_as):
    container = container_factory(IntakeService, service_config)
    container.start()
    with BridgeClient(service_config["AMQP_URI"]) as bridge:
        bridge.submit(request("HL-0001"))
        bridge.submit(request("HL-0001"))  # the bridge sends the same request again
        errors = bridge.submit_many([request("HL-0002", name="济南测试公司", address="山东省济南市历下区泉城路1号")])
    assert errors == [None]

    page = wait_for_tickets(rpc_as, 2)
    assert page["total"] == 2
    # give a possible stray third registration time to show up
    time.sleep(1.0)
    with rpc_as(HQ) as intake:
        page = intake.list_tickets({"channel": "hotline", "limit": 50})
    assert page["total"] == 2
    refs = sorted(t["external_ref"] for t in page["items"])
    assert refs == ["HL-0001", "HL-0002"]
    assert {t["tenant_id"] for t in page["items"]} == {"C01", "C02"}
    assert all(t["owner_user"] == "hotline-bridge" for t in page["items"])


def test_submit_without_consumer_raises(rabbit_config):
    # a fresh vhost and no intake: nothing is bound to fsm.bridge
    with BridgeClient(rabbit_config["AMQP_URI"]) as bridge:
        with pytest.raises(BridgeError) as info:
            bridge.submit(request("HL-0003"))
        assert "not routable" in str(info.value)
        assert info.value.external_ref == "HL-0003"
        # the client stays usable after an unroutable message
        with pytest.raises(BridgeError):
            bridge.submit(request("HL-0004"))


def test_unreachable_broker_raises():
    client = BridgeClient("amqp://guest:guest@127.0.0.1:1/", connect_timeout=2)
    with pytest.raises(BridgeError) as info:
        client.submit(request("HL-0005"))
    assert "cannot connect" in str(info.value)
