"""Dispatch: technicians, outlets' eligibility, OR-Tools routing of visits, and the on-site
lifecycle (check-in, check-out).

New tickets become visits; a planner timer re-optimises each tenant whose plan is dirty
(batched) and every few minutes anyway. The solve runs in a child process
(`solver_worker`), so the service keeps answering while OR-Tools works.

Replicas: what needs planning is kept in the database (`planstate`: a change records its
tenant's request in its own transaction), every replica's tick looks there, and a tenant is
planned by one replica at a time, the holder of its lease ``plan:<tenant>`` (shared.leases),
which writes its plan only while it still holds that lease (checked in the writing transaction).
"""
from __future__ import annotations

import csv
import io
import itertools
import logging
import time as _time
import uuid
from datetime import datetime, timedelta, timezone

import eventlet
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.dispatch import domain, en_route, planning, planstate, return_visits
from services.dispatch.domain import LOCAL_TZ, VisitStatus
from services.dispatch.models import Base, OutletState, PlanRun, Technician, Visit
from services.dispatch.schemas import (BoardQuery, CheckIn, CheckOut, Pin, PlanRunOut, RouteQuery, TechnicianIn,
                                       TechnicianOut, VisitOut, technician_row_to_payload)
from services.dispatch.solver_worker import run_in_child
from shared import metrics, tenancy, web
from shared.db import AwareView, Database, as_utc, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.geo import TravelModel
from shared.leases import Held, Leases, replica_id, timer_once, wait_for_lease
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

_visit_out = VisitOut()
_tech_out = TechnicianOut()
_plan_runs_out = PlanRunOut(many=True)


def _tech_view(t, today=None, blocked_lines=None):
    skills = tuple(s for s in (t.skills or ()) if not blocked_lines or s not in blocked_lines)
    return domain.TechView(
        id=t.id, tenant_id=t.tenant_id, outlet_id=t.outlet_id, skills=skills,
        certificates=dict(t.certificates or {}), lat=t.home_lat, lon=t.home_lon, capacity=t.daily_capacity,
        shift_start=domain.parse_hhmm(t.shift_start), shift_end=domain.parse_hhmm(t.shift_end), today=today)


def _today_states(session, tenant, now):
    """Each technician's state of today from the visits started or done today (local day)."""
    day_start = datetime.combine(now.astimezone(LOCAL_TZ).date(), datetime.min.time(), LOCAL_TZ) \
        .astimezone(timezone.utc)
    rows = session.scalars(select(Visit).where(
        Visit.tenant_id == tenant, Visit.status.in_((VisitStatus.STARTED, VisitStatus.COMPLETED)),
        Visit.started_at >= day_start).order_by(Visit.started_at)).all()
    states = {}
    for v in rows:
        started = _aware(v.started_at)
        done = _aware(v.completed_at) or started + timedelta(minutes=v.service_minutes)
        prev = states.get(v.technician_id)
        used = (prev.used if prev else 0) + 1
        if prev is None or done >= prev.busy_until:
            states[v.technician_id] = domain.TodayState(v.checkin_lat or v.lat, v.checkin_lon or v.lon,
                                                        max(done, now), used)
        else:
            states[v.technician_id] = domain.TodayState(prev.lat, prev.lon, prev.busy_until, used)
    return states


def _commit_en_route(session, tenant, now, states, travel):
    """The visits technicians are already on their way to (`domain.on_the_road`): each
    technician's first scheduled, not started visit of today. Committed ones leave the re-plan;
    redirectable ones (late anyway) stay in it, not frozen to the day. Returns (committed visit
    ids, redirectable visit ids); `states` is updated in place."""
    day = now.astimezone(LOCAL_TZ).date()
    day_start = datetime.combine(day, datetime.min.time(), LOCAL_TZ).astimezone(timezone.utc)
    day_end = day_start + timedelta(days=1)
    first = {}
    for v in session.scalars(select(Visit).where(
            Visit.tenant_id == tenant, Visit.status == VisitStatus.SCHEDULED, Visit.technician_id.is_not(None),
            Visit.planned_arrival >= day_start, Visit.planned_arrival < day_end)
            .order_by(Visit.planned_arrival, Visit.route_order)):
        first.setdefault(v.technician_id, v)
    if not first:
        return set(), set()
    homes = {t.id: (t.home_lat, t.home_lon) for t in session.scalars(
        select(Technician).where(Technician.id.in_(list(first))))}
    committed, loose = set(), set()
    for tid, v in first.items():
        if v.lat is None:
            continue
        road = en_route.on_the_road(states.get(tid), homes.get(tid), (v.lat, v.lon), _aware(v.planned_arrival),
                                    _aware(v.onsite_due), v.service_minutes, now, travel)
        if road is None:
            continue
        redirectable, states[tid] = road
        (loose if redirectable else committed).add(v.id)
    return committed, loose


def _outlet_status(payload):
    """``outlet.<status>``: what an outlet status event means to dispatch (and the name its
    message ids are recorded under)."""
    return f"outlet.{payload['status']}"


