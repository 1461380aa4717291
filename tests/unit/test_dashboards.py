"""The Grafana dashboards (deploy/grafana/dashboards) are well-formed, use the provisioned data
source, and have the panels the issue asks for; and the PromQL reading (tests/promql_names.py)
that the metrics-vs-dashboards test relies on finds the names a query uses, and only those.
Whether the services export those names: tests/e2e/test_metrics_dashboards.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.promql_names import dashboard_queries, selectors, uses, variable_query

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
DATASOURCES = REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"

# a figure the issue asks a panel for -> (metric, a label the panel must split or filter it by)
PANELS = {
    "requests per service": ("fsm_worker_calls_total", "service"),
    "latency per service": ("fsm_worker_latency_seconds_bucket", "service"),
    "errors per service": ("fsm_http_responses_total", "code"),
    "dead letters": ("fsm_dead_letters_queued", "service"),
    "event lag": ("fsm_event_lag_seconds_bucket", "service"),
    "queue depth": ("fsm_queue_messages_ready", "service"),
    "on-time share per tenant and tier": ("fsm_sla_total", "tenant"),
    "open callbacks": ("fsm_qa_callbacks_open", "tenant"),
    "open RMAs": ("fsm_parts_returns_open", "tenant"),
    "SLA breaches per tenant": ("fsm_sla_breached_open", "tenant"),
    "at-risk visits": ("fsm_dispatch_visits_at_risk", "tenant"),
    "outbox backlog": ("fsm_outbox_pending", "service"),
    "outbox oldest event": ("fsm_outbox_oldest_seconds", "service"),
    "planner failures": ("fsm_dispatch_plans_total", "tenant"),
    "certificate expiries": ("fsm_certification_certificates_expiring", "tenant"),
    "calendar coverage": ("fsm_calendar_unknown_days", None),
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (
            'histogram_quantile(0.95, sum by (service, le) (rate(fsm_x_seconds_bucket{service=~"$service"}'
            "[$__rate_interval])))",
            [("fsm_x_seconds_bucket", {"service"})],
        ),
        (
            'sum(rate(a_total{code=~"5..", x!="by"}[5m])) by (code) / on (job) group_left b',
            [("a_total", {"code", "x"}), ("b", set())],
        ),
        ("max(fsm_calendar_unknown_days) > 0", [("fsm_calendar_unknown_days", set())]),
        ("up == 0 and up offset 1h == 1 or vector(1) > bool 2", [("up", set()), ("up", set())]),
        ('label_replace(m{a="b"}, "dst", "$1", "src", "(.*)")', [("m", {"a"})]),
        ('topk($n, rate(c[1h:5m])) unless ignoring (le) d{e="1e3"}', [("c", set()), ("d", {"e"})]),
        ("rate(fsm_event_lag_seconds_count[5m]) * 1e3 + 2.5", [("fsm_event_lag_seconds_count", set())]),
    ],
)
def test_the_names_a_query_uses(expr, expected):
    assert sorted(selectors(expr), key=lambda s: s[0]) == sorted(expected, key=lambda s: s[0])


def test_a_selector_without_a_metric_name_is_refused():
    with pytest.raises(ValueError, match="without a metric name"):
        selectors('sum by (service) (rate({__name__=~"fsm_(rpc|http)_requests_total"}[5m]))')


def test_grafana_variable_queries():
    assert variable_query("label_values(fsm_worker_calls_total, service)") == "fsm_worker_calls_total"
    assert variable_query('label_values(fsm_sla_total{sla="onsite"}, tenant)') == 'fsm_sla_total{sla="onsite"}'
    assert variable_query("label_values(tenant)") == ""
    assert variable_query("sum(x)") == "sum(x)"


def test_dashboards_are_well_formed_and_use_the_provisioned_data_source():
    uid = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    assert len(DASHBOARDS) >= 2
    uids = set()
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        assert board["uid"] not in uids, path.name
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] == uid, (path.name, panel["title"])
            assert panel["targets"] and panel.get("description"), (path.name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, (path.name, panel["title"])
        for where, expr in dashboard_queries(path):
            assert selectors(expr), where  # every query reads some metric


def test_the_panels_the_issue_asks_for_are_there():
    used = {}
    for path in DASHBOARDS:
        for name, use in uses(dashboard_queries(path)).items():
            used.setdefault(name, set()).update(use.labels)
    grouped = " ".join(expr for path in DASHBOARDS for _, expr in dashboard_queries(path))
    missing = {}
    for figure, (metric, label) in PANELS.items():
        if metric not in used:
            missing[figure] = metric
        elif label and label not in used[metric] and f"by ({label}" not in grouped:
            missing[figure] = f"{metric} by {label}"
    assert missing == {}
    assert "sum by (tenant, tier)" in grouped  # on-time share split by tier


GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__range": "6h", "$__interval": "1m", "$service": ".*", "$tenant": ".*"}


def test_every_dashboard_query_is_valid_promql(tmp_path):
    """promtool parses each query (Grafana's variables filled in as Grafana would) as the
    expression of a recording rule: a typo in a panel fails here, not in front of an operator."""
    import re
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: run `make tools` (Debian package prometheus)")
    rules = []
    for path in DASHBOARDS:
        for where, expr in dashboard_queries(path):
            for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda kv: -len(kv[0])):
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{where}: a Grafana variable this test does not know: {expr}"
            rules.append({"record": f"dashboard:query:{len(rules)}", "expr": expr, "labels": {"where": where}})
    (tmp_path / "queries.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "queries.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"SUCCESS: {len(rules)} rules found", result.stdout), result.stdout
