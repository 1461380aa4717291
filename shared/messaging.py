"""Consuming messages safely: schema-checked event handlers and bridge consumers, and one way
to consume a fact (`consume`: unit of work, message-id claim, commit, retries).

Both entrypoints load the body with the event catalogue's schema *before* a worker
runs. A body that does not load (malformed JSON, wrong fields) and a handler that
fails are rejected without requeue, so the broker moves the message to the service's
dead-letter queue (``<service>.dead-letter``) where it is kept for review and replay.
The worker pool never sees garbage and never dies of it; the queue keeps flowing.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType
from typing import Any, Final, Literal, TypeVar

import eventlet
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from marshmallow import Schema, ValidationError
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.containers import ContainerBeingKilled
from nameko.events import EventHandler
from nameko.messaging import Consumer
from nameko.standalone.events import get_event_exchange
from prometheus_client import Counter

from shared import events as catalogue
from shared import metrics, tenancy
from shared.broker import ResilientQueueConsumer, broker_connected, consumed_queues, queue_arguments, queue_depths
from shared.outbox import EVENT_ID_KEY

log = logging.getLogger(__name__)

_R = TypeVar("_R")
_Entrypoint = TypeVar("_Entrypoint", bound=Callable[..., Any])
ExcInfo = tuple[type[BaseException], BaseException, TracebackType]

DEAD_LETTER_SUFFIX = ".dead-letter"


def dead_letter_names(service_name: str) -> tuple[str, str]:
    return f"{service_name}.dlx", f"{service_name}{DEAD_LETTER_SUFFIX}"


def declare_dead_letter(amqp_uri: str, service_name: str) -> Exchange:
    exchange_name, queue_name = dead_letter_names(service_name)
    # kombu ships py.typed but leaves these constructors and Queue.bind unannotated
    exchange = Exchange(exchange_name, type="fanout", durable=True)  # type: ignore[no-untyped-call]
    queue = Queue(queue_name, exchange=exchange, durable=True)  # type: ignore[no-untyped-call]
    with Connection(amqp_uri) as conn:  # type: ignore[no-untyped-call]
        queue.bind(conn).declare()  # type: ignore[no-untyped-call]
    return exchange


@metrics.read_at_scrape("broker")
def _queue_gauges(container: Any) -> None:
    """Messages waiting and consumers of each queue the service consumes, and its dead letters
    waiting, read from the broker when /metrics is scraped."""
    if not broker_connected(container):  # fsm_broker_connected says it; no wait on a dead broker
        return
    service = container.service_name
    queues = consumed_queues(container)
    dead_letter_queue = dead_letter_names(service)[1]
    depths = queue_depths(container.config[AMQP_URI_CONFIG_KEY], [*queues, dead_letter_queue])
    for name in queues:
        depth = depths.get(name)
        if depth is not None:
            metrics.QUEUE_READY.labels(service, name).set(depth[0])
            metrics.QUEUE_CONSUMERS.labels(service, name).set(depth[1])
    dead = depths.get(dead_letter_queue)
    metrics.DEAD_LETTERS_QUEUED.labels(service).set(dead[0] if dead is not None else 0)


class DeadLetteringQueueConsumer(ResilientQueueConsumer):
    """The shared consumer (safe acks, known connection state), except that a body kombu
    cannot decode (declared JSON but not JSON, not UTF-8, a content type we do not accept)
    is rejected to the dead-letter exchange. kombu's default acks it: the message would be
    logged and lost. RPC entrypoints use this same class, so a service has one consumer."""

    def on_decode_error(self, message: Any, exc: BaseException) -> None:
        source = message.delivery_info.get("routing_key") or "?"
        metrics.DEAD_LETTERS.labels(self.container.service_name, source).inc()
        metrics.event_consumed(self.container.service_name, source, "malformed")
        log.warning(
            "dead-lettered undecodable message (%s, content type %r): %s",
            source,
            message.content_type,
            exc,
            extra={"service": self.container.service_name},
        )
        self.reject_message(message)


class _DeadLettering:
    """Shared by both entrypoints: decode, validate, dead-letter on failure."""

    queue_consumer = DeadLetteringQueueConsumer()

    # from the nameko entrypoint this is mixed into, and from the entrypoint class itself
    container: Any
    dlx: Exchange
    _source_label: str
    _load: Callable[[Any], Any]
    unpack_message_headers: Callable[[Any], dict[str, Any]]
    handle_result: Callable[..., Any]

    def _declare_dlx(self) -> None:
        self.dlx = declare_dead_letter(self.container.config[AMQP_URI_CONFIG_KEY], self.container.service_name)
        # counted from 0: the first dead letter is an increase to rate() and increase()
        metrics.DEAD_LETTERS.labels(self.container.service_name, self._source_label)

    def _reject(self, message: Any, reason: str) -> None:
        metrics.DEAD_LETTERS.labels(self.container.service_name, self._source_label).inc()
        log.warning(
            "dead-lettered message from %s: %s",
            self._source_label,
            reason,
            extra={"service": self.container.service_name},
        )
        self.queue_consumer.reject_message(message)

    def _decode(self, body: Any) -> Any:
        if isinstance(body, (bytes, bytearray)):
            body = body.decode("utf-8")
        if isinstance(body, str):
            body = json.loads(body)
        return body

    def handle_message(self, body: Any, message: Any) -> None:
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
                max(0.0, time.time() - recorded)
            )
        if message.properties.get("message_id") and "event_id" not in context_data:
            context_data["event_id"] = message.properties["message_id"]
        try:
            self.container.spawn_worker(
                self, (payload,), {}, context_data=context_data, handle_result=partial(self.handle_result, message)
            )
        except ContainerBeingKilled:
            self.queue_consumer.requeue_message(message)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: ExcInfo | None = None) -> None:
        if exc_info is not None:
            metrics.event_consumed(self.container.service_name, self._source_label, "failed")
            self._reject(message, f"handler failed: {exc_info[1]!r}")
        else:
            metrics.event_consumed(self.container.service_name, self._source_label, "ok")
            self.queue_consumer.ack_message(message)


class CatalogueEventHandler(_DeadLettering, EventHandler):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """``@on_event("intake", "ticket.registered")``: the method gets the loaded payload."""

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        super().__init__(source_service, event_type, reliable_delivery=True, requeue_on_error=False, **kwargs)
        self._source_label = event_type

    def setup(self) -> None:
        self._declare_dlx()
        service_name = self.container.service_name
        queue_name = f"evt-{self.source_service}-{self.event_type}--{service_name}.{self.method_name}"
        exchange = get_event_exchange(self.source_service, self.container.config)
        self.queue = Queue(
            queue_name,
            exchange=exchange,
            routing_key=self.event_type,  # type: ignore[no-untyped-call]
            durable=True,
            auto_delete=False,
            queue_arguments=queue_arguments(self.container.config, **{"x-dead-letter-exchange": self.dlx.name}),
        )
        Consumer.setup(self)

    def _load(self, body: Any) -> dict[str, Any]:
        return catalogue.load(self.event_type, body)


# nameko's registering decorator hands back the method itself
on_event: Callable[..., Callable[[_Entrypoint], _Entrypoint]] = CatalogueEventHandler.decorator


class SchemaConsumer(_DeadLettering, Consumer):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """``@consume_validated(exchange, routing_key, queue, Schema)``: for plain-AMQP clients
    (hotline bridge, scanners) that publish to a named queue."""

    def __init__(
        self, exchange_name: str, routing_key: str, queue_name: str, schema: Schema | type[Schema], **kwargs: Any
    ) -> None:
        self.exchange_name = exchange_name
        self.routing_key = routing_key
        self.queue_name = queue_name
        self.schema = schema() if isinstance(schema, type) else schema
        self._source_label = queue_name
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self) -> None:
        self._declare_dlx()
        exchange = Exchange(self.exchange_name, type="topic", durable=True)  # type: ignore[no-untyped-call]
        self.queue = Queue(
            self.queue_name,
            exchange=exchange,
            routing_key=self.routing_key,  # type: ignore[no-untyped-call]
            durable=True,
            queue_arguments=queue_arguments(self.container.config, **{"x-dead-letter-exchange": self.dlx.name}),
        )
        super().setup()

    def _load(self, body: Any) -> Any:
        if not isinstance(body, dict):
            raise ValidationError({"_schema": ["message body must be a JSON object"]})
        return self.schema.load(body)


consume_validated: Callable[..., Callable[[_Entrypoint], _Entrypoint]] = SchemaConsumer.decorator


# ====================================================================== one way to consume a fact
#
# ``@consume("intake", "ticket.registered")`` over ``def handler(self, uow, payload)``: the
# entrypoint (`on_event`) has validated the payload; the decorator opens the unit of work with
# the right principal, claims the message id (``processed_messages``: a redelivered fact does
# not run the handler again), calls the handler, commits unless the handler did, and retries
# transient database errors (`shared.errors.retryable`: a concurrent change, a unique-key race, a
# deadlock, a locked or lost database) with a bounded exponential backoff. Only when the attempts
# are exhausted does the error reach the entrypoint, which dead-letters the message.

EVENT_RETRIES = Counter(
    "fsm_event_retries_total",
    "Message handler attempts retried after a transient database error",
    ["service", "event"],
    registry=metrics.REGISTRY,
)

RETRY_ATTEMPTS_KEY = "EVENT_RETRY_ATTEMPTS"
DEFAULT_RETRY_ATTEMPTS = 5
RETRY_FIRST_DELAY = 0.2  # seconds; doubles after every failed attempt
RETRY_MAX_DELAY = 3.0

# whom the unit of work acts as
TENANT: Final = "tenant"  # the caller's principal (or the service's) acting for payload["tenant_id"]
ALL: Final = "all"  # the service's own principal, over every tenant
CALLER_ALL: Final = "caller-all"  # the caller's principal (or the service's) acting over every tenant
SCOPES = (TENANT, ALL, CALLER_ALL)
# one of SCOPES, or ``scope(caller, payload) -> Principal``
Scope = Literal["tenant", "all", "caller-all"] | Callable[[tenancy.Principal, Any], tenancy.Principal]
# the name a handler's processed_messages rows carry, or computed from the payload; None: no claim
Claimant = str | Callable[[Any], str | None] | None


def retry_attempts(config: dict[str, Any] | None) -> int:
    """How many times a handler runs at most (``EVENT_RETRY_ATTEMPTS``, default 5, at least 1)."""
    raw = (config or {}).get(RETRY_ATTEMPTS_KEY)
    try:
        attempts = DEFAULT_RETRY_ATTEMPTS if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        log.warning("%s=%r is not a number; using %d", RETRY_ATTEMPTS_KEY, raw, DEFAULT_RETRY_ATTEMPTS)
        attempts = DEFAULT_RETRY_ATTEMPTS
    return max(1, attempts)


def run_with_retries(attempt: Callable[[], _R], *, service: str, event: str, attempts: int) -> _R | None:
    """``attempt()`` until it returns; an error `shared.errors.retryable` calls it again after
    0.2 s, 0.4 s … (at most 3 s), up to `attempts` calls in all. Any other error, and the last
    one, propagates. Each retry is logged and counted (``fsm_event_retries_total``)."""
    from shared.errors import retryable

    delay = RETRY_FIRST_DELAY
    for number in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:
            if number >= attempts or not retryable(exc):
                if number > 1:
                    log.warning(
                        "%s: %s failed after %d attempts: %r",
                        service,
                        event,
                        number,
                        exc,
                        extra={
                            "service": service,
                            "event": event,
                            "attempt": number,
                            "attempts": attempts,
                            "error": type(exc).__name__,
                        },
                    )
                raise
            EVENT_RETRIES.labels(service, event).inc()
            log.warning(
                "%s: %s hit a transient error (attempt %d of %d), retrying in %.1f s: %s",
                service,
                event,
                number,
                attempts,
                delay,
                type(exc).__name__,
                extra={
                    "service": service,
                    "event": event,
                    "attempt": number,
                    "attempts": attempts,
                    "retry_in": delay,
                    "error": type(exc).__name__,
                },
            )
            eventlet.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_DELAY)
    return None  # attempts < 1: nothing ran


def acting_principal(scope: Scope, service_name: str, context_data: dict[str, Any], payload: Any) -> tenancy.Principal:
    """The principal a handler's unit of work acts as (see `SCOPES`; or a callable
    ``scope(caller, payload) -> Principal``, where caller is the principal the message
    carries, else the service's own)."""
    if scope == ALL:
        return tenancy.service_principal(service_name)
    caller = tenancy.principal_from_context(context_data) or tenancy.service_principal(service_name)
    if scope == TENANT:
        return caller.acting_for(payload["tenant_id"])
    if scope == CALLER_ALL:
        return caller.acting_for(None)
    return scope(caller, payload)