_aware = as_utc

RETURN_VISIT_REASON = "negative_callback"

RELEASED = Counter("fsm_dispatch_visits_released_total", "Planned visits taken back from an outlet or technician",
                   ["service", "tenant", "reason"], registry=metrics.REGISTRY)
RETURN_VISITS = Counter("fsm_dispatch_return_visits_total", "Return visits created after a negative callback",
                        ["service", "tenant"], registry=metrics.REGISTRY)


class LeaseLost(Exception):
    """A re-plan's lease passed to another replica before its plan was written."""


class Planner:
    """One replica's planning state: its id, its leases, and the tenants it is solving now
    (which tenants need a plan is in the database: `planstate`)."""

    def __init__(self, service_name="dispatch"):
        self.replica = replica_id(service_name)
        self.solving = set()
        self.leases = None
        self._attempts = itertools.count(1)

    def leases_of(self, store):
        if self.leases is None:
            self.leases = Leases(store)
        return self.leases

    def attempt_holder(self):
        """Each re-plan attempt holds the tenant's lease under its own name, so that two
        attempts of the same replica exclude each other as well."""
        return f"{self.replica}#{next(self._attempts)}"[:128]


class PlannerState(DependencyProvider):
    def setup(self):
        self.planner = Planner(self.container.service_name)

    def get_dependency(self, worker_ctx):
        return self.planner


