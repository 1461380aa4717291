"""``fsm dead-letters list|replay SERVICE`` against the real broker (a vhost per test).

- list shows each dead letter of ``<service>.dead-letter`` (origin exchange and routing key,
  message id, the x-death reason and queue, a body preview) and leaves the queue as it was;
- replay publishes each to where it came from, with confirms: a well-formed event whose handler
  failed only because the database was away is applied once it is back, and the queue is empty;
  ``--limit`` replays only the first N.
"""

from __future__ import annotations

import json
import uuid

import pytest
from kombu import Connection
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.exc import OperationalError

from fsm.main import main
from services.intake.service import BRIDGE_EXCHANGE, BRIDGE_QUEUE, BRIDGE_ROUTING_KEY, IntakeService
from shared.db import Database
from shared.messaging import consume, dead_letter_names
from shared.outbox import processed_table
from tests.service.test_dead_letter import _visit, publish, publish_event, wait_for

SERVICE = "ledger"
EVENT = "ticket.escalated"

metadata = MetaData()
applied = Table(
    "applied",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(64), nullable=False),
)


class Outage:
    broken = False  # the handler's database is away while True


class LedgerService:
    name = SERVICE
    db = Database(metadata)

    @consume("intake", EVENT)
    def on_escalated(self, uow, payload):
        if Outage.broken:
            raise OperationalError("INSERT INTO applied", {}, Exception("could not connect to server"))
        uow.session.execute(insert(applied).values(ticket_id=payload["ticket_id"]))


@pytest.fixture(autouse=True)
def database_state():
    Outage.broken = False
    yield Outage
    Outage.broken = False


@pytest.fixture
def ledger_config(service_config, tmp_path):
    config = dict(service_config)
    config["DATABASES"] = dict(service_config["DATABASES"], **{SERVICE: f"sqlite:///{tmp_path}/{SERVICE}.db"})
    config["EVENT_RETRY_ATTEMPTS"] = 2
    return config


def fsm(capsys, uri, *argv):
    code = main(["--amqp-uri", uri, "dead-letters", *argv])
    out = capsys.readouterr().out
    return code, out


def depth(uri, queue):
    with Connection(uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue, passive=True)
    return count


def peek_all(uri, queue):
    """(message id, body, x-death) of every message, put back afterwards (the test's own look)."""
    seen = []
    with Connection(uri) as conn:
        channel = conn.channel()
        held = []
        while True:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                break
            held.append(message)
            body = message.body.encode("utf-8") if isinstance(message.body, str) else bytes(message.body)
            death = message.headers["x-death"][0]
            seen.append((message.properties.get("message_id"), body, death["queue"], death["reason"]))
        for message in held:
            channel.basic_reject(message.delivery_tag, requeue=True)
    return seen


def escalation():
    return {
        "tenant_id": "C01",
        "ticket_id": uuid.uuid4().hex,
        "number": "C01-1",
        "reason": "negative_callback",
        "level": "center",
    }


def applied_rows(config):
    engine = create_engine(config["DATABASES"][SERVICE])
    try:
        with engine.connect() as conn:
            return (
                conn.execute(select(applied.c.ticket_id)).scalars().all(),
                conn.execute(select(processed_table)).fetchall(),
            )
    finally:
        engine.dispose()


def test_list_shows_each_dead_letter_and_leaves_the_queue_as_it_was(container_factory, service_config, capsys):
    container = container_factory(IntakeService, service_config)
    container.start()
    uri = service_config["AMQP_URI"]
    queue = dead_letter_names("intake")[1]

    bad_event = _visit("t-1")
    del bad_event["ticket_id"]
    event_id = publish_event(uri, "dispatch", "visit.started", bad_event)
    publish(uri, BRIDGE_EXCHANGE, BRIDGE_ROUTING_KEY, b"\xff\xfe not json", message_id="hl-garbage-1")
    wait_for(lambda: depth(uri, queue) == 2, what="two dead letters")
    before = peek_all(uri, queue)

    code, out = fsm(capsys, uri, "list", "intake")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"{queue}: 2 dead letters"
    event_line = next(line for line in lines if f"id={event_id}" in line)
    assert "dispatch.events → visit.started" in event_line
    assert "rejected by evt-dispatch-visit.started--intake.on_visit_started" in event_line
    preview = lines[lines.index(event_line) + 1]
    assert '"tenant_id": "C01"' in preview and "visit_id" in preview
    bridge_line = next(line for line in lines if "id=hl-garbage-1" in line)
    assert f"{BRIDGE_EXCHANGE} → {BRIDGE_ROUTING_KEY}" in bridge_line and f"by {BRIDGE_QUEUE}" in bridge_line

    # nothing was taken: the same messages, in the same order, with their x-death (a requeue
    # has no reply: give the broker a moment)
    wait_for(lambda: peek_all(uri, queue) == before, what="the queue as it was")
    assert depth(uri, queue) == 2

    code, out = fsm(capsys, uri, "list", "intake", "--json", "--limit", "1")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 1
    first = rows[0]
    assert first["message_id"] == before[0][0]
    assert first["origin"]["reason"] == "rejected" and first["origin"]["queue"] == before[0][2]
    wait_for(lambda: peek_all(uri, queue) == before, what="the queue as it was")


def test_replay_publishes_each_dead_letter_to_where_it_came_from(
    container_factory, ledger_config, capsys, database_state
):
    container = container_factory(LedgerService, ledger_config)
    container.start()
    uri = ledger_config["AMQP_URI"]
    queue = dead_letter_names(SERVICE)[1]

    database_state.broken = True  # the database is away: both handlers fail twice, then dead-letter
    first, second = escalation(), escalation()
    first_id = publish_event(uri, "intake", EVENT, first)
    second_id = publish_event(uri, "intake", EVENT, second)
    wait_for(lambda: depth(uri, queue) == 2, what="both events to be dead-lettered")
    assert applied_rows(ledger_config) == ([], [])

    code, out = fsm(capsys, uri, "list", SERVICE)
    assert code == 0 and f"id={first_id}" in out and f"id={second_id}" in out
    assert f"intake.events → {EVENT}" in out
    code, out = fsm(capsys, uri, "list", SERVICE, "--json")
    order = [json.loads(line)["message_id"] for line in out.splitlines()]  # as they were dead-lettered
    assert sorted(order) == sorted([first_id, second_id])
    ticket_of = {first_id: first["ticket_id"], second_id: second["ticket_id"]}

    database_state.broken = False  # back: replay the first only, then the rest
    code, out = fsm(capsys, uri, "replay", SERVICE, "--limit", "1")
    assert code == 0
    assert out.startswith(f"replayed 1 of 2 dead letters in {queue}")
    wait_for(lambda: applied_rows(ledger_config)[0] == [ticket_of[order[0]]], what="the first replay to apply")
    assert depth(uri, queue) == 1

    code, out = fsm(capsys, uri, "replay", SERVICE)
    assert code == 0 and out.startswith(f"replayed 1 of 1 dead letter in {queue}")
    wait_for(lambda: len(applied_rows(ledger_config)[0]) == 2, what="the second replay to apply")
    tickets, claims = applied_rows(ledger_config)
    assert sorted(tickets) == sorted([first["ticket_id"], second["ticket_id"]])
    # the copies kept their message ids: the consumer claimed the original ids, once each
    assert sorted((c.message_id, c.consumer) for c in claims) == sorted([(first_id, EVENT), (second_id, EVENT)])
    assert depth(uri, queue) == 0

    # nothing left to replay
    code, out = fsm(capsys, uri, "replay", SERVICE)
    assert code == 0 and out.startswith(f"replayed 0 of 0 dead letters in {queue}")


def test_an_unknown_service_has_no_dead_letter_queue(rabbit_config, capsys):
    code = main(["--amqp-uri", rabbit_config["AMQP_URI"], "dead-letters", "list", "nosuch"])
    assert code == 1
    assert "no queue nosuch.dead-letter" in capsys.readouterr().err


def test_a_dead_letter_no_queue_takes_any_more_stays(rabbit_config, capsys):
    """Its origin queue is gone (no binding for the routing key): the copy comes back unroutable,
    so the dead letter is not acked; the replay stops and says so (exit 2)."""
    from shared.messaging import declare_dead_letter

    uri = rabbit_config["AMQP_URI"]
    dlx = declare_dead_letter(uri, "ghost")
    queue = dead_letter_names("ghost")[1]
    with Connection(uri) as conn:
        channel = conn.channel()
        channel.exchange_declare("ghost.events", "topic", durable=True, auto_delete=False)
        channel.queue_declare(
            "ghost.inbox", durable=True, auto_delete=False, arguments={"x-dead-letter-exchange": dlx.name}
        )
        channel.queue_bind("ghost.inbox", "ghost.events", "thing.happened")
    publish(uri, "ghost.events", "thing.happened", b'{"tenant_id": "C01"}', message_id="m-ghost-1")
    with Connection(uri) as conn:
        channel = conn.channel()
        message = wait_for(lambda: channel.basic_get("ghost.inbox", no_ack=False), what="the message")
        channel.basic_reject(message.delivery_tag, requeue=False)  # as a failing consumer does
        wait_for(lambda: depth(uri, queue) == 1, what="the dead letter")
        channel.queue_delete("ghost.inbox")

    code, out = fsm(capsys, uri, "replay", "ghost")
    assert code == 2
    assert out.startswith(f"replayed 0 of 1 dead letter in {queue}")
    assert "not replayed: m-ghost-1" in out and "no queue takes 'thing.happened'" in out
    wait_for(lambda: [m[0] for m in peek_all(uri, queue)] == ["m-ghost-1"], what="the dead letter to stay")
