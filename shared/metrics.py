"""Prometheus metrics: one registry per service, instrumentation of every entrypoint.

`Instrumentation` is a nameko dependency that times every worker (RPC, event, HTTP,
timer) without the service code doing anything. `/metrics` is served by the service's
own HTTP port (see `shared.web`).

Figures that describe a state rather than an event (queue depths, dead letters waiting, the
outbox backlog, a service's open callbacks or visits at risk, the days ahead the holiday
calendar does not know) are read when `/metrics` is scraped (`refresh`): every replica then
reports what the broker, the database and the calendar hold now,
with no timer whose value a replica that lost its lease would keep reporting. Dashboards and
alert rules take ``max by (...)`` over replicas for these.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

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
    "fsm_outbox_pending", "Committed events not yet published (outbox rows)", ["service"], registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "fsm_dead_letters_total", "Messages sent to the dead-letter queue", ["service", "source"], registry=REGISTRY
)
SLA = Counter(
    "fsm_sla_total",
    "SLA commitments fulfilled (met, late) or breached by the watchdog, per tenant and the ticket's tier",
    ["service", "tenant", "sla", "tier", "outcome"],
    registry=REGISTRY,
)
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
HTTP_RESPONSES = Counter(
    "fsm_http_responses_total",
    "HTTP answers of the service by route (its entrypoint; `unmatched`: no route took the request, "
    "a 404 or a 405 answered without a worker) and status code",
    ["service", "entrypoint", "code"],
    registry=REGISTRY,
)
# the entrypoint label of the answers no route took: one value, whatever path was asked for
UNMATCHED_ROUTE = "unmatched"
# read at scrape time (`refresh`)
QUEUE_READY = Gauge(
    "fsm_queue_messages_ready",
    "Messages waiting in a queue the service consumes (RPC, events, plain AMQP)",
    ["service", "queue"],
    registry=REGISTRY,
)
QUEUE_CONSUMERS = Gauge(
    "fsm_queue_consumers", "Consumers attached to a queue the service consumes", ["service", "queue"], registry=REGISTRY
)
DEAD_LETTERS_QUEUED = Gauge(
    "fsm_dead_letters_queued", "Messages in the service's dead-letter queue now", ["service"], registry=REGISTRY
)
OUTBOX_OLDEST = Gauge(
    "fsm_outbox_oldest_seconds",
    "Age of the oldest committed event not yet published (0 when none waits)",
    ["service"],
    registry=REGISTRY,
)
CALENDAR_UNKNOWN_DAYS = Gauge(
    "fsm_calendar_unknown_days",
    "Days of the next 90 (from today, local dates) in a year neither chinesecalendar nor an imported holiday "
    "schedule knows: working-day deadlines there ignore the holidays (fix: fsm calendar import)",
    ["service"],
    registry=REGISTRY,
)
REFRESH_ERRORS = Counter(
    "fsm_metrics_refresh_errors_total",
    "Scrape-time figures that could not be read (their last value is kept)",
    ["service", "source"],
    registry=REGISTRY,
)


def event_published(service: str, event: str) -> None:
    EVENTS_PUBLISHED.labels(service, event).inc()


def event_consumed(service: str, event: str, outcome: str) -> None:
    EVENTS_CONSUMED.labels(service, event, outcome).inc()


def http_unmatched(service: str, code: int) -> None:
    """An HTTP answer given before any entrypoint ran (no route for the path, a method the path
    does not take): counted under the one entrypoint label `UNMATCHED_ROUTE`, not the path, so
    a scanner's paths add no series."""
    HTTP_RESPONSES.labels(service, UNMATCHED_ROUTE, str(code)).inc()


def sla_outcome(service: str, tenant: str | None, sla: str, outcome: str, tier: str | None = None) -> None:
    SLA.labels(service, tenant or "-", sla, tier or "-", outcome).inc()


ScrapeReader = Callable[[Any], None]
_SCRAPE_READERS: list[tuple[str, ScrapeReader]] = []


def read_at_scrape(source: str) -> Callable[[ScrapeReader], ScrapeReader]:
    """Register ``reader(container)``, which sets gauges from what it reads each time `/metrics`
    is scraped (`refresh`). The modules that know the broker and the database register theirs
    (`shared.messaging`: queues and dead letters; `shared.db`: the outbox), so this module, which
    they all import, imports none of them."""

    def register(reader: ScrapeReader) -> ScrapeReader:
        _SCRAPE_READERS.append((source, reader))
        return reader

    return register


def refresh(container: Any, service_gauges: Callable[[], None] | None = None) -> None:
    """Set the scrape-time gauges of `container`'s service: the calendar's coverage, then every
    registered reader's (its queues and dead letters from the broker, its outbox backlog from its
    database), then the service's own (`service_gauges`). A source that cannot be read keeps its
    last values and is counted in ``fsm_metrics_refresh_errors_total``; the scrape itself never
    fails for it."""
    service = container.service_name
    sources: list[tuple[str, Callable[[], None]]] = [("calendar", lambda: _calendar_gauges(service))]
    sources += [(source, partial(reader, container)) for source, reader in _SCRAPE_READERS]
    if service_gauges is not None:
        sources.append(("service", service_gauges))
    for source, read in sources:
        errors = REFRESH_ERRORS.labels(service, source)
        try:
            read()
        except Exception as exc:  # a broker or database away: the alerts on those say so
            errors.inc()
            log.warning("metrics: %s figures of %s not read: %s", source, service, exc, extra={"service": service})


def _calendar_gauges(service: str) -> None:
    from shared import clock
    from shared.workcal import ChinaCalendar, unknown_dates

    CALENDAR_UNKNOWN_DAYS.labels(service).set(len(unknown_dates(ChinaCalendar.default(), clock.now())))


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


def _http_status(result: Any, exc_info: tuple[type[BaseException], BaseException, TracebackType] | None) -> str:
    """The status code an HTTP worker answered with (its exception's, as `shared.web` maps it)."""
    if exc_info is not None:
        from shared.errors import as_domain_error

        return str(as_domain_error(exc_info[1]).http_status)
    status = getattr(result, "status_code", None)
    if status is None and isinstance(result, tuple) and result and isinstance(result[0], int):
        status = result[0]  # nameko's (status, body) and (status, headers, body)
    return str(status or 200)


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
        if kind == "http":
            HTTP_RESPONSES.labels(service, name, _http_status(result, exc_info)).inc()

    def worker_teardown(self, worker_ctx: Any) -> None:
        self._started.pop(worker_ctx, None)
