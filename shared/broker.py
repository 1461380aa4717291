"""Riding out the broker: the one AMQP consumer every entrypoint of ours shares, and what
it knows about its connection.

nameko's `QueueConsumer` reconnects by itself after a broker restart, but two things in it
killed services under load: an ack or requeue on a connection that died while the worker
ran raises a *socket* error (``ConnectionResetError``, ``BrokenPipeError``), which nameko
does not catch (it catches py-amqp's own ``ConnectionError`` only), from a managed thread,
and an exception there kills the whole container. Here every ack, reject and requeue is
safe: on a dead connection the broker has already taken the message back and will deliver
it again, so there is nothing to do but log it.

The consumer also records whether it is connected (``/health/ready`` reads it), counts
reconnections and exports both as metrics.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import amqp.exceptions
import eventlet
import kombu.exceptions
from eventlet.event import Event
from nameko.messaging import QueueConsumer, QueueConsumerStopped
from nameko.utils import sanitize_url
from prometheus_client import Counter, Gauge

from shared import metrics

log = logging.getLogger(__name__)

# what a lost or refused broker connection raises, from kombu, py-amqp or the socket
BROKER_ERRORS = (
    OSError,
    socket.timeout,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.ChannelError,
    kombu.exceptions.OperationalError,
    kombu.exceptions.ConnectionError,
)

BROKER_CONNECTED = Gauge(
    "fsm_broker_connected",
    "1 while the service's consumer is connected to RabbitMQ",
    ["service"],
    registry=metrics.REGISTRY,
)
BROKER_RECONNECTS = Counter(
    "fsm_broker_connection_errors_total",
    "Broker connection losses and failed reconnection attempts",
    ["service", "component"],
    registry=metrics.REGISTRY,
)
MESSAGES_RECLAIMED = Counter(
    "fsm_messages_reclaimed_total",
    "Acks, rejects and requeues dropped because the connection died (the broker redelivers the message)",
    ["service", "action"],
    registry=metrics.REGISTRY,
)


def broker_connected(container: Any) -> bool:
    """True while the consumer of this service container holds a live broker connection."""
    connected: bool = getattr(container, "_fsm_broker_connected", False)
    return connected


def _set_connected(container: Any, value: bool) -> None:
    # on the container itself (extensions hold a weak proxy of it, workers the container)
    container._fsm_broker_connected = value
    BROKER_CONNECTED.labels(container.service_name).set(1 if value else 0)


def settle(message: Any, action: str, service_name: str, **kwargs: Any) -> bool:
    """``message.ack()``, ``.reject(requeue=…)`` or ``.requeue()``, never raising for a dead
    connection. Returns whether it reached the broker."""
    if not message.channel.connection:
        MESSAGES_RECLAIMED.labels(service_name, action).inc()
        return False
    try:
        getattr(message, action)(**kwargs)
        return True
    except BROKER_ERRORS as exc:
        MESSAGES_RECLAIMED.labels(service_name, action).inc()
        log.warning(
            "%s of a message not sent (connection lost: %s): the broker delivers it again",
            action,
            exc,
            extra={"service": service_name},
        )
        return False


class ResilientQueueConsumer(QueueConsumer):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """nameko's queue consumer with safe acks, a known connection state, and a stop that does
    not wait for a broker that is away."""

    _pending_remove_providers: dict[Any, Any]  # nameko's: provider -> Event sent once cancelled
    _consumers: dict[Any, Any]  # nameko's: provider -> kombu Consumer

    @property
    def _service(self) -> str:
        service_name: str = self.container.service_name
        return service_name

    def ack_message(self, message: Any) -> None:
        settle(message, "ack", self._service)

    def requeue_message(self, message: Any) -> None:
        settle(message, "requeue", self._service)

    def reject_message(self, message: Any) -> None:
        """Reject without requeue: the queue's dead-letter exchange keeps it."""
        settle(message, "reject", self._service, requeue=False)

    def on_connection_error(self, exc: BaseException, interval: float) -> None:
        _set_connected(self.container, False)
        BROKER_RECONNECTS.labels(self._service, "consumer").inc()
        log.warning(
            "broker at %s unreachable (%s); retrying in %s s",
            sanitize_url(self.amqp_uri),
            exc,
            interval,
            extra={"service": self._service},
        )

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        if not broker_connected(self.container) and self._consumers_ready.ready():
            log.info("broker connection re-established; consuming again", extra={"service": self._service})
        _set_connected(self.container, True)
        BROKER_RECONNECTS.labels(self._service, "consumer")  # counted from 0 (an increase on the first loss)
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    # ------------------------------------------------------------------ stopping while the broker is away
    # nameko's stop waits for the consumer thread twice: to cancel each entrypoint's consumer on
    # the broker (`unregister_provider`) and to finish its pending acks (`stop`). With the
    # connection down that thread is reconnecting and gets to neither, so a stop waited for
    # the broker to come back. Disconnected there is nothing to wait for: the broker cancelled
    # the consumers and took every unacknowledged message back when the connection went.

    def unregister_provider(self, provider: Any) -> None:
        if not self._consumers_ready.ready():
            # stopped while starting: nameko's sends `_last_provider_unregistered` for each
            # provider, and the second raised "AssertionError: Trying to re-send() an
            # already-triggered event" (a SIGTERM to a service still starting)
            if not self._last_provider_unregistered.ready():
                self._last_provider_unregistered.send()
            return
        removed = Event()
        self._pending_remove_providers[provider] = removed
        while not removed.ready():
            if not broker_connected(self.container):
                self._pending_remove_providers.pop(provider, None)
                self._consumers.pop(provider, None)  # not set up again if the connection comes back
                break
            with eventlet.Timeout(0.5, False):
                removed.wait()
        super(QueueConsumer, self).unregister_provider(provider)  # ProviderCollector's: the bookkeeping

    def _cancel_consumers_if_requested(self) -> None:
        """nameko's, tolerating a provider given up by `unregister_provider` meanwhile."""
        requests: dict[Any, Any] = self._pending_remove_providers
        self._pending_remove_providers = {}
        for provider, removed in requests.items():
            consumer = self._consumers.pop(provider, None)
            if consumer is not None:
                consumer.cancel()
            removed.send()

    def stop(self) -> None:
        if not self._consumers_ready.ready():
            # stopped while starting: nameko kills the consumer thread with QueueConsumerStopped,
            # an error that kills the container (the process exits 1 with a traceback), and
            # fails outright before `start`; here the thread goes quietly and `start` returns
            self._stop_starting()
            super(QueueConsumer, self).stop()  # ProviderCollector's and SharedExtension's
            return
        if self._gt is not None and not broker_connected(self.container):
            self.wait_for_providers()
            self.should_stop = True
            self._gt.kill()  # GreenletExit: the container lets a killed thread go
            super(QueueConsumer, self).stop()
            return
        super().stop()

    def kill(self) -> None:
        if not self._consumers_ready.ready():
            self._stop_starting()
        elif self._gt is not None and not self._gt.dead and not broker_connected(self.container):
            self._gt.kill()  # nameko's would wait for the reconnecting thread
        super().kill()

    def _stop_starting(self) -> None:
        self.should_stop = True
        if self._gt is not None:
            self._gt.kill()
        if not self._consumers_ready.ready():  # `start` waits for it: it returns now
            self._consumers_ready.send_exception(QueueConsumerStopped())

    @contextmanager
    def Consumer(self) -> Iterator[Any]:  # noqa: N802 (kombu's name)
        try:
            with super().Consumer() as consuming:
                yield consuming
        except BROKER_ERRORS:
            _set_connected(self.container, False)
            BROKER_RECONNECTS.labels(self._service, "consumer").inc()
            raise
        finally:
            if self.should_stop:
                _set_connected(self.container, False)


def queue_arguments(config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Arguments of a durable queue we declare: quorum on a cluster (config ``QUEUE_TYPE``)."""
    args = dict(extra)
    if str(config.get("QUEUE_TYPE") or "classic").lower() == "quorum":
        args["x-queue-type"] = "quorum"
    return args


def consumed_queues(container: Any) -> list[str]:
    """The durable queues `container`'s entrypoints consume: its RPC queue, its event handlers'
    and plain-AMQP consumers' queues (not the per-process reply queues, whose names change)."""
    from nameko.rpc import RPC_QUEUE_TEMPLATE, Rpc

    names = set()
    for entrypoint in container.entrypoints:
        if isinstance(entrypoint, Rpc):
            names.add(RPC_QUEUE_TEMPLATE.format(container.service_name))
            continue
        name = getattr(getattr(entrypoint, "queue", None), "name", None)
        if isinstance(name, str) and name:
            names.add(name)
    return sorted(names)


def queue_depths(amqp_uri: str, names: list[str]) -> dict[str, tuple[int, int] | None]:
    """(messages ready, consumers) of each queue by name, None for a queue that does not exist,
    read with passive declares on one pooled connection (raises a BROKER_ERRORS one when the
    broker cannot be reached)."""
    from kombu.connection import Connection
    from kombu.pools import connections

    depths: dict[str, tuple[int, int] | None] = {}
    # kombu: Connection's constructor is unannotated
    with connections[Connection(amqp_uri, connect_timeout=3)].acquire(  # type: ignore[no-untyped-call]
        block=True, timeout=3
    ) as conn:
        try:
            conn.ensure_connection(max_retries=1)
            channel = None
            for name in names:
                channel = channel or conn.channel()
                try:
                    _, ready, consumers = channel.queue_declare(name, passive=True)
                    depths[name] = (int(ready), int(consumers))
                except amqp.exceptions.NotFound:  # the broker closed the channel with it
                    depths[name] = None
                    channel = None
            if channel is not None:
                channel.close()
        except BROKER_ERRORS:
            conn.collect()  # a dead pooled connection must not go back to the pool as it is
            raise
    return depths
