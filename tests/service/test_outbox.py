"""No lost facts: the transactional outbox and its relay.

- unit level: a rolled-back unit of work leaves no outbox row; the relay publishes committed
  rows (with confirms, message id = event id) and marks them published; the idempotent
  consumer claim commits or rolls back with the work.
- broker restart (a RabbitMQ node of the test's own, `stop_app` / `start_app`): tickets registered
  while the broker is away all come out as `ticket.registered` once it is back, each once.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import kombu.exceptions
import pytest
from kombu import Connection, Exchange, Queue
from nameko.testing.services import entrypoint_hook
from sqlalchemy import MetaData, select

from shared import tenancy
from shared.db import Store
from shared.outbox import OutboxRelay, outbox_table, processed_table
from tests.conftest import C01, C02, HQ, Platform

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


def registered_payload(ticket_id):
    return {
        "tenant_id": "C01",
        "ticket_id": ticket_id,
        "number": "C01-1",
        "kind": "repair",
        "channel": "web",
        "priority": 3,
        "received_at": datetime(2025, 6, 1, 8, tzinfo=UTC),
        "warranty": "warranty",
        "tier": "local",
        "geo_ambiguous": False,
    }


def bind_queue(amqp_uri, service, routing_key, name=None):
    """A durable queue bound to `<service>.events` (declared like the relay declares it)."""
    name = name or f"test-{routing_key}-{uuid.uuid4().hex[:6]}"
    exchange = Exchange(f"{service}.events", type="topic", durable=True, auto_delete=False)
    queue = Queue(name, exchange=exchange, routing_key=routing_key, durable=True, auto_delete=False)
    with Connection(amqp_uri) as conn:
        queue.bind(conn).declare()
    return name


def collect(amqp_uri, queue_name, expect, timeout=30.0, settle=1.0):
    """basic_get every message from `queue_name` until `expect` arrived (or `timeout`), then keep
    listening `settle` seconds more so that duplicates would be seen too."""
    got = []
    deadline = time.monotonic() + timeout
    settle_until = None
    while True:
        try:
            with Connection(amqp_uri, connect_timeout=2) as conn:
                channel = conn.channel()
                while True:
                    now = time.monotonic()
                    if settle_until is None and (len(got) >= expect or now > deadline):
                        settle_until = now + settle
                    if settle_until is not None and now > settle_until:
                        return got
                    message = channel.basic_get(queue_name, no_ack=True)
                    if message is None:
                        time.sleep(0.1)
                    else:
                        got.append(message)
        except (OSError, ConnectionError):  # broker still starting
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class FakeContainer:
    """What OutboxRelay needs of a nameko container, for driving it by hand."""

    def __init__(self, service_name, config):
        self.service_name = service_name
        self.config = config

    def spawn_managed_thread(self, fn, identifier=None):  # pragma: no cover - not started here
        import eventlet

        return eventlet.spawn(fn)


@pytest.fixture
def store(tmp_path):
    s = Store("intake", f"sqlite:///{tmp_path}/outbox.db", MetaData())
    s.create_schema()
    yield s
    s.dispose()


# ---------------------------------------------------------------- unit level


def test_rolled_back_unit_of_work_leaves_no_outbox_row(store):
    principal = tenancy.service_principal("intake", "C01")
    with store.uow(principal) as uow:
        uow.emit("ticket.registered", registered_payload("t-rolled-back"))
        # leaves the block without commit (as on an exception): everything rolls back
    with pytest.raises(RuntimeError):
        with store.uow(principal) as uow:
            uow.emit("ticket.registered", registered_payload("t-raised"))
            raise RuntimeError("domain rule failed after emit")
    with store.engine.connect() as conn:
        assert conn.execute(select(outbox_table)).fetchall() == []


def test_bad_event_payload_is_refused_at_emit(store):
    with store.uow(tenancy.service_principal("intake", "C01")) as uow:
        with pytest.raises(ValueError):
            uow.emit("ticket.registered", {"tenant_id": "C01"})


def test_relay_publishes_committed_rows_and_marks_them(store, service_config):
    uri = service_config["AMQP_URI"]
    queue = bind_queue(uri, "intake", "ticket.registered")
    principal = tenancy.service_principal("intake", "C01")
    woken = []
    store.on_commit_hooks.append(lambda: woken.append(True))
    ids = []
    for n in range(3):
        with store.uow(principal, {"principal": principal.encode()}) as uow:
            ids.append(uow.emit("ticket.registered", registered_payload(f"t{n}")))
            uow.commit()
    assert len(woken) == 3  # the relay is woken on every commit that emitted
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox_table).order_by(outbox_table.c.seq)).fetchall()
    assert [r.id for r in rows] == ids
    assert all(r.published_at is None for r in rows)

    relay = OutboxRelay(store, FakeContainer("intake", service_config))
    assert relay.publish_pending() == 3
    assert relay.publish_pending() == 0  # marked: nothing goes out twice
    with store.engine.connect() as conn:
        rows = conn.execute(select(outbox_table)).fetchall()
    assert all(r.published_at is not None for r in rows)

    got = collect(uri, queue, expect=3, timeout=10, settle=0.3)
    assert [m.properties["message_id"] for m in got] == ids  # in commit order
    for m, event_id in zip(got, ids):
        assert m.headers["nameko.event_id"] == event_id
        assert m.headers["nameko.event_version"] == 1
        assert tenancy.Principal.decode(m.headers["nameko.principal"]) == principal
        assert m.properties["delivery_mode"] == 2  # persistent: survives a broker restart
        body = json.loads(m.body)
        assert body["ticket_id"].startswith("t")


def test_relay_keeps_rows_while_broker_unreachable(store):
    principal = tenancy.service_principal("intake", "C01")
    with store.uow(principal) as uow:
        uow.emit("ticket.registered", registered_payload("t-wait"))
        uow.commit()
    relay = OutboxRelay(
        store, FakeContainer("intake", {"AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1/"})
    )  # nothing listens on port 1
    with pytest.raises((OSError, kombu.exceptions.OperationalError)):
        relay.publish_pending()
    with store.engine.connect() as conn:
        row = conn.execute(select(outbox_table)).one()
    assert row.published_at is None  # waits for the next attempt


def test_idempotency_claim_commits_and_rolls_back_with_the_work(store):
    principal = tenancy.service_principal("intake", "C01")
    with store.uow(principal) as uow:
        assert uow.already_processed("m1", "visit.started") is False
        # no commit: the claim goes away with the failed work, so a redelivery is processed
    with store.uow(principal) as uow:
        assert uow.already_processed("m1", "visit.started") is False
        uow.commit()
    with store.uow(principal) as uow:
        assert uow.already_processed("m1", "visit.started") is True
        assert uow.already_processed("m1", "visit.completed") is False  # per consumer
        assert uow.already_processed(None, "visit.started") is False  # no id: cannot dedupe
        uow.commit()
    with store.engine.connect() as conn:
        assert len(conn.execute(select(processed_table)).fetchall()) == 2


# ---------------------------------------------------------------- broker restart


@pytest.fixture
def chaos_platform(runner_factory, service_config):
    """intake + gateway on a RabbitMQ node of this test's own (the shared one is never stopped)."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from tests.chaos_broker import ChaosBroker

    with ChaosBroker() as broker:
        config = dict(service_config, AMQP_URI=broker.uri)
        runner = runner_factory(config, IntakeService, GatewayService)
        runner.start()
        platform = Platform(runner, config)
        platform.broker = broker
        yield platform
        runner.stop()


