"""The planner: which tenant to re-plan, by which replica, and the re-plan itself.

Replicas: what needs planning is kept in the database (`planstate`: a change records its
tenant's request in its own transaction), every replica's tick looks there, and a tenant is
planned by one replica at a time, the holder of its lease ``plan:<tenant>`` (shared.leases),
which writes its plan only while it still holds that lease (checked in the writing transaction).

A re-plan reads the tenant's technicians, outlets and open visits (`planning_input`), builds
the routing problem (`planning.build_problem`), solves it in a child process (`solver_worker`,
so the service keeps answering while OR-Tools works) and writes the plan (`apply_plan`).
"""

from __future__ import annotations

import itertools
import logging
import time as _time
from dataclasses import dataclass
from datetime import timedelta

import eventlet
from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from services.dispatch import domain, en_route, operations, planning, planstate, queries, region_solve
from services.dispatch.domain import LOCAL_TZ, OPEN_VISIT, VisitStatus
from services.dispatch.models import PlanRun, Visit
from services.dispatch.solver_worker import SolveInterrupted, interrupt, run_in_child
from shared import metrics, tenancy
from shared.db import as_utc, utcnow
from shared.leases import Held, Leases, replica_id, wait_for_lease
from shared.stopping import is_stopping, on_stopping

log = logging.getLogger(__name__)

PLANS = Counter(
    "fsm_dispatch_plans_total",
    "Re-plan attempts per tenant: planned, skipped (another replica has it), conflict (planned again), failed",
    ["service", "tenant", "outcome"],
    registry=metrics.REGISTRY,
)


class LeaseLost(Exception):
    """A re-plan's lease passed to another replica before its plan was written."""


@dataclass(frozen=True)
class PlannerSettings:
    """The planner's configuration (config.yml, DISPATCH_* and PROBATION_MAX_JOBS)."""

    time_limit: float = 5.0  # solve time per re-plan (s)
    workers: int = 2  # parallel searches
    warm_start: bool = True  # worker 0 starts from the greedy insertion
    horizon_days: int = 6  # working days planned ahead
    freeze_minutes: float = 120  # visits due this soon keep their technician-day
    target_hours: float = 4  # soft service target after a visit becomes available
    target_slack_share: float = 0.0  # ... or this share of its slack, if later (`targets.service_target`)
    target_min_slack_hours: float = 0.0  # ... for a visit with at least this much slack
    target_day_end: bool = False  # the target moved to the end of its working day
    target_km_per_hour: float = 60.0  # price of each hour past the target (x priority), km
    probation_max_jobs: int = 5  # open jobs of an outlet on probation when its agreement names none
    batch_seconds: float = 2.0  # new requests batched per tenant
    reopt_seconds: float = 900.0  # periodic re-plan
    regions_above: int = region_solve.REGIONS_ABOVE  # open visits above which a tenant is planned by region
    regions_time_limit: float = region_solve.REGIONS_TIME_LIMIT  # solve time of such a plan (s)

    @classmethod
    def from_config(cls, config) -> PlannerSettings:
        return cls(
            time_limit=float(config.get("DISPATCH_TIME_LIMIT", 5.0)),
            workers=int(config.get("DISPATCH_WORKERS", 2)),
            warm_start=config.get("DISPATCH_WARM_START", True),
            horizon_days=int(config.get("DISPATCH_HORIZON_DAYS", 6)),
            freeze_minutes=float(config.get("DISPATCH_FREEZE_MINUTES", 120)),
            target_hours=float(config.get("DISPATCH_TARGET_HOURS", 4)),
            target_slack_share=float(config.get("DISPATCH_TARGET_SLACK_SHARE", 0.0)),
            target_min_slack_hours=float(config.get("DISPATCH_TARGET_MIN_SLACK_HOURS", 0.0)),
            target_day_end=str(config.get("DISPATCH_TARGET_DAY_END", False)).lower() in ("1", "true", "yes"),
            target_km_per_hour=float(config.get("DISPATCH_TARGET_KM_PER_HOUR", 60.0)),
            probation_max_jobs=int(config.get("PROBATION_MAX_JOBS", 5)),
            batch_seconds=float(config.get("DISPATCH_BATCH_SECONDS", 2.0)),
            reopt_seconds=float(config.get("DISPATCH_REOPT_SECONDS", 900.0)),
            regions_above=int(config.get("DISPATCH_REGIONS_ABOVE", region_solve.REGIONS_ABOVE)),
            regions_time_limit=float(config.get("DISPATCH_REGIONS_TIME_LIMIT", region_solve.REGIONS_TIME_LIMIT)),
        )

    @property
    def due_rule(self) -> tuple[float, float]:
        return self.batch_seconds, self.reopt_seconds

    @property
    def target_options(self) -> dict:
        """The target policy as `planning.build_problem` takes it (besides `serve_within_minutes`,
        60 x target_hours): one place, for a re-plan's build and a new ticket's insert alike."""
        return {
            "target_slack_share": self.target_slack_share,
            "target_min_slack_minutes": 60.0 * self.target_min_slack_hours,
            "target_day_end": self.target_day_end,
            "target_km_per_hour": self.target_km_per_hour,
        }

    @property
    def lease_seconds(self) -> float:
        """The tenant's lease lasts this long unless renewed (every third of it while solving):
        how long a replica that died while planning keeps others from planning that tenant."""
        return max(20.0, 2 * self.time_limit)


