"""Fixtures and helpers of the parts tests: a seeded store, a running parts service, events as
dispatch and intake publish them (nameko's standalone event_dispatcher), scans as a scanner sends them."""

from __future__ import annotations

import json
import uuid

import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.events import event_dispatcher

from shared import clock, events, tenancy
from shared.tenancy import Principal
from tests.conftest import wait_for

OUTLET_1 = Principal("o1-keeper", "outlet", tenant="C01", outlet="C01-O01")
OUTLET_2 = Principal("o2-keeper", "outlet", tenant="C01", outlet="C01-O02")
OUTLET_C02 = Principal("jn-keeper", "outlet", tenant="C02", outlet="C02-O01")
WH_C01 = Principal("wh-wuhan", "warehouse", tenant="C01", warehouse="WH-C01")
WH_C02 = Principal("wh-jinan", "warehouse", tenant="C02", warehouse="WH-C02")
WH_HQ = Principal("wh-hq", "warehouse", warehouse="WH-HQ")
CUSTOMER = Principal("cust", "customer", customer="cu_1")

SPINDLE = "CKL-SPB-6150"  # 数控车床 CK6150 主轴轴承, returnable, 3150.00


def now():
    return clock.now()


def publish(config, source, event_type, payload, event_id=None):
    """Publish `event_type` as `source` would (catalogue-dumped body, principal and event id headers)."""
    body = events.dump(event_type, payload)
    headers = {
        "nameko.event_id": event_id or uuid.uuid4().hex,
        "nameko.principal": tenancy.service_principal(source).encode(),
    }
    event_dispatcher(config, headers=headers)(source, event_type, body)
    return headers["nameko.event_id"]


def ticket_registered(ticket_id, tenant="C01", model="CK6150", line="数控车床", fault="主轴过热,运行异响"):
    return {
        "tenant_id": tenant,
        "ticket_id": ticket_id,
        "number": f"{tenant}-{ticket_id[:6]}",
        "kind": "repair",
        "channel": "hotline",
        "priority": 2,
        "received_at": now(),
        "product_line": line,
        "model": model,
        "serial_no": "CK615022001",
        "fault": fault,
        "warranty": "warranty",
        "tier": "local",
        "geo_ambiguous": False,
    }


def visit_event(visit_id, ticket_id, outlet="C01-O01", tenant="C01", parts_used=None, at=None):
    body = {
        "tenant_id": tenant,
        "visit_id": visit_id,
        "ticket_id": ticket_id,
        "outlet_id": outlet,
        "technician_id": f"{outlet}-T1",
        "at": at or now(),
        "product_line": "数控车床",
        "kind": "repair",
    }
    if parts_used is not None:
        body.update(parts_used=parts_used, work_done="更换主轴轴承", customer_confirmed=True, onsite_on_time=True)
    return body


def collector(amqp_uri, event_type, source="parts"):
    """A queue bound to `<source>.events` for `event_type`; returns a function draining it."""
    name = f"test-{event_type}-{uuid.uuid4().hex[:6]}"
    exchange = Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(name, exchange=exchange, routing_key=event_type, durable=False, auto_delete=False)
    with Connection(amqp_uri) as conn:
        queue.bind(conn).declare()
    seen = []

    def drain():
        with Connection(amqp_uri) as conn:
            channel = conn.channel()
            while True:
                msg = channel.basic_get(name, no_ack=True)
                if msg is None:
                    break
                seen.append(json.loads(msg.body))
        return list(seen)

    return drain


def wait_events(drain, n=1, timeout=15, **match):
    def ok():
        got = [e for e in drain() if all(e.get(k) == v for k, v in match.items())]
        return got if len(got) >= n else None

    return wait_for(ok, timeout=timeout, what=f"{n} event(s) {match}")


@pytest.fixture
def parts_config(service_config):
    config = dict(service_config)
    config["PARTS_OVERDUE_CHECK_SECONDS"] = 3600  # tests run the check by hand
    return config


@pytest.fixture
def parts_service(container_factory, parts_config):
    from services.parts.service import PartsService

    container = container_factory(PartsService, parts_config)
    container.start()
    return container


@pytest.fixture
def parts_platform(runner_factory, parts_config):
    """parts + gateway."""
    from services.gateway.service import GatewayService
    from services.parts.service import PartsService
    from tests.conftest import Platform

    runner = runner_factory(parts_config, PartsService, GatewayService)
    runner.start()
    return Platform(runner, parts_config)


@pytest.fixture
def moved_clock():
    yield clock
    clock.reset()


def store_for(url, seed_stock=False):
    """A parts database at `url` with the schema, catalogue and locations (and opening stock)."""
    from services.parts import domain, seed
    from services.parts.models import Base
    from shared.db import Store
    from shared.tenants import TenantDirectory

    store = Store("parts", url, Base.metadata, "services.parts.migrations")
    store.create_schema()
    catalogue = domain.Catalogue.load()
    seed.seed_reference(store, catalogue, TenantDirectory.load())
    if seed_stock:
        seed.seed_opening_stock(store, catalogue)
    return store


@pytest.fixture
def parts_store(tmp_path):
    store = store_for(f"sqlite:///{tmp_path}/parts.db")
    yield store
    store.dispose()


def service_uow(store):
    return store.uow(tenancy.service_principal("parts-test"))


def wait_rpc(rpc_as, principal, method, check, *args, timeout=15):
    def probe():
        with rpc_as(principal, "parts") as parts:
            result = getattr(parts, method)(*args)
        return result if check(result) else None

    return wait_for(probe, timeout=timeout, what=f"parts.{method}{args}")
