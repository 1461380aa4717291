"""Leases: with several replicas of a service, one of them at a time does a singleton job (a
timer's run, a tenant's re-plan).

A lease is a row of the service's own ``leases`` table (``shared.outbox.infra_metadata``,
created by each service's migrations): `name`, the `holder` (a replica id) and `expires_at`.
Taking one is one atomic UPDATE ... WHERE the lease expired OR the caller already holds it,
and an INSERT on first use (two replicas inserting at once: one row wins, the other is told
no), so it works the same on SQLite and PostgreSQL without locks held between statements. On
PostgreSQL expiry is judged by the database's clock (replicas' clocks may differ), on SQLite
(one host) by the process's; never by the product clock tests move (`shared.clock`).

`timer_once` is the timer every service uses: its interval comes from the configuration, and a
run happens on the replica holding the timer's lease; the others skip that tick. The holder
keeps the lease while it keeps running (each tick renews it; a long run is renewed while it
works), so the work happens once per interval across replicas; when the holder stops (lease
released) or dies (lease expires) another replica takes over at its next tick.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

import eventlet
from nameko.timer import Timer
from prometheus_client import Counter
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from shared import metrics
from shared.outbox import leases_table
from shared.stopping import begin_stopping, is_stopping

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Engine
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.dml import Insert
    from sqlalchemy.sql.elements import ColumnElement

    from shared.db import Database
    from shared.messaging import ExcInfo

    # a point in time for SQL: the database's clock (an expression) or ours (a value)
    SqlTime = datetime | ColumnElement[Any]

log = logging.getLogger(__name__)

_Method = TypeVar("_Method", bound=Callable[..., Any])

_PAST = datetime(1970, 1, 1, tzinfo=UTC)

TIMER_SKIPPED = Counter(
    "fsm_timer_skipped_total",
    "Timer ticks skipped because another replica holds the lease",
    ["service", "timer"],
    registry=metrics.REGISTRY,
)


def replica_id(service_name: str) -> str:
    """An id for one running instance of a service (host, process, instance)."""
    return f"{service_name}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:128]


class LeaseStore(Protocol):
    """What leases use of a `shared.db.Store`."""

    engine: Engine

    def write_turn(self) -> AbstractContextManager[Any]: ...


class Leases:
    """The leases of one service's database (a `shared.db.Store`)."""

    def __init__(self, store: LeaseStore) -> None:
        self.store = store
        self.engine = store.engine

    # -------------------------------------------------------------- time
    def _times(self, dialect_name: str, ttl: float) -> tuple[SqlTime, SqlTime]:
        """(now, until) as SQL expressions: the database's clock on PostgreSQL, ours elsewhere."""
        now: SqlTime
        if dialect_name == "postgresql":
            now = func.now()
            return now, now + timedelta(seconds=ttl)
        now = datetime.now(UTC)
        return now, now + timedelta(seconds=ttl)

    # -------------------------------------------------------------- operations
    def try_acquire(self, name: str, holder: str, ttl: float) -> bool:
        """Take lease `name` for `ttl` seconds if it is free (never taken, expired) or `holder`
        already holds it (then it is renewed). True when `holder` holds it afterwards."""
        with self.store.write_turn(), self.engine.begin() as conn:
            now, until = self._times(conn.dialect.name, ttl)
            taken = conn.execute(
                update(leases_table)
                .where(
                    leases_table.c.name == name, or_(leases_table.c.expires_at < now, leases_table.c.holder == holder)
                )
                .values(holder=holder, expires_at=until)
            ).rowcount
            if taken == 1:
                return True
            exists = conn.execute(select(leases_table.c.name).where(leases_table.c.name == name)).first()
            if exists is not None:
                return False
        return self._insert(name, holder, ttl)

    def _insert(self, name: str, holder: str, ttl: float) -> bool:
        """First use of `name`: one of the replicas racing here inserts the row, the others are
        told no (ON CONFLICT DO NOTHING where the dialect has it, else the IntegrityError)."""
        try:
            with self.store.write_turn(), self.engine.begin() as conn:
                _, until = self._times(conn.dialect.name, ttl)
                stmt = _insert_ignoring_conflict(conn.dialect.name).values(name=name, holder=holder, expires_at=until)
                return conn.execute(stmt).rowcount == 1
        except IntegrityError:
            return False

    def renew(self, name: str, holder: str, ttl: float, executor: Connection | Session | None = None) -> bool:
        """Extend `holder`'s lease by `ttl` from now; False if it is not (or no longer) its.
        `executor` (a Connection or Session) runs it inside that transaction: on PostgreSQL the
        row stays locked until it commits, so the lease cannot change hands before the work
        done under it is committed."""
        if executor is not None:
            dialect = (executor.dialect if hasattr(executor, "dialect") else executor.get_bind().dialect).name
            return self._renew(executor, dialect, name, holder, ttl)
        with self.store.write_turn(), self.engine.begin() as conn:
            return self._renew(conn, conn.dialect.name, name, holder, ttl)

    def _renew(self, executor: Connection | Session, dialect: str, name: str, holder: str, ttl: float) -> bool:
        _, until = self._times(dialect, ttl)
        # an UPDATE's result is a CursorResult also through a Session (typed there as a plain Result)
        return (
            cast(
                "CursorResult[Any]",
                executor.execute(
                    update(leases_table)
                    .where(leases_table.c.name == name, leases_table.c.holder == holder)
                    .values(expires_at=until)
                ),
            ).rowcount
            == 1
        )

    def release(self, name: str, holder: str) -> bool:
        """Give `holder`'s lease up at once (the row stays, expired, naming its last holder)."""
        with self.store.write_turn(), self.engine.begin() as conn:
            return (
                conn.execute(
                    update(leases_table)
                    .where(leases_table.c.name == name, leases_table.c.holder == holder)
                    .values(expires_at=_PAST)
                ).rowcount
                == 1
            )

    def holder(self, name: str) -> str | None:
        """Who holds `name` now (None: nobody, or expired)."""
        with self.engine.connect() as conn:
            now, _ = self._times(conn.dialect.name, 0)
            holder: str | None = conn.execute(
                select(leases_table.c.holder).where(leases_table.c.name == name, leases_table.c.expires_at >= now)
            ).scalar()
            return holder

    def hold(self, name: str, holder: str, ttl: float, release: bool = True) -> Held | None:
        """``with leases.hold(...) as held:``: the lease, renewed every ttl/3 while the block
        runs (`held.lost` if a renewal found it taken), released at the end unless
        ``release=False``. None (not a context) when another holder has it."""
        if not self.try_acquire(name, holder, ttl):
            return None
        return Held(self, name, holder, ttl, release)


