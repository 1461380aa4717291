"""A clean stop (shared.stopping): timers stopped twice, stopping order and the deadline on real
containers; then services as operators run them (`nameko run` per service) stopped by real
signals while a timer runs, a re-plan is being solved, and while the broker is away.

`make run` (all seven in one process) under load is tests/e2e/test_make_run.py; the measured
times are bench/stop_times.py's.
"""

from __future__ import annotations

import csv
import io
import signal
import time

import eventlet
import pytest
import requests
from nameko.extensions import DependencyProvider
from nameko.timer import timer
from sqlalchemy import MetaData

from shared.db import Database
from shared.leases import Leases, timer_once
from shared.rpc import RpcProxy, rpc
from shared.stopping import ProcessStop
from tests.chaos_broker import ChaosBroker, free_port
from tests.conftest import technician_rows
from tests.processes import ServiceProcesses
from tests.stopping import (
    CENTER,
    STOP_BOUND,
    alive,
    clean_stops,
    log_problems,
    signal_group,
    solver_processes,
    ticket_body,
)

RUNS: list[str] = []


class SlowTimerService:
    name = "slowtimer"
    db = Database(MetaData())

    @timer_once("TICK_SECONDS", 0.1)
    def tick(self):
        RUNS.append("begun")
        eventlet.sleep(float(self.db.worker_ctx.container.config["RUN_SECONDS"]))
        RUNS.append("done")


class NamekoTimerService:
    name = "namekotimer"

    @timer(interval=0.1)
    def tick(self):
        RUNS.append("begun")
        eventlet.sleep(1.0)
        RUNS.append("done")


def _wait_for_run():
    deadline = time.monotonic() + 10
    while "begun" not in RUNS:
        assert time.monotonic() < deadline, "the timer never ran"
        eventlet.sleep(0.02)


def _stop_twice(container):
    """Two stops at once, as two SIGTERMs give under plain `nameko run`; their errors."""
    errors = []

    def stop():
        try:
            container.stop()
        except Exception as exc:
            errors.append(exc)

    threads = [eventlet.spawn(stop), eventlet.spawn(stop)]
    for t in threads:
        t.wait()
    return errors


def test_nameko_timer_stopped_twice_raises(container_factory, rabbit_config):
    """The cause of the AssertionError seen on SIGTERM: nameko's Timer.stop sends its event
    again on a second stop while the first waits for the run to end."""
    RUNS.clear()
    container = container_factory(NamekoTimerService, dict(rabbit_config))
    container.start()
    _wait_for_run()
    errors = _stop_twice(container)
    assert [type(e) for e in errors] == [AssertionError]
    assert "re-send() an already-triggered event" in str(errors[0])


def test_leased_timer_stopped_twice_finishes_its_run(container_factory, rabbit_config, tmp_path):
    RUNS.clear()
    url = f"sqlite:///{tmp_path}/slowtimer.db"
    config = dict(rabbit_config, DATABASES={"slowtimer": url}, TICK_SECONDS=0.1, RUN_SECONDS=1.0)
    container = container_factory(SlowTimerService, config)
    container.start()
    _wait_for_run()
    assert _stop_twice(container) == []
    assert RUNS == ["begun", "done"]  # the run in progress finished; no new one began
    store = next(d for d in container.dependencies if isinstance(d, Database)).store
    assert Leases(store).holder("timer:slowtimer.tick") is None  # released for another replica


# ------------------------------------------------------------------ order and deadline
STOPPED: list[str] = []


class Recorder(DependencyProvider):
    def stop(self):
        STOPPED.append(self.container.service_name)


class CalleeService:
    name = "stopcallee"
    recorder = Recorder()

    @rpc
    def ping(self):
        return "pong"


class CallerService:
    name = "stopcaller"
    recorder = Recorder()
    callee = RpcProxy("stopcallee")

    @rpc
    def ping(self):
        return self.callee.ping()


def test_process_stop_callers_first_then_kills_at_the_deadline(container_factory, rabbit_config, tmp_path):
    # what a signal starts under `nameko run`, here without the signal: callers stop first
    STOPPED.clear()
    pair = [container_factory(cls, dict(rabbit_config)) for cls in (CalleeService, CallerService)]
    for c in pair:
        c.start()
    stop = ProcessStop()
    stop.containers.extend(pair)
    stop.stop_all()
    assert all(c._died.ready() for c in pair)
    assert STOPPED == ["stopcaller", "stopcallee"]

    # a run that will not end in time is killed at the deadline, and the kill is bounded too
    RUNS.clear()
    url = f"sqlite:///{tmp_path}/slowtimer.db"
    config = dict(rabbit_config, DATABASES={"slowtimer": url}, TICK_SECONDS=0.1, RUN_SECONDS=60)
    slow = container_factory(SlowTimerService, config)
    slow.start()
    _wait_for_run()
    stop = ProcessStop()
    stop.containers.append(slow)
    stop.timeout = 2.0
    started = time.monotonic()
    stop.stop_all()
    took = time.monotonic() - started
    assert slow._died.ready()
    assert took < stop.timeout + 2.0, took
    assert RUNS == ["begun"]  # the 60 s run was interrupted