@dataclass(frozen=True)
class PlanningContext:
    """What a worker's re-plan works with."""

    db: object  # the worker's database (shared.db.WorkerDb)
    policies: object  # the tenants' directory and calendars (shared.dependencies.PolicyProvider)
    travel: object  # shared.geo.TravelModel
    settings: PlannerSettings
    service: str = "dispatch"


class Planner:
    """One replica's planning state: its id, its leases, and the tenants it is solving now
    (which tenants need a plan is in the database: `planstate`)."""

    def __init__(self, service_name="dispatch"):
        self.replica = replica_id(service_name)
        self.solving = set()
        self.solvers = set()  # the solver processes running now (`run_in_child`)
        self.leases = None
        self._attempts = itertools.count(1)
        # tenant -> the regions of its last region plan made here: a new ticket of it is placed
        # in its region's plan at once (`insert_new`)
        self.shapes: dict[str, tuple] = {}
        self._inserting: dict[str, Semaphore] = {}

    def interrupt_solves(self):
        """End every solve in progress (the service is stopping): see `SolveInterrupted`."""
        for proc in list(self.solvers):
            interrupt(proc)

    def leases_of(self, store):
        if self.leases is None:
            self.leases = Leases(store)
        return self.leases

    def attempt_holder(self):
        """Each re-plan attempt holds the tenant's lease under its own name, so that two
        attempts of the same replica exclude each other as well."""
        return f"{self.replica}#{next(self._attempts)}"[:128]

    def tick(self, ctx: PlanningContext):
        """Plan every tenant due now that this replica is not solving already. Each tenant's
        re-plan on its own: one that fails (counted "failed" or "conflict" by `plan_tenant`,
        and requested again, so a later pass tries it again) is logged with its tenant, and the
        pass goes on with the other tenants."""
        rule = ctx.settings.due_rule
        with ctx.db.store.engine.connect() as conn:
            due = planstate.due(conn, *rule)
        container = ctx.db.worker_ctx.container
        for tenant, trigger in due:
            if is_stopping(container):  # the rest stay due: planned after the restart (or by a peer)
                log.info("planner stopping: %d tenant(s) left due", len(due))
                return
            if tenant in self.solving:
                continue
            try:
                self.plan_tenant(ctx, tenant, trigger=trigger, due_rule=rule)
            except StaleDataError:
                log.info("re-plan of %s met a concurrent change; planned again", tenant, extra={"tenant": tenant})
            except Exception:
                log.exception("re-plan of %s failed; tried again on a later pass", tenant, extra={"tenant": tenant})

    def insert_new(self, ctx: PlanningContext, tenant: str, ticket_id: str) -> dict | None:
        """Place the new visit of `ticket_id` in its region's plan now if `tenant` was last planned
        here region by region (`ticket_insert`), one at a time per tenant; None: left to the
        batched re-plan (requested with the visit, as for any tenant), also on any failure.

        The insert holds the tenant's lease ``plan:<tenant>`` as a re-plan does (written only while
        still held, checked in the writing transaction), so no re-plan of the tenant reads or
        writes meanwhile on any replica, nor does another replica's insert. While someone else
        holds it the insert is skipped: a re-plan solving now read the visits before this one, and
        its write would put other stops over it on its technician-day."""
        shapes = self.shapes.get(tenant)
        if not shapes or is_stopping(ctx.db.worker_ctx.container):
            return None
        from services.dispatch import ticket_insert

        leases = self.leases_of(ctx.db.store)
        lease, holder, ttl = f"plan:{tenant}", self.attempt_holder(), ctx.settings.lease_seconds
        with self._inserting.setdefault(tenant, Semaphore(1)):
            try:
                if not leases.try_acquire(lease, holder, ttl):
                    log.info("ticket %s of %s: the tenant is being planned; left to the re-plan", ticket_id, tenant)
                    return None
                with Held(leases, lease, holder, ttl):
                    return ticket_insert.place_new_visit(
                        ctx, shapes, ticket_id, tenant, held=lambda s: leases.renew(lease, holder, ttl, executor=s)
                    )
            except Exception:  # StaleDataError: a visit changed meanwhile; the re-plan places it
                log.warning("ticket %s of %s not placed at once", ticket_id, tenant, exc_info=True)
                return None

    def plan_now(self, ctx: PlanningContext, tenant: str, reason: str | None = None) -> dict:
        """A dispatcher's re-plan. A plan already being solved (the batch timer's, here or on
        another replica) may predate the caller's change (a pin): wait for it, then plan again,
        rather than answer "skipped". With a `reason`, visits whose appointment was confirmed
        may move too (the reason is recorded with the plan run and on the moved visits' events)."""
        give_up = _time.monotonic() + 3 * ctx.settings.time_limit + 60
        while tenant in self.solving and _time.monotonic() < give_up:
            eventlet.sleep(0.1)
        return self.plan_tenant(ctx, tenant, trigger="manual", give_up_at=give_up, reason=reason)

    def plan_tenant(self, ctx: PlanningContext, tenant, trigger, give_up_at=None, due_rule=None, reason=None):
        """Plan `tenant` on this replica if it can take the tenant's lease (waiting for it until
        monotonic `give_up_at` when given; else skipping a tenant another replica is planning).
        `due_rule` (the tick's): once the lease is held the tenant must still be due, since
        another replica may have planned it meanwhile. Each attempt is counted by its outcome
        (``fsm_dispatch_plans_total``)."""
        try:
            result = self._plan_tenant(ctx, tenant, trigger, give_up_at, due_rule, reason)
        except StaleDataError:  # planned again soon
            PLANS.labels(ctx.service, tenant, "conflict").inc()
            raise
        except Exception:
            PLANS.labels(ctx.service, tenant, "failed").inc()
            raise
        PLANS.labels(ctx.service, tenant, "skipped" if "skipped" in result else "planned").inc()
        return result

    def _plan_tenant(self, ctx: PlanningContext, tenant, trigger, give_up_at, due_rule, reason=None):
        if tenant in self.solving:
            return {"tenant_id": tenant, "skipped": "already solving"}
        store = ctx.db.store
        leases = self.leases_of(store)
        lease, holder, ttl = f"plan:{tenant}", self.attempt_holder(), ctx.settings.lease_seconds
        self.solving.add(tenant)
        try:
            taken = (
                leases.try_acquire(lease, holder, ttl)
                if give_up_at is None
                else wait_for_lease(leases, lease, holder, ttl, give_up_at)
            )
            if not taken:
                return {"tenant_id": tenant, "skipped": "being planned by another replica"}
            with Held(leases, lease, holder, ttl):  # renewed while solving, released at the end
                if due_rule is not None:
                    with store.engine.connect() as conn:
                        if tenant not in dict(planstate.due(conn, *due_rule)):
                            return {"tenant_id": tenant, "skipped": "planned meanwhile"}
                with store.write_turn(), store.engine.begin() as conn:
                    planstate.begin(conn, tenant, holder)
                again = False
                try:
                    return self._solve_and_apply(ctx, tenant, trigger, lease, holder, ttl, reason)
                except SolveInterrupted as exc:  # the service is stopping: planned after the restart
                    again = True
                    log.info("re-plan of %s not finished: %s; the tenant stays due", tenant, exc)
                    return {"tenant_id": tenant, "skipped": "interrupted by a stop"}
                except LeaseLost as exc:
                    log.warning("plan of %s not written: %s", tenant, exc)
                    return {"tenant_id": tenant, "skipped": "planned by another replica"}
                except Exception:  # a visit changed while the plan was written (StaleDataError), a
                    # failed solve, data the planner could not handle: the tenant is requested
                    # again, so a later pass (of any replica) plans it once more
                    again = True
                    raise
                finally:
                    with store.write_turn(), store.engine.begin() as conn:
                        planstate.finish(conn, tenant, holder, again=again)  # no-op once written
        finally:
            self.solving.discard(tenant)

    def _solve_and_apply(self, ctx: PlanningContext, tenant, trigger, lease, holder, ttl, reason=None):
        """Build the tenant's problem, solve it in a child process, apply the plan. A tenant with
        more than `regions_above` open visits is built and solved region by region, all of it in
        that child process (`region_solve`)."""
        settings = ctx.settings
        started = utcnow()
        t0 = _time.monotonic()
        principal = tenancy.service_principal(ctx.service, tenant)
        now = utcnow()
        with ctx.db.uow(principal) as uow:
            operations.seed_outlets(uow, ctx.policies.directory, tenant)
            uow.commit()
        with ctx.db.uow(principal) as uow:
            inp, views = planning_input(
                uow.session,
                tenant,
                now,
                settings,
                ctx.policies.clock.calendar,
                ctx.travel,
                keep_appointments=not reason,
                build=region_solve.builder(settings.regions_above, settings.regions_time_limit, settings.workers),
            )
        if not inp.problem.visits and not inp.excluded:
            return {"tenant_id": tenant, "visits": 0}
        plan = None
        if inp.problem.visits:
            container = ctx.db.worker_ctx.container
            plan = run_in_child(
                inp.problem,
                settings.time_limit,
                settings.workers,
                initial_routes="greedy" if settings.warm_start else None,
                running=self.solvers,
                stopping=lambda: is_stopping(container),
            )
        assignments, dropped, unmet = region_solve.read_back(inp, plan)
        if isinstance(plan, region_solve.RegionResult) and plan.shapes:
            self.shapes[tenant] = plan.shapes
        elif inp.problem.visits:  # planned as one problem again: no longer a big tenant
            self.shapes.pop(tenant, None)
        seconds = _time.monotonic() - t0
        with ctx.db.uow(principal) as uow:
            # written only while this attempt still holds the tenant's lease, checked in this very
            # transaction (on PostgreSQL the lease row stays locked until it commits)
            if not self.leases.renew(lease, holder, ttl, executor=uow.session):
                raise LeaseLost(f"lease {lease} of {holder} expired and was taken while solving")
            result = apply_plan(
                uow,
                tenant,
                assignments,
                dropped,
                seconds,
                started,
                trigger,
                len(inp.problem.vehicles),
                len(views),
                holder,
                unmet=unmet,
                reason=reason,
            )
            planstate.finish(uow.session, tenant, holder)
            uow.commit()
        metrics.SOLVER_SECONDS.labels(ctx.service, tenant).observe(seconds)
        result.update(region_solve.summary(plan))
        return result


