"""A stop while a big tenant is planned region by region (issue 19, point 4) ends the solver and
the region processes it started, as a stop ends a whole-tenant solve (test_clean_stop.py): the
dispatch service, run as operators run it (`nameko run`), gets SIGTERM while its solver process
plans C01 (above DISPATCH_REGIONS_ABOVE, set to 2 here) on its region processes; the service
stops within the bound, no solver or region process is left, and C01 stays due."""

from __future__ import annotations

import csv
import io
import signal
import time

import requests

from tests.conftest import technician_rows
from tests.processes import ServiceProcesses
from tests.stopping import (
    CENTER,
    STOP_BOUND,
    alive,
    clean_stops,
    log_problems,
    processes,
    signal_group,
    solver_processes,
    ticket_body,
)


def _technicians_and_tickets(procs: ServiceProcesses, count: int) -> None:
    headers = {"Authorization": f"Bearer {procs.token(CENTER)}"}
    rows = technician_rows("C01")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    r = requests.post(
        procs.url("gateway", "/api/v1/technicians/import"),
        data=buf.getvalue().encode(),
        headers=dict(headers, **{"Content-Type": "text/csv"}),
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["failed"] == 0, r.text
    for n in range(count):
        r = requests.post(procs.url("gateway", "/api/v1/tickets"), json=ticket_body(n), headers=headers, timeout=30)
        assert r.status_code == 201, r.text


def test_a_stop_ends_a_region_plan_with_its_region_processes(rabbit_config, tmp_path):
    procs = ServiceProcesses(
        rabbit_config["AMQP_URI"],
        tmp_path,
        DISPATCH_REGIONS_ABOVE=2,
        DISPATCH_REGIONS_TIME_LIMIT=60.0,  # a plan the stop does not wait for
        DISPATCH_BATCH_SECONDS=0.3,
    )
    procs.start("front", ["intake", "gateway"])
    procs.start("dispatch", ["dispatch"])
    try:
        procs.wait_ready(["intake", "gateway", "dispatch"])
        _technicians_and_tickets(procs, 5)
        dispatch = procs.process("dispatch")
        deadline = time.monotonic() + 90
        while True:  # the region plan's solver process and the region processes it started
            planned_by_region = "planned region by region" in procs.log_tail("dispatch", 10**7)
            solvers = solver_processes(dispatch.pid)
            regions = {pid for pid, _, _, _, cmd in processes() if pid in solvers and "multiprocessing" in cmd}
            if planned_by_region and regions:
                break
            assert time.monotonic() < deadline, "no region plan was solved\n" + procs.log_tail("dispatch")
            time.sleep(0.05)
        time.sleep(1.0)  # inside the regions' solve
        runs = procs.scalar("dispatch", "SELECT count(*) FROM plan_runs")

        proc = procs.process("dispatch")
        took = signal_group(proc, signal.SIGTERM, 30, lambda: procs.log_tail("dispatch"), again_after=0.3)
        assert took < STOP_BOUND, f"{took:.1f} s\n{procs.log_tail('dispatch')}"
        assert proc.returncode == 0, procs.log_tail("dispatch")
        log = procs.log_tail("dispatch", 10**7)
        assert log_problems(log) == []
        assert [names for names, _ in clean_stops(log)] == ["dispatch"], log[-2000:]
        assert alive(solvers | solver_processes(dispatch.pid)) == set(), "solver or region processes left behind"
        assert "re-plan of C01 not finished" in log
        assert procs.scalar("dispatch", "SELECT requested_at IS NOT NULL FROM plan_requests WHERE tenant_id = 'C01'")
        assert procs.scalar("dispatch", "SELECT count(*) FROM plan_runs") == runs  # the region plan not written
    finally:
        procs.stop_all()
