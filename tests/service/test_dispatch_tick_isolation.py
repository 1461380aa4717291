"""The planner tick plans each tenant on its own: a tenant whose re-plan fails (here its solve,
at the solver-process boundary) is logged with its tenant and counted
(``fsm_dispatch_plans_total{outcome="failed"}``), the other tenants due in the same pass are
still planned in that pass, and the failed tenant is planned again on a later pass."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

import eventlet
import pytest
import requests
from nameko.standalone.events import event_dispatcher
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, create_engine, delete, func, select, update

from services.dispatch import planner as planner_module
from services.dispatch.models import PlanRequest, Visit
from services.dispatch.schemas import technician_row_to_payload
from shared import clock
from shared import events as catalogue
from shared.db import Store
from shared.leases import Leases
from shared.outbox import leases_table
from tests.conftest import HQ, http_port_of, technician_rows, wait_for

pytestmark = pytest.mark.postgres

FAILING, HEALTHY = "C01", "C02"
CENTERS = {FAILING: (30.62, 114.14), HEALTHY: (36.68, 117.07)}
HOLDER = "test-other-replica"


def _ticket(tenant: str, rnd: random.Random) -> dict:
    lat0, lon0 = CENTERS[tenant]
    ticket_id = uuid.uuid4().hex[:16]
    now = clock.now()
    return {
        "tenant_id": tenant,
        "ticket_id": ticket_id,
        "number": f"{tenant}-{ticket_id[:6]}",
        "kind": "repair",
        "channel": "hotline",
        "priority": 3,
        "received_at": now,
        "product_line": "数控车床",
        "model": "CK6150",
        "serial_no": None,
        "fault": "无法启动",
        "warranty": "warranty",
        "tier": "local",
        "city": None,
        "lat": lat0 + rnd.uniform(-0.1, 0.1),
        "lon": lon0 + rnd.uniform(-0.1, 0.1),
        "geo_ambiguous": False,
        "onsite_due": now + timedelta(days=3),
        "wished_visit_at": None,
    }


class SolverFault:
    """Wraps the solver boundary (`run_in_child`): while armed, the solve of FAILING's problem
    (its technician-days are its vehicles, ids ``<tenant>-...@<day>``) fails as a crashed solver
    process would. Every solve is recorded with its tenant, outcome and the tick's green thread
    (each timer tick runs in a worker of its own)."""

    def __init__(self, real):
        self.real = real
        self.armed = True
        self.solves: list[tuple[str, str, object]] = []

    def __call__(self, problem, *args, **kwargs):
        tenant = str(problem.vehicles[0].id).split("-")[0] if problem.vehicles else "?"
        worker = eventlet.getcurrent()
        if self.armed and tenant == FAILING:
            self.solves.append((tenant, "failed", worker))
            raise RuntimeError("solver process failed (-11): injected by the test")
        plan = self.real(problem, *args, **kwargs)
        self.solves.append((tenant, "solved", worker))
        return plan


def failed_plans(container, tenant: str) -> float:
    text = requests.get(f"http://127.0.0.1:{http_port_of(container)}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "fsm_dispatch_plans_total" and s.labels == {
                "service": "dispatch",
                "tenant": tenant,
                "outcome": "failed",
            }:
                return s.value
    return 0.0


def test_one_tenants_failed_replan_does_not_stop_the_others_in_the_same_tick(
    pg_url, working_morning, runner_factory, service_config, rpc_as, monkeypatch, caplog
):
    from services.dispatch.service import DispatchService

    fault = SolverFault(planner_module.run_in_child)
    monkeypatch.setattr(planner_module, "run_in_child", fault)
    config = dict(
        service_config,
        DATABASES=dict(service_config["DATABASES"], dispatch=pg_url),
        DISPATCH_TIME_LIMIT=1.0,
        DISPATCH_WORKERS=1,
        DISPATCH_BATCH_SECONDS=0.3,
        DISPATCH_TICK_SECONDS=0.5,
    )
    runner = runner_factory(config, DispatchService)
    runner.start()
    container = next(iter(runner.containers))
    # counters are the process's: compare with their values before this test
    failed_before = {tenant: failed_plans(container, tenant) for tenant in CENTERS}

    # another replica holds both tenants' plan leases while their visits come in: both stay due
    store = Store("dispatch", pg_url, MetaData())
    engine = create_engine(pg_url)
    try:
        leases = Leases(store)
        assert leases.try_acquire(f"plan:{FAILING}", HOLDER, 300)
        assert leases.try_acquire(f"plan:{HEALTHY}", HOLDER, 300)

        with rpc_as(HQ, "dispatch") as dispatch:
            rows = [technician_row_to_payload(r) for t in CENTERS for r in technician_rows(t)]
            assert all(r["ok"] for r in dispatch.import_technicians(rows))
        dispatch_event = event_dispatcher(config)
        rnd = random.Random(11)
        for tenant in CENTERS:
            for _ in range(2):
                dispatch_event("intake", "ticket.registered", catalogue.dump("ticket.registered", _ticket(tenant, rnd)))

        def visits(tenant):
            with engine.connect() as conn:
                return conn.execute(select(Visit.status).where(Visit.tenant_id == tenant)).scalars().all()

        def both_requested():
            with engine.connect() as conn:
                rows = conn.execute(select(PlanRequest.tenant_id).where(PlanRequest.requested_at.is_not(None))).all()
            return len(visits(FAILING)) == 2 and len(visits(HEALTHY)) == 2 and {r[0] for r in rows} >= set(CENTERS)

        wait_for(both_requested, timeout=60, what="both tenants' visits stored and their re-plans requested")
        assert fault.solves == []  # nothing planned while the other replica holds the leases

        caplog.set_level(logging.INFO, logger=planner_module.log.name)
        with engine.begin() as conn:
            # the failing tenant first in the pass (oldest request)
            conn.execute(
                update(PlanRequest)
                .where(PlanRequest.tenant_id == FAILING)
                .values(requested_at=func.now() - timedelta(minutes=10))
            )
            conn.execute(
                update(PlanRequest)
                .where(PlanRequest.tenant_id == HEALTHY)
                .values(requested_at=func.now() - timedelta(minutes=5))
            )
        # a tick that read the due tenants before that order was stored has skipped both by now
        # (the leases are still held): every later pass meets the failing tenant first
        eventlet.sleep(5 * config["DISPATCH_TICK_SECONDS"])
        with engine.begin() as conn:  # both leases let go at once
            conn.execute(delete(leases_table).where(leases_table.c.holder == HOLDER))

        wait_for(
            lambda: visits(HEALTHY) and set(visits(HEALTHY)) <= {"scheduled", "unassignable"},
            timeout=90,
            what=f"{HEALTHY}'s visits planned",
        )
        assert "scheduled" in visits(HEALTHY)
        failures = [s for s in fault.solves if s[1] == "failed"]
        solved = [s for s in fault.solves if s[0] == HEALTHY and s[1] == "solved"]
        assert failures and failures[0][0] == FAILING
        # the healthy tenant was solved by the very tick (worker) in which the failing one failed
        assert solved and solved[0][2] is failures[0][2], fault.solves
        assert set(visits(FAILING)) == {"unplanned"}

        logged = [r for r in caplog.records if r.levelno >= logging.ERROR and getattr(r, "tenant", None) == FAILING]
        assert logged and "injected by the test" in str(logged[0].exc_info[1]), caplog.text
        # counted, at most once per failed attempt (it is being retried meanwhile)
        counted = failed_plans(container, FAILING) - failed_before[FAILING]
        assert 1 <= counted <= len([s for s in fault.solves if s[1] == "failed"])
        assert failed_plans(container, HEALTHY) == failed_before[HEALTHY]

        # the solver works again: the failed tenant is planned on a later pass, unasked
        fault.armed = False
        wait_for(
            lambda: set(visits(FAILING)) <= {"scheduled", "unassignable"} and "scheduled" in visits(FAILING),
            timeout=90,
            what=f"{FAILING} planned again after its failure",
        )
        retried = [s for s in fault.solves if s[0] == FAILING and s[1] == "solved"]
        assert retried and retried[0][2] is not failures[0][2]
    finally:
        engine.dispose()
        store.dispose()