class PlannerState(DependencyProvider):
    """The replica's `Planner`, the same object for every worker of the service container."""

    def setup(self):
        self.planner = Planner(self.container.service_name)
        # a stop does not wait for a solve (up to DISPATCH_TIME_LIMIT and more): the re-plan is
        # ended, the tenant stays due and is planned after the restart or by another replica
        on_stopping(self.container, self.planner.interrupt_solves)

    def get_dependency(self, worker_ctx):
        return self.planner


@dataclass
class TenantFacts:
    """What a plan of a tenant reads besides its visits (`tenant_facts`)."""

    techs: list  # domain.TechView of its active technicians, their day under way
    outlet_status: dict
    probation_full: set
    outlet_limits: dict
    en_route: set  # visits a technician is already driving to (left out of a plan)
    redirectable: set  # ... late anyway: in the plan, not frozen to their day


def tenant_facts(session, tenant, now, settings: PlannerSettings, travel, only=None) -> TenantFacts:
    """The tenant's technicians as a plan made `now` starts them (their day under way, a drive
    begun), its outlets' status and probation limits. `only`: the technicians whose day under way
    is read (None: every one; the others start as if their day had not begun)."""
    day_start = domain.local_day_start(now.astimezone(LOCAL_TZ).date())
    started = queries.visits_started_since(session, tenant, day_start, only) if only is None or only else []
    today = en_route.today_states(started, now)
    first = (
        queries.first_visits_between(session, tenant, day_start, day_start + timedelta(days=1), only)
        if only is None or only
        else {}
    )
    en_route_ids, redirectable = set(), set()
    if first:
        homes = queries.technician_homes(session, first)
        en_route_ids, redirectable = en_route.drives_under_way(first, homes, today, now, travel)
    outlet_rows = queries.outlet_states(session, tenant)
    states = {s.outlet_id: s.status for s in outlet_rows}
    blocked = {s.outlet_id: set(s.blocked_lines or ()) for s in outlet_rows}
    # a product line its outlet may not take (too few certified technicians) is no skill today
    techs = [
        operations.tech_view(t, today.get(t.id), blocked.get(t.outlet_id))
        for t in queries.active_technicians(session, tenant)
    ]
    started_by_outlet = queries.started_by_outlet(session, tenant)
    # an outlet on probation holds at most its job limit of open jobs: the started ones count
    # against it, the rest is a limit across all its technician-days in the plan
    outlet_limits = {
        s.outlet_id: (s.job_limit if s.job_limit is not None else settings.probation_max_jobs)
        - started_by_outlet.get(s.outlet_id, 0)
        for s in outlet_rows
        if s.status == "probation"
    }
    probation_full = {o for o, left in outlet_limits.items() if left <= 0}
    return TenantFacts(techs, states, probation_full, outlet_limits, en_route_ids, redirectable)


