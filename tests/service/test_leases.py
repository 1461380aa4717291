"""Leases (shared.leases) on SQLite and PostgreSQL, and `timer_once`: with two replicas a timer
does its work once per interval, and the other replica takes over when the holder stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from shared.db import Database, Store
from shared.leases import Leases, timer_once

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/leases.db"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def leases(db_url):
    store = Store("leasetest", db_url, MetaData())
    store.create_schema()
    yield Leases(store)
    store.dispose()


def test_acquire_renew_expire_release(leases):
    assert leases.holder("job") is None
    assert leases.try_acquire("job", "a", 30)  # first use: the INSERT
    assert not leases.try_acquire("job", "b", 30)  # held by a
    assert leases.try_acquire("job", "a", 30)  # a again: renewed
    assert leases.holder("job") == "a"
    assert not leases.renew("job", "b", 30)  # only the holder renews
    assert leases.renew("job", "a", 0.3)
    time.sleep(0.6)  # expired
    assert leases.holder("job") is None
    assert leases.try_acquire("job", "b", 30)  # b takes the expired lease
    assert not leases.renew("job", "a", 30)  # a lost it
    assert not leases.release("job", "a")
    assert leases.release("job", "b")  # given up at once
    assert leases.try_acquire("job", "a", 30)
    assert leases.try_acquire("other", "b", 30)  # leases are independent


def test_hold_renews_while_in_use(leases):
    with leases.hold("long", "a", 0.6) as held:
        time.sleep(1.5)  # longer than the ttl: renewed meanwhile
        assert not leases.try_acquire("long", "b", 0.6)
        assert not held.lost
    assert leases.hold("long", "b", 5) is not None  # released at the end
    assert leases.hold("long", "a", 5) is None


RACE = textwrap.dedent("""
    import sys, time
    from sqlalchemy import MetaData
    from shared.db import Store
    from shared.leases import Leases
    url, who, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = Store("leasetest", url, MetaData())
    with store.engine.connect():
        pass
    leases = Leases(store)
    time.sleep(max(0.0, start_at - time.time()))
    print("won" if leases.try_acquire("fresh", who, 60) else "lost")
""")


def test_first_use_race_has_one_winner(leases, db_url):
    """Processes taking a lease never taken before, at the same instant: exactly one gets it
    (the others' INSERT meets the winner's row and they are told no)."""
    start_at = time.time() + 3.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, db_url, f"p{i}", str(start_at)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outcomes.append(out.strip())
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert leases.holder("fresh") in {f"p{i}" for i in range(4)}


# ------------------------------------------------------------------ timer_once with two replicas

RUNS = []


class TickService:
    name = "ticktest"
    db = Database(MetaData())

    @timer_once("TICK_SECONDS", 60)
    def tick(self):
        RUNS.append((id(self.db.worker_ctx.container), time.monotonic()))
        time.sleep(0.05)


def test_timer_runs_once_per_interval_across_two_replicas(db_url, container_factory, rabbit_config):
    config = dict(rabbit_config, DATABASES={"ticktest": db_url}, TICK_SECONDS=0.25)
    RUNS.clear()
    first = container_factory(TickService, config)
    second = container_factory(TickService, config)
    first.start()
    second.start()
    time.sleep(3.0)
    window = list(RUNS)
    # about one run per interval (12 in 3 s), not one per replica per interval (24)
    assert 8 <= len(window) <= 14, window
    assert len({who for who, _ in window}) == 1  # the holder keeps the lease while it runs
    gaps = [b - a for (_, a), (_, b) in zip(window, window[1:])]
    assert min(gaps) >= 0.15, gaps  # never two runs in one interval

    # the holder stops: it releases the lease and the other replica takes the timer over
    holder = first if window[0][0] == id(first) else second
    other = second if holder is first else first
    holder.stop()
    before = len(RUNS)
    time.sleep(1.5)
    after = RUNS[before:]
    assert after and {who for who, _ in after} == {id(other)}
    assert 3 <= len(after) <= 7, after


def test_timer_taken_over_when_the_holder_dies(db_url, container_factory, rabbit_config):
    """A replica killed (no release) keeps the lease until it lapses (interval + 2 s here);
    then the other one runs the timer."""
    config = dict(rabbit_config, DATABASES={"ticktest": db_url}, TICK_SECONDS=0.25)
    RUNS.clear()
    first = container_factory(TickService, config)
    second = container_factory(TickService, config)
    first.start()
    second.start()
    deadline = time.monotonic() + 10
    while not RUNS and time.monotonic() < deadline:
        time.sleep(0.05)
    holder = first if RUNS[0][0] == id(first) else second
    other = second if holder is first else first
    holder.kill()
    killed_at = time.monotonic()
    while not any(who == id(other) for who, _ in RUNS) and time.monotonic() < killed_at + 10:
        time.sleep(0.05)
    taken = [at for who, at in RUNS if who == id(other)]
    assert taken, "the other replica never took the timer over"
    assert taken[0] - killed_at <= 0.25 + 2.0 + 0.25 + 0.5  # lease lapsed, next tick


SERVICES_WITH_TIMERS = {
    "services.intake.service:IntakeService": ("sla_watchdog", "SLA_CHECK_SECONDS", 30),
    "services.certification.service:CertificationService": ("certificate_timer", "CERTIFICATION_CHECK_SECONDS", 300),
    "services.parts.service:PartsService": ("overdue_watch", "PARTS_OVERDUE_CHECK_SECONDS", 60),
    "services.qa.service:QaService": ("housekeeping", "QA_HOUSEKEEPING_SECONDS", 60),
    "services.notify.service:NotifyService": ("retry_timer", "NOTIFY_RETRY_SECONDS", 30),
    # every dispatch replica ticks; each tenant's re-plan takes the tenant's lease instead
    "services.dispatch.service:DispatchService": ("planner_tick", "DISPATCH_TICK_SECONDS", 1.0),
}


@pytest.mark.parametrize("path", sorted(SERVICES_WITH_TIMERS))
def test_every_service_timer_is_leased_and_configured(path, rabbit_config):
    """No plain nameko timer is left: each one runs on one replica and reads its interval from
    the configuration (default when unset)."""
    import importlib

    from nameko.containers import ServiceContainer
    from nameko.timer import Timer

    from shared.leases import LeasedTimer

    module, cls_name = path.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    method, key, default = SERVICES_WITH_TIMERS[path]
    for config, interval in ((dict(rabbit_config), default), (dict(rabbit_config, **{key: 7}), 7.0)):
        container = ServiceContainer(cls, config)
        timers = [e for e in container.entrypoints if isinstance(e, Timer)]
        assert timers and all(isinstance(t, LeasedTimer) for t in timers), timers
        timer = next(t for t in timers if t.method_name == method)
        timer.setup()
        assert timer.interval == interval and timer.config_key == key
        assert timer.lease_name == f"timer:{cls.name}.{method}"
        assert timer.exclusive is (cls.name != "dispatch")
