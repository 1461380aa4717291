"""The planner's state per tenant in the database (`plan_requests`), so that dispatch replicas
share it: a change that needs a re-plan records it in its own transaction (a replica that dies
after the change cannot lose it), the tick of any replica finds the tenants due, and a re-plan
begun by a replica that died is taken up again by another.

Which replica plans a tenant at a time is the lease ``plan:<tenant>`` (shared.leases); this
module only keeps the bookkeeping. Times are wall-clock UTC (batching and the periodic re-plan
are about real waiting, not the product clock that tests and the replay move).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from services.dispatch.models import PlanRequest

plan_requests = PlanRequest.__table__


def wall_now() -> datetime:
    return datetime.now(UTC)


def _aware(dt):
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=UTC)


def _dialect(executor):
    return (executor.dialect if hasattr(executor, "dialect") else executor.get_bind().dialect).name


def _upsert(executor, tenant, **values):
    """INSERT the tenant's row or, when it exists, UPDATE it with `values` (columns to
    expressions over the existing row). One statement on PostgreSQL and SQLite alike."""
    name = _dialect(executor)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    first = {k: (v[0] if isinstance(v, tuple) else v) for k, v in values.items()}
    again = {k: (v[1] if isinstance(v, tuple) else v) for k, v in values.items()}
    stmt = insert(plan_requests).values(tenant_id=tenant, **first)
    executor.execute(stmt.on_conflict_do_update(index_elements=["tenant_id"], set_=again))


def request(executor, tenant: str, at: datetime | None = None):
    """`tenant` needs a re-plan (run it in the transaction of the change that needs it). The
    first request since the last re-plan began is kept: batching counts from it."""
    at = at or wall_now()
    _upsert(executor, tenant, requested_at=(at, func.coalesce(plan_requests.c.requested_at, at)))


def begin(executor, tenant: str, holder: str):
    """A re-plan of `tenant` begins (its lease held): what was requested until now is what it
    plans (read after this), so the request is cleared; one made from now on waits for the next."""
    now = wall_now()
    _upsert(executor, tenant, requested_at=None, planning_since=now, planning_holder=holder)


def finish(executor, tenant: str, holder: str, again: bool = False):
    """The re-plan begun by `holder` ended (written, nothing to plan, or failed). `again`: it
    failed on a concurrent change, so the tenant is requested once more."""
    now = wall_now()
    values = {"planning_since": None, "planning_holder": None, "last_planned_at": now}
    if again:
        values["requested_at"] = func.coalesce(plan_requests.c.requested_at, now)
    executor.execute(
        update(plan_requests)
        .where(plan_requests.c.tenant_id == tenant, plan_requests.c.planning_holder == holder)
        .values(**values)
    )


def due(executor, batch_seconds: float, full_seconds: float):
    """[(tenant, trigger)] of the tenants to plan now, oldest request first: requested at least
    `batch_seconds` ago ("batch"), a re-plan begun and never finished ("batch": its replica
    died; the lease tells whether it is really gone), or not re-planned for `full_seconds`
    ("timer")."""
    now = wall_now()
    rows = executor.execute(select(plan_requests)).all()
    batch, stale, periodic = [], [], []
    for row in rows:
        requested, planning, last = _aware(row.requested_at), _aware(row.planning_since), _aware(row.last_planned_at)
        if requested is not None:
            if now - requested >= timedelta(seconds=batch_seconds):
                batch.append((requested, row.tenant_id))
        elif planning is not None:
            if now - planning >= timedelta(seconds=batch_seconds):
                stale.append((planning, row.tenant_id))
        elif last is None or now - last >= timedelta(seconds=full_seconds):
            periodic.append((last or datetime.min.replace(tzinfo=UTC), row.tenant_id))
    return (
        [(t, "batch") for _, t in sorted(batch)]
        + [(t, "batch") for _, t in sorted(stale)]
        + [(t, "timer") for _, t in sorted(periodic)]
    )
