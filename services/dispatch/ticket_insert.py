"""A new ticket of a big tenant scheduled at once, in its region's plan (issue 19, point 4).

A tenant above DISPATCH_REGIONS_ABOVE is re-planned region by region in the solver process,
about a minute (`region_solve`). The replica that made that plan keeps its regions' shapes
(`Planner.shapes`); a visit opened for a new ticket of such a tenant is then placed right after
it is stored (`place_new_visit`, from the service's ticket.registered handler): candidate regions
from the shapes, the visits those regions' technicians have scheduled read from the database,
the region's own problem built and the visit inserted (`region_insert.place`: no solve, never
the tenant's whole problem), off the event loop in eventlet's thread pool, and written as a plan
run of trigger ``insert`` (`planner.apply_plan`: visit.scheduled for the visit and for the stops
of its technician-day whose arrival moved).

The batched re-plan stays: the change requested it as before, and it may improve on the
insertion. Nothing here is needed for a visit to be planned: a replica without the shapes (a
restart, another replica planned the tenant), a stopping service, a visit that fits nowhere, a
technician-day changed meanwhile or any error leave the visit to that re-plan.

An insert holds the tenant's lease ``plan:<tenant>``, the one a re-plan holds from its read to
its write (`Planner.insert_new`), and is skipped while a re-plan (or another replica's insert)
holds it: a re-plan that read the visits before the new one would otherwise write other stops
over it on its technician-day.
"""

from __future__ import annotations

import logging
import time as _time
from collections import defaultdict

from sqlalchemy import select

from services.dispatch import planner as planner_mod
from services.dispatch import queries, region_insert
from services.dispatch.domain import LOCAL_TZ, VisitStatus, horizon
from services.dispatch.models import Visit
from services.dispatch.region_plan import Context
from shared import tenancy
from shared.db import as_utc, utcnow

log = logging.getLogger(__name__)

TRIGGER = "insert"


def _in_thread(fn, *args):
    from eventlet import tpool

    return tpool.execute(fn, *args)


def _day_key(visit) -> tuple[str, str]:
    return visit.technician_id, as_utc(visit.planned_arrival).astimezone(LOCAL_TZ).date().isoformat()


def place_new_visit(ctx, shapes, ticket_id: str, tenant: str, run=_in_thread, held=None) -> dict | None:
    """Place the open visit of `ticket_id` (`tenant`'s, planned by region with `shapes`) in its
    region's plan and write it; the plan run's summary, or None when it is left to the re-plan.
    `run(fn, *args)`: where the CPU part runs (eventlet's thread pool in the service). `held(session)`:
    whether the caller still holds the tenant's lease (`Planner.insert_new`), asked first in the
    writing transaction; False: not written."""
    settings = ctx.settings
    t0 = _time.monotonic()
    started = now = utcnow()
    principal = tenancy.service_principal(ctx.service, tenant)
    with ctx.db.uow(principal) as uow:
        row = uow.session.scalars(
            select(Visit).where(Visit.ticket_id == ticket_id, Visit.status == VisitStatus.UNPLANNED)
        ).first()
        if row is None:
            return None
        # the technicians and outlets first (whose day under way is read for the candidates only)
        facts = planner_mod.tenant_facts(uow.session, tenant, now, settings, ctx.travel, only=())
        new = planner_mod.visit_view(row, now, settings, facts)
        if new is None:
            return None
        days = tuple(horizon(ctx.policies.clock.calendar, now, settings.horizon_days))
        cands = region_insert.candidates(
            new, shapes, facts.techs, days, facts.outlet_status, facts.probation_full, ctx.travel, facts.outlet_limits
        )
        if not cands:
            return None
        owner = {t: c.index for c in cands for t in c.technician_ids}
        facts = planner_mod.tenant_facts(uow.session, tenant, now, settings, ctx.travel, only=set(owner))
        cands = region_insert.with_techs(cands, facts.techs)
        planned = [v for v in queries.scheduled_for(uow.session, tenant, list(owner)) if v.planned_arrival is not None]
        region_visits, routes, stored = defaultdict(list), defaultdict(list), defaultdict(set)
        for v in sorted(planned, key=lambda v: (v.route_order or 0, as_utc(v.planned_arrival))):
            stored[_day_key(v)].add(v.id)
            view = planner_mod.visit_view(v, now, settings, facts)
            if view is not None:  # one being driven to stays out, as in a re-plan
                region_visits[owner[v.technician_id]].append(view)
                routes[_day_key(v)].append(v.id)
    build = Context(
        facts.outlet_status,
        frozenset(facts.probation_full),
        now,
        days,
        ctx.travel,
        60.0 * settings.target_hours,
        settings.target_options,
    )
    placed = run(region_insert.place, new, cands, dict(region_visits), dict(routes), build)
    if placed is None:
        log.info("ticket %s of %s fits no region's plan now: left to the re-plan", ticket_id, tenant)
        return None
    seconds = _time.monotonic() - t0
    with ctx.db.uow(principal) as uow:
        if held is not None and not held(uow.session):
            log.info("ticket %s: the lease of %s was taken while placing it: left to the re-plan", ticket_id, tenant)
            return None
        tech, day = placed.vehicle
        now_there = {
            v.id
            for v in queries.scheduled_for(uow.session, tenant, [tech])
            if v.planned_arrival is not None and _day_key(v)[1] == day
        }
        if now_there != stored.get(placed.vehicle, set()):
            log.info("ticket %s: %s's %s changed while placing it: left to the re-plan", ticket_id, tech, day)
            return None
        visit = uow.session.get(Visit, new.id)
        if visit is None or visit.status != VisitStatus.UNPLANNED:
            return None  # planned (or closed) meanwhile
        result = planner_mod.apply_plan(
            uow, tenant, placed.assignments, {}, seconds, started, TRIGGER, 1, len(placed.assignments)
        )
        uow.commit()
    result.update(region=placed.region, late_minutes=round(placed.late_minutes, 1))
    log.info(
        "ticket %s of %s placed in region %d on %s/%s in %.3f s",
        ticket_id,
        tenant,
        placed.region,
        tech,
        day,
        seconds,
        extra={"tenant": tenant},
    )
    return result
