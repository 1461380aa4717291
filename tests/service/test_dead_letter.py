"""Bad input on intake's queues goes to `intake.dead-letter`; the worker keeps consuming.

Real broker: each test gets its own vhost (`service_config["AMQP_URI"]`). Messages are
published the way their real publishers do it: the hotline bridge as plain AMQP JSON,
dispatch's events as nameko does (topic exchange `dispatch.events`, JSON,
``nameko.*`` headers, message id = event id).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from kombu import Connection, Exchange, Producer

from services.intake.service import BRIDGE_EXCHANGE, BRIDGE_QUEUE, BRIDGE_ROUTING_KEY, IntakeService
from shared import tenancy
from shared.messaging import dead_letter_names
from tests.conftest import C01, HQ

DEAD_LETTER_QUEUE = dead_letter_names("intake")[1]

VALID_BRIDGE = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉热线客户",
    "phone": "138****1234",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "主轴异响",
}

REQUEST = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


def publish(
    amqp_uri,
    exchange_name,
    routing_key,
    body,
    *,
    content_type="application/json",
    headers=None,
    message_id=None,
    exchange_type="topic",
):
    """Publish raw `body` (bytes) with confirms and mandatory=True: an unroutable message raises."""
    exchange = Exchange(exchange_name, type=exchange_type, durable=True, passive=True)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel, exchange=exchange)
        properties = {}
        if message_id:
            properties["message_id"] = message_id
        producer.publish(
            body,
            routing_key=routing_key,
            content_type=content_type,
            content_encoding="utf-8" if content_type else "binary",
            headers=headers or {},
            delivery_mode=2,
            mandatory=True,
            retry=False,
            **properties,
        )


def publish_event(amqp_uri, source, event_type, payload, *, event_id=None, principal=None):
    """An event as nameko's EventDispatcher + our outbox relay send it."""
    event_id = event_id or uuid.uuid4().hex
    principal = principal or tenancy.service_principal(source)
    headers = {
        "nameko.principal": principal.encode(),
        "nameko.event_id": event_id,
        "nameko.event_version": 1,
        "nameko.call_id_stack": [f"{source}.outbox-relay.{uuid.uuid4()}"],
    }
    publish(
        amqp_uri,
        f"{source}.events",
        event_type,
        json.dumps(payload).encode("utf-8"),
        headers=headers,
        message_id=event_id,
    )
    return event_id


def drain(amqp_uri, queue_name, expect, timeout=15.0):
    """basic_get (and ack) up to `expect` messages from `queue_name`, waiting up to `timeout`."""
    got = []
    deadline = time.monotonic() + timeout
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while len(got) < expect and time.monotonic() < deadline:
            message = channel.basic_get(queue_name, no_ack=False)
            if message is None:
                time.sleep(0.1)
                continue
            channel.basic_ack(message.delivery_tag)
            got.append(message)
        # and nothing more than expected arrives shortly after
        time.sleep(0.3)
        extra = channel.basic_get(queue_name, no_ack=True)
        assert extra is None, f"unexpected extra dead letter: {extra.body!r}"
    return got


def _raw(body):
    """py-amqp hands back a str when the message declares utf-8 and decodes as such."""
    return body.encode("utf-8") if isinstance(body, str) else body


def wait_for(predicate, timeout=15.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def test_bridge_bad_messages_are_dead_lettered_and_consumer_keeps_going(container_factory, service_config, rpc_as):
    container = container_factory(IntakeService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]

    bad = [
        b"\xff\xfe this is { not json",  # not JSON (not even UTF-8)
        json.dumps([VALID_BRIDGE]).encode("utf-8"),  # a JSON list, not an object
        json.dumps({**{k: v for k, v in VALID_BRIDGE.items() if k != "phone"}, "external_ref": "HL-BAD-1"}).encode(
            "utf-8"
        ),  # missing phone
    ]
    for body in bad:
        publish(uri, BRIDGE_EXCHANGE, BRIDGE_ROUTING_KEY, body)
    ref = f"HL-{uuid.uuid4().hex[:8]}"
    publish(
        uri,
        BRIDGE_EXCHANGE,
        BRIDGE_ROUTING_KEY,
        json.dumps({**VALID_BRIDGE, "external_ref": ref}, ensure_ascii=False).encode("utf-8"),
    )

    def registered():
        with rpc_as(HQ) as intake:
            page = intake.list_tickets({"channel": "hotline"})
        return [t for t in page["items"] if t["external_ref"] == ref]

    tickets = wait_for(registered, what="the valid bridge request to be registered")
    assert len(tickets) == 1
    assert tickets[0]["tenant_id"] == "C01"

    dead = drain(uri, DEAD_LETTER_QUEUE, expect=3)
    assert sorted(_raw(m.body) for m in dead) == sorted(bad)
    for m in dead:  # the broker says why and from where
        death = m.headers["x-death"][0]
        assert death["queue"] == BRIDGE_QUEUE
        assert death["reason"] == "rejected"

    # nothing half-applied: only the valid request became a ticket
    with rpc_as(HQ) as intake:
        assert intake.list_tickets({"channel": "hotline"})["total"] == 1

    # and the bridge queue is empty, the consumer still attached
    with Connection(uri) as conn:
        _, count, consumers = conn.default_channel.queue_declare(BRIDGE_QUEUE, passive=True)
    assert count == 0 and consumers == 1


def test_bridge_garbage_without_content_type(container_factory, service_config, rpc_as):
    """A publisher that forgets the content type: the body reaches us as raw bytes/str."""
    container = container_factory(IntakeService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]
    publish(uri, BRIDGE_EXCHANGE, BRIDGE_ROUTING_KEY, b"garbage", content_type=None)
    ref = f"HL-{uuid.uuid4().hex[:8]}"
    publish(
        uri,
        BRIDGE_EXCHANGE,
        BRIDGE_ROUTING_KEY,
        json.dumps({**VALID_BRIDGE, "external_ref": ref}).encode("utf-8"),
        content_type=None,
    )

    def registered():
        with rpc_as(HQ) as intake:
            return intake.list_tickets({"channel": "hotline"})["total"] == 1

    wait_for(registered, what="the valid request without content type")
    dead = drain(uri, DEAD_LETTER_QUEUE, expect=1)
    assert _raw(dead[0].body) == b"garbage"


def _visit(ticket_id, **over):
    body = {
        "tenant_id": "C01",
        "visit_id": f"v-{uuid.uuid4().hex[:8]}",
        "ticket_id": ticket_id,
        "outlet_id": None,
        "technician_id": "tech-1",
        "at": datetime.now(UTC).isoformat(),
        "planned_arrival": None,
        "reason": None,
    }
    body.update(over)
    return body


def test_bad_event_dead_lettered_then_valid_event_applied_once(container_factory, service_config, rpc_as):
    container = container_factory(IntakeService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]
    with rpc_as(C01) as intake:
        ticket = intake.register_ticket(REQUEST)
    assert ticket["status"] == "registered"

    bad = _visit(ticket["id"])
    del bad["ticket_id"]
    bad_id = publish_event(uri, "dispatch", "visit.started", bad)

    good = _visit(ticket["id"])
    event_id = publish_event(uri, "dispatch", "visit.started", good)
    # the same fact delivered again (a relay that crashed between publish and mark)
    publish_event(uri, "dispatch", "visit.started", good, event_id=event_id)

    def started():
        with rpc_as(C01) as intake:
            t = intake.get_ticket(ticket["id"])
        return t if t["status"] == "on_site" else None

    t = wait_for(started, what="visit.started to be applied")
    onsite = next(d for d in t["deadlines"] if d["sla"] == "onsite")
    assert onsite["met_at"] is not None
    assert t["onsite_at"] is not None

    dead = drain(uri, DEAD_LETTER_QUEUE, expect=1)
    assert json.loads(dead[0].body) == bad
    assert dead[0].properties.get("message_id") == bad_id

    # the duplicate was consumed (queue empty) and changed nothing
    queue = "evt-dispatch-visit.started--intake.on_visit_started"

    def queue_empty():
        with Connection(uri) as conn:
            _, count, _ = conn.default_channel.queue_declare(queue, passive=True)
        return count == 0

    wait_for(queue_empty, what="the event queue to drain")
    time.sleep(0.5)  # let the duplicate's worker finish
    with rpc_as(C01) as intake:
        t = intake.get_ticket(ticket["id"])
    started_entries = [a for a in t["audit"] if a["action"] == "visit_started"]
    assert len(started_entries) == 1, t["audit"]
    assert t["version"] == ticket["version"] + 1


def test_event_naming_another_tenant_does_not_touch_the_ticket(container_factory, service_config, rpc_as):
    """An event whose tenant does not own the ticket it names is scoped away (the handler acts
    for the event's tenant and does not see the ticket): remembered as not applicable, the
    consumer moves on and the next valid event applies."""
    container = container_factory(IntakeService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]
    with rpc_as(C01) as intake:
        ticket = intake.register_ticket(REQUEST)
    publish_event(uri, "dispatch", "visit.started", _visit(ticket["id"], tenant_id="C02"))
    good = publish_event(uri, "dispatch", "visit.started", _visit(ticket["id"]))
    assert good

    def started():
        with rpc_as(C01) as intake:
            return intake.get_ticket(ticket["id"])["status"] == "on_site"

    wait_for(started, what="the C01 visit to be applied")
    with rpc_as(C01) as intake:
        t = intake.get_ticket(ticket["id"])
    assert len([a for a in t["audit"] if a["action"] == "visit_started"]) == 1
