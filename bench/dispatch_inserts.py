"""The insert phase of bench/dispatch_scale.py: new tickets placed one at a time into a plan, each
timed (`time_inserts`), into the region plan as `region_plan.RegionBook` keeps it (`region_book`) and
as the dispatch service places one (`service_placer`: `region_insert`, no book kept)."""

import random
import time
from datetime import date, timedelta


def time_inserts(place, now, techs, seed, monday, inserts, due_at=None):
    """`inserts` new tickets (due in 24-56 h, or all at `due_at`) placed one at a time by
    `place(visit)` (returns an insertion or None), each timed."""
    from dispatch_scale import instance

    from services.dispatch import domain

    rng = random.Random(seed + 1)
    extra, _, _, _, _, _ = instance(inserts, techs, seed + 7, monday=monday)
    times, placed, on_time = [], 0, 0
    for v in extra:
        due = due_at or now + timedelta(hours=rng.choice((24, 32, 48, 56)))
        v = domain.VisitView(**{**v.__dict__, "id": "N" + v.id, "due": due})
        t0 = time.perf_counter()
        ins = place(v)
        times.append(time.perf_counter() - t0)
        placed += ins is not None
        on_time += bool(ins is not None and ins.late_minutes <= 1e-6)
    times.sort()
    return {
        "tickets": len(times),
        "placed": placed,
        "on_time": on_time,
        "mean_s": round(sum(times) / len(times), 4),
        "max_s": round(times[-1], 4),
        "p50_s": round(times[len(times) // 2], 4),
    }


def region_book(r, raw, monday):
    """The region plan the child returned, built again in this process as the service would keep
    it between re-plans (`region_plan.RegionBook`): the same regions, technicians and routes."""
    from services.dispatch import region_plan
    from services.dispatch.domain import horizon
    from services.dispatch.regions import Region
    from shared.geo import TravelModel
    from shared.workcal import ChinaCalendar

    visits, techs, status, now = raw
    vby, tby = {v.id: v for v in visits}, {t.id: t for t in techs}
    members, tech_members, sectors = r["_members"]
    regions = [
        Region((tby[ts[0]].lat, tby[ts[0]].lon), [tby[t] for t in ts], [vby[v] for v in vs], sector)
        for vs, ts, sector in zip(members, tech_members, sectors)
    ]
    ctx = region_plan.Context(
        dict(status), frozenset(), now, tuple(horizon(ChinaCalendar.default(), now, 5)), TravelModel()
    )
    # the plan's routes as assignments only need (technician, day) -> order
    assignments = [
        region_plan.Assignment(v, key.split("@")[0], None, date.fromisoformat(key.split("@")[1]), now, n, 0.0, 0.0)
        for key, vs in r["_routes"].items()
        for n, v in enumerate(vs, start=1)
    ]
    plan = region_plan.RegionPlan(assignments, {}, {}, regions)
    return region_plan.RegionBook(plan, ctx)


def service_placer(r, raw, monday):
    """`place(visit)` as the dispatch service places one new ticket of a big tenant: the candidate
    regions from the plan's shapes, each region's problem built from the visits planned on its
    technicians (`region_insert.candidates` + `region_insert.place`); the plan kept up to date
    between tickets as the database would be."""
    from services.dispatch import region_insert, region_plan
    from services.dispatch.domain import horizon
    from shared.geo import TravelModel
    from shared.workcal import ChinaCalendar

    visits, techs, status, now = raw
    vby, tby = {v.id: v for v in visits}, {t.id: t for t in techs}
    members, tech_members, sectors = r["_members"]
    shapes = [
        region_insert.RegionShape((tby[ts[0]].lat, tby[ts[0]].lon), tuple(ts), sector)
        for ts, sector in zip(tech_members, sectors)
    ]
    routes = {tuple(key.split("@")): list(vs) for key, vs in r["_routes"].items()}
    days = tuple(horizon(ChinaCalendar.default(), now, 5))
    ctx = region_plan.Context(dict(status), frozenset(), now, days, TravelModel())

    def place(v):
        cands = region_insert.candidates(v, shapes, techs, days, status, set(), ctx.travel)
        owner = {t: c.index for c in cands for t in c.technician_ids}
        region_visits = {}
        for (t, _), ids in routes.items():
            if t in owner:
                region_visits.setdefault(owner[t], []).extend(vby[i] for i in ids)
        placed = region_insert.place(v, cands, region_visits, routes, ctx)
        if placed is None:
            return None
        vby[v.id] = v
        routes[placed.vehicle] = [a.visit_id for a in sorted(placed.assignments, key=lambda a: a.order)]
        return placed.insertion

    return place