def _fresh_payloads(payload: Any, attempts: int) -> Iterator[Any]:
    """The payload for the first attempt, then an untouched copy for each retry."""
    pristine = copy.deepcopy(payload) if attempts > 1 else None
    yield payload
    while True:
        yield copy.deepcopy(pristine)


def _check_scope(scope: object) -> None:
    if not (scope in SCOPES or callable(scope)):
        raise ValueError(f"scope must be one of {SCOPES} or a callable, not {scope!r}")


def unit_of_work(
    *,
    label: str,
    scope: Scope = TENANT,
    consumer: Claimant = None,
    db: str = "db",
) -> Callable[[Callable[[Any, Any, Any], _R]], Callable[[Any, Any], _R | None]]:
    """Method decorator, entrypoint-neutral: ``fn(self, uow, payload)`` becomes
    ``method(self, payload)`` that runs `fn` in a unit of work of ``self.<db>`` acting as
    `scope`, claims the message id for `consumer` (the name its ``processed_messages`` rows carry;
    a callable: computed from the payload; None: no claim), commits unless `fn` did, and retries
    transient errors (`run_with_retries`). `label` names the message in logs and metrics.
    Every attempt gets a fresh copy of the payload, so a handler may change the one it gets."""
    _check_scope(scope)

    def decorate(fn: Callable[[Any, Any, Any], _R]) -> Callable[[Any, Any], _R | None]:
        @functools.wraps(fn)
        def handle(self: Any, payload: Any) -> _R | None:
            worker_db = getattr(self, db)
            worker_ctx = worker_db.worker_ctx
            service = worker_ctx.service_name
            data = worker_ctx.data
            message_id = data.get(EVENT_ID_KEY)
            attempts = retry_attempts(worker_ctx.container.config)
            bodies = _fresh_payloads(payload, attempts)

            def attempt() -> _R | None:
                body = next(bodies)
                claimant = consumer(body) if callable(consumer) else consumer
                with worker_db.uow(acting_principal(scope, service, data, body)) as uow:
                    if claimant and uow.already_processed(message_id, claimant):
                        log.info(
                            "%s: message %s already processed by %s",
                            service,
                            message_id,
                            claimant,
                            extra={"service": service, "event": label, "message_id": message_id},
                        )
                        return None
                    result = fn(self, uow, body)
                    if not uow.committed:
                        uow.commit()
                    return result

            return run_with_retries(attempt, service=service, event=label, attempts=attempts)

        marked: Any = handle  # a function attribute, which functools' wrapper type does not declare
        marked.unit_of_work = {"label": label, "scope": scope, "consumer": consumer}
        return handle

    return decorate


