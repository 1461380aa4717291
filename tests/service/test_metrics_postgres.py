"""The figures read when /metrics is scraped, on PostgreSQL: the five services with their own
figures (intake, dispatch, parts, qa, certification), each on a database of its own, answer every
gauge without a refresh error, and a late ticket shows as breached deadlines and a visit at risk.
(The same on SQLite: tests/e2e/test_metrics_dashboards.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import C01, HQ, http_port_of, wait_for
from tests.postgres_databases import postgres_databases

pytestmark = pytest.mark.postgres

SERVICES = ("intake", "dispatch", "parts", "qa", "certification")
GAUGES = {
    "intake": ["fsm_sla_breached_open", "fsm_outbox_pending", "fsm_outbox_oldest_seconds"],
    "dispatch": ["fsm_dispatch_visits_at_risk", "fsm_dispatch_plans_total", "fsm_queue_messages_ready"],
    "parts": ["fsm_parts_returns_open", "fsm_parts_returns_overdue", "fsm_dead_letters_queued"],
    "qa": ["fsm_qa_callbacks_open", "fsm_qa_callbacks_overdue", "fsm_queue_consumers"],
    "certification": ["fsm_certification_certificates_expiring", "fsm_outbox_pending"],
}
LATE = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉度量逾期公司",
    "phone": "13800003333",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "无法启动",
}


@pytest.fixture
def pg_databases():
    """A fresh PostgreSQL database for each of SERVICES (dropped afterwards)."""
    with postgres_databases(SERVICES) as urls:
        yield urls


def scrape(container) -> dict[str, list[tuple[dict, float]]]:
    text = requests.get(f"http://127.0.0.1:{http_port_of(container)}/metrics", timeout=30).text
    samples: dict[str, list[tuple[dict, float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def test_scrape_time_gauges_on_postgres(runner_factory, service_config, pg_databases, rpc_as):
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService

    config = dict(service_config, DATABASES=dict(service_config["DATABASES"], **pg_databases))
    config.update(DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=0.3)
    # one runner, as `make run` starts them: their migrations take turns (shared.migrations)
    runner = runner_factory(config, IntakeService, DispatchService, PartsService, QaService, CertificationService)
    runner.start()
    containers = {c.service_name: c for c in runner.containers}

    # a hotline request received three days ago: its accept, phone-reply and on-site deadlines are past
    received = (datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=3)).isoformat()
    with rpc_as(C01) as intake:
        intake.register_ticket(dict(LATE, received_at=received))
    with rpc_as(HQ) as intake:
        breached = intake.run_sla_check()["breached"]
    assert breached == 3

    def at_risk():
        found = scrape(containers["dispatch"]).get("fsm_dispatch_visits_at_risk", [])
        return [v for labels, v in found if labels["tenant"] == "C01" and v >= 1]

    assert wait_for(at_risk, timeout=60, what="dispatch's visit of the late ticket at risk") == [1.0]

    for service in SERVICES:
        samples = scrape(containers[service])
        for name in GAUGES[service]:
            assert samples.get(name), (service, name)
        errors = {labels["source"]: v for labels, v in samples["fsm_metrics_refresh_errors_total"]}
        assert errors and set(errors.values()) == {0.0}, (service, errors)
        assert {"broker", "outbox", "service", "calendar"} <= set(errors), (service, errors)
    intake_samples = scrape(containers["intake"])
    open_breaches = {labels["tenant"]: v for labels, v in intake_samples["fsm_sla_breached_open"]}
    assert open_breaches["C01"] == breached and open_breaches["C02"] == 0
