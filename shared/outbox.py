"""Transactional outbox: the infrastructure tables every service's database has, the record
of RPC requests carried out, and the relay that publishes committed events.

A state change and the events it causes are written in one database transaction
(the events as rows of ``outbox``, by the unit of work: `shared.uow`). After commit the relay
publishes them to the service's nameko events exchange with publisher confirms and marks them
published. If the broker is down the rows wait; if the process dies between publish and mark,
the event goes out again and consumers drop it by its id (``processed_messages``).

It knows the store only by what it offers (`engine`, `write_turn`, `requests`), so this module
imports neither `shared.db` nor `shared.uow`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, Protocol

import amqp
import eventlet
from kombu.connection import Connection
from nameko.constants import AMQP_URI_CONFIG_KEY
from sqlalchemy import BigInteger, Column, DateTime, Integer, MetaData, String, Table, Text, delete, select, update
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.engine import Engine, Row

from shared import clock, metrics
from shared.broker import BROKER_ERRORS, BROKER_RECONNECTS
from shared.errors import Conflict

log = logging.getLogger(__name__)

infra_metadata = MetaData()

outbox_table = Table(
    "outbox",
    infra_metadata,
    Column("id", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False, index=True),  # microseconds since the epoch: > int4
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("headers", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), index=True),
    Column("attempts", Integer, nullable=False, default=0),
)

processed_table = Table(
    "processed_messages",
    infra_metadata,
    Column("message_id", String(64), primary_key=True),
    Column("consumer", String(128), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

processed_requests_table = Table(
    "processed_requests",
    infra_metadata,
    Column("request_id", String(320), primary_key=True),
    Column("request_hash", String(64), nullable=False, default=""),
    Column("result", Text),  # JSON of the answer, kept right after the work commits
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# leases (shared.leases): which replica does a singleton job (a timer, a tenant's re-plan) until when
leases_table = Table(
    "leases",
    infra_metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

EVENT_ID_KEY = "event_id"
EVENT_VERSION_KEY = "event_version"
EVENT_AT_KEY = "event_at"


def next_seq() -> int:
    """The ``seq`` of a new outbox row: microseconds since the epoch."""
    # time-ordered; ties broken by insertion order within the same microsecond are harmless
    return time.time_ns() // 1000


# (routing_key, json_text, message_id, headers): one message of a batch to publish
OutgoingMessage = tuple[str, str, str, dict[str, Any]]


class RecordStore(Protocol):
    """What the request records need of a service's store (`shared.db.Store`)."""

    @property
    def engine(self) -> Engine: ...

    def write_turn(self) -> AbstractContextManager[Any]: ...


class RelayStore(RecordStore, Protocol):
    """What the relay needs of a service's store (`shared.db.Store`)."""

    @property
    def requests(self) -> RequestRecords: ...


class RequestRecords:
    """The RPC requests this service has carried out (``processed_requests``): each row is
    written in the transaction of the request's work, and the answer is kept right after."""

    keep_seconds = 2 * 24 * 3600

    def __init__(self, store: RecordStore):
        self.store = store

    def answer(self, request_id: str, request_hash: str) -> tuple[Any, Conflict | None] | None:
        """None if the request was never carried out, else ``(result, error)``: the kept
        answer, or a Conflict (another body under the same key, or still in progress)."""
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(processed_requests_table).where(processed_requests_table.c.request_id == request_id)
            ).first()
        if row is None:
            return None
        if row.request_hash and request_hash and row.request_hash != request_hash:
            return None, Conflict(
                "this Idempotency-Key was used for another request",
                {"Idempotency-Key": ["already used with a different body"]},
            )
        if row.result is None:
            return None, Conflict(
                "this request was carried out but its answer was not kept (the service "
                "stopped at that moment); look the record up instead of repeating it",
                {"Idempotency-Key": ["carried out; answer not available"]},
            )
        return json.loads(row.result), None

    def keep_result(self, request_id: str, result: Any) -> None:
        text = json.dumps(result, ensure_ascii=False, default=str)
        with self.store.write_turn(), self.store.engine.begin() as conn:
            conn.execute(
                update(processed_requests_table)
                .where(processed_requests_table.c.request_id == request_id)
                .values(result=text)
            )

    def purge(self, conn: DbConnection) -> None:
        cutoff = clock.now() - timedelta(seconds=self.keep_seconds)
        conn.execute(delete(processed_requests_table).where(processed_requests_table.c.created_at < cutoff))


