"""`shared.messaging.consume`: one way to consume a fact, against the real broker.

A small service consumes intake's ``ticket.escalated`` with ``@consume``; a script tells its
handler which errors to raise on which attempt. Each test gets its own vhost and SQLite file.

- transient database errors (a concurrent change, a locked database) are retried with backoff:
  the message is processed once, not dead-lettered, and the retries are counted;
- a handler that keeps failing is dead-lettered after ``EVENT_RETRY_ATTEMPTS``; an error that
  is not transient is dead-lettered at once;
- the same message delivered twice runs the handler once;
- the unit of work acts as the scope asks (the caller's principal for the event's tenant, the
  service over all tenants).
"""

from __future__ import annotations

import time
import uuid

import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from shared import metrics, tenancy
from shared.db import Database
from shared.messaging import ALL, consume, dead_letter_names
from shared.outbox import processed_table
from tests.service.test_dead_letter import drain, publish_event, wait_for

SERVICE = "flaky"
EVENT = "ticket.escalated"
EVENT_QUEUE = f"evt-intake-{EVENT}--{SERVICE}.on_escalated"
DEAD_LETTER_QUEUE = dead_letter_names(SERVICE)[1]

metadata = MetaData()
applied = Table(
    "applied",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(64), nullable=False),
    Column("user", String(128)),
    Column("tenant", String(16)),
)


class Script:
    """What the handler does on each attempt (the test and the worker share this process)."""

    failures: list = []  # exceptions raised, one per attempt, after the handler's write
    calls: list = []  # (ticket_id, principal) of every attempt


class FlakyService:
    name = SERVICE
    db = Database(metadata)

    @consume("intake", EVENT)
    def on_escalated(self, uow, payload):
        Script.calls.append((payload["ticket_id"], uow.principal))
        uow.session.execute(
            insert(applied).values(ticket_id=payload["ticket_id"], user=uow.principal.user, tenant=uow.principal.tenant)
        )
        if Script.failures:
            raise Script.failures.pop(0)


class AllTenantsService:
    name = SERVICE
    db = Database(metadata)

    @consume("intake", EVENT, scope=ALL, consumer="escalations")
    def on_escalated(self, uow, payload):
        Script.calls.append((payload["ticket_id"], uow.principal))
        uow.session.execute(
            insert(applied).values(ticket_id=payload["ticket_id"], user=uow.principal.user, tenant=uow.principal.tenant)
        )
        uow.commit()  # a handler may commit itself: the decorator does not commit again


@pytest.fixture(autouse=True)
def script():
    Script.failures, Script.calls = [], []
    yield Script
    Script.failures, Script.calls = [], []


@pytest.fixture
def flaky_config(service_config, tmp_path):
    config = dict(service_config)
    config["DATABASES"] = dict(service_config["DATABASES"], **{SERVICE: f"sqlite:///{tmp_path}/{SERVICE}.db"})
    config["EVENT_RETRY_ATTEMPTS"] = 3
    return config


def escalation(ticket_id=None, tenant="C01"):
    return {
        "tenant_id": tenant,
        "ticket_id": ticket_id or uuid.uuid4().hex,
        "number": f"{tenant}-1",
        "reason": "negative_callback",
        "level": "center",
    }


def rows(config, table):
    engine = create_engine(config["DATABASES"][SERVICE])
    try:
        with engine.connect() as conn:
            return conn.execute(select(table)).fetchall()
    finally:
        engine.dispose()


def queue_depth(uri, queue):
    with Connection(uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue, passive=True)
    return count


def retries_counted():
    return metrics.REGISTRY.get_sample_value("fsm_event_retries_total", {"service": SERVICE, "event": EVENT}) or 0.0


def settled(uri):
    """The event queue is empty (and its last worker had a moment to finish)."""
    if queue_depth(uri, EVENT_QUEUE):
        return False
    time.sleep(0.5)
    return True


