"""Every metric the Grafana dashboards and the alert rules query is exported by a running service.

All seven services run as an operator runs them (one `nameko run` process, tests/processes.py)
on a vhost of their own; a little traffic makes the series that appear only when something
happens (a ticket registered through the gateway, its event consumed by dispatch, a plan
solved, a refused request); then every service's /metrics is scraped, and each metric name
used in deploy/grafana/dashboards and deploy/prometheus/alerts.yml must have samples in some
service's answer, with the labels the queries match on.
"""

from __future__ import annotations

from pathlib import Path

import requests
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client.parser import text_string_to_metric_families

from services.dispatch.schemas import technician_row_to_payload
from tests.conftest import C01, technician_rows, wait_for
from tests.processes import SERVICE_CLASSES, ServiceProcesses
from tests.promql_names import PROMETHEUS_SERIES, Use, dashboard_queries, rule_queries, uses

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"

REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉度量测试公司",
    "phone": "13807100000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}

Samples = dict[str, list[tuple[str, dict[str, str], float]]]  # sample name -> (service, labels, value)


def scrape(procs: ServiceProcesses) -> Samples:
    samples: Samples = {}
    for service in SERVICE_CLASSES:
        r = requests.get(procs.url(service, "/metrics"), timeout=30)
        assert r.status_code == 200, (service, r.text[:500])
        for family in text_string_to_metric_families(r.text):
            for s in family.samples:
                samples.setdefault(s.name, []).append((service, s.labels, s.value))
    return samples


def unexported(used: dict[str, Use], samples: Samples) -> dict[str, str]:
    """The names used that no service exports (or not with a label a query matches on)."""
    missing = {}
    for name, use in sorted(used.items()):
        if name in PROMETHEUS_SERIES:
            continue
        if name not in samples:
            missing[name] = f"no samples; used by {sorted(use.where)}"
            continue
        labels = set().union(*(set(s[1]) for s in samples[name]))
        if use.labels - labels:
            missing[name] = f"no label {sorted(use.labels - labels)}; used by {sorted(use.where)}"
    return missing


def value(samples: Samples, name: str, **labels: str) -> float | None:
    found = [v for _, ls, v in samples.get(name, []) if all(ls.get(k) == x for k, x in labels.items())]
    return sum(found) if found else None


def drive_traffic(procs: ServiceProcesses, config: dict) -> None:
    with ServiceRpcProxy("dispatch", config, context_data={"principal": C01.encode()}, timeout=60) as dispatch:
        results = dispatch.import_technicians([technician_row_to_payload(r) for r in technician_rows("C01")])
        assert all(r["ok"] for r in results), results
    headers = {"Authorization": f"Bearer {procs.token(C01)}"}
    created = requests.post(procs.url("gateway", "/api/v1/tickets"), json=REPAIR, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    refused = requests.post(
        procs.url("gateway", "/api/v1/tickets"), json={"kind": "repair"}, headers=headers, timeout=30
    )
    assert refused.status_code in (400, 422), refused.text
    ticket = created.json()["id"]
    # the phone reply to the customer fulfils a commitment: an SLA outcome with the ticket's tier
    replied = requests.post(
        procs.url("gateway", f"/api/v1/tickets/{ticket}/transitions"),
        json={"action": "reply_phone"},
        headers=headers,
        timeout=30,
    )
    assert replied.status_code == 200, replied.text

    def scheduled():
        with ServiceRpcProxy("dispatch", config, context_data={"principal": C01.encode()}, timeout=60) as dispatch:
            items = dispatch.board({})["items"]
            return [v for v in items if v["ticket_id"] == ticket and v["status"] == "scheduled"]

    wait_for(scheduled, timeout=120, interval=1, what="the ticket's visit planned (a solve ran)")


def test_every_metric_in_the_dashboards_and_alert_rules_is_exported(rabbit_config, tmp_path):
    procs = ServiceProcesses(
        rabbit_config["AMQP_URI"],
        tmp_path,
        DISPATCH_BATCH_SECONDS="0.5",
        DISPATCH_TIME_LIMIT="1",
        DISPATCH_WORKERS="1",
    )
    procs.start("all", list(SERVICE_CLASSES))
    try:
        procs.wait_ready(SERVICE_CLASSES)
        drive_traffic(procs, {"AMQP_URI": rabbit_config["AMQP_URI"]})
        samples = scrape(procs)
    finally:
        procs.stop_all()

    used = uses(q for path in DASHBOARDS for q in dashboard_queries(path))
    for name, use in uses(rule_queries(RULES)).items():
        used.setdefault(name, Use(name)).labels |= use.labels
        used[name].where |= use.where
    assert len(used) > 20
    assert unexported(used, samples) == {}

    # the check can fail: the names the old dashboard used are not exported
    old = uses(
        iter(
            [
                ("old", 'sum by (service) (rate(fsm_http_requests_total{status=~"[45].."}[5m]))'),
                ("old", "histogram_quantile(0.95, sum by (le) (rate(fsm_rpc_latency_seconds_bucket[5m])))"),
                ("old", 'fsm_worker_calls_total{status="500"}'),
            ]
        )
    )
    assert set(unexported(old, samples)) == {
        "fsm_http_requests_total",
        "fsm_rpc_latency_seconds_bucket",
        "fsm_worker_calls_total",
    }

    # and the figures are the running platform's, every scrape-time figure read
    errors = {(ls["service"], ls["source"]): v for _, ls, v in samples["fsm_metrics_refresh_errors_total"]}
    assert {key for key, v in errors.items() if v} == set()
    assert {service for service, _ in errors} == set(SERVICE_CLASSES)
    for service in SERVICE_CLASSES:
        assert value(samples, "fsm_broker_connected", service=service) == 1, service
        assert value(samples, "fsm_dead_letters_queued", service=service) == 0, service
    assert value(samples, "fsm_queue_consumers", service="intake", queue="rpc-intake") >= 1
    assert value(samples, "fsm_http_responses_total", service="gateway", code="201") >= 1
    replies = [ls for _, ls, v in samples["fsm_sla_total"] if ls["sla"] == "phone_reply" and v >= 1]
    assert [(ls["tenant"], ls["tier"], ls["outcome"]) for ls in replies] == [("C01", "local", "met")]
    assert value(samples, "fsm_dispatch_plans_total", service="dispatch", tenant="C01", outcome="planned") >= 1
    assert value(samples, "fsm_dispatch_plans_total", service="dispatch", tenant="C01", outcome="failed") == 0
    assert value(samples, "fsm_event_lag_seconds_count", service="dispatch", event="ticket.registered") >= 1
    assert value(samples, "fsm_sla_breached_open", service="intake", tenant="C01") == 0
