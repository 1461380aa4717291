"""The messages in a service's dead-letter queue, read and replayed (``fsm dead-letters``, in
`fsm.dead_letters`, is their command line).

A message lands in ``<service>.dead-letter`` when it was malformed or its handler failed for
good (`shared.messaging`); the broker records where it came from in its ``x-death`` header
(exchange, routing keys, the queue that rejected it, why, how often).

- `list_dead_letters` reads them without taking them off the queue: each is fetched unacked
  and, once all are read, rejected with requeue, which puts it back where it was.
- `replay` publishes each to the exchange and routing key it first came from, persistent, with
  publisher confirms and ``mandatory`` (a message no queue takes is not lost: it stays), and acks
  the dead letter only after the broker confirmed the copy. The copy keeps the body, message id
  and properties, so consumers that handled it before drop it by its id; another consumer bound
  to the same routing key gets it too and drops it the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

DEATH_HEADERS = (
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
)
REPLAYS_HEADER = "x-fsm-replays"  # how often a message was replayed (an operator's hint, no semantics)
CONFIRM_TIMEOUT = 10.0


class DeadLetterError(Exception):
    """The queue cannot be read (broker unreachable, no such queue)."""


@dataclass
class Origin:
    exchange: str
    routing_key: str
    queue: str | None = None
    reason: str | None = None
    count: int | None = None
    time: datetime | None = None


@dataclass
class DeadLetter:
    position: int
    message_id: str | None
    origin: Origin | None
    body: bytes = field(repr=False)
    content_type: str | None = None
    replays: int = 0

    @property
    def event(self) -> str | None:
        return self.origin.routing_key if self.origin else None

    def preview(self, width: int = 72) -> str:
        text = self.body.decode("utf-8", errors="replace")
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    def to_dict(self) -> dict[str, Any]:
        origin = asdict(self.origin) if self.origin else None
        if origin and origin["time"] is not None:
            origin["time"] = origin["time"].isoformat()
        return {
            "position": self.position,
            "message_id": self.message_id,
            "event": self.event,
            "origin": origin,
            "content_type": self.content_type,
            "replays": self.replays,
            "preview": self.preview(200),
        }


@dataclass
class ReplayResult:
    queue: str
    replayed: int = 0
    without_origin: int = 0
    failed: list[tuple[str | None, str]] = field(default_factory=list)  # (message id, error text)
    present: int = 0  # dead letters on the queue when the replay started


def queue_name(service: str) -> str:
    from shared.messaging import dead_letter_names

    return dead_letter_names(service)[1]


def origin_of(headers: Mapping[str, Any] | None) -> Origin | None:
    """Where a dead letter first came from: the exchange and routing key of the oldest ``x-death``
    entry (the broker puts the latest first); None without one."""
    deaths = (headers or {}).get("x-death") or []
    if not deaths:
        return None
    first = deaths[-1]
    keys = first.get("routing-keys") or []
    exchange = _text(first.get("exchange"))
    if exchange is None or not keys:
        return None
    return Origin(
        exchange=exchange,
        routing_key=_text(keys[0]),
        queue=_text(first.get("queue")),
        reason=_text(first.get("reason")),
        count=first.get("count"),
        time=first.get("time"),
    )


def _text(value: Any) -> Any:
    """A header value from the broker: bytes decoded, anything else as it is."""
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return value


def _body_bytes(message: Any) -> bytes:
    body: str | bytes | bytearray = message.body
    if isinstance(body, str):  # py-amqp decodes a body that declares its encoding
        return body.encode(message.properties.get("content_encoding") or "utf-8")
    return bytes(body)


def _letter(position: int, message: Any) -> DeadLetter:
    headers = message.properties.get("application_headers") or {}
    return DeadLetter(
        position=position,
        message_id=message.properties.get("message_id"),
        origin=origin_of(headers),
        body=_body_bytes(message),
        content_type=message.properties.get("content_type"),
        replays=int(headers.get(REPLAYS_HEADER) or 0),
    )


def _open(amqp_uri: str, queue: str) -> tuple[Any, Any, int]:
    """(connection, channel, message count) for `queue`, which must exist."""
    import amqp.exceptions
    from kombu.connection import Connection

    conn: Any = Connection(amqp_uri, connect_timeout=5)  # type: ignore[no-untyped-call]  # kombu: unannotated
    try:
        conn.ensure_connection(max_retries=1)
        channel = conn.channel()
    except Exception as exc:
        conn.release()
        raise DeadLetterError(f"cannot reach the broker: {exc}") from None
    try:
        count: int
        _, count, _ = channel.queue_declare(queue, passive=True)
    except amqp.exceptions.NotFound:
        conn.release()
        raise DeadLetterError(f"no queue {queue} on this broker/vhost (has the service run here?)") from None
    return conn, channel, count


def list_dead_letters(amqp_uri: str, service: str, limit: int | None = None) -> list[DeadLetter]:
    """The dead letters of `service` in queue order (at most `limit`), left on the queue."""
    queue = queue_name(service)
    conn, channel, count = _open(amqp_uri, queue)
    held: list[Any] = []
    letters: list[DeadLetter] = []
    try:
        want = count if limit is None else min(count, limit)
        while len(held) < want:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                break
            held.append(message)
            letters.append(_letter(len(held), message))
    finally:
        # back to where they were (RabbitMQ requeues a message at its original position)
        for message in held:
            channel.basic_reject(message.delivery_tag, requeue=True)
        conn.release()
    return letters


def replay(
    amqp_uri: str, service: str, limit: int | None = None, on_replayed: Callable[[DeadLetter], object] | None = None
) -> ReplayResult:
    """Publish the dead letters of `service` (at most `limit`, in queue order) to where they came
    from; each is acked only once the broker has confirmed its copy. Those present when the
    replay starts are replayed, not those that fail again meanwhile. A letter without an origin
    stays; the first one the broker does not take (nack, no queue bound, no confirm in time) stays
    and ends the replay."""
    import amqp

    queue = queue_name(service)
    result = ReplayResult(queue=queue)
    conn, source, count = _open(amqp_uri, queue)
    result.present = count
    held: list[Any] = []
    try:
        publisher = conn.channel()
        returned: list[Any] = []
        publisher.events["basic_return"].add(lambda exc, exchange, routing_key, message: returned.append(exc))
        want = count if limit is None else min(count, limit)
        for position in range(1, want + 1):
            message = source.basic_get(queue, no_ack=False)
            if message is None:
                break
            letter = _letter(position, message)
            if letter.origin is None:
                held.append(message)
                result.without_origin += 1
                continue
            properties = {
                k: v
                for k, v in message.properties.items()
                if k not in ("application_headers", "delivery_mode", "user_id", "expiration")
            }
            headers = {
                k: v for k, v in (message.properties.get("application_headers") or {}).items() if k not in DEATH_HEADERS
            }
            headers[REPLAYS_HEADER] = letter.replays + 1
            copy = amqp.Message(letter.body, application_headers=headers, delivery_mode=2, **properties)
            returned.clear()
            try:  # confirm mode (the first call turns it on); the broker returns an unroutable copy first
                publisher.basic_publish_confirm(
                    copy,
                    exchange=letter.origin.exchange,
                    routing_key=letter.origin.routing_key,
                    mandatory=True,
                    confirm_timeout=CONFIRM_TIMEOUT,
                )
                if returned:
                    raise DeadLetterError(
                        f"no queue takes {letter.origin.routing_key!r} on exchange "
                        f"{letter.origin.exchange!r}: {returned[0]}"
                    )
            except Exception as exc:
                held.append(message)
                result.failed.append((letter.message_id, str(exc) or type(exc).__name__))
                break
            source.basic_ack(message.delivery_tag)
            result.replayed += 1
            if on_replayed is not None:
                on_replayed(letter)
    finally:
        for message in held:
            try:
                source.basic_reject(message.delivery_tag, requeue=True)
            except Exception:  # a dead channel gives them back by itself
                pass
        conn.release()
    return result
