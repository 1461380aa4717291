"""Fixtures and helpers of the QA tests: intake + qa (+ gateway) on the real broker, events sent as
the services outside QA's boundary would send them, and a tap on QA's own events."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from shared import events as catalogue
from tests.conftest import Platform

REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉回访测试公司",
    "phone": "13800001111",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "serial_no": "SN-QA-0001",
    "purchase_date": "2025-06-01",
    "fault": "主轴异响",
}


@pytest.fixture
def qa_config(service_config):
    config = dict(service_config)
    config["QA_AUTO_MONTHLY"] = "false"  # the tests publish and plan months themselves
    config["QA_SAMPLE_SEED"] = "test-seed"
    config["QA_ASSESSMENT_MIN_JOBS"] = "1"  # the flows' centers have a job or two (default 3: 未评)
    return config


@pytest.fixture
def qa_platform(runner_factory, qa_config):
    """intake + qa + gateway."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.qa.service import QaService

    runner = runner_factory(qa_config, IntakeService, QaService, GatewayService)
    runner.start()
    yield Platform(runner, qa_config)


@pytest.fixture
def send(qa_config):
    """``send("dispatch", "visit.completed", payload)``: publish as another service would (schema-checked)."""
    dispatch = event_dispatcher(qa_config)

    def _send(source, event_type, payload):
        assert catalogue.CATALOGUE[event_type].source == source
        dispatch(source, event_type, json.loads(json.dumps(catalogue.dump(event_type, payload), default=str)))

    return _send


class Tap:
    """A queue bound to a service's events exchange: what QA actually published."""

    def __init__(self, amqp_uri, source, event_types):
        self.conn = Connection(amqp_uri)
        exchange = Exchange(f"{source}.events", type="topic", durable=True)
        self.queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", exchange=exchange, auto_delete=True, bindings=None)
        self.queue = self.queue.bind(self.conn.default_channel)
        self.queue.declare()
        for event_type in event_types:
            self.queue.bind_to(exchange, routing_key=event_type)
        self.seen = []

    def drain(self):
        while True:
            message = self.queue.get(no_ack=True)
            if message is None:
                return self.seen
            self.seen.append((message.delivery_info["routing_key"], json.loads(message.body)))

    def of(self, event_type):
        return [body for key, body in self.drain() if key == event_type]

    def close(self):
        self.conn.release()


@pytest.fixture
def tap(qa_config):
    taps = []

    def _tap(source, *event_types):
        t = Tap(qa_config["AMQP_URI"], source, event_types)
        taps.append(t)
        return t

    yield _tap
    for t in taps:
        t.close()


def visit(visit_id, ticket_id, outlet_id, at, tenant="C01", **kw):
    payload = {
        "tenant_id": tenant,
        "visit_id": visit_id,
        "ticket_id": ticket_id,
        "outlet_id": outlet_id,
        "technician_id": f"{tenant}-T01",
        "at": at,
        "product_line": "数控车床",
        "kind": "repair",
        "work_done": "更换轴承",
        "parts_used": [],
        "customer_confirmed": True,
        "onsite_on_time": True,
    }
    payload.update(kw)
    return payload


def now_utc():
    return datetime.now(UTC)