def _insert_ignoring_conflict(dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(leases_table).on_conflict_do_nothing(index_elements=["name"])
    if dialect_name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(leases_table).on_conflict_do_nothing(index_elements=["name"])
    return insert(leases_table)


class Held:
    """A lease being held: renewed in a background greenthread until the block ends."""

    def __init__(self, leases: Leases, name: str, holder: str, ttl: float, release: bool = True) -> None:
        self.leases, self.name, self.holder, self.ttl = leases, name, holder, ttl
        self.release_at_exit = release
        self.lost = False
        self._gt: Any = None  # the renewing eventlet GreenThread while held

    def __enter__(self) -> Held:
        self._gt = eventlet.spawn(self._renew_loop)
        return self

    def _renew_loop(self) -> None:
        while True:
            eventlet.sleep(max(self.ttl / 3.0, 0.05))
            try:
                if not self.leases.renew(self.name, self.holder, self.ttl):
                    self.lost = True
                    log.warning("lease %s of %s was taken over while in use", self.name, self.holder)
                    return
            except Exception as exc:  # database away: try again at the next turn
                log.warning("lease %s not renewed: %s", self.name, exc)

    def stop(self) -> None:
        if self._gt is not None:
            self._gt.kill()
            self._gt = None

    def __exit__(self, *exc: object) -> Literal[False]:
        self.stop()
        if self.release_at_exit and not self.lost:
            try:
                self.leases.release(self.name, self.holder)
            except Exception as err:  # it expires by itself
                log.warning("lease %s not released: %s", self.name, err)
        return False


def _database_of(container: Any) -> Database:
    from shared.db import Database

    for dep in container.dependencies:
        if isinstance(dep, Database):
            return dep
    raise LookupError(f"{container.service_name} has no Database dependency for its timers' leases")


class LeasedTimer(Timer):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """A nameko timer whose interval is read from the configuration (`config_key`, else
    `default` seconds) and which runs on one replica at a time: before each run it takes (or
    renews) the lease ``timer:<service>.<method>`` (or `name`); a replica that cannot skips the
    tick. `lease=False`: every replica runs it (for work that takes finer leases itself, e.g.
    one per tenant)."""

    interval: float  # nameko's

    def __init__(
        self,
        config_key: str,
        default: float,
        name: str | None = None,
        lease: bool = True,
        eager: bool = False,
        **kwargs: Any,
    ) -> None:
        self.config_key = config_key
        self.lease_name = name
        self.exclusive = lease
        self.holder: str | None = None
        self._leases: Leases | None = None
        self._renewal: Held | None = None
        self._held = False
        super().__init__(interval=default, eager=eager, **kwargs)

    def setup(self) -> None:
        value = self.container.config.get(self.config_key)
        self.interval = float(value) if value not in (None, "") else float(self.interval)
        self.lease_name = self.lease_name or f"timer:{self.container.service_name}.{self.method_name}"
        self.holder = replica_id(self.container.service_name)

    @property
    def ttl(self) -> float:
        """Long enough that the holder's next tick renews it before it lapses."""
        return self.interval + max(2.0, self.interval / 2.0)

    @property
    def leases(self) -> Leases:
        if self._leases is None:
            # the Database provider has its store once set up, before any tick
            self._leases = Leases(_database_of(self.container).store)
        return self._leases

    def handle_timer_tick(self) -> None:
        if is_stopping(self.container):  # a process stopping starts no new run (shared.stopping)
            self.worker_complete.send()
            return
        # the lease name and the holder are set by `setup`, before any tick
        if self.exclusive:
            try:
                mine = self.leases.try_acquire(cast(str, self.lease_name), cast(str, self.holder), self.ttl)
            except Exception as exc:  # database away: this tick does nothing
                log.warning("timer %s: lease not checked (%s); tick skipped", self.lease_name, exc)
                mine = False
            if not mine:
                TIMER_SKIPPED.labels(self.container.service_name, self.method_name).inc()
                self.worker_complete.send()
                return
            self._held = True
            self._renewal = Held(
                self.leases, cast(str, self.lease_name), cast(str, self.holder), self.ttl, release=False
            ).__enter__()
        super().handle_timer_tick()

    def handle_result(self, worker_ctx: Any, result: Any, exc_info: ExcInfo | None) -> Any:
        if self._renewal is not None:
            self._renewal.stop()
            self._renewal = None
        return super().handle_result(worker_ctx, result, exc_info)

    def kill(self) -> None:
        begin_stopping(self.container)
        if self._renewal is not None:
            self._renewal.stop()
        if self.gt is not None:  # None: killed before it started
            self.gt.kill()

    def stop(self) -> None:
        """nameko's `Timer.stop` sends ``should_stop`` unconditionally: a second stop of the
        container while the first waits for a run to finish (a second SIGTERM) raised
        ``AssertionError: Trying to re-send() an already-triggered event``. Here it is sent
        once, and every stop waits for the run in progress to end."""
        begin_stopping(self.container)
        if not self.should_stop.ready():
            self.should_stop.send(True)
        if self.gt is not None:
            self.gt.wait()
        if self._renewal is not None:
            self._renewal.stop()
        if self.exclusive and self._held:
            self._held = False
            try:  # another replica takes over at its next tick rather than after the lease lapses
                self.leases.release(cast(str, self.lease_name), cast(str, self.holder))
            except Exception as exc:
                log.warning("timer %s: lease not released (%s)", self.lease_name, exc)


# nameko's registering decorator hands back the method itself
timer_once: Callable[..., Callable[[_Method], _Method]] = LeasedTimer.decorator


def wait_for_lease(leases: Leases, name: str, holder: str, ttl: float, give_up_at: float, poll: float = 0.1) -> bool:
    """Poll until `holder` takes lease `name` or monotonic time `give_up_at` passes: True if taken."""
    while True:
        if leases.try_acquire(name, holder, ttl):
            return True
        if time.monotonic() >= give_up_at:
            return False
        eventlet.sleep(poll)
