"""The holiday calendar through running services: a year no source knows shows in every service's
/health/ready (a warning, still ready) and /metrics (fsm_calendar_unknown_days); `fsm calendar
import`, run as the real command in a subprocess, reaches the running services without a restart,
and a working-day deadline across the imported holiday moves past it."""

import os
import subprocess
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from shared import clock
from shared.config import REPO_ROOT
from shared.workcal import ChinaCalendar, calendar_dir
from tests.conftest import C01, Platform, http_port_of, wait_for

EXAMPLE = REPO_ROOT / "data" / "holidays-2027.EXAMPLE.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
TICKET = {
    "kind": "repair",
    "channel": "hotline",
    "phone": "13800003333",
    "address": "湖北省宜昌市西陵区东山大道1号",  # in C01's province, beyond its 60 km local radius
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "主轴异响",
}


@pytest.fixture
def calendar_folder(tmp_path):
    """An empty calendar directory of this test; the process's calendar is pointed back at the
    configured one afterwards (the services here share the process with later tests)."""
    folder = tmp_path / "calendar"
    folder.mkdir()
    try:
        yield folder
    finally:
        ChinaCalendar.default().use_directory(calendar_dir())


@pytest.fixture
def december():
    """The services' clock (they run in this process) on 3 December 2026, 10:00 in Beijing."""
    clock.travel_to(datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI))
    try:
        yield
    finally:
        clock.reset()


def ready(port):
    r = requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
    assert r.status_code == 200, r.text  # unknown years never make a service unready
    body = r.json()
    assert body["status"] == "ready"
    return body


def unknown_days_metric(port, service):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    prefix = f'fsm_calendar_unknown_days{{service="{service}"}} '
    values = [float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)]
    assert len(values) == 1, f"{prefix!r} not exported once:\n{text}"
    return values[0]


def onsite_due(platform, customer):
    r = platform.post(
        "/api/v1/tickets",
        C01,
        json={**TICKET, "customer_name": customer, "received_at": "2027-02-04T10:00:00+08:00"},  # a Thursday
    )
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["tier"] == "in_province", ticket
    due = next(d["due_at"] for d in ticket["deadlines"] if d["sla"] == "onsite")
    return datetime.fromisoformat(due).astimezone(SHANGHAI)


def test_unknown_year_in_health_and_metrics_until_imported_then_deadlines_honour_it(
    runner_factory, service_config, calendar_folder, december
):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(service_config, CALENDAR_DIR=str(calendar_folder), CALENDAR_RELOAD_SECONDS=0.2)
    runner = runner_factory(config, IntakeService, GatewayService)
    runner.start()
    platform = Platform(runner, config)
    ports = {name: http_port_of(container) for name, container in platform.containers.items()}

    # 3 December 2026: 1 January to 2 March 2027 are within 90 days, and nothing knows 2027
    for service, port in ports.items():
        body = ready(port)
        check = body["checks"]["calendar"]
        assert check["ok"] is True and check["warning"] is True, check
        assert (check["unknown_days"], check["unknown_years"]) == (61, [2027])
        assert "2027" in check["detail"] and "fsm calendar import" in check["detail"]
        assert body["warnings"] == ["calendar"]
        assert unknown_days_metric(port, service) == 61

    # a request received on Thursday 4 February 2027: 2 working days by plain weekdays
    clock.travel_to(datetime(2027, 2, 4, 12, 0, tzinfo=SHANGHAI))
    assert onsite_due(platform, "宜昌日历客户甲") == datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI)  # Fri, Mon
    assert ready(ports["intake"])["checks"]["calendar"]["unknown_days"] == 90

    # the operator imports the year's schedule with the real command, into the services' folder
    env = dict(os.environ, FSM_CALENDAR_DIR=str(calendar_folder), PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [sys.executable, "-m", "fsm", "calendar", "import", str(EXAMPLE)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(calendar_folder / "2027.csv") in proc.stdout

    # the running services take it without a restart (they look every CALENDAR_RELOAD_SECONDS)
    def taken():
        check = ready(ports["intake"])["checks"]["calendar"]
        return not check["warning"] and check

    check = wait_for(taken, timeout=20, interval=0.2, what="the imported schedule in intake's /health/ready")
    assert check["unknown_days"] == 0 and check["unknown_years"] == []
    for service, port in ports.items():
        body = ready(port)
        assert "warnings" not in body and not body["checks"]["calendar"]["warning"]
        assert unknown_days_metric(port, service) == 0

    # the same request now: the example's Spring Festival (5-11 February) is skipped and the
    # make-up Saturday (13 February) counts
    assert onsite_due(platform, "宜昌日历客户乙") == datetime(2027, 2, 13, 10, 0, tzinfo=SHANGHAI)
