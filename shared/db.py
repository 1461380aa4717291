"""Database access for every service: one engine per service, a unit of work per use,
and tenant scoping enforced on the session itself.

Tenancy lives here and nowhere else. Every model that belongs to a regional center
mixes in `TenantScoped`; the session of a unit of work carries the caller's principal
and adds the matching WHERE criteria to every ORM SELECT, UPDATE and DELETE it runs
(`with_loader_criteria`), and checks every row it flushes. A query written without a
filter therefore still returns only the caller's rows, and a session without a
principal refuses to touch tenant data at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, ClassVar, TypeVar, cast

from nameko.extensions import DependencyProvider
from sqlalchemy import ColumnElement, MetaData, String, create_engine, event, false, func, inspect, select, true
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    Mapped,
    Mapper,
    ORMExecuteState,
    Session,
    UOWTransaction,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.orm.attributes import History
from sqlalchemy.orm.state import InstanceState

from shared import clock, metrics, tenancy
from shared.clock import as_utc
from shared.config import database_url
from shared.errors import NotFound, TenancyViolation, ValidationFailed
from shared.outbox import OutboxRelay, RequestRecords, infra_metadata, outbox_table
from shared.uow import RequestClaim, UnitOfWork

log = logging.getLogger(__name__)

Model = TypeVar("Model")


def utcnow() -> datetime:
    """Now, in UTC, from the one clock (`shared.clock`)."""
    return clock.now()


class TenantScoped:
    """Mixin for rows owned by a regional center (a tenant).

    `__scope__` maps the narrower roles to the column that names what they own:
    ``{"outlet": "assigned_outlet_id", "customer": "customer_id", "warehouse": "warehouse_id"}``.
    A role whose dimension a model does not name sees none of its rows.
    """

    __scope__: ClassVar[dict[str, str]] = {}
    tenant_id: Mapped[str] = mapped_column(String(16), index=True, nullable=False)


def scope_criteria(cls: type[TenantScoped], principal: tenancy.Principal) -> ColumnElement[bool] | None:
    """The WHERE clause `principal` may see of model `cls` (None: everything)."""
    if principal.all_tenants:
        return None
    role = principal.role
    clauses: list[ColumnElement[bool]] = []
    if principal.tenant is not None:
        clauses.append(cls.tenant_id == principal.tenant)
    elif role not in (tenancy.WAREHOUSE, tenancy.CUSTOMER):
        return false()  # these two own by their own column; every other role needs a tenant
    if role in (tenancy.CENTER, tenancy.SERVICE):
        pass
    elif role in (tenancy.OUTLET, tenancy.WAREHOUSE, tenancy.CUSTOMER):
        column = cls.__scope__.get(role)
        if column is None:
            return false()
        clauses.append(getattr(cls, column) == getattr(principal, role))
    else:  # an unknown role sees nothing
        return false()
    if not clauses:
        return true()
    expr = clauses[0]
    for clause in clauses[1:]:
        expr = expr & clause
    return expr


class ScopedSession(Session):
    """A session that knows who is acting (``info['principal']``)."""

    @property
    def principal(self) -> tenancy.Principal:
        principal: tenancy.Principal | None = self.info.get("principal")
        if principal is None:
            raise TenancyViolation("database session used without a principal")
        return principal


@contextmanager
def within_tenant(session: Session, tenant: str) -> Iterator[None]:
    """For a while, in the same transaction, the session acts inside `tenant` only: a caller who
    sees every tenant (HQ, a service) reads and writes as if acting for that one (its principal's
    `acting_for`), so a center's own records (its customer archive) are matched in that center
    alone. A caller bound to one tenant stays as it is; another tenant is a TenancyViolation."""
    wide = cast(ScopedSession, session).principal
    if not wide.sees_tenant(tenant):
        raise TenancyViolation(f"{wide.role} {wide.user} cannot act in tenant {tenant}")
    session.info["principal"] = wide.acting_for(tenant) if wide.all_tenants else wide
    try:
        yield
    finally:
        session.info["principal"] = wide


@event.listens_for(ScopedSession, "do_orm_execute")
def _apply_tenant_scope(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_select and (state.is_column_load or state.is_relationship_load):
        return  # criteria from the parent statement propagate to these loads
    classes = state.session.info.get("scoped_classes")
    if classes is None:  # a session not opened by a Store: scope by the statement's registries
        classes = _registry_classes(state.all_mappers)
    if not classes:
        return
    principal = cast(ScopedSession, state.session).principal  # the listener is on ScopedSession only
    options = []
    # every scoped class of the service, whether or not the statement names it as an entity:
    # counts, subqueries and select_from() reach tables the mapper list does not show
    for cls in classes:
        crit = scope_criteria(cls, principal)
        if crit is not None:
            options.append(with_loader_criteria(cls, crit, include_aliases=True))
    if options:
        state.statement = state.statement.options(*options)


def _registry_classes(mappers: Sequence[Mapper[Any]]) -> list[type[TenantScoped]]:
    """Every scoped class of the registry the statement's mappers belong to."""
    seen: dict[type[TenantScoped], bool] = {}
    for mapper in mappers:
        for m in mapper.registry.mappers:
            if issubclass(m.class_, TenantScoped):
                seen[m.class_] = True
    return list(seen)


