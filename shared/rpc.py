"""RPC for every service, both ends: ``@rpc`` entrypoints and the `RpcProxy` dependency.

The serving side (`Rpc`):
- Domain errors (404, 409, 422 …) are the caller's problem, expected: nameko logs them at
  WARNING without a traceback. A concurrent change (``StaleDataError``) is answered 409 and
  a busy or unreachable database 503, here, for every service.
- A request whose caller has given up (its ``rpc_deadline`` passed while it waited in the
  queue) is dropped, not executed.
- A request that was carried out before (its ``rpc_request_id`` is recorded, in the same
  transaction as its work, by the unit of work) is answered from the record: a request
  redelivered after a crash, or retried with the same ``Idempotency-Key``, creates nothing
  twice. The same key with another body is 409.
- A reply that cannot be sent (the broker went away while the worker ran) is logged; the
  broker redelivers the request and the record answers it.
- The service queue can be a quorum queue (config ``QUEUE_TYPE: quorum``).

The calling side (`RpcProxy`): every call has a timeout (config ``RPC_TIMEOUT_SECONDS``,
default 10); the request message expires with it; a broker that cannot be reached, a
service with no consumer and a call that times out raise `ServiceUnavailable` (503 with
``Retry-After`` at the gateway) within seconds instead of hanging.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, TypeVar, cast, overload

import amqp.exceptions
import eventlet
from kombu.connection import Connection
from kombu.entity import Queue
from kombu.pools import connections
from nameko.exceptions import UnknownService
from nameko.rpc import RPC_QUEUE_TEMPLATE, MethodProxy, ReplyListener, RpcReply, ServiceProxy, get_rpc_exchange
from nameko.rpc import Rpc as _Rpc
from nameko.rpc import RpcConsumer as _RpcConsumer
from nameko.rpc import RpcProxy as _RpcProxy
from prometheus_client import Counter

from shared import metrics
from shared.broker import BROKER_ERRORS, broker_connected, queue_arguments
from shared.errors import DomainError, ServiceUnavailable, as_domain_error
from shared.messaging import DeadLetteringQueueConsumer, ExcInfo

# the context keys of one hop live with the principal (shared.tenancy); named here too for callers of RPCs
from shared.tenancy import DEADLINE as DEADLINE
from shared.tenancy import HOP_ONLY_KEYS as HOP_ONLY_KEYS
from shared.tenancy import IDEMPOTENCY_HASH as IDEMPOTENCY_HASH
from shared.tenancy import IDEMPOTENCY_KEY as IDEMPOTENCY_KEY
from shared.tenancy import REQUEST_CLAIMED as REQUEST_CLAIMED
from shared.tenancy import REQUEST_HASH as REQUEST_HASH
from shared.tenancy import REQUEST_ID as REQUEST_ID

if TYPE_CHECKING:
    from shared.outbox import RequestRecords

log = logging.getLogger(__name__)

_Method = TypeVar("_Method", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 10.0

RPC_OUTCOMES = Counter(
    "fsm_rpc_requests_total",
    "RPC requests not run as usual: expired, replayed from their record, conflicting",
    ["service", "outcome"],
    registry=metrics.REGISTRY,
)
RPC_CLIENT_FAILURES = Counter(
    "fsm_rpc_client_unavailable_total",
    "RPC calls answered 503: broker unreachable, no consumer, or timed out",
    ["service", "target", "reason"],
    registry=metrics.REGISTRY,
)


def rpc_timeout(config: dict[str, Any]) -> float:
    return float(config.get("RPC_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT)


# ------------------------------------------------------------------ serving side
class RpcConsumer(_RpcConsumer):  # type: ignore[misc]  # nameko is untyped: its base is Any
    queue_consumer = DeadLetteringQueueConsumer()
    queue: Any  # nameko's: None until set up

    def setup(self) -> None:
        if self.queue is None:
            service_name = self.container.service_name
            self.queue = Queue(
                RPC_QUEUE_TEMPLATE.format(service_name),  # type: ignore[no-untyped-call]  # kombu: unannotated
                exchange=get_rpc_exchange(self.container.config),
                routing_key=f"{service_name}.*",
                durable=True,
                queue_arguments=queue_arguments(self.container.config) or None,
            )
            self.queue_consumer.register_provider(self)
            self._registered = True

    def handle_result(self, message: Any, result: Any, exc_info: ExcInfo | None) -> tuple[Any, ExcInfo | None]:
        if exc_info is not None:
            mapped = as_domain_error(exc_info[1])
            if mapped is not exc_info[1] and mapped.http_status != 500:
                exc_info = (type(mapped), mapped, exc_info[2])
        try:
            handled: tuple[Any, ExcInfo | None] = super().handle_result(message, result, exc_info)
            return handled
        except BROKER_ERRORS as exc:
            # the reply could not go out: the request stays unacknowledged and comes back
            # when the connection does; its record (if it changed anything) answers it then
            log.warning(
                "reply to %s not sent (%s); the broker will deliver the request again",
                message.delivery_info.get("routing_key"),
                exc,
                extra={"service": self.container.service_name},
            )
            return result, exc_info


class Rpc(_Rpc):  # type: ignore[misc]  # nameko is untyped: its base is Any
    rpc_consumer = RpcConsumer()

    def __init__(
        self, expected_exceptions: type[BaseException] | tuple[type[BaseException], ...] = DomainError, **kwargs: Any
    ) -> None:
        super().__init__(expected_exceptions=expected_exceptions, **kwargs)

    @property
    def _service(self) -> str:
        service_name: str = self.container.service_name
        return service_name

    def _requests(self) -> RequestRecords | None:
        """The service's request record (None for a service without a database)."""
        from shared.db import Database

        for dep in self.container.dependencies:
            if isinstance(dep, Database) and dep.store is not None:
                return dep.store.requests
        return None

    def handle_message(self, body: Any, message: Any) -> None:
        context = self.unpack_message_headers(message)
        deadline = context.get(DEADLINE)
        if isinstance(deadline, (int, float)) and time.time() > deadline:
            RPC_OUTCOMES.labels(self._service, "expired").inc()
            log.warning(
                "dropped %s: its caller gave up %.1f s ago",
                message.delivery_info.get("routing_key"),
                time.time() - deadline,
                extra={"service": self._service},
            )
            self.rpc_consumer.queue_consumer.ack_message(message)
            return
        request_id = context.get(REQUEST_ID)
        records = self._requests() if request_id else None
        if records is not None:
            answer: tuple[Any, Exception | None] | None  # (result, error), None: never carried out
            try:
                answer = records.answer(request_id, context.get(REQUEST_HASH) or "")
            except Exception as exc:  # the database is away: run nothing, answer the error
                answer = (None, exc)
            if answer is not None:
                result, error = answer
                RPC_OUTCOMES.labels(self._service, "replayed" if error is None else "conflict").inc()
                exc_info: ExcInfo | None = None
                if error is not None:
                    try:
                        raise error
                    except Exception:
                        exc_info = cast(ExcInfo, sys.exc_info())  # inside `except`: never (None, None, None)
                self.rpc_consumer.handle_result(message, result, exc_info)
                return
        super().handle_message(body, message)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any, exc_info: ExcInfo | None) -> Any:
        if exc_info is None and worker_ctx.data.get(REQUEST_CLAIMED):
            # claimed by a unit of work, so the service has a database and its record
            records = cast("RequestRecords", self._requests())
            try:
                records.keep_result(worker_ctx.data[REQUEST_ID], result)
            except Exception as exc:  # the work is committed and claimed; only the replay is lost
                log.warning(
                    "result of request %s not kept: %s",
                    worker_ctx.data[REQUEST_ID],
                    exc,
                    extra={"service": self._service},
                )
        return super().handle_result(message, worker_ctx, result, exc_info)


