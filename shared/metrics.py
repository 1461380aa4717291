"""Prometheus metrics: one registry per service, instrumentation of every entrypoint.

`Instrumentation` is a nameko dependency that times every worker (RPC, event, HTTP,
timer) without the service code doing anything. `/metrics` is served by the service's
own HTTP port (see `shared.web`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REGISTRY = CollectorRegistry(auto_describe=True)

WORKER_CALLS = Counter(
    "fsm_worker_calls_total",
    "Entrypoint calls by kind and outcome",
    ["service", "kind", "entrypoint", "outcome"],
    registry=REGISTRY,
)
WORKER_LATENCY = Histogram(
    "fsm_worker_latency_seconds",
    "Entrypoint latency",
    ["service", "kind", "entrypoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
EVENTS_PUBLISHED = Counter(
    "fsm_events_published_total", "Events published from the outbox", ["service", "event"], registry=REGISTRY
)
EVENTS_CONSUMED = Counter(
    "fsm_events_consumed_total", "Events consumed by outcome", ["service", "event", "outcome"], registry=REGISTRY
)
OUTBOX_PENDING = Gauge(
    "fsm_outbox_pending", "Unpublished outbox rows seen by the relay", ["service"], registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "fsm_dead_letters_total", "Messages sent to the dead-letter queue", ["service", "source"], registry=REGISTRY
)
SLA = Counter("fsm_sla_total", "SLA outcomes per tenant", ["service", "tenant", "sla", "outcome"], registry=REGISTRY)
SOLVER_SECONDS = Histogram(
    "fsm_solver_seconds",
    "Routing solve time",
    ["service", "tenant"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
QUEUE_LAG = Histogram(
    "fsm_event_lag_seconds",
    "Time from event commit to consumption",
    ["service", "event"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)


def event_published(service: str, event: str) -> None:
    EVENTS_PUBLISHED.labels(service, event).inc()


def event_consumed(service: str, event: str, outcome: str) -> None:
    EVENTS_CONSUMED.labels(service, event, outcome).inc()


def set_outbox_pending(service: str, n: float) -> None:
    OUTBOX_PENDING.labels(service).set(n)


def sla_outcome(service: str, tenant: str | None, sla: str, outcome: str) -> None:
    SLA.labels(service, tenant or "-", sla, outcome).inc()


def render(accept_header: str | None, service: str | None = None) -> tuple[str, str]:
    """(body, content_type) for a /metrics answer, only this service's samples when named."""
    encoder, content_type = choose_encoder(accept_header or "")
    registry: Collector = REGISTRY if service is None else _ServiceView(service)
    body: str | bytes = encoder(registry)
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return body, content_type


class _ServiceView:
    """A collector view that keeps only samples labelled with one service."""

    def __init__(self, service: str) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        for family in REGISTRY.collect():
            samples = [s for s in family.samples if s.labels.get("service") == self.service]
            family.samples = samples
            yield family


def _entrypoint_kind(entrypoint: Any) -> str:
    name = type(entrypoint).__name__.lower()
    for kind in ("rpc", "event", "http", "timer", "consumer"):
        if kind in name:
            return kind
    return name


class Instrumentation(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def __init__(self) -> None:
        self._started: dict[Any, float] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(
        self,
        worker_ctx: Any,
        result: Any = None,
        exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = None,
    ) -> None:
        started = self._started.pop(worker_ctx, None)
        if started is None:
            return
        service = worker_ctx.service_name
        kind = _entrypoint_kind(worker_ctx.entrypoint)
        name = worker_ctx.entrypoint.method_name
        outcome = "ok"
        if exc_info is not None:
            from shared.errors import DomainError

            outcome = "rejected" if isinstance(exc_info[1], DomainError) else "error"
        WORKER_CALLS.labels(service, kind, name, outcome).inc()
        WORKER_LATENCY.labels(service, kind, name).observe(time.perf_counter() - started)

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._started.pop(worker_ctx, None)
