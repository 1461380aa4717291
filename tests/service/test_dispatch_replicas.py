"""Two dispatch replicas on one PostgreSQL database and one vhost (competing consumers of the
same queues, both planner timers ticking), tickets arriving for three tenants while
dispatchers ask for re-plans on either replica:

- no tenant is planned by two replicas (or two workers) at once: the plan runs of a tenant,
  each from the start of its solve to the moment its plan was written, never overlap;
- no plan is overwritten and no visit lost: every visit is placed by the latest plan run of its
  tenant, and every ticket has its visit;
- both replicas did plan (the tenants are shared, not all taken by one).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import UTC, timedelta

import pytest
from nameko.standalone.events import event_dispatcher
from sqlalchemy import create_engine, select

from services.dispatch.models import PlanRequest, PlanRun, Visit
from services.dispatch.schemas import technician_row_to_payload
from shared import clock
from shared import events as catalogue
from shared.outbox import leases_table
from tests.conftest import HQ, technician_rows, wait_for

pytestmark = pytest.mark.postgres

CENTERS = {"C01": (30.62, 114.14), "C02": (36.68, 117.07), "C03": (31.95, 118.84)}


def _ticket(tenant, rnd):
    lat0, lon0 = CENTERS[tenant]
    ticket_id = uuid.uuid4().hex[:16]
    now = clock.now()
    return ticket_id, {
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
        "lat": lat0 + rnd.uniform(-0.15, 0.15),
        "lon": lon0 + rnd.uniform(-0.15, 0.15),
        "geo_ambiguous": False,
        "onsite_due": now + timedelta(days=3),
        "wished_visit_at": None,
    }


def test_two_replicas_never_plan_a_tenant_at_once(pg_url, working_morning, runner_factory, service_config, rpc_as):
    # pg_url first: its database is dropped after the replicas have stopped
    from services.dispatch.service import DispatchService

    config = dict(
        service_config,
        DATABASES=dict(service_config["DATABASES"], dispatch=pg_url),
        DISPATCH_TIME_LIMIT=1.0,
        DISPATCH_WORKERS=1,
        DISPATCH_BATCH_SECONDS=0.3,
    )
    replicas = [runner_factory(config, DispatchService), runner_factory(config, DispatchService)]
    for runner in replicas:
        runner.start()
    with rpc_as(HQ, "dispatch") as dispatch:
        rows = [technician_row_to_payload(r) for t in CENTERS for r in technician_rows(t)]
        assert all(r["ok"] for r in dispatch.import_technicians(rows))

    dispatch_event = event_dispatcher(config)
    rnd = random.Random(7)
    tickets = {}
    answers, errors = [], []

    def reoptimise(tenant):
        try:
            with rpc_as(HQ, "dispatch") as d:
                answers.append(d.reoptimise(tenant))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    callers = []
    for _ in range(3):
        for tenant in CENTERS:
            for _ in range(2):
                ticket_id, body = _ticket(tenant, rnd)
                tickets[ticket_id] = tenant
                dispatch_event("intake", "ticket.registered", catalogue.dump("ticket.registered", body))
        time.sleep(0.4)
        # dispatchers of every tenant ask for a re-plan now, twice each: the calls land on both
        # replicas while their timers plan the new tickets
        for tenant in CENTERS:
            for _ in range(2):
                caller = threading.Thread(target=reoptimise, args=(tenant,))
                caller.start()
                callers.append(caller)
        time.sleep(0.8)
    for caller in callers:
        caller.join(120)
    assert not errors, errors
    assert all("skipped" not in a for a in answers), answers  # a manual re-plan waits for the lease

    engine = create_engine(pg_url)
    try:

        def settled():
            with engine.connect() as conn:
                visits = conn.execute(select(Visit.ticket_id, Visit.tenant_id, Visit.status, Visit.plan_run_id)).all()
                runs = conn.execute(
                    select(PlanRun.id, PlanRun.tenant_id, PlanRun.started_at, PlanRun.finished_at, PlanRun.holder)
                ).all()
                state = conn.execute(select(PlanRequest)).all()
                held = conn.execute(
                    select(leases_table.c.name).where(
                        leases_table.c.name.like("plan:%"), leases_table.c.expires_at > clock_now(conn)
                    )
                ).all()
            quiet = all(s.requested_at is None and s.planning_since is None for s in state) and not held
            latest = {}
            for run in runs:
                latest[run.tenant_id] = max(latest.get(run.tenant_id, 0), run.id)
            placed = all(v.plan_run_id == latest.get(v.tenant_id) for v in visits)
            if quiet and placed and len(visits) == len(tickets):
                return visits, runs, latest
            return None

        visits, runs, latest = wait_for(settled, timeout=120, interval=0.5, what="both replicas settled")
    finally:
        engine.dispose()

    # no lost visit: one per ticket, each scheduled (or unassignable, with its reason) by the latest
    # plan run of its tenant
    assert {v.ticket_id: v.tenant_id for v in visits} == tickets
    assert {v.status for v in visits} <= {"scheduled", "unassignable"}
    assert sum(v.status == "scheduled" for v in visits) >= len(tickets) // 2
    assert all(v.plan_run_id == latest[v.tenant_id] for v in visits)

    # no tenant planned twice at once: per tenant, each run began after the previous one was written
    by_tenant = {}
    for run in runs:
        assert run.finished_at is not None and run.finished_at >= run.started_at
        by_tenant.setdefault(run.tenant_id, []).append(run)
    assert set(by_tenant) == set(CENTERS)
    for tenant, tenant_runs in by_tenant.items():
        tenant_runs.sort(key=lambda r: r.started_at)
        for before, after in zip(tenant_runs, tenant_runs[1:]):
            assert after.started_at >= before.finished_at, (tenant, before, after)
        assert len(tenant_runs) >= 3, tenant_runs  # batches and manual re-plans, not one solve
    # the tenants were shared by the two replicas
    assert len({run.holder.split("#")[0] for run in runs}) == 2, {run.holder for run in runs}


def clock_now(conn):
    from sqlalchemy import func

    return conn.execute(select(func.now())).scalar()


def test_a_replan_request_outlives_the_replica_that_got_it(
    working_morning, runner_factory, service_config, rpc_as, tmp_path
):
    """The planner's "tenant needs a re-plan" is a row written with the change: a replica that
    stored the tickets and died before planning leaves it to another; and a re-plan begun by a
    replica that died (its lease left to lapse) is taken up again once the lease expires."""
    from datetime import datetime

    from sqlalchemy import update

    from services.dispatch.service import DispatchService

    url = f"sqlite:///{tmp_path}/dispatch-shared.db"
    base = dict(
        service_config,
        DATABASES=dict(service_config["DATABASES"], dispatch=url),
        DISPATCH_TIME_LIMIT=1.0,
        DISPATCH_WORKERS=1,
    )
    first = runner_factory(dict(base, DISPATCH_BATCH_SECONDS=3600), DispatchService)  # never gets to plan
    first.start()
    with rpc_as(HQ, "dispatch") as dispatch:
        assert all(
            r["ok"] for r in dispatch.import_technicians([technician_row_to_payload(r) for r in technician_rows("C01")])
        )
    rnd = random.Random(3)
    dispatch_event = event_dispatcher(base)
    tickets = set()
    for _ in range(2):
        ticket_id, body = _ticket("C01", rnd)
        tickets.add(ticket_id)
        dispatch_event("intake", "ticket.registered", catalogue.dump("ticket.registered", body))
    engine = create_engine(url)
    try:

        def requested():
            with engine.connect() as conn:
                n = len(conn.execute(select(Visit.id)).all())
                row = conn.execute(select(PlanRequest).where(PlanRequest.tenant_id == "C01")).first()
            return n == 2 and row is not None and row.requested_at is not None

        wait_for(requested, what="visits stored with their re-plan request")
        first.kill()  # dies with the request unplanned

        second = runner_factory(dict(base, DISPATCH_BATCH_SECONDS=0.3), DispatchService)
        second.start()

        def planned(after_id=0):
            with engine.connect() as conn:
                runs = conn.execute(select(PlanRun).where(PlanRun.id > after_id)).all()
                visits = conn.execute(select(Visit.status, Visit.plan_run_id)).all()
            if runs and all(v.plan_run_id == max(r.id for r in runs) for v in visits):
                return runs
            return None

        runs = wait_for(planned, timeout=60, what="the other replica planned the stored request")
        assert runs[-1].trigger == "batch" and runs[-1].holder.split("#")[0] != dead_replica(first)
        with engine.connect() as conn:
            assert {r.ticket_id for r in conn.execute(select(Visit.ticket_id))} == tickets

        # a replica died while planning C01: its begun re-plan and its lease are left behind
        dead = "dispatch@gone:1:dead#1"
        lapse = datetime.now(UTC) + timedelta(seconds=3)
        with engine.begin() as conn:
            conn.execute(
                update(PlanRequest.__table__)
                .where(PlanRequest.tenant_id == "C01")
                .values(
                    requested_at=None, planning_since=datetime.now(UTC) - timedelta(seconds=5), planning_holder=dead
                )
            )
            conn.execute(
                update(leases_table).where(leases_table.c.name == "plan:C01").values(holder=dead, expires_at=lapse)
            )
        last = runs[-1].id
        again = wait_for(lambda: planned(last), timeout=60, what="the begun re-plan taken up again")
        product_lapse = lapse + (clock.now() - datetime.now(UTC))  # plan runs carry product time
        assert clock.as_utc(again[0].started_at) >= product_lapse - timedelta(seconds=0.5)  # not before it lapsed
        with engine.connect() as conn:
            row = conn.execute(select(PlanRequest).where(PlanRequest.tenant_id == "C01")).first()
        assert row.planning_since is None and row.planning_holder is None
    finally:
        engine.dispose()


def dead_replica(runner):
    from services.dispatch.service import PlannerState

    container = next(iter(runner.containers))
    return next(d for d in container.dependencies if isinstance(d, PlannerState)).planner.replica