def visit_view(v, now, settings: PlannerSettings, facts: TenantFacts, keep_appointments=True):
    """A planner's view of the open visit `v` (None: it has no place, or is being driven to)."""
    if v.lat is None or v.lon is None or v.id in facts.en_route:
        return None
    frozen = None
    arrival = as_utc(v.planned_arrival)
    if (
        v.status == VisitStatus.SCHEDULED
        and arrival is not None
        and arrival <= now + timedelta(minutes=settings.freeze_minutes)
        and v.id not in facts.redirectable
        and v.required_outlet_id in (None, v.outlet_id)  # the center moved it: not frozen where it was
    ):
        frozen = (v.technician_id, arrival.astimezone(LOCAL_TZ).date())
    return domain.VisitView(
        id=v.id,
        product_line=v.product_line,
        kind=v.kind,
        priority=v.priority,
        lat=v.lat,
        lon=v.lon,
        due=as_utc(v.onsite_due),
        window_start=as_utc(v.window_start),
        received=as_utc(v.received_at),
        service_minutes=v.service_minutes,
        pinned_technician_id=v.pinned_technician_id,
        frozen_vehicle=frozen,
        current_outlet_id=v.outlet_id,
        required_outlet_id=v.required_outlet_id,
        appointment=domain.appointment_window(as_utc(v.appointment_at))
        if keep_appointments and v.appointment_at is not None
        else None,
    )


