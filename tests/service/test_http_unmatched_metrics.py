"""`fsm_http_responses_total{code}` counts the answers the web server gives without running a
worker: no route for the path (404) and a method the path does not take (405), under one bounded
entrypoint label, ``unmatched``, whatever path was asked for."""

from __future__ import annotations

import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import http_port_of


def http_responses(base: str, service: str) -> dict[tuple[str, str], float]:
    """{(entrypoint, code): count} of the service's fsm_http_responses_total, from its /metrics."""
    text = requests.get(f"{base}/metrics", timeout=30).text
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "fsm_http_responses_total" and s.labels["service"] == service:
                found[(s.labels["entrypoint"], s.labels["code"])] = s.value
    return found


@pytest.mark.parametrize(
    ("service_path", "class_name", "wrong_method"),
    [
        ("services.gateway.service", "GatewayService", ("DELETE", "/api/v1/tickets")),
        ("services.intake.service", "IntakeService", ("POST", "/health")),
    ],
)
def test_404_and_405_answered_without_a_worker_are_counted(
    runner_factory, service_config, service_path, class_name, wrong_method
):
    import importlib

    cls = getattr(importlib.import_module(service_path), class_name)
    runner = runner_factory(service_config, cls)
    runner.start()
    container = next(iter(runner.containers))
    service = container.service_name
    base = f"http://127.0.0.1:{http_port_of(container)}"
    before = http_responses(base, service)

    # a scanner's paths: each one different
    unknown = [f"/no-such-{uuid.uuid4().hex}" for _ in range(3)] + ["/api/v1/nothing-here", "/wp-login.php"]
    for path in unknown:
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 404, (path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "not_found"
    method, path = wrong_method
    for _ in range(2):
        r = requests.request(method, base + path, timeout=10)
        assert r.status_code == 405, (method, path, r.status_code, r.text)
        assert r.headers["Allow"]

    after = http_responses(base, service)
    grown = {key: after[key] - before.get(key, 0.0) for key in after if after[key] != before.get(key, 0.0)}
    # the /metrics scrape before is counted too, as the answer of its entrypoint
    grown.pop(("metrics_endpoint", "200"), None)
    assert grown == {("unmatched", "404"): len(unknown), ("unmatched", "405"): 2}
    # bounded: no series names a path that was asked for
    entrypoints = {entrypoint for entrypoint, _ in after}
    assert not any(p.strip("/") in e for p in unknown for e in entrypoints), entrypoints