def test_transient_errors_are_retried_and_the_message_is_processed_once(container_factory, flaky_config, script):
    container = container_factory(FlakyService, flaky_config)
    container.start()
    uri = flaky_config["AMQP_URI"]
    before = retries_counted()
    script.failures = [
        StaleDataError("UPDATE applied: 0 rows matched (version moved)"),
        OperationalError("UPDATE applied", {}, Exception("database is locked")),
    ]
    payload = escalation()
    event_id = publish_event(uri, "intake", EVENT, payload)

    done = wait_for(lambda: rows(flaky_config, applied), what="the event to be applied")
    assert [r.ticket_id for r in done] == [payload["ticket_id"]]  # the failed attempts rolled back
    assert len(script.calls) == 3
    claims = rows(flaky_config, processed_table)
    assert [(c.message_id, c.consumer) for c in claims] == [(event_id, EVENT)]
    assert retries_counted() - before == 2
    wait_for(lambda: settled(uri), what="the event queue to drain")
    assert queue_depth(uri, DEAD_LETTER_QUEUE) == 0
    # the caller's principal (the publisher's service principal) acting for the event's tenant
    principal = script.calls[-1][1]
    assert principal == tenancy.service_principal("intake").acting_for("C01")
    assert (done[0].user, done[0].tenant) == ("service:intake", "C01")


def test_handler_that_keeps_failing_is_dead_lettered_after_the_attempts(container_factory, flaky_config, script):
    container = container_factory(FlakyService, flaky_config)
    container.start()
    uri = flaky_config["AMQP_URI"]
    script.failures = [OperationalError("INSERT INTO applied", {}, Exception("database is locked"))] * 10
    event_id = publish_event(uri, "intake", EVENT, escalation())

    dead = drain(uri, DEAD_LETTER_QUEUE, expect=1)
    assert len(dead) == 1 and dead[0].properties.get("message_id") == event_id
    death = dead[0].headers["x-death"][0]
    assert death["queue"] == EVENT_QUEUE and death["reason"] == "rejected"
    assert len(script.calls) == 3  # EVENT_RETRY_ATTEMPTS
    assert rows(flaky_config, applied) == [] and rows(flaky_config, processed_table) == []


def test_an_error_that_is_not_transient_is_dead_lettered_at_once(container_factory, flaky_config, script):
    container = container_factory(FlakyService, flaky_config)
    container.start()
    uri = flaky_config["AMQP_URI"]
    script.failures = [ValueError("a bug, not a busy database")]
    publish_event(uri, "intake", EVENT, escalation())
    assert len(drain(uri, DEAD_LETTER_QUEUE, expect=1)) == 1
    assert len(script.calls) == 1
    assert rows(flaky_config, applied) == []


def test_a_message_delivered_twice_runs_the_handler_once(container_factory, flaky_config, script):
    container = container_factory(FlakyService, flaky_config)
    container.start()
    uri = flaky_config["AMQP_URI"]
    payload = escalation()
    event_id = publish_event(uri, "intake", EVENT, payload)
    publish_event(uri, "intake", EVENT, payload, event_id=event_id)  # a relay that crashed before marking
    later = escalation()
    publish_event(uri, "intake", EVENT, later)  # consumed after both: the duplicate was handled by then

    wait_for(
        lambda: any(r.ticket_id == later["ticket_id"] for r in rows(flaky_config, applied)),
        what="the later event to be applied",
    )
    wait_for(lambda: settled(uri), what="the event queue to drain")
    assert sorted(r.ticket_id for r in rows(flaky_config, applied)) == sorted(
        [payload["ticket_id"], later["ticket_id"]]
    )
    assert [c[0] for c in script.calls].count(payload["ticket_id"]) == 1
    assert len(rows(flaky_config, processed_table)) == 2
    assert queue_depth(uri, DEAD_LETTER_QUEUE) == 0


def test_scope_all_acts_for_the_service_over_every_tenant(container_factory, flaky_config, script):
    container = container_factory(AllTenantsService, flaky_config)
    container.start()
    uri = flaky_config["AMQP_URI"]
    event_id = publish_event(
        uri, "intake", EVENT, escalation(tenant="C02"), principal=tenancy.Principal("someone", "center", tenant="C01")
    )
    done = wait_for(lambda: rows(flaky_config, applied), what="the event to be applied")
    assert (done[0].user, done[0].tenant) == (SERVICE, None)
    assert script.calls[0][1] == tenancy.service_principal(SERVICE)
    claims = rows(flaky_config, processed_table)
    assert [(c.message_id, c.consumer) for c in claims] == [(event_id, "escalations")]


def test_an_unknown_scope_is_refused_when_the_service_is_defined():
    with pytest.raises(ValueError):
        consume("intake", EVENT, scope="everyone")
