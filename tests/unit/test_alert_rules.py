"""The Prometheus alert rules (deploy/prometheus/alerts.yml): valid for promtool, each alert
unit-tested firing and quiet (alerts*.test.yml), the tests able to fail, every rule explained,
and the cluster's PrometheusRule the same rules. promtool is Debian's `prometheus` package
(`make tools` installs it): without it these tests fail, they do not skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.promql_names import rule_queries, uses

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus"
RULES = RULES_DIR / "alerts.yml"
RULE_TESTS = sorted(RULES_DIR.glob("alerts*.test.yml"))

# what the issue asks to be alerted on, by the metric the rule reads
REQUIRED = {
    "SLA breaches per tenant": "fsm_sla_breached_open",
    "visits at risk": "fsm_dispatch_visits_at_risk",
    "dead letters": "fsm_dead_letters_queued",
    "outbox backlog (oldest unpublished)": "fsm_outbox_oldest_seconds",
    "outbox backlog (count)": "fsm_outbox_pending",
    "consumer lag": "fsm_queue_messages_ready",
    "broker down": "fsm_broker_connected",
    "planner failures": "fsm_dispatch_plans_total",
    "certificate expiries": "fsm_certification_certificates_expiring",
    "holiday calendar unknown days": "fsm_calendar_unknown_days",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: run `make tools` (Debian package prometheus)")
    return path


def run_promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules_and_the_config_that_loads_them():
    checked = run_promtool("check", "rules", RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in checked.stdout
    config = run_promtool("check", "config", REPO / "deploy" / "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout


def test_promtool_unit_tests_of_the_rules_pass():
    result = run_promtool("test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_is_tested_firing_and_quiet():
    tested: dict[str, set[str]] = {}
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                kind = "firing" if check.get("exp_alerts") else "quiet"
                tested.setdefault(check["alertname"], set()).add(kind)
    untested = {rule["alert"]: sorted({"firing", "quiet"} - tested.get(rule["alert"], set())) for rule in alerts()}
    assert {name: kinds for name, kinds in untested.items() if kinds} == {}


@pytest.mark.slow  # promtool over every test case twice: out of `make test-fast`
@pytest.mark.parametrize("mutation", ["never fires", "always fires"])
def test_the_unit_tests_catch_a_broken_rule(tmp_path, mutation):
    """Every alert's tests fail when its rule is broken: replaced by one that never fires, or by
    one that always fires (so the quiet cases catch it)."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["expr"] = "vector(1) > 2" if mutation == "never fires" else "vector(1)"
            rule["for"] = "0m"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(doc))
    for path in RULE_TESTS:
        shutil.copy(path, tmp_path / path.name)
    result = run_promtool("test", "rules", *[p.name for p in RULE_TESTS], cwd=tmp_path)
    assert result.returncode != 0
    failed = set(re.findall(r"alertname: (\w+), time:", result.stdout + result.stderr))
    assert failed == {rule["alert"] for rule in alerts()}


def test_each_alert_has_a_severity_and_says_what_happened_and_what_to_do():
    for rule in alerts():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert len(rule["annotations"]["summary"]) > 10, rule["alert"]
        assert len(rule["annotations"]["description"].split()) >= 25, rule["alert"]


def test_the_issue_s_alerts_are_all_there():
    used = uses(rule_queries(RULES))
    assert {what: metric for what, metric in REQUIRED.items() if metric not in used} == {}


def test_the_clusters_prometheusrule_holds_the_same_rules():
    check = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "prometheusrule.py"), "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    rule = yaml.safe_load((REPO / "k8s" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