class EntrypointDecorator(Protocol):
    """nameko's ``Entrypoint.decorator``: ``@rpc`` or ``@rpc(**options)``; either hands back the method."""

    @overload
    def __call__(self, fn: _Method, /) -> _Method: ...
    @overload
    def __call__(self, *args: Any, **kwargs: Any) -> Callable[[_Method], _Method]: ...


rpc: EntrypointDecorator = Rpc.decorator


# ------------------------------------------------------------------ calling side
class _ResilientReplyListener(ReplyListener):  # type: ignore[misc]  # nameko is untyped: its base is Any
    queue_consumer = DeadLetteringQueueConsumer()

    def forget(self, reply_event: Any) -> None:
        """Drop the wait for a reply that timed out (a late reply is then ignored)."""
        for correlation_id, event in list(self._reply_events.items()):
            if event is reply_event:
                del self._reply_events[correlation_id]


class _TimedReply(RpcReply):  # type: ignore[misc]  # nameko is untyped: its base is Any
    resp_body: Any  # nameko's: None until the reply came

    def __init__(self, reply_event: Any, proxy: _TimedMethodProxy) -> None:
        super().__init__(reply_event)
        self.proxy = proxy

    def result(self) -> Any:
        if self.resp_body is None:
            deadline = time.monotonic() + self.proxy.timeout
            while self.resp_body is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.proxy.reply_listener.forget(self.reply_event)
                    self.proxy.unavailable(
                        "timeout", f"{self.proxy.service_name} did not answer within {self.proxy.timeout:g} s"
                    )
                if not broker_connected(self.proxy.container):
                    # the connection the reply would come on is gone: say so now, not at the timeout
                    self.proxy.reply_listener.forget(self.reply_event)
                    self.proxy.unavailable("broker", "the message broker connection was lost; try again")
                try:
                    with eventlet.Timeout(min(left, 0.5)):
                        self.resp_body = self.reply_event.wait()
                except eventlet.Timeout:
                    pass
        return super().result()