class ConfirmedBatchPublisher:
    """Persistent messages on one channel in confirm mode: publish a batch, then wait until
    the broker has confirmed all of it (one round trip per batch, not per message).

    A nack or a lost connection confirms only the prefix acknowledged before it; the caller
    marks those and publishes the rest again later (consumers drop duplicates by id).
    """

    confirm_timeout = 10.0

    def __init__(self, amqp_uri: str, exchange_name: str):
        self.amqp_uri = amqp_uri
        self.exchange_name = exchange_name
        self._conn: Any = None  # kombu's Connection and py-amqp's channel, None until opened
        self._channel: Any = None
        self._next_tag = 1
        self._acked = 0
        self._nacked: int | None = None

    def _open(self) -> Any:
        if self._channel is not None:
            return self._channel
        # kombu: Connection's constructor is unannotated
        conn: Any = Connection(self.amqp_uri, connect_timeout=5, heartbeat=0)  # type: ignore[no-untyped-call]
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
        channel.exchange_declare(self.exchange_name, "topic", durable=True, auto_delete=False)
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self._conn, self._channel, self._next_tag = conn, channel, 1
        return channel

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        # RabbitMQ confirms in publishing order on one channel, so the highest tag acknowledged
        # (singly or with multiple) bounds the confirmed prefix
        self._acked = max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        first_bad = delivery_tag if not multiple else self._acked + 1
        self._nacked = first_bad if self._nacked is None else min(self._nacked, first_bad)

    def close(self) -> None:
        try:
            if self._conn is not None:
                self._conn.release()
        except Exception:  # closing a dead connection
            pass
        self._conn = self._channel = None

    def publish_batch(self, messages: Sequence[OutgoingMessage]) -> int:
        """messages: (routing_key, json_text, message_id, headers). Returns how many, from the
        start, the broker confirmed."""
        base = None
        try:
            channel = self._open()
            base = self._next_tag - 1
            self._acked, self._nacked = base, None
            for routing_key, body, message_id, headers in messages:
                msg = amqp.Message(
                    body.encode("utf-8"),
                    content_type="application/json",
                    content_encoding="utf-8",
                    delivery_mode=2,
                    message_id=message_id,
                    application_headers=headers,
                )
                channel.basic_publish(msg, exchange=self.exchange_name, routing_key=routing_key)
                self._next_tag += 1
            last = self._next_tag - 1
            deadline = time.monotonic() + self.confirm_timeout
            while self._acked < last and self._nacked is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("publisher confirms timed out")
                self._conn.drain_events(timeout=min(left, 1.0))
            good = (self._nacked - 1 if self._nacked is not None else self._acked) - base
            return max(0, min(good, len(messages)))
        except Exception:
            confirmed = 0 if base is None else max(0, self._acked - base)
            self.close()
            if confirmed:
                return min(confirmed, len(messages))
            raise


class OutboxRelay:
    """Publishes committed outbox rows in order, with confirms; retries while the broker is away."""

    batch_size = 200
    keep_published_seconds = 3 * 24 * 3600

    def __init__(self, store: RelayStore, container: Any):
        self.store = store
        self.container = container
        self.service_name = container.service_name
        config = container.config
        self.poll_seconds = float(config.get("OUTBOX_POLL_SECONDS", 1.0) or 1.0)
        self.exchange_name = f"{self.service_name}.events"
        self.publisher = ConfirmedBatchPublisher(config[AMQP_URI_CONFIG_KEY], self.exchange_name)
        self._wake = eventlet.event.Event()
        self._running = False
        self._gt: Any = None  # the relay's managed greenthread while it runs
        self._last_purge = 0.0

    def start(self) -> None:
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._loop, identifier="outbox-relay")

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._gt is not None:
            self._gt.kill()
            self._gt = None

    def wake(self) -> None:
        if not self._wake.ready():
            self._wake.send(True)

    def _wait(self, seconds: float) -> None:
        with eventlet.Timeout(seconds, False):
            self._wake.wait()
        self._wake = eventlet.event.Event()

    def _loop(self) -> None:
        backoff = 0.5
        while self._running:
            try:
                sent = self.publish_pending()
                backoff = 0.5
                if sent < self.batch_size:
                    self._wait(self.poll_seconds)
            except Exception as exc:  # broker away or database busy: wait and try again
                if isinstance(exc, BROKER_ERRORS):
                    BROKER_RECONNECTS.labels(self.service_name, "outbox-relay").inc()
                log.warning(
                    "outbox relay of %s paused (retrying in %.1f s): %s",
                    self.service_name,
                    backoff,
                    exc,
                    extra={"service": self.service_name},
                )
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def publish_pending(self) -> int:
        """Publish up to one batch; returns how many were published."""
        with self.store.engine.connect() as conn:
            stmt = (
                select(outbox_table)
                .where(outbox_table.c.published_at.is_(None))
                .order_by(outbox_table.c.seq)
                .limit(self.batch_size)
            )
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = conn.execute(stmt).fetchall()
            if conn.dialect.name == "postgresql":
                done = self._publish_rows(rows)
                self._mark(conn, done)
                conn.commit()
            else:
                conn.rollback()
                done = None
        if done is None:
            done = self._publish_rows(rows)
            with self.store.write_turn(), self.store.engine.connect() as conn:
                self._mark(conn, done)
                conn.commit()
        self._purge()
        return len(done)

    def _publish_rows(self, rows: Sequence[Row[Any]]) -> list[str]:
        """Publish in order on one channel and wait for the broker's confirms of the batch;
        returns the ids confirmed (a prefix of `rows`)."""
        if not rows:
            return []
        messages: list[OutgoingMessage] = []
        for row in rows:
            headers = {f"nameko.{k}": v for k, v in json.loads(row.headers).items()}
            messages.append((row.event_type, row.payload, row.id, headers))
        confirmed = self.publisher.publish_batch(messages)
        done = [row.id for row in rows[:confirmed]]
        for row in rows[:confirmed]:
            metrics.event_published(self.service_name, row.event_type)
        if confirmed < len(rows) and not done:
            raise ConnectionError("broker confirmed none of the batch")
        return done

    def _mark(self, conn: DbConnection, ids: list[str]) -> None:
        if ids:
            conn.execute(update(outbox_table).where(outbox_table.c.id.in_(ids)).values(published_at=clock.now()))

    def _purge(self, force: bool = False) -> None:
        """Every 10 minutes: published rows older than `keep_published_seconds` and request
        records older than theirs go (on SQLite and PostgreSQL alike)."""
        now = time.time()
        if not force and now - self._last_purge < 600:
            return
        self._last_purge = now
        cutoff = clock.now() - timedelta(seconds=self.keep_published_seconds)
        with self.store.write_turn(), self.store.engine.begin() as conn:
            conn.execute(delete(outbox_table).where(outbox_table.c.published_at < cutoff))
            self.store.requests.purge(conn)