def consume(
    source_service: str,
    event_type: str,
    *,
    scope: Scope = TENANT,
    consumer: Claimant = None,
    db: str = "db",
    **entrypoint_kwargs: Any,
) -> Callable[[Callable[[Any, Any, Any], _R]], Callable[[Any, Any], _R | None]]:
    """``@consume("intake", "ticket.registered")`` over ``def handler(self, uow, payload)``: one
    way to consume a fact. The event arrives through `on_event` (validated, dead-lettered when
    malformed or when the handler finally fails) and is handled once per message id
    (`consumer`: the name its ``processed_messages`` rows carry, default the event type; a
    callable computes it from the payload) in a
    unit of work acting as `scope` (`TENANT`, `ALL`, `CALLER_ALL` or a callable, see
    `acting_principal`), committed unless the handler committed itself (a handler with work to
    do after the commit, e.g. waking a planner, commits and then does it). Transient database
    errors are retried ``EVENT_RETRY_ATTEMPTS`` times (default 5) before the message is
    dead-lettered."""
    wrap = unit_of_work(label=event_type, scope=scope, consumer=consumer or event_type, db=db)

    def decorate(fn: Callable[[Any, Any, Any], _R]) -> Callable[[Any, Any], _R | None]:
        return on_event(source_service, event_type, **entrypoint_kwargs)(wrap(fn))

    return decorate


def retrying(label: str) -> Callable[[Callable[[Any, Any], _R]], Callable[[Any, Any], _R | None]]:
    """Method decorator for a message handler that opens its own units of work (e.g. the
    hotline bridge's registration): ``method(self, payload)`` runs again on a transient
    database error, as `consume` does, with the config of the worker's container."""

    def decorate(fn: Callable[[Any, Any], _R]) -> Callable[[Any, Any], _R | None]:
        @functools.wraps(fn)
        def handle(self: Any, payload: Any) -> _R | None:
            worker_ctx = self.db.worker_ctx
            attempts = retry_attempts(worker_ctx.container.config)
            bodies = _fresh_payloads(payload, attempts)

            def attempt() -> _R:
                return fn(self, next(bodies))

            return run_with_retries(attempt, service=worker_ctx.service_name, event=label, attempts=attempts)

        return handle

    return decorate