_consumers_seen: dict[tuple[str, str], tuple[float, int]] = {}


class _TimedMethodProxy(MethodProxy):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def __init__(
        self,
        worker_ctx: Any,
        service_name: str,
        method_name: str,
        reply_listener: _ResilientReplyListener,
        timeout: float,
        **options: Any,
    ) -> None:
        self.timeout = timeout
        options.setdefault(
            "retry_policy", {"max_retries": 1, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}
        )
        options.setdefault(
            "transport_options", {"max_retries": 1, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1.0}
        )
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    @property
    def _caller(self) -> str:
        service_name: str = self.container.service_name
        return service_name

    def unavailable(self, reason: str, message: str) -> NoReturn:
        RPC_CLIENT_FAILURES.labels(self._caller, self.service_name, reason).inc()
        raise ServiceUnavailable(message, retry_after=5 if reason != "timeout" else 10)

    def get_message_headers(self, worker_ctx: Any) -> dict[str, Any]:
        headers: dict[str, Any] = super().get_message_headers(worker_ctx)
        for key in HOP_ONLY_KEYS:
            headers.pop(self._get_header_name(key), None)
        data = worker_ctx.data
        # the request id names this call: the same (retried) HTTP request with its
        # Idempotency-Key gives the same id, anything else a new one; n counts calls of the
        # same method within one worker so that each has its own record
        base = data.get(IDEMPOTENCY_KEY) or worker_ctx.call_id
        calls = _call_counter(worker_ctx)
        target = f"{self.service_name}.{self.method_name}"
        calls[target] = calls.get(target, 0) + 1
        headers[self._get_header_name(REQUEST_ID)] = f"{base}|{target}|{calls[target]}"
        if data.get(IDEMPOTENCY_HASH):
            headers[self._get_header_name(REQUEST_HASH)] = data[IDEMPOTENCY_HASH]
        headers[self._get_header_name(DEADLINE)] = round(time.time() + self.timeout, 3)
        return headers

    def _has_consumer(self) -> bool:
        """Whether the target's queue has a consumer (cached for 2 s): a stopped service
        is answered at once, not after the whole timeout."""
        key = (self.amqp_uri, self.service_name)
        seen = _consumers_seen.get(key)
        now = time.monotonic()
        if seen is not None and now - seen[0] < 2.0:
            return seen[1] > 0
        consumers: int
        # kombu: Connection's constructor is unannotated
        with connections[Connection(self.amqp_uri, connect_timeout=3)].acquire(  # type: ignore[no-untyped-call]
            block=True, timeout=3
        ) as conn:
            try:
                conn.ensure_connection(max_retries=1)
                channel = conn.channel()
                try:
                    _, _, consumers = channel.queue_declare(RPC_QUEUE_TEMPLATE.format(self.service_name), passive=True)
                except amqp.exceptions.NotFound:  # never declared: the service never ran
                    consumers = 0
                try:
                    channel.close()
                except BROKER_ERRORS:
                    pass
            except BROKER_ERRORS:
                conn.collect()  # a dead pooled connection must not go back to the pool as it is
                raise
        _consumers_seen[key] = (now, consumers)
        return consumers > 0

    def _call(self, *args: Any, **kwargs: Any) -> _TimedReply:
        try:
            with eventlet.Timeout(self.timeout):
                if not broker_connected(self.container):
                    self.unavailable("broker", "the message broker cannot be reached now")
                if not self._has_consumer():
                    self.unavailable("no_consumer", f"the {self.service_name} service is not running")
                self.publisher.expiration = self.timeout  # seconds; the request dies with its caller
                reply = super()._call(*args, **kwargs)
        except UnknownService:
            self.unavailable("no_consumer", f"the {self.service_name} service is not running")
        except eventlet.Timeout:
            self.unavailable("timeout", f"{self.service_name} did not answer within {self.timeout:g} s")
        except BROKER_ERRORS as exc:
            self.unavailable("broker", f"the message broker cannot be reached ({type(exc).__name__})")
        return _TimedReply(reply.reply_event, self)


