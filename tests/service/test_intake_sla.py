"""SLA through the running services: deadlines on registration, the watchdog's breach events
on the real broker (queue bound to intake.events / sla.breached), meeting a deadline in time."""

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from kombu import Connection, Exchange, Queue

from shared.errors import Forbidden
from tests.conftest import C01, HQ

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
BASE = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉SLA公司",
    "phone": "13800002222",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "无法启动",
}


class BreachQueue:
    """A queue of our own bound to intake's events exchange for sla.breached."""

    def __init__(self, amqp_uri):
        self.conn = Connection(amqp_uri)
        exchange = Exchange("intake.events", type="topic", durable=True, auto_delete=False)
        self.queue = Queue(
            "test-sla-breached", exchange=exchange, routing_key="sla.breached", auto_delete=True, exclusive=True
        )
        self.simple = self.conn.SimpleQueue(self.queue)

    def drain(self, expect=None, timeout=8.0, quiet=1.0):
        """Messages until `expect` arrived (then `quiet` more seconds) or `timeout` passed."""
        got, deadline, last = [], time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if expect is not None and len(got) >= expect and last and time.monotonic() - last > quiet:
                break
            try:
                msg = self.simple.get(block=True, timeout=0.2)
            except self.simple.Empty:
                if expect is None and time.monotonic() > deadline - timeout + quiet * 2:
                    break
                continue
            msg.ack()
            got.append(msg.payload)
            last = time.monotonic()
        return got

    def close(self):
        self.simple.close()
        self.conn.release()


@pytest.fixture
def breaches(service_config):
    q = BreachQueue(service_config["AMQP_URI"])
    yield q
    q.close()


def _register(platform, principal=C01, **kw):
    r = platform.post(f"{API}/tickets", principal, json={**BASE, **kw})
    assert r.status_code == 201, r.text
    return r.json()


def _deadlines(ticket):
    return {d["sla"]: d for d in ticket["deadlines"]}


def _local(s):
    return datetime.fromisoformat(s).astimezone(TZ).replace(tzinfo=None)


def test_breaches_published_once_and_accept_met(platform, breaches, rpc_as):
    three_days_ago = (datetime.now(TZ) - timedelta(days=3)).isoformat()
    late = _register(platform, received_at=three_days_ago, customer_name="逾期客户")
    fresh = _register(platform, customer_name="及时客户", channel="hotline")
    assert set(_deadlines(late)) == {"accept", "phone_reply", "onsite", "forward"}
    # registering by territory is the forwarding (1-hour rule): met at once, but late, so breached
    fwd = _deadlines(late)["forward"]
    assert fwd["met_at"] and fwd["breached_at"]
    assert [(e["sla"], e["ticket_id"]) for e in breaches.drain(expect=1, timeout=5.0)] == [("forward", late["id"])]
    expected = {"accept", "phone_reply", "onsite"}

    with pytest.raises(Forbidden):
        with rpc_as(C01) as intake:
            intake.run_sla_check()
    with rpc_as(HQ) as intake:
        result = intake.run_sla_check()
    assert result == {"breached": len(expected), "re_escalated": 0, "at_risk": 0}
    events = breaches.drain(expect=len(expected))
    assert sorted(e["sla"] for e in events) == sorted(expected)
    for e in events:
        assert e["ticket_id"] == late["id"] and e["tenant_id"] == "C01" and e["number"] == late["number"]

    # a second check finds nothing new and publishes nothing
    with rpc_as(HQ) as intake:
        assert intake.run_sla_check() == {"breached": 0, "re_escalated": 0, "at_risk": 0}
    assert breaches.drain(timeout=2.0) == []

    got = platform.get(f"{API}/tickets/{late['id']}", HQ).json()
    assert all(d["breached_at"] for d in got["deadlines"])

    # accepting in time meets the accept deadline, no breach
    r = platform.post(f"{API}/tickets/{fresh['id']}/transitions", C01, json={"action": "accept"})
    assert r.status_code == 200, r.text
    acc = _deadlines(r.json())["accept"]
    assert acc["met_at"] and acc["breached_at"] is None
    assert datetime.fromisoformat(acc["met_at"]) <= datetime.fromisoformat(acc["due_at"])
    with rpc_as(HQ) as intake:
        assert intake.run_sla_check() == {"breached": 0, "re_escalated": 0, "at_risk": 0}
    assert breaches.drain(timeout=1.5) == []


def test_accepting_late_publishes_the_breach(platform, breaches):
    t = _register(platform, received_at=(datetime.now(TZ) - timedelta(days=2)).isoformat(), channel="hotline")
    r = platform.post(f"{API}/tickets/{t['id']}/transitions", C01, json={"action": "accept"})
    assert r.status_code == 200, r.text
    acc = _deadlines(r.json())["accept"]
    assert acc["met_at"] and acc["breached_at"]
    events = breaches.drain(expect=1, timeout=5.0)
    assert [(e["sla"], e["ticket_id"]) for e in events] == [("accept", t["id"])]


def test_deadline_values_through_the_api(platform):
    # the web 1-hour rule around 18:00 on the last working day before National Day
    before = _register(platform, received_at="2025-09-30T17:59:59+08:00", purchase_date="2025-06-01")
    after = _register(platform, received_at="2025-09-30T18:00:00+08:00", purchase_date="2025-06-01")
    assert _local(_deadlines(before)["forward"]["due_at"]) == datetime(2025, 9, 30, 18, 59, 59)
    assert _local(_deadlines(after)["forward"]["due_at"]) == datetime(2025, 10, 9, 9, 30)
    assert _local(_deadlines(after)["accept"]["due_at"]) == datetime(2025, 10, 1, 18, 0)

    # on-site by tier for C01: local 24 h, in-province 2 working days, out-of-province 5 working days
    received = "2025-06-10T10:00:00+08:00"
    for address, tier, due in (
        ("湖北省武汉市江汉区解放大道1号", "local", datetime(2025, 6, 11, 10, 0)),
        ("湖北省宜昌市西陵区东山大道1号", "in_province", datetime(2025, 6, 12, 10, 0)),
        ("湖南省长沙市岳麓区麓山南路2号", "out_of_province", datetime(2025, 6, 17, 10, 0)),
    ):
        t = _register(platform, address=address, received_at=received, channel="hotline")
        assert (t["tenant_id"], t["tier"]) == ("C01", tier), address
        assert _local(_deadlines(t)["onsite"]["due_at"]) == due, (address, tier)
    # out-of-province across the National Day holiday: 5 working days from 30 Sep are 9,10,11,13,14 Oct
    t = _register(
        platform, address="湖南省长沙市岳麓区麓山南路2号", received_at="2025-09-30T10:00:00+08:00", channel="hotline"
    )
    assert _local(_deadlines(t)["onsite"]["due_at"]) == datetime(2025, 10, 14, 10, 0)
    # a later wished visit date replaces the local 24 h deadline (by closing time of that day)
    t = _register(platform, received_at=received, channel="hotline", wished_visit_at="2025-06-13")
    assert _local(_deadlines(t)["onsite"]["due_at"]) == datetime(2025, 6, 13, 18, 0)