def planning_input(
    session, tenant, now, settings: PlannerSettings, calendar, travel, keep_appointments=True, build=None
):
    """The tenant's routing problem as it stands `now` (and the visits it was built from). The
    dispatcher's word is kept: a pin, the outlet the center assigned, and (`keep_appointments`:
    unless a re-plan with a reason releases them) the window of an appointment confirmed to the
    customer. `build`: `planning.build_problem` unless given (`region_solve.builder`'s, for a big
    tenant: its visits and technicians, built region by region in the solver process)."""
    build = build or planning.build_problem
    facts = tenant_facts(session, tenant, now, settings, travel)
    views = [
        view
        for view in (
            visit_view(v, now, settings, facts, keep_appointments) for v in queries.open_visits(session, tenant)
        )
        if view is not None
    ]
    inp = build(
        views,
        facts.techs,
        facts.outlet_status,
        facts.probation_full,
        now,
        calendar,
        travel,
        settings.horizon_days,
        outlet_limits=facts.outlet_limits,
        serve_within_minutes=60.0 * settings.target_hours,
        **settings.target_options,
    )
    return inp, views


def apply_plan(
    uow,
    tenant,
    assignments,
    dropped,
    seconds,
    started,
    trigger,
    vehicles,
    n_visits,
    holder=None,
    unmet=None,
    reason=None,
):
    """Write a solved plan: each assignment schedules its visit (visit.scheduled when it changed),
    each dropped visit becomes unassignable with its reason; visits started, completed or
    cancelled while solving are left alone. Recorded as a plan run, whose summary is returned.

    The dispatcher's word: a visit whose constraint (`unmet`: {visit id: why}) the plan cannot
    keep carries the reason on the board (`constraint_unmet`) and dispatch.constraint_unmet is
    emitted when it becomes unmet or its reason changes. A re-plan with a `reason` that moves a
    confirmed appointment out of its window records the reason on the plan run (with how many it
    moved) and on the visit's visit.scheduled; the appointment is then to be confirmed again."""
    run = PlanRun(
        tenant_id=tenant,
        started_at=started,
        seconds=seconds,
        visits=n_visits,
        vehicles=vehicles,
        scheduled=0,
        dropped=len(dropped),
        late=0,
        planned_km=0.0,
        trigger=trigger,
        holder=holder,
        reason=reason,
    )
    uow.session.add(run)
    uow.session.flush()  # its id marks the visits this plan places
    visits = {
        v.id: v
        for v in uow.session.scalars(
            select(Visit).where(Visit.id.in_([a.visit_id for a in assignments] + list(dropped)))
        )
    }
    scheduled = late = moved = 0
    km = 0.0
    unmet = unmet or {}
    for a in assignments:
        visit = visits.get(a.visit_id)
        if visit is None or visit.status not in OPEN_VISIT:
            continue  # started, completed or cancelled while we were solving
        scheduled += 1
        km += a.km
        late += a.late_minutes > 0
        arrival = as_utc(visit.planned_arrival)
        changed = (
            visit.status != VisitStatus.SCHEDULED
            or visit.technician_id != a.technician_id
            or arrival is None
            or abs((arrival - a.arrival).total_seconds()) > 60
            or visit.route_order != a.order
        )
        extra = {}
        if reason and not domain.keeps_appointment(as_utc(visit.appointment_at), a.arrival):
            moved += 1  # a re-plan with a reason moved what the customer was told
            extra["reason"] = f"appointment moved: {reason}"[:128]
            visit.appointment_moved_from, visit.appointment_moved_reason = visit.appointment_at, reason[:500]
            visit.appointment_at, changed = None, True
        visit.status, visit.technician_id, visit.outlet_id = VisitStatus.SCHEDULED, a.technician_id, a.outlet_id
        visit.planned_arrival, visit.route_order, visit.planned_km = a.arrival, a.order, a.km
        visit.unassignable_reason, visit.plan_run_id = None, run.id
        operations.note_constraint(uow, visit, unmet.get(visit.id))
        if changed:
            uow.emit("visit.scheduled", operations.visit_event(visit, **extra))
    for visit_id, why in dropped.items():
        visit = visits.get(visit_id)
        if visit is None or visit.status not in OPEN_VISIT:
            continue
        visit.plan_run_id = run.id
        operations.note_constraint(uow, visit, unmet.get(visit.id))
        if visit.status != VisitStatus.UNASSIGNABLE or visit.unassignable_reason != why[:128]:
            visit.status, visit.unassignable_reason = VisitStatus.UNASSIGNABLE, why[:128]
            visit.technician_id = visit.outlet_id = visit.planned_arrival = None
            visit.route_order = visit.planned_km = None
            uow.emit("visit.unassignable", operations.visit_event(visit, reason=why[:128]))
    run.scheduled, run.late, run.planned_km = scheduled, late, round(km, 2)
    run.moved_confirmed = moved if reason else None
    run.finished_at = utcnow()
    return {
        "tenant_id": tenant,
        "visits": n_visits,
        "scheduled": scheduled,
        "unassignable": len(dropped),
        "late": late,
        "planned_km": round(km, 2),
        "seconds": round(seconds, 2),
        "constraints_unmet": len(unmet),
        "moved_confirmed": moved,
    }