def scoped_classes_of(metadata: MetaData) -> list[type[TenantScoped]]:
    """The TenantScoped models whose tables live in `metadata` (one service's schema)."""
    found: list[type[TenantScoped]] = []
    stack = list(TenantScoped.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        table = getattr(cls, "__table__", None)
        if table is not None and table.metadata is metadata and cls not in found:
            found.append(cls)
    return found


@event.listens_for(ScopedSession, "before_flush")
def _check_writes(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        session.info["wrote"] = True
    principal = session.info.get("principal")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        if principal is None:
            raise TenancyViolation("write of tenant data without a principal")
        if obj in session.new and obj.tenant_id is None and principal.tenant:
            obj.tenant_id = principal.tenant
        if obj.tenant_id is None:
            raise TenancyViolation(f"{type(obj).__name__} written without tenant_id")
        if not principal.sees_tenant(obj.tenant_id):
            raise TenancyViolation(f"{principal.role} {principal.user} may not write tenant {obj.tenant_id}")
        if obj in session.dirty and not principal.all_tenants:
            hist = _history(obj, "tenant_id")
            if hist and hist.deleted:
                raise TenancyViolation("tenant_id of a row cannot be changed")


def _history(obj: object, attr: str) -> History:
    state: InstanceState[Any] = inspect(obj)
    return state.attrs[attr].history


def make_engine(url: str, **kw: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **kw)


class Store:
    """One service's database: engine, scoped sessions, units of work, schema management, the
    record of requests carried out, outbox relay hook."""

    def __init__(self, service_name: str, url: str, metadata: MetaData, migrations_package: str | None = None):
        self.service_name = service_name
        self.url = url
        self.metadata = metadata
        self.migrations_package = migrations_package
        self.engine = make_engine(url)
        self.sessions = sessionmaker(bind=self.engine, class_=ScopedSession, expire_on_commit=False)
        self.on_commit_hooks: list[Callable[[], None]] = []
        self._scoped_classes: list[type[TenantScoped]] | None = None
        # SQLite has one writer at a time and waits for the lock in C (busy_timeout), which
        # blocks the whole eventlet hub, including the greenthread that holds the lock. Units
        # of work on SQLite therefore take turns on a green (cooperative) lock instead.
        self.write_lock = threading.RLock() if url.startswith("sqlite") else None
        self.requests = RequestRecords(self)

    def write_turn(self) -> AbstractContextManager[Any]:
        """The SQLite writers' green lock (a no-op on PostgreSQL)."""
        return self.write_lock if self.write_lock is not None else nullcontext()

    def create_schema(self) -> None:
        if self.migrations_package:
            from shared import migrations  # Alembic, only for a service with migrations

            migrations.upgrade(self.engine, self.migrations_package)
        else:
            self.metadata.create_all(self.engine)
            infra_metadata.create_all(self.engine)

    @property
    def scoped_classes(self) -> list[type[TenantScoped]]:
        if self._scoped_classes is None:
            self._scoped_classes = scoped_classes_of(self.metadata)
        return self._scoped_classes

    def open_session(self, principal: tenancy.Principal) -> ScopedSession:
        """A new session acting as `principal`, scoped to this service's tenant-owned models
        (the caller closes it; `session` and the unit of work do)."""
        session = self.sessions()
        session.info["principal"] = principal
        session.info["scoped_classes"] = self.scoped_classes
        return session

    @contextmanager
    def session(self, principal: tenancy.Principal) -> Iterator[ScopedSession]:
        session = self.open_session(principal)
        try:
            yield session
        finally:
            session.close()

    def uow(
        self,
        principal: tenancy.Principal,
        context_data: dict[str, Any] | None = None,
        request_claim: RequestClaim | None = None,
    ) -> UnitOfWork:
        return UnitOfWork(self, principal, context_data or {}, request_claim)

    def committed(self) -> None:
        for hook in self.on_commit_hooks:
            hook()

    def dispose(self) -> None:
        self.engine.dispose()


class Database(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """Nameko dependency: ``self.db.uow()`` opens a unit of work acting as the worker's principal.

    It also owns the service's outbox relay, which publishes committed events.
    """

    def __init__(self, metadata: MetaData, migrations_package: str | None = None):
        self.metadata = metadata
        self.migrations_package = migrations_package
        self.store = cast(Store, None)  # made by setup
        self.relay = cast(OutboxRelay, None)  # made by setup

    def setup(self) -> None:
        service = self.container.service_name
        url = database_url(self.container.config, service)
        self.store = Store(service, url, self.metadata, self.migrations_package)
        self.store.create_schema()
        self.relay = OutboxRelay(self.store, self.container)
        self.store.on_commit_hooks.append(self.relay.wake)

    def start(self) -> None:
        self.relay.start()

    def stop(self) -> None:
        self.relay.stop()
        self.store.dispose()

    def kill(self) -> None:
        self.relay.stop()

    def get_dependency(self, worker_ctx: Any) -> WorkerDb:
        return WorkerDb(self.store, worker_ctx)


@metrics.read_at_scrape("outbox")
def _outbox_gauges(container: Any) -> None:
    """The outbox backlog of the service's database (events committed, not yet published) and
    the age of its oldest event, read when /metrics is scraped."""
    waiting = select(func.count(), func.min(outbox_table.c.created_at)).where(outbox_table.c.published_at.is_(None))
    for dep in container.dependencies:
        if isinstance(dep, Database) and dep.store is not None:
            with dep.store.engine.connect() as conn:
                pending, oldest = conn.execute(waiting).one()
            oldest_at = as_utc(oldest)
            age = (clock.now() - oldest_at).total_seconds() if oldest_at is not None else 0.0
            metrics.OUTBOX_PENDING.labels(container.service_name).set(pending)
            metrics.OUTBOX_OLDEST.labels(container.service_name).set(max(0.0, age))


class WorkerDb:
    def __init__(self, store: Store, worker_ctx: Any):
        self.store = store
        self.worker_ctx = worker_ctx

    @property
    def principal(self) -> tenancy.Principal:
        principal = tenancy.principal_from_context(self.worker_ctx.data)
        if principal is None:
            raise TenancyViolation("call without a principal")
        return principal

    def uow(self, principal: tenancy.Principal | None = None) -> UnitOfWork:
        """A unit of work acting as `principal` (default: the worker's own). The first one
        of an RPC worker that commits records the request it carries out (see shared.rpc)."""
        principal = principal or self.principal
        data = self.worker_ctx.data
        context = {k: v for k, v in self.worker_ctx.context_data.items() if k not in tenancy.HOP_ONLY_KEYS}
        context[tenancy.CONTEXT_KEY] = principal.encode()
        claim: RequestClaim | None = None
        if data.get(tenancy.REQUEST_ID) and not data.get(tenancy.REQUEST_CLAIMED):
            claim = (
                data[tenancy.REQUEST_ID],
                data.get(tenancy.REQUEST_HASH) or "",
                lambda: data.__setitem__(tenancy.REQUEST_CLAIMED, True),
            )
        return self.store.uow(principal, context, claim)


class AwareView:
    """Read-through view of a row whose datetimes come out timezone-aware (for dumping);
    relationships named in `nested` are wrapped too."""

    def __init__(self, obj: object, nested: Collection[str] = ()):
        self._obj = obj
        self._nested = nested

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._obj, name)
        if isinstance(value, datetime):
            return as_utc(value)
        if name in self._nested:
            return [AwareView(v) for v in value]
        return value


def get_or_404(session: Session, model: type[Model], key: object, field: str) -> Model:
    """The row of `model` with primary key `key` that the caller may see, else NotFound
    (another tenant's row is simply not found)."""
    if not isinstance(key, str) or not key:
        raise ValidationFailed(f"invalid {field}", {field: ["must be a non-empty string"]})
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"{field.removesuffix('_id')} {key} not found")
    return row
