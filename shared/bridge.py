"""Client of the hotline/fax bridge: puts requests on the broker for intake (plain AMQP, pika).

Not a nameko service. The bridge publishes each request as JSON to the topic exchange
``fsm.bridge`` with routing key ``intake.request``; intake consumes them from the queue
``intake.bridge-requests`` (``IntakeService.bridge_request``, schema ``BridgeRequest``:
a RegisterTicket that must carry its ``external_ref``, so a redelivery is idempotent).

Every publish is confirmed by the broker and ``mandatory``: a request that no queue
would take (intake never started, so its queue is not bound) raises `BridgeError`
instead of vanishing, and so does a broker nack.

    with BridgeClient("amqp://guest:guest@127.0.0.1:5672/") as bridge:
        bridge.submit({"kind": "repair", "channel": "hotline", "external_ref": "HL-1", ...})
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

BRIDGE_EXCHANGE = "fsm.bridge"
BRIDGE_ROUTING_KEY = "intake.request"

__all__ = ["BridgeClient", "BridgeError", "BRIDGE_EXCHANGE", "BRIDGE_ROUTING_KEY", "pika_parameters"]


class BridgeError(Exception):
    """A request could not be handed to intake (not routable, nacked, broker unreachable)."""

    def __init__(self, message: str, message_id: str | None = None, external_ref: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.message_id = message_id
        self.external_ref = external_ref


def pika_parameters(amqp_uri: str, **kwargs: Any) -> pika.URLParameters:
    """pika parameters for a kombu/nameko style URI (``pyamqp://``, ``amqp://``; ``amqps://``)."""
    parts = urlsplit(amqp_uri)
    scheme = parts.scheme.lower()
    if scheme in ("pyamqp", "amqp", "librabbitmq", ""):
        scheme = "amqp"
    elif scheme in ("pyamqps",):
        scheme = "amqps"
    elif scheme != "amqps":
        raise BridgeError(f"not an AMQP URI: {amqp_uri!r}")
    params = pika.URLParameters(urlunsplit((scheme,) + tuple(parts[1:])))
    for key, value in kwargs.items():
        setattr(params, key, value)
    return params


class BridgeClient:
    """Publishes requests to intake with publisher confirms; a context manager."""

    def __init__(
        self,
        amqp_uri: str,
        exchange: str = BRIDGE_EXCHANGE,
        routing_key: str = BRIDGE_ROUTING_KEY,
        connect_timeout: float = 10.0,
        app_id: str = "fsm-bridge",
    ) -> None:
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.routing_key = routing_key
        self.connect_timeout = connect_timeout
        self.app_id = app_id
        # pika is untyped: a BlockingConnection and its channel once connected
        self._connection: Any = None
        self._channel: Any = None

    # ------------------------------------------------------------ connection
    def connect(self) -> Self:
        if self._channel is not None and self._channel.is_open:
            return self
        self.close()
        params = pika_parameters(
            self.amqp_uri,
            socket_timeout=self.connect_timeout,
            blocked_connection_timeout=self.connect_timeout,
            connection_attempts=1,
        )
        try:
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            # same arguments as intake's consumer declares (kombu: durable, not auto-delete), so
            # declaring it here is harmless whichever side comes first
            self._channel.exchange_declare(
                exchange=self.exchange, exchange_type="topic", durable=True, auto_delete=False
            )
            self._channel.confirm_delivery()
        except AMQPError as exc:
            self.close()
            raise BridgeError(f"cannot connect to the broker at {_safe_uri(self.amqp_uri)}: {exc!r}") from exc
        except OSError as exc:
            self.close()
            raise BridgeError(f"cannot connect to the broker at {_safe_uri(self.amqp_uri)}: {exc}") from exc
        return self

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # pragma: no cover - closing a broken connection
                pass

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------ publishing
    def submit(self, payload: dict[str, Any], message_id: str | None = None) -> None:
        """Hand one request to intake; returns once the broker has confirmed it was queued."""
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        try:
            body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise BridgeError(f"payload is not JSON-serialisable: {exc}") from exc
        message_id = message_id or uuid.uuid4().hex
        ref = payload.get("external_ref")
        properties = pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=message_id,
            app_id=self.app_id,
        )
        self.connect()
        try:
            self._channel.basic_publish(
                exchange=self.exchange, routing_key=self.routing_key, body=body, properties=properties, mandatory=True
            )
        except UnroutableError as exc:
            raise BridgeError(
                f"request {ref or message_id} was not routable: no queue is bound to exchange "
                f"{self.exchange!r} with key {self.routing_key!r} (is the intake service running?)",
                message_id,
                ref,
            ) from exc
        except NackError as exc:
            raise BridgeError(f"the broker refused request {ref or message_id} (nack)", message_id, ref) from exc
        except (AMQPError, OSError) as exc:
            self.close()
            raise BridgeError(f"publishing request {ref or message_id} failed: {exc!r}", message_id, ref) from exc

    def submit_many(self, payloads: Iterable[dict[str, Any]], stop_on_error: bool = False) -> list[BridgeError | None]:
        """Submit each payload; returns one `BridgeError` or None per payload, in order."""
        results: list[BridgeError | None] = []
        for payload in payloads:
            try:
                self.submit(payload)
                results.append(None)
            except BridgeError as exc:
                if stop_on_error:
                    raise
                results.append(exc)
        return results


def _safe_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri
