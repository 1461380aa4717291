"""Consuming messages safely: schema-checked event handlers and bridge consumers.

Both entrypoints load the body with the event catalogue's schema *before* a worker
runs. A body that does not load (malformed JSON, wrong fields) and a handler that
fails are rejected without requeue, so the broker moves the message to the service's
dead-letter queue (``<service>.dead-letter``) where it is kept for review and replay.
The worker pool never sees garbage and never dies of it; the queue keeps flowing.
"""
from __future__ import annotations

import json
import logging
import time
from functools import partial

from kombu import Connection, Exchange, Queue
from marshmallow import ValidationError
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.containers import ContainerBeingKilled
from nameko.events import EventHandler
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange

from shared import events as catalogue
from shared import metrics
from shared.broker import ResilientQueueConsumer
from shared.broker import queue_arguments

log = logging.getLogger(__name__)

DEAD_LETTER_SUFFIX = ".dead-letter"


def dead_letter_names(service_name):
    return f"{service_name}.dlx", f"{service_name}{DEAD_LETTER_SUFFIX}"


def declare_dead_letter(amqp_uri, service_name):
    exchange_name, queue_name = dead_letter_names(service_name)
    exchange = Exchange(exchange_name, type="fanout", durable=True)
    queue = Queue(queue_name, exchange=exchange, durable=True)
    with Connection(amqp_uri) as conn:
        queue.bind(conn).declare()
    return exchange


class DeadLetteringQueueConsumer(ResilientQueueConsumer):
    """The shared consumer (safe acks, known connection state), except that a body kombu
    cannot decode (declared JSON but not JSON, not UTF-8, a content type we do not accept)
    is rejected to the dead-letter exchange. kombu's default acks it: the message would be
    logged and lost. RPC entrypoints use this same class, so a service has one consumer."""

    def on_decode_error(self, message, exc):
        source = message.delivery_info.get("routing_key") or "?"
        metrics.DEAD_LETTERS.labels(self.container.service_name, source).inc()
        metrics.event_consumed(self.container.service_name, source, "malformed")
        log.warning("dead-lettered undecodable message (%s, content type %r): %s",
                    source, message.content_type, exc, extra={"service": self.container.service_name})
        self.reject_message(message)


class _DeadLettering:
    """Shared by both entrypoints: decode, validate, dead-letter on failure."""

    queue_consumer = DeadLetteringQueueConsumer()

    def _declare_dlx(self):
        self.dlx = declare_dead_letter(self.container.config[AMQP_URI_CONFIG_KEY],
                                       self.container.service_name)

    def _reject(self, message, reason):
        metrics.DEAD_LETTERS.labels(self.container.service_name, self._source_label).inc()
        log.warning("dead-lettered message from %s: %s", self._source_label, reason,
                    extra={"service": self.container.service_name})
        self.queue_consumer.reject_message(message)

    def _decode(self, body):
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if isinstance(body, str):
            body = json.loads(body)
        return body

    def handle_message(self, body, message):
        try:
            payload = self._load(self._decode(body))
        except (ValueError, ValidationError, UnicodeDecodeError) as exc:
            detail = exc.messages if isinstance(exc, ValidationError) else str(exc)
            metrics.event_consumed(self.container.service_name, self._source_label, "malformed")
            self._reject(message, f"malformed: {detail}")
            return
        context_data = self.unpack_message_headers(message)
        recorded = context_data.get("event_at")
        if isinstance(recorded, (int, float)):
            metrics.QUEUE_LAG.labels(self.container.service_name, self._source_label).observe(
                max(0.0, time.time() - recorded))
        if message.properties.get("message_id") and "event_id" not in context_data:
            context_data["event_id"] = message.properties["message_id"]
        try:
            self.container.spawn_worker(self, (payload,), {}, context_data=context_data,
                                        handle_result=partial(self.handle_result, message))
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None:
            metrics.event_consumed(self.container.service_name, self._source_label, "failed")
            self._reject(message, f"handler failed: {exc_info[1]!r}")
        else:
            metrics.event_consumed(self.container.service_name, self._source_label, "ok")
            self.queue_consumer.ack_message(message)


class CatalogueEventHandler(_DeadLettering, EventHandler):
    """``@on_event("intake", "ticket.registered")``: the method gets the loaded payload."""

    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, event_type, reliable_delivery=True,
                         requeue_on_error=False, **kwargs)
        self._source_label = event_type

    def setup(self):
        self._declare_dlx()
        service_name = self.container.service_name
        queue_name = f"evt-{self.source_service}-{self.event_type}--{service_name}.{self.method_name}"
        exchange = get_event_exchange(self.source_service, self.container.config)
        self.queue = Queue(queue_name, exchange=exchange, routing_key=self.event_type,
                           durable=True, auto_delete=False,
                           queue_arguments=queue_arguments(self.container.config,
                                                           **{"x-dead-letter-exchange": self.dlx.name}))
        Consumer.setup(self)

    def _load(self, body):
        return catalogue.load(self.event_type, body)


on_event = CatalogueEventHandler.decorator


class SchemaConsumer(_DeadLettering, Consumer):
    """``@consume_validated(exchange, routing_key, queue, Schema)``: for plain-AMQP clients
    (hotline bridge, scanners) that publish to a named queue."""

    def __init__(self, exchange_name, routing_key, queue_name, schema, **kwargs):
        self.exchange_name = exchange_name
        self.routing_key = routing_key
        self.queue_name = queue_name
        self.schema = schema() if isinstance(schema, type) else schema
        self._source_label = queue_name
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        self._declare_dlx()
        exchange = Exchange(self.exchange_name, type="topic", durable=True)
        self.queue = Queue(self.queue_name, exchange=exchange, routing_key=self.routing_key,
                           durable=True,
                           queue_arguments=queue_arguments(self.container.config,
                                                           **{"x-dead-letter-exchange": self.dlx.name}))
        super().setup()

    def _load(self, body):
        if not isinstance(body, dict):
            raise ValidationError({"_schema": ["message body must be a JSON object"]})
        return self.schema.load(body)


consume_validated = SchemaConsumer.decorator