def test_a_service_stopped_while_it_starts(container_factory):
    """A SIGTERM to a pod still starting (here: it cannot reach its broker, so it never gets
    ready): the stop ends the start too, without an error. nameko's consumer re-sent its "last
    provider gone" event for the second provider (AssertionError: re-send) and killed the
    container with QueueConsumerStopped."""
    config = {"AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/"}  # nothing listens there
    container = container_factory(CallerService, config)  # two providers of one consumer: rpc, replies
    starting = eventlet.spawn(container.start)
    eventlet.sleep(0.5)
    assert not starting.dead  # waiting for a broker that is not there
    container.stop()
    with eventlet.Timeout(5):
        starting.wait()  # the start has given up
    assert container._died.ready()


# ------------------------------------------------------------------ per-service processes, real signals
def _register(procs: ServiceProcesses, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {procs.token(CENTER)}"}
    ids = []
    for n in range(count):
        r = requests.post(procs.url("gateway", "/api/v1/tickets"), json=ticket_body(n), headers=headers, timeout=30)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def _import_technicians(procs: ServiceProcesses) -> None:
    """C01's technicians, so that a re-plan has someone to plan for (and a solver to run)."""
    rows = technician_rows("C01")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    headers = {"Authorization": f"Bearer {procs.token(CENTER)}", "Content-Type": "text/csv"}
    r = requests.post(
        procs.url("gateway", "/api/v1/technicians/import"), data=buf.getvalue().encode(), headers=headers, timeout=60
    )
    assert r.status_code == 200 and r.json()["failed"] == 0, r.text


def _stop(procs: ServiceProcesses, group: str, sig: int, twice: bool = False) -> float:
    proc = procs.process(group)
    # twice: make passes SIGTERM on to its child, so a kill of the group delivers it twice
    took = signal_group(proc, sig, 30, lambda: procs.log_tail(group), again_after=0.3 if twice else None)
    assert took < STOP_BOUND, f"{group}: {took:.1f} s\n{procs.log_tail(group)}"
    assert proc.returncode == 0, procs.log_tail(group)
    log = procs.log_tail(group, 10**7)
    assert log_problems(log) == []
    assert [names for names, _ in clean_stops(log)] == [", ".join(sorted(procs.groups[group][0]))], log[-2000:]
    return took


def test_services_stop_on_signals_while_a_timer_runs_and_a_plan_is_being_solved(rabbit_config, tmp_path):
    procs = ServiceProcesses(
        rabbit_config["AMQP_URI"],
        tmp_path,
        SLA_CHECK_SECONDS=0.3,  # intake's timer: runs all the time
        DISPATCH_TIME_LIMIT=30.0,  # a solve the stop does not wait for
        DISPATCH_BATCH_SECONDS=0.3,
    )
    procs.start("front", ["intake", "gateway"])
    procs.start("dispatch", ["dispatch"])
    try:
        procs.wait_ready(["intake", "gateway", "dispatch"])
        _import_technicians(procs)
        tickets = _register(procs, 5)
        dispatch = procs.process("dispatch")
        deadline = time.monotonic() + 60
        while not (solvers := solver_processes(dispatch.pid)):
            assert time.monotonic() < deadline, "no re-plan was solved\n" + procs.log_tail("dispatch")
            time.sleep(0.05)

        # SIGTERM (twice) while the solver runs: the stop does not wait for the solve, which is
        # ended with its worker processes; the re-plan is handed back (the tenant stays due)
        _stop(procs, "dispatch", signal.SIGTERM, twice=True)
        assert alive(solvers) == set(), "solver processes left behind"
        assert procs.scalar("dispatch", "SELECT requested_at IS NOT NULL FROM plan_requests WHERE tenant_id = 'C01'")
        assert procs.scalar("dispatch", "SELECT count(DISTINCT ticket_id) FROM visits") == len(tickets)
        assert "re-plan of C01 not finished" in procs.log_tail("dispatch", 10**7)

        # Ctrl-C to intake + gateway while the SLA timer ticks
        _stop(procs, "front", signal.SIGINT)
        assert procs.scalar("intake", "SELECT count(*) FROM tickets") == len(tickets)
    finally:
        procs.stop_all()


@pytest.mark.chaos
def test_services_stop_while_the_broker_is_away(tmp_path):
    with ChaosBroker() as broker:
        procs = ServiceProcesses(broker.uri, tmp_path, SLA_CHECK_SECONDS=0.3)
        procs.start("front", ["intake", "gateway"])
        procs.start("dispatch", ["dispatch"])
        try:
            procs.wait_ready(["intake", "gateway", "dispatch"])
            _register(procs, 3)
            broker.stop_app()
            deadline = time.monotonic() + 30
            while any(procs.ready(s) for s in ("intake", "gateway", "dispatch")):
                assert time.monotonic() < deadline, "still ready without a broker"
                time.sleep(0.2)
            # the outage itself is logged with kombu's traceback: only the stop is checked
            for group in ("front", "dispatch"):
                with open(tmp_path / f"{group}.log", "a") as log:
                    log.write("== signal\n")
            for group, sig in (("front", signal.SIGTERM), ("dispatch", signal.SIGINT)):
                proc = procs.process(group)
                took = signal_group(proc, sig, 30, lambda g=group: procs.log_tail(g))
                after = procs.log_tail(group, 10**7).split("== signal\n")[-1]
                assert took < STOP_BOUND and proc.returncode == 0, (took, proc.returncode, after[-3000:])
                assert log_problems(after) == [], after[-3000:]
                # nothing waited for the broker until the deadline killed it
                assert [names for names, _ in clean_stops(after)] == [", ".join(sorted(procs.groups[group][0]))]
        finally:
            procs.stop_all()