def _call_counter(worker_ctx: Any) -> dict[str, int]:
    counter: dict[str, int] | None = getattr(worker_ctx, "_fsm_rpc_calls", None)
    if counter is None:
        counter = {}
        worker_ctx._fsm_rpc_calls = counter
    return counter


class _TimedServiceProxy(ServiceProxy):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def __getattr__(self, name: str) -> _TimedMethodProxy:
        if name.startswith("__"):
            raise AttributeError(name)
        options = dict(self.options)
        timeout = options.pop("timeout")
        return _TimedMethodProxy(self.worker_ctx, self.service_name, name, self.reply_listener, timeout, **options)


class RpcProxy(_RpcProxy):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """``intake = RpcProxy("intake")``: nameko's proxy with a timeout and 503s instead of hangs."""

    rpc_reply_listener = _ResilientReplyListener()

    def get_dependency(self, worker_ctx: Any) -> _TimedServiceProxy:
        options = dict(self.options)
        options.setdefault("timeout", rpc_timeout(self.container.config))
        return _TimedServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener, **options)


def call_without_proxy(worker_ctx: Any, service: str, method: str, *args: Any) -> Any:
    """One RPC from inside a worker, over a connection of its own for this call, not through an
    `RpcProxy` dependency. For a rare call from a busy service: with an `RpcProxy("parts")` in
    intake, intake did not stop within STOP_TIMEOUT_SECONDS under load and was killed
    (`tests/e2e/test_make_run.py`, stop under load; it stops in time without it). The likely
    mechanism: the proxy's reply listener is one more provider on the service's one queue
    consumer, which then keeps running after the entrypoints are cancelled at a stop and goes on
    handing out the messages already delivered to it. The caller's context (principal, call ids)
    goes with the call, not its idempotency headers: the called method must be safe to repeat.
    Within RPC_TIMEOUT_SECONDS, else 503 as the proxy's calls; the callee's errors come back
    as the proxy's do (nameko's RemoteError, mapped to a DomainError where the answer is made)."""
    from nameko.exceptions import RpcTimeout
    from nameko.standalone.rpc import ServiceRpcProxy

    config = worker_ctx.container.config
    context = {k: v for k, v in worker_ctx.context_data.items() if k not in HOP_ONLY_KEYS}
    timeout = rpc_timeout(config)
    caller = worker_ctx.container.service_name
    try:
        with ServiceRpcProxy(service, config, context_data=context, timeout=timeout) as proxy:
            return getattr(proxy, method)(*args)
    except UnknownService:
        RPC_CLIENT_FAILURES.labels(caller, service, "no_consumer").inc()
        raise ServiceUnavailable(f"the {service} service is not running", retry_after=5) from None
    except RpcTimeout:
        RPC_CLIENT_FAILURES.labels(caller, service, "timeout").inc()
        raise ServiceUnavailable(f"{service} did not answer within {timeout:g} s", retry_after=10) from None
    except BROKER_ERRORS as exc:
        RPC_CLIENT_FAILURES.labels(caller, service, "broker").inc()
        raise ServiceUnavailable(
            f"the message broker cannot be reached ({type(exc).__name__})", retry_after=5
        ) from None