class DispatchService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "dispatch"

    db = Database(Base.metadata, migrations_package="services.dispatch.migrations")
    policies = PolicyProvider()
    planner = PlannerState()

    # ------------------------------------------------------------ configuration
    def _cfg(self, key, default):
        return self.db.worker_ctx.container.config.get(key, default)

    @property
    def travel(self):
        return TravelModel.from_config(self._cfg("TRAVEL_MODEL", None) or {})

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant
    # (shared.messaging.consume: claim, commit, retries). A handler that wakes the planner
    # records the request in its own transaction (`_plan_soon(tenant, uow)`), so the planner
    # never plans before the change it is woken for is stored, and no replica can lose it.
    def _plan_soon(self, tenant_id, uow=None):
        """`tenant_id` needs a re-plan: recorded in `uow`'s transaction (committed with the change
        it is for), else in a transaction of its own. Any replica's planner tick picks it up."""
        if uow is not None:
            with uow.session.no_autoflush:  # the change itself is flushed at commit, as before
                planstate.request(uow.session, tenant_id)
            return
        store = self.db.store
        with store.write_turn(), store.engine.begin() as conn:
            planstate.request(conn, tenant_id)

    @consume("intake", "ticket.registered")
    def on_ticket_registered(self, uow, payload):
        if payload["kind"] not in domain.ONSITE_KINDS:
            return
        existing = uow.session.scalars(select(Visit).where(Visit.ticket_id == payload["ticket_id"])).first()
        if existing is None:
            visit = Visit(
                id=uuid.uuid4().hex, tenant_id=payload["tenant_id"], ticket_id=payload["ticket_id"],
                ticket_number=payload["number"], kind=payload["kind"], priority=payload["priority"],
                product_line=payload.get("product_line"), lat=payload.get("lat"), lon=payload.get("lon"),
                city=payload.get("city"), tier=payload.get("tier"), received_at=payload["received_at"],
                onsite_due=payload.get("onsite_due"),
                window_start=domain.wished_day_start(payload.get("wished_visit_at"), utcnow()),
                service_minutes=domain.service_minutes(payload["kind"], payload.get("product_line"),
                                                       self._cfg("SERVICE_MINUTES", None)),
                status=VisitStatus.UNPLANNED)
            if visit.lat is None or visit.lon is None:
                visit.status, visit.unassignable_reason = VisitStatus.UNASSIGNABLE, "no location for the address"
                uow.emit("visit.unassignable", self._visit_event(visit, reason=visit.unassignable_reason))
            uow.session.add(visit)
        self._plan_soon(payload["tenant_id"], uow)
        uow.commit()

    @consume("intake", "ticket.closed")
    def on_ticket_closed(self, uow, payload):
        # a ticket may have several visits (return visits): every one still open is cancelled
        tenants = set()
        for visit in uow.session.scalars(select(Visit).where(Visit.ticket_id == payload["ticket_id"],
                                                             Visit.status.in_(domain.OPEN_VISIT))):
            visit.status = VisitStatus.CANCELLED
            tenants.add(visit.tenant_id)
        for tenant in tenants:
            self._plan_soon(tenant, uow)
        uow.commit()

    @consume("intake", "ticket.escalated")
    def on_ticket_escalated(self, uow, payload):
        """A negative callback reopened the ticket: a return visit (返修), once per escalation.

        Only when the ticket's latest visit is completed and none is open; the return visit copies
        the original (kind, place, product line), one priority step more urgent, due by the tenant's
        on-site SLA counted from now. The planner plans it; `visit.scheduled` follows as usual."""
        if payload["reason"] != RETURN_VISIT_REASON:
            return
        visits = uow.session.scalars(select(Visit).where(Visit.ticket_id == payload["ticket_id"])).all()
        fields = return_visits.return_visit(visits, utcnow(), self._onsite_due(payload["tenant_id"]))
        if fields is None:  # none yet, or one still open: the message id is remembered, it will never apply
            last = return_visits.latest_visit(visits)
            log.info("ticket %s escalated (%s): no return visit (latest visit %s)", payload["ticket_id"],
                     payload["reason"], last.status if last else "none")
            return
        created = uuid.uuid4().hex
        uow.session.add(Visit(id=created, **fields))
        self._plan_soon(payload["tenant_id"], uow)
        uow.commit()
        RETURN_VISITS.labels(self.name, fields["tenant_id"]).inc()
        log.info("ticket %s: return visit %s after visit %s", payload["ticket_id"], created, fields["return_of"])

    def _onsite_due(self, tenant_id):
        """tier, moment -> the tenant's on-site SLA due time for a visit of that tier received then."""
        policies = self.policies
        return lambda tier, at: policies.sla_policy(tenant_id).onsite_rule(tier or "local").apply(policies.clock, at)

    def _on_outlet(self, uow, payload, event):
        state = uow.session.get(OutletState, payload["outlet_id"])
        if state is None:
            state = OutletState(outlet_id=payload["outlet_id"], tenant_id=payload["tenant_id"],
                                kind=payload.get("kind") or "franchised", lat=payload.get("lat"),
                                lon=payload.get("lon"))
            uow.session.add(state)
        state.status, state.updated_at = payload["status"], payload["at"]
        if payload["status"] == "probation":
            state.job_limit = payload.get("job_limit")
        released = 0
        blocked = set(state.blocked_lines or ())
        line = payload.get("product_line")
        if event == "outlet.line_eligibility" and line:
            if payload.get("eligible"):
                blocked.discard(line)
            else:
                blocked.add(line)
            state.blocked_lines = sorted(blocked)
        if payload["status"] in domain.NO_JOBS or (event == "outlet.line_eligibility" and line in blocked):
            # from this moment the outlet takes no job (of that line): its planned, not started
            # visits go back to the planner
            lines = None if payload["status"] in domain.NO_JOBS else (line,)
            for visit in uow.session.scalars(select(Visit).where(
                    Visit.outlet_id == payload["outlet_id"], Visit.status == VisitStatus.SCHEDULED)):
                if lines is None or visit.product_line in lines:
                    self._release(uow, visit, f"outlet_{payload['status']}" if lines is None
                                  else f"line_ineligible:{line}")
                    released += 1
            # a pin to one of its technicians would leave the visit with nobody
            staff = select(Technician.id).where(Technician.outlet_id == payload["outlet_id"])
            for visit in uow.session.scalars(select(Visit).where(
                    Visit.pinned_technician_id.in_(staff), Visit.status.in_(domain.OPEN_VISIT))):
                if lines is None or visit.product_line in lines:
                    visit.pinned_technician_id = None
        self._plan_soon(payload["tenant_id"], uow)
        uow.commit()
        log.info("outlet %s: %s (%s); %d visits released", payload["outlet_id"], event, payload["status"], released)

    def _release(self, uow, visit, reason):
        """A planned, not started visit goes back to the planner; `visit.released` (with the outlet
        and technician it had) tells parts and intake in the same transaction."""
        outlet_id, technician_id = visit.outlet_id, visit.technician_id
        visit.status, visit.technician_id, visit.outlet_id = VisitStatus.UNPLANNED, None, None
        visit.planned_arrival = visit.route_order = visit.planned_km = None
        uow.emit("visit.released", self._visit_event(visit, outlet_id=outlet_id, technician_id=technician_id,
                                                     reason=reason[:128]))
        RELEASED.labels(self.name, visit.tenant_id, reason.split(":")[0]).inc()

    # an outlet's status events are claimed by the status they carry (``outlet.effective`` for a
    # reinstatement to effective), outlet.line_eligibility by its own name, as they always were
    @consume("certification", "outlet.effective", consumer=_outlet_status)
    def on_outlet_effective(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.approved", consumer=_outlet_status)
    def on_outlet_approved(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.suspended", consumer=_outlet_status)
    def on_outlet_suspended(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.revoking", consumer=_outlet_status)
    def on_outlet_revoking(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.revoked", consumer=_outlet_status)
    def on_outlet_revoked(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.probation", consumer=_outlet_status)
    def on_outlet_probation(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.reinstated", consumer=_outlet_status)
    def on_outlet_reinstated(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.line_eligibility")
    def on_outlet_line_eligibility(self, uow, payload):
        self._on_outlet(uow, payload, "outlet.line_eligibility")

    def _on_certificate(self, uow, payload, valid, reason=None):
        tech = uow.session.get(Technician, payload["technician_id"])
        if tech is None:
            log.warning("certificate event for unknown technician %s", payload["technician_id"])
            return
        certs = dict(tech.certificates or {})
        released = 0
        if valid and payload.get("valid_until"):
            certs[payload["product_line"]] = payload["valid_until"].isoformat()
        else:
            certs.pop(payload["product_line"], None)
            # from this moment the technician may not do that product line: its planned, not
            # started visits go back to the planner (a frozen plan would keep them on it)
            for visit in uow.session.scalars(select(Visit).where(
                    Visit.technician_id == tech.id, Visit.product_line == payload["product_line"],
                    Visit.status == VisitStatus.SCHEDULED)):
                self._release(uow, visit, reason or "certificate_withdrawn")
                released += 1
            for visit in uow.session.scalars(select(Visit).where(
                    Visit.pinned_technician_id == tech.id, Visit.product_line == payload["product_line"],
                    Visit.status.in_(domain.OPEN_VISIT))):
                visit.pinned_technician_id = None
        tech.certificates = certs
        self._plan_soon(payload["tenant_id"], uow)
        uow.commit()
        if released:
            log.info("technician %s lost %s; %d visits released", tech.id, payload["product_line"], released)

    # the three certificate events share one consumer name (as they always have)
    @consume("certification", "technician.certified", consumer="technician.certificate")
    def on_technician_certified(self, uow, payload):
        self._on_certificate(uow, payload, True)

    @consume("certification", "technician.expired", consumer="technician.certificate")
    def on_technician_expired(self, uow, payload):
        self._on_certificate(uow, payload, False, "certificate_expired")

    @consume("certification", "technician.revoked", consumer="technician.certificate")
    def on_technician_revoked(self, uow, payload):
        self._on_certificate(uow, payload, False, "certificate_revoked")

    # ------------------------------------------------------------ technicians
    @rpc
    def upsert_technician(self, payload):
        return self._upsert_technician(load(TechnicianIn(), payload), self.db.principal)

    def _upsert_technician(self, data, principal):
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE):
            raise Forbidden(f"role {principal.role} cannot manage technicians")
        directory = self.policies.directory
        tenant = data.get("tenant_id") or principal.tenant
        if data.get("outlet_id"):
            outlet = directory.outlets.get(data["outlet_id"])
            if outlet is None:
                raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r}"]})
            tenant = outlet.center
        if tenant not in directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": ["give the center or the outlet"]})
        if not principal.sees_tenant(tenant):  # another center's outlet does not exist for the caller
            field = "outlet_id" if data.get("outlet_id") else "tenant_id"
            raise ValidationFailed(f"unknown {field}", {field: [f"no {data.get(field)!r} in your tenant"]})
        unknown = [s for s in data["skills"] if s not in directory.product_lines]
        if unknown:
            raise ValidationFailed("unknown product line", {"skills": [f"unknown: {', '.join(unknown)}"]})
        with self.db.uow(principal) as uow:
            self._seed_outlets(uow, tenant)
            tech = uow.session.get(Technician, data["id"])
            if tech is None:
                tech = Technician(id=data["id"], tenant_id=tenant)
                uow.session.add(tech)
            elif tech.tenant_id != tenant:
                raise ValidationFailed("technician belongs to another tenant", {"id": ["already used"]})
            tech.outlet_id, tech.name, tech.skills = data.get("outlet_id"), data["name"], data["skills"]
            tech.certificates = {k: v.isoformat() for k, v in data["certificates"].items()}
            tech.home_lat, tech.home_lon = data["home_lat"], data["home_lon"]
            tech.daily_capacity, tech.active = data["daily_capacity"], data["active"]
            tech.shift_start, tech.shift_end = data["shift_start"], data["shift_end"]
            self._plan_soon(tenant, uow)
            try:
                uow.commit()
            except IntegrityError:  # the id is another tenant's technician (invisible to the caller)
                raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
            return _tech_out.dump(tech)

    @rpc
    def import_technicians(self, rows):
        if not isinstance(rows, list):
            raise ValidationFailed("rows must be a list", {"rows": ["must be a list"]})
        principal = self.db.principal
        results = []
        for index, row in enumerate(rows):
            try:
                data = load(TechnicianIn(), technician_row_to_payload(row) if "skills" in row and isinstance(row.get("skills"), str) else row)
                self._upsert_technician(data, principal)
                results.append({"row": index, "ok": True, "id": data["id"]})
            except (ValidationFailed, Forbidden) as exc:
                results.append({"row": index, "ok": False, "error": exc.message, "fields": exc.fields})
        return results

    @rpc
    def list_technicians(self, outlet_id=None):
        with self.db.uow() as uow:
            stmt = select(Technician).order_by(Technician.id)
            if outlet_id:
                stmt = stmt.where(Technician.outlet_id == outlet_id)
            return [_tech_out.dump(t) for t in uow.session.scalars(stmt)]

    def _seed_outlets(self, uow, tenant):
        """Outlet states start from the tenants file; certification events change them later."""
        have = {s.outlet_id for s in uow.session.scalars(select(OutletState).where(OutletState.tenant_id == tenant))}
        for outlet in self.policies.directory.outlets_of(tenant):
            if outlet.id not in have:
                uow.session.add(OutletState(outlet_id=outlet.id, tenant_id=tenant, kind=outlet.kind,
                                            status=outlet.status, lat=outlet.lat, lon=outlet.lon,
                                            updated_at=utcnow()))

    # ------------------------------------------------------------ planning
    # every replica ticks (lease=False): each tenant's re-plan takes the tenant's own lease, so
    # replicas share the tenants and none is planned by two at once
    @timer_once("DISPATCH_TICK_SECONDS", 1.0, lease=False)
    def planner_tick(self):
        rule = self._due_rule()
        with self.db.store.engine.connect() as conn:
            due = planstate.due(conn, *rule)
        for tenant, trigger in due:
            if tenant not in self.planner.solving:
                self._plan_tenant(tenant, trigger=trigger, due_rule=rule)

    def _due_rule(self):
        return (float(self._cfg("DISPATCH_BATCH_SECONDS", 2.0)), float(self._cfg("DISPATCH_REOPT_SECONDS", 900.0)))

    @rpc
    def reoptimise(self, tenant_id=None):
        principal = self.db.principal
        tenant = tenant_id or principal.tenant
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE) or not principal.sees_tenant(tenant):
            raise Forbidden("only the tenant's center or HQ re-optimises a plan")
        if tenant not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": [f"no center {tenant!r}"]})
        # a plan already being solved (the batch timer's, here or on another replica) may predate
        # the caller's change (a pin): wait for it, then plan again, rather than answer "skipped"
        limit = float(self._cfg("DISPATCH_TIME_LIMIT", 5.0))
        give_up = _time.monotonic() + 3 * limit + 60
        while tenant in self.planner.solving and _time.monotonic() < give_up:
            eventlet.sleep(0.1)
        return self._plan_tenant(tenant, trigger="manual", give_up_at=give_up)

    def _plan_lease_seconds(self):
        """The tenant's lease lasts this long unless renewed (every third of it while solving):
        how long a replica that died while planning keeps others from planning that tenant."""
        return max(20.0, 2 * float(self._cfg("DISPATCH_TIME_LIMIT", 5.0)))

    def _plan_tenant(self, tenant, trigger, give_up_at=None, due_rule=None):
        """Plan `tenant` on this replica if it can take the tenant's lease (waiting for it until
        monotonic `give_up_at` when given; else skipping a tenant another replica is planning).
        `due_rule` (the tick's): once the lease is held the tenant must still be due, since
        another replica may have planned it meanwhile."""
        if tenant in self.planner.solving:
            return {"tenant_id": tenant, "skipped": "already solving"}
        store = self.db.store
        leases = self.planner.leases_of(store)
        lease, holder, ttl = f"plan:{tenant}", self.planner.attempt_holder(), self._plan_lease_seconds()
        self.planner.solving.add(tenant)
        try:
            taken = (leases.try_acquire(lease, holder, ttl) if give_up_at is None
                     else wait_for_lease(leases, lease, holder, ttl, give_up_at))
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
                    return self._solve_and_apply(tenant, trigger, lease, holder, ttl)
                except StaleDataError:  # a visit changed while the plan was written: plan again soon
                    again = True
                    raise
                except LeaseLost as exc:
                    log.warning("plan of %s not written: %s", tenant, exc)
                    return {"tenant_id": tenant, "skipped": "planned by another replica"}
                finally:
                    with store.write_turn(), store.engine.begin() as conn:
                        planstate.finish(conn, tenant, holder, again=again)  # no-op once written
        finally:
            self.planner.solving.discard(tenant)

    def _solve_and_apply(self, tenant, trigger, lease, holder, ttl):
        """Build the tenant's problem, solve it in a child process, apply the plan."""
        started = utcnow()
        t0 = _time.monotonic()
        principal = tenancy.service_principal(self.name, tenant)
        now = utcnow()
        with self.db.uow(principal) as uow:
            self._seed_outlets(uow, tenant)
            uow.commit()
        with self.db.uow(principal) as uow:
            inp, views = self._planning_input(uow, tenant, now)
        if not inp.problem.visits and not inp.excluded:
            return {"tenant_id": tenant, "visits": 0}
        plan = None
        if inp.problem.visits:
            limit = float(self._cfg("DISPATCH_TIME_LIMIT", 5.0))
            plan = run_in_child(inp.problem, limit, int(self._cfg("DISPATCH_WORKERS", 2)),
                                initial_routes="greedy" if self._cfg("DISPATCH_WARM_START", True) else None)
        assignments, dropped = planning.read_plan(inp, plan) if plan is not None else ([], {})
        dropped.update(inp.excluded)
        seconds = _time.monotonic() - t0
        with self.db.uow(principal) as uow:
            # written only while this attempt still holds the tenant's lease, checked in this very
            # transaction (on PostgreSQL the lease row stays locked until it commits)
            if not self.planner.leases.renew(lease, holder, ttl, executor=uow.session):
                raise LeaseLost(f"lease {lease} of {holder} expired and was taken while solving")
            result = self._apply_plan(uow, tenant, assignments, dropped, seconds, started, trigger,
                                      len(inp.problem.vehicles), len(views), holder)
            planstate.finish(uow.session, tenant, holder)
            uow.commit()
        metrics.SOLVER_SECONDS.labels(self.name, tenant).observe(seconds)
        return result

    def _planning_input(self, uow, tenant, now):
        freeze = timedelta(minutes=float(self._cfg("DISPATCH_FREEZE_MINUTES", 120)))
        today = _today_states(uow.session, tenant, now)
        en_route, redirectable = _commit_en_route(uow.session, tenant, now, today, self.travel)
        outlet_rows = list(uow.session.scalars(select(OutletState).where(OutletState.tenant_id == tenant)))
        states = {s.outlet_id: s.status for s in outlet_rows}
        blocked = {s.outlet_id: set(s.blocked_lines or ()) for s in outlet_rows}
        # a product line its outlet may not take (too few certified technicians) is no skill today
        techs = [_tech_view(t, today.get(t.id), blocked.get(t.outlet_id)) for t in uow.session.scalars(
            select(Technician).where(Technician.tenant_id == tenant, Technician.active.is_(True)))]
        default_limit = int(self._cfg("PROBATION_MAX_JOBS", 5))
        started_by_outlet = dict(uow.session.execute(
            select(Visit.outlet_id, func.count()).where(Visit.tenant_id == tenant, Visit.status == VisitStatus.STARTED)
            .group_by(Visit.outlet_id)).all())
        # an outlet on probation holds at most its job limit of open jobs: the started ones count
        # against it, the rest is a limit across all its technician-days in the plan
        outlet_limits = {s.outlet_id: (s.job_limit if s.job_limit is not None else default_limit)
                         - started_by_outlet.get(s.outlet_id, 0)
                         for s in outlet_rows if s.status == "probation"}
        probation_full = {o for o, left in outlet_limits.items() if left <= 0}
        views = []
        for v in uow.session.scalars(select(Visit).where(Visit.tenant_id == tenant, Visit.status.in_(
                (VisitStatus.UNPLANNED, VisitStatus.SCHEDULED, VisitStatus.UNASSIGNABLE)))):
            if v.lat is None or v.lon is None or v.id in en_route:
                continue
            frozen = None
            arrival = _aware(v.planned_arrival)
            if v.status == VisitStatus.SCHEDULED and arrival is not None and arrival <= now + freeze \
                    and v.id not in redirectable:
                frozen = (v.technician_id, arrival.astimezone(LOCAL_TZ).date())
            views.append(domain.VisitView(
                id=v.id, product_line=v.product_line, kind=v.kind, priority=v.priority, lat=v.lat, lon=v.lon,
                due=_aware(v.onsite_due), window_start=_aware(v.window_start), service_minutes=v.service_minutes,
                pinned_technician_id=v.pinned_technician_id, frozen_vehicle=frozen, current_outlet_id=v.outlet_id))
        inp = planning.build_problem(views, techs, states, probation_full, now, self.policies.clock.calendar,
                                   self.travel, int(self._cfg("DISPATCH_HORIZON_DAYS", 6)),
                                   outlet_limits=outlet_limits,
                                   serve_within_minutes=60.0 * float(self._cfg("DISPATCH_TARGET_HOURS", 4)))
        return inp, views

    def _apply_plan(self, uow, tenant, assignments, dropped, seconds, started, trigger, vehicles, n_visits,
                    holder=None):
        run = PlanRun(tenant_id=tenant, started_at=started, seconds=seconds, visits=n_visits, vehicles=vehicles,
                      scheduled=0, dropped=len(dropped), late=0, planned_km=0.0, trigger=trigger, holder=holder)
        uow.session.add(run)
        uow.session.flush()  # its id marks the visits this plan places
        visits = {v.id: v for v in uow.session.scalars(select(Visit).where(
            Visit.id.in_([a.visit_id for a in assignments] + list(dropped))))}
        scheduled = late = 0
        km = 0.0
        for a in assignments:
            visit = visits.get(a.visit_id)
            if visit is None or visit.status not in domain.OPEN_VISIT:
                continue  # started, completed or cancelled while we were solving
            scheduled += 1
            km += a.km
            late += a.late_minutes > 0
            changed = (visit.status != VisitStatus.SCHEDULED or visit.technician_id != a.technician_id
                       or _aware(visit.planned_arrival) is None
                       or abs((_aware(visit.planned_arrival) - a.arrival).total_seconds()) > 60
                       or visit.route_order != a.order)
            visit.status, visit.technician_id, visit.outlet_id = VisitStatus.SCHEDULED, a.technician_id, a.outlet_id
            visit.planned_arrival, visit.route_order, visit.planned_km = a.arrival, a.order, a.km
            visit.unassignable_reason, visit.plan_run_id = None, run.id
            if changed:
                uow.emit("visit.scheduled", self._visit_event(visit))
        for visit_id, reason in dropped.items():
            visit = visits.get(visit_id)
            if visit is None or visit.status not in domain.OPEN_VISIT:
                continue
            visit.plan_run_id = run.id
            if visit.status != VisitStatus.UNASSIGNABLE or visit.unassignable_reason != reason:
                visit.status, visit.unassignable_reason = VisitStatus.UNASSIGNABLE, reason[:128]
                visit.technician_id = visit.outlet_id = visit.planned_arrival = None
                visit.route_order = visit.planned_km = None
                uow.emit("visit.unassignable", self._visit_event(visit, reason=reason[:128]))
        run.scheduled, run.late, run.planned_km = scheduled, late, round(km, 2)
        run.finished_at = utcnow()
        return {"tenant_id": tenant, "visits": n_visits, "scheduled": scheduled, "unassignable": len(dropped),
                "late": late, "planned_km": round(km, 2), "seconds": round(seconds, 2)}

    # ------------------------------------------------------------ board, jobs, routes
    @rpc
    def board(self, query=None):
        """Open visits, plans and late risks (centers: their tenant; HQ: all; outlets: their own)."""
        q = load(BoardQuery(), query or {})
        now = utcnow()
        with self.db.uow() as uow:
            stmt = select(Visit)
            for key in ("status", "outlet_id", "technician_id", "ticket_id"):
                if q.get(key):
                    stmt = stmt.where(getattr(Visit, key) == q[key])
            rows = uow.session.scalars(stmt.order_by(Visit.onsite_due, Visit.id)).all()
            items = [self._dump(v, now) for v in rows]
        if q["late_risk"] is not None:
            items = [i for i in items if i["late_risk"] == q["late_risk"]]
        counts = {}
        for i in items:
            counts[i["status"]] = counts.get(i["status"], 0) + 1
        return {"items": items[q["offset"]:q["offset"] + q["limit"]], "total": len(items), "by_status": counts,
                "late_risk": sum(1 for i in items if i["late_risk"])}

    @rpc
    def get_visit(self, visit_id):
        with self.db.uow() as uow:
            return self._dump(self._load(uow, visit_id), utcnow())

    @rpc
    def route(self, technician_id, query):
        """A technician's day as an ordered route."""
        q = load(RouteQuery(), query or {})
        with self.db.uow() as uow:
            tech = uow.session.get(Technician, technician_id)
            if tech is None:
                raise NotFound(f"technician {technician_id} not found")
            start = datetime.combine(q["date"], datetime.min.time(), LOCAL_TZ).astimezone(timezone.utc)
            rows = uow.session.scalars(select(Visit).where(
                Visit.technician_id == technician_id, Visit.planned_arrival >= start,
                Visit.planned_arrival < start + timedelta(days=1)).order_by(Visit.planned_arrival)).all()
            stops = [{"order": i, "visit_id": v.id, "ticket_number": v.ticket_number, "kind": v.kind,
                      "product_line": v.product_line, "lat": v.lat, "lon": v.lon, "city": v.city,
                      "planned_arrival": _aware(v.planned_arrival).astimezone(LOCAL_TZ).isoformat(),
                      "service_minutes": v.service_minutes, "leg_km": v.planned_km, "status": v.status,
                      "onsite_due": _aware(v.onsite_due).astimezone(LOCAL_TZ).isoformat() if v.onsite_due else None}
                     for i, v in enumerate(rows, start=1)]
            return {"technician_id": tech.id, "outlet_id": tech.outlet_id, "date": q["date"].isoformat(),
                    "home": {"lat": tech.home_lat, "lon": tech.home_lon}, "stops": stops,
                    "planned_km": round(sum(s["leg_km"] or 0 for s in stops), 2)}

    @rpc
    def route_csv(self, technician_id, query):
        data = self.route(technician_id, query)
        buf = io.StringIO()
        cols = ["order", "ticket_number", "kind", "product_line", "city", "planned_arrival", "service_minutes",
                "leg_km", "onsite_due", "status", "lat", "lon"]
        writer = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data["stops"])
        return buf.getvalue()

    @rpc
    def plan_runs(self, limit=20):
        with self.db.uow() as uow:
            rows = uow.session.scalars(select(PlanRun).order_by(PlanRun.id.desc()).limit(int(limit))).all()
            return _plan_runs_out.dump([AwareView(r) for r in rows])

    # ------------------------------------------------------------ manual override
    @rpc
    def pin(self, visit_id, payload):
        data = load(Pin(), payload)
        principal = self._staff()
        with self.db.uow() as uow:
            visit = self._load(uow, visit_id)
            if visit.status not in domain.OPEN_VISIT:
                raise ValidationFailed("visit is not open", {"visit_id": [f"visit is {visit.status}"]})
            tech = uow.session.get(Technician, data["technician_id"])
            if tech is None or tech.tenant_id != visit.tenant_id:
                raise ValidationFailed("unknown technician", {"technician_id": ["no such technician in this tenant"]})
            why = self._pin_refusal(uow, tech, visit)
            if why:
                raise ValidationFailed("technician cannot take this visit", {"technician_id": [why]})
            visit.pinned_technician_id = tech.id
            self._plan_soon(visit.tenant_id, uow)
            uow.commit()
            log.info("visit %s pinned to %s by %s", visit.id, tech.id, principal.user)
            return self._dump(visit, utcnow())

    @rpc
    def unpin(self, visit_id):
        self._staff()
        with self.db.uow() as uow:
            visit = self._load(uow, visit_id)
            visit.pinned_technician_id = None
            self._plan_soon(visit.tenant_id, uow)
            uow.commit()
            return self._dump(visit, utcnow())

    @staticmethod
    def _pin_refusal(uow, tech, visit):
        """Why `tech` may not be pinned to `visit` (None: it may): the optimiser's own rules."""
        if not tech.active:
            return "technician is not active"
        states, blocked = {}, None
        if tech.outlet_id:
            state = uow.session.get(OutletState, tech.outlet_id)
            states[tech.outlet_id] = state.status if state is not None else None
            blocked = set(state.blocked_lines or ()) if state is not None else None
        view = domain.VisitView(id=visit.id, product_line=visit.product_line, kind=visit.kind,
                                priority=visit.priority, lat=visit.lat, lon=visit.lon, due=None, window_start=None,
                                service_minutes=visit.service_minutes)
        return domain.eligible(_tech_view(tech, blocked_lines=blocked), view,
                               utcnow().astimezone(LOCAL_TZ).date(), states, set())

    def _staff(self):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden("only a dispatcher (center) or HQ overrides the plan")
        return principal

    # ------------------------------------------------------------ on site
    @rpc
    def check_in(self, visit_id, payload):
        data = load(CheckIn(), payload)
        principal = self.db.principal
        now = utcnow()
        at = (data["at"] or now).astimezone(timezone.utc)
        with self.db.uow() as uow:
            visit = self._load(uow, visit_id)
            self._on_site_actor(principal, visit, data.get("technician_id"))
            domain.check_in(visit.status, at, now, _aware(visit.planned_arrival))
            visit.status, visit.started_at = VisitStatus.STARTED, at
            visit.checkin_lat, visit.checkin_lon = data["lat"], data["lon"]
            due = _aware(visit.onsite_due)
            visit.onsite_on_time = due is None or at <= due
            uow.emit("visit.started", self._visit_event(visit, at=at, lat=data["lat"], lon=data["lon"],
                                                        onsite_on_time=visit.onsite_on_time))
            uow.commit()
            return self._dump(visit, now)

    @rpc
    def check_out(self, visit_id, payload):
        data = load(CheckOut(), payload)
        principal = self.db.principal
        now = utcnow()
        at = (data["at"] or now).astimezone(timezone.utc)
        with self.db.uow() as uow:
            visit = self._load(uow, visit_id)
            self._on_site_actor(principal, visit, None)
            domain.check_out(visit.status, at, _aware(visit.started_at), now)
            visit.status, visit.completed_at = VisitStatus.COMPLETED, at
            visit.work_done, visit.parts_used = data["work_done"], data["parts_used"]
            visit.customer_confirmed = data["customer_confirmed"]
            uow.emit("visit.completed", self._visit_event(
                visit, at=at, work_done=data["work_done"], parts_used=data["parts_used"],
                customer_confirmed=data["customer_confirmed"], onsite_on_time=visit.onsite_on_time))
            uow.commit()
            return self._dump(visit, now)

    @staticmethod
    def _on_site_actor(principal, visit, technician_id):
        """The outlet doing the job checks in and out (the scoped session already hides others'
        visits); HQ and centers may record it on the outlet's behalf."""
        if principal.role == tenancy.OUTLET:
            if visit.outlet_id != principal.outlet:
                raise NotFound(f"visit {visit.id} not found")
        elif principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden(f"role {principal.role} cannot record on-site work")
        if technician_id and technician_id != visit.technician_id:
            raise ValidationFailed("not this visit's technician", {"technician_id": ["the visit is planned for another technician"]})

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _load(uow, visit_id):
        return get_or_404(uow.session, Visit, visit_id, "visit_id")

    @staticmethod
    def _dump(visit, now):
        out = _visit_out.dump(AwareView(visit))
        due, arrival = _aware(visit.onsite_due), _aware(visit.planned_arrival)
        risk = False
        if visit.status in (VisitStatus.UNPLANNED, VisitStatus.UNASSIGNABLE):
            risk = due is not None and due < now + timedelta(hours=4)
        elif visit.status == VisitStatus.SCHEDULED:
            risk = due is not None and arrival is not None and arrival > due
        out["late_risk"] = bool(risk)
        return out

    @staticmethod
    def _visit_event(visit, **extra):
        body = {"tenant_id": visit.tenant_id, "visit_id": visit.id, "ticket_id": visit.ticket_id,
                "outlet_id": visit.outlet_id, "technician_id": visit.technician_id, "at": utcnow(),
                "planned_arrival": _aware(visit.planned_arrival), "route_order": visit.route_order,
                "planned_km": visit.planned_km, "product_line": visit.product_line, "kind": visit.kind}
        body.update(extra)
        return body