@pytest.mark.chaos
def test_no_lost_and_no_duplicated_events_across_broker_restart(chaos_platform):
    platform = chaos_platform
    n = 20
    uri = platform.config["AMQP_URI"]
    intake = platform.containers["intake"]
    queue = bind_queue(uri, "intake", "ticket.registered", name=f"restart-watch-{uuid.uuid4().hex[:6]}")

    # the platform works before the restart
    r = platform.post("/api/v1/tickets", C01, json=REQUEST)
    assert r.status_code == 201, r.text
    before = r.json()["id"]
    assert [json.loads(m.body)["ticket_id"] for m in collect(uri, queue, 1, timeout=10, settle=0.2)] == [before]

    created = []
    try:
        platform.broker.stop_app()
        # The HTTP API cannot register while the broker is down: the gateway reaches intake by
        # nameko RPC, which goes over AMQP (a POST answers 503 with Retry-After). So the
        # tickets are registered by running intake's `register_ticket` worker in its container
        # directly (entrypoint_hook needs no broker): that is the write path under test, the unit
        # of work commits the ticket and its outbox row, and the relay cannot publish yet.
        for i in range(n):
            principal = (C01, C02)[i % 2]
            body = dict(
                REQUEST,
                customer_name=f"停机客户{i}",
                address=("湖北省武汉市洪山区珞喻路1号" if principal is C01 else "山东省济南市历下区泉城路1号"),
            )
            with entrypoint_hook(intake, "register_ticket", context_data={"principal": principal.encode()}) as register:
                ticket = register(body)
            assert ticket["status"] == "registered"
            created.append(ticket["id"])
        assert len(set(created)) == n
        # the events wait in the outbox, unpublished
        db = next(d for d in intake.dependencies if d.attr_name == "db")
        with db.store.engine.connect() as conn:
            pending = conn.execute(
                select(outbox_table.c.id).where(
                    outbox_table.c.published_at.is_(None), outbox_table.c.event_type == "ticket.registered"
                )
            ).all()
        assert len(pending) == n
        r = platform.post("/api/v1/tickets", C01, json=REQUEST)
        assert r.status_code == 503 and r.headers["Retry-After"], r.text
    finally:
        platform.broker.start_app()

    got = collect(uri, queue, expect=n, timeout=30, settle=2.0)
    ids = [json.loads(m.body)["ticket_id"] for m in got]
    assert sorted(ids) == sorted(created), f"{len(ids)} events for {n} tickets"
    assert len({m.properties["message_id"] for m in got}) == n

    # the services reconnected: the API registers again and its event flows
    deadline = time.monotonic() + 30
    while True:
        r = platform.post("/api/v1/tickets", C02, json=dict(REQUEST, address="山东省济南市历下区泉城路1号"))
        if r.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.status_code == 201, r.text
    after = collect(uri, queue, 1, timeout=15, settle=0.5)
    assert [json.loads(m.body)["ticket_id"] for m in after] == [r.json()["id"]]
    assert platform.get("/api/v1/tickets?limit=1", HQ).json()["total"] == n + 2
