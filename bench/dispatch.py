"""Dispatch benchmark: the 300 sample requests replayed through intake + dispatch over 5 working days.

    .venv/bin/python bench/dispatch.py [--time-limit 2] [--out bench/out/dispatch.json]
    fsm bench dispatch [...]             (the same, from the operator CLI)

One process, eventlet monkey-patched first: intake and dispatch run in a nameko ServiceRunner
against the local broker (a vhost of our own, recreated through the management API) and SQLite
files in a temp dir; the driver talks to them over nameko RPC. Everything reads the one
process-wide clock (`shared.clock`), which the driver moves through simulated time.

The replay:
- the 108 technicians of `shared/data/technicians.csv` are imported (`dispatch.import_technicians`);
- the 300 requests of `data/service_requests_sample.csv`, sorted by their `received_at`, are
  compressed into the 08:00-18:00 hours of 5 consecutive working days (order and relative
  spacing kept; the first full Mon-Fri week after today without a holiday), each registered with
  `received_at` = its simulated arrival and no `wished_visit_at`;
- re-optimisation (`dispatch.reoptimise`) per tenant at the top of every simulated hour in which
  the tenant got new tickets, and every working morning at 07:30 for tenants with open visits;
- execution: each technician works through its scheduled visits in planned order. A visit is
  checked in (`dispatch.check_in`, HQ principal, position = the visit) at max(planned arrival,
  the moment the technician can physically get there from where it is), checked out after the
  visit's service minutes. The SLA is judged on that check-in (`onsite_on_time`).

The greedy baseline runs on the same visits (same arrival times, due times, service minutes,
technicians, eligibility and travel model): when a visit arrives it goes to the nearest eligible
technicians (the nearest outlet's group; next group if none can take it within the horizon) and,
among them, to the earliest free slot (appended after the technician's last job of that day,
leaving at max(arrival, free), back home within the shift, daily capacity respected).

"Could be on time" (the denominator of the floor): a visit counts if at least one eligible
technician-day (working day on or after the arrival, within the planning horizon) can leave home at
max(shift start, arrival), reach the site by the due time and be back home by the shift's end,
ignoring every other visit. It is an optimistic bound: no plan can serve the others on time.

Travel km: per technician-day, home -> visits in executed order -> home, road km (haversine x
detour factor, the planner's own travel model), for both.
"""

import sys

if __name__ == "__main__":  # services run in this process: eventlet first
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import defaultdict  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from datetime import time as dtime
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared.events import ONSITE_KINDS, TIERS  # noqa: E402

REQUESTS = REPO / "data" / "service_requests_sample.csv"
TECHNICIANS = REPO / "shared" / "data" / "technicians.csv"
DAY_START, DAY_END = dtime(8, 0), dtime(18, 0)  # the compressed arrivals fall in these hours
MORNING = dtime(7, 30)


def _print(*a):
    print(*a, file=sys.stderr, flush=True)


def prepare_vhost(amqp_uri, vhost):
    from urllib.parse import quote, urlparse

    import requests

    parts = urlparse(amqp_uri)
    api = f"http://{parts.hostname}:15672/api"
    auth = (parts.username or "guest", parts.password or "guest")
    requests.delete(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=30)
    requests.put(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=30).raise_for_status()
    requests.put(
        f"{api}/permissions/{quote(vhost, safe='')}/{auth[0]}",
        auth=auth,
        timeout=30,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    return f"{parts.scheme}://{parts.netloc}/{vhost}", (api, auth, vhost)


def drop_vhost(handle):
    from urllib.parse import quote

    import requests

    api, auth, vhost = handle
    try:
        requests.delete(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=30)
    except Exception:
        pass


def percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def parse_dt(s):
    if s is None:
        return None
    if isinstance(s, datetime):
        return s
    d = datetime.fromisoformat(s)
    return d if d.tzinfo else d.replace(tzinfo=UTC)


# ---------------------------------------------------------------- calendar and arrivals


def pick_week(calendar, today=None):
    """Monday of the first week after `today` whose Mon-Fri are all working days."""
    d = today or date.today()
    d += timedelta(days=(7 - d.weekday()) % 7 or 7)
    for _ in range(60):
        if all(calendar.is_workday(d + timedelta(days=i)) for i in range(5)):
            return d
        d += timedelta(days=7)
    raise RuntimeError("no full working week found")


def compress_arrivals(rows, days, tz):
    """Map each row's received_at onto the 08:00-18:00 hours of `days`, keeping order and spacing."""
    stamped = sorted(((parse_dt(r["received_at"]), r["request_id"], r) for r in rows), key=lambda x: (x[0], x[1]))
    t0, t1 = stamped[0][0], stamped[-1][0]
    span = (t1 - t0).total_seconds() or 1.0
    per_day = (datetime.combine(days[0], DAY_END) - datetime.combine(days[0], DAY_START)).total_seconds()
    total = per_day * len(days)
    out = []
    for when, _, row in stamped:
        pos = (when - t0).total_seconds() / span * total * 0.9999
        k, secs = int(pos // per_day), pos % per_day
        local = datetime.combine(days[k], DAY_START, tz) + timedelta(seconds=int(secs))
        out.append((local.astimezone(UTC), row))
    return out


# ---------------------------------------------------------------- travel


class Travel:
    """The planner's travel model (domain.travel_matrices) for single pairs, cached."""

    def __init__(self, model):
        from shared.geo import TravelModel

        self.model = model if isinstance(model, TravelModel) else TravelModel()
        self._cache = {}

    def __call__(self, a, b):
        """(road km, minutes) from a to b; (lat, lon) tuples."""
        key = (a, b)
        hit = self._cache.get(key)
        if hit is None:
            from services.dispatch.travel import travel_matrices

            km, mins = travel_matrices([a, b], self.model)
            hit = self._cache[key] = (float(km[0, 1]), float(mins[0, 1]))
        return hit


def route_km(travel, home, stops):
    if not stops:
        return 0.0
    pts = [home] + list(stops) + [home]
    return sum(travel(a, b)[0] for a, b in zip(pts, pts[1:]))


# ---------------------------------------------------------------- technicians and eligibility


def load_technicians(path=TECHNICIANS):
    from services.dispatch import domain
    from services.dispatch.schemas import technician_row_to_payload

    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    payloads = [technician_row_to_payload(r) for r in rows]
    views = []
    for p in payloads:
        views.append(
            domain.TechView(
                id=p["id"],
                tenant_id=p["tenant_id"],
                outlet_id=p.get("outlet_id"),
                skills=tuple(p["skills"]),
                certificates={k: date.fromisoformat(v) for k, v in p.get("certificates", {}).items()},
                lat=float(p["home_lat"]),
                lon=float(p["home_lon"]),
                capacity=int(p.get("daily_capacity", 4)),
                shift_start=domain.parse_hhmm(p.get("shift_start", "08:30")),
                shift_end=domain.parse_hhmm(p.get("shift_end", "18:00")),
            )
        )
    return payloads, views


def visit_view(v):
    from services.dispatch import domain

    return domain.VisitView(
        id=v["id"],
        product_line=v["product_line"],
        kind=v["kind"],
        priority=v["priority"],
        lat=v["lat"],
        lon=v["lon"],
        due=v["due"],
        window_start=None,
        service_minutes=v["service_minutes"],
    )


def shift_bounds(tech, day, tz):
    return (
        datetime.combine(day, tech.shift_start, tz).astimezone(UTC),
        datetime.combine(day, tech.shift_end, tz).astimezone(UTC),
    )


def could_be_on_time(v, techs, outlet_status, calendar, travel, horizon_days, tz):
    """At least one eligible technician-day reaches the site by the due time and gets home in the shift."""
    from services.dispatch import domain

    if v["due"] is None:
        return True
    view = visit_view(v)
    days = domain.horizon(calendar, v["received"], horizon_days)
    for tech in techs:
        if tech.tenant_id != v["tenant_id"]:
            continue
        km, mins = travel((tech.lat, tech.lon), (v["lat"], v["lon"]))
        for d in days:
            if domain.eligible(tech, view, d, outlet_status, set()) is not None:
                continue
            s, e = shift_bounds(tech, d, tz)
            arrive = max(s, v["received"]) + timedelta(minutes=mins)
            if arrive > v["due"]:
                break  # later days only arrive later
            if arrive + timedelta(minutes=v["service_minutes"] + mins) <= e:
                return True
    return False


# ---------------------------------------------------------------- greedy baseline


def greedy(visits, techs, outlet_status, calendar, travel, horizon_days, tz, probation_max=5):
    """Nearest eligible technician, earliest free slot; visits in arrival order, assigned on arrival."""
    from services.dispatch import domain

    days_of = {}  # (tech id, day) -> {"n", "free", "pos", "stops": [(visit id, arrive, depart)]}
    by_tenant = defaultdict(list)
    for t in techs:
        by_tenant[t.tenant_id].append(t)
    out = {}
    outlet_jobs = defaultdict(list)  # probation outlets: departures of jobs taken
    for v in sorted(visits, key=lambda x: x["received"]):
        view = visit_view(v)
        here = (v["lat"], v["lon"])
        days = domain.horizon(calendar, v["received"], horizon_days)
        probation_full = {
            o
            for o, st in outlet_status.items()
            if st == "probation" and sum(1 for dep in outlet_jobs[o] if dep > v["received"]) >= probation_max
        }
        cands = []
        for tech in by_tenant[v["tenant_id"]]:
            if any(domain.eligible(tech, view, d, outlet_status, probation_full) is None for d in days):
                cands.append((round(travel((tech.lat, tech.lon), here)[0], 0), tech))
        cands.sort(key=lambda x: (x[0], x[1].id))
        groups = defaultdict(list)
        for km, tech in cands:
            groups[km].append(tech)
        best = None
        for km in sorted(groups):
            for tech in groups[km]:
                for d in days:
                    if domain.eligible(tech, view, d, outlet_status, probation_full) is not None:
                        continue
                    s, e = shift_bounds(tech, d, tz)
                    st = days_of.get((tech.id, d)) or {"n": 0, "free": s, "pos": (tech.lat, tech.lon), "stops": []}
                    if st["n"] >= tech.capacity or e <= v["received"]:
                        continue
                    leave = max(st["free"], v["received"], s)
                    arrive = leave + timedelta(minutes=travel(st["pos"], here)[1])
                    back = travel(here, (tech.lat, tech.lon))[1]
                    if arrive + timedelta(minutes=v["service_minutes"] + back) > e:
                        continue
                    if best is None or arrive < best[0]:
                        best = (arrive, tech, d, st)
                    break  # the earliest day that fits is this technician's earliest slot
            if best is not None:
                break
        if best is None:
            out[v["id"]] = None
            continue
        arrive, tech, d, st = best
        depart = arrive + timedelta(minutes=v["service_minutes"])
        st["n"] += 1
        st["free"], st["pos"] = depart, here
        st["stops"].append((v["id"], arrive, depart))
        days_of[(tech.id, d)] = st
        if tech.outlet_id and outlet_status.get(tech.outlet_id) == "probation":
            outlet_jobs[tech.outlet_id].append(depart)
        out[v["id"]] = (tech.id, d, arrive)
    tech_by_id = {t.id: t for t in techs}
    km = sum(
        route_km(
            travel,
            (tech_by_id[tid].lat, tech_by_id[tid].lon),
            [next((vv["lat"], vv["lon"]) for vv in visits if vv["id"] == s[0]) for s in st["stops"]],
        )
        for (tid, _), st in days_of.items()
    )
    return out, km


def _tenant_problems(visits, techs, outlet_status, calendar, travel_model, tz, horizon_days):
    """Per tenant: the week's routing problem with every visit known from the start (its window
    opens when it is received), and each visit's due time in the problem's minutes."""
    from dataclasses import replace

    from services.dispatch import domain

    by_tenant = defaultdict(list)
    for v in visits:
        by_tenant[v["tenant_id"]].append(v)
    for tenant, vs in sorted(by_tenant.items()):
        start = min(v["received"] for v in vs)
        now = datetime.combine(start.astimezone(tz).date(), dtime(0, 0), tz).astimezone(UTC)
        views = [replace(visit_view(v), window_start=v["received"]) for v in vs]
        tt = [t for t in techs if t.tenant_id == tenant]
        inp = domain.build_problem(views, tt, outlet_status, set(), now, calendar, travel_model, horizon_days)
        yield tenant, vs, inp.problem, domain.due_minutes(inp)


def _set_windows(problem, dues, hard):
    """Every visit must be served if it can be (equal drop penalties); `hard(i)`: its due time is
    the hard end of its window, else it has none (no SLA at all in the objective)."""
    from services.dispatch import domain

    for i, (rv, d) in enumerate(zip(problem.visits, dues)):
        lo = min(a for a, _ in rv.windows)
        rv.windows = ((lo, d if d is not None and hard(i) else math.inf),)
        rv.drop_penalty = domain.DROP_PENALTY_KM
        rv.deadline, rv.deadline_hard, rv.lateness_penalty = None, True, 0.0


def offline_bound(visits, techs, outlet_status, calendar, travel_model, tz, seconds=20.0, horizon_days=10, log=None):
    """Clairvoyant bounds, per tenant with every visit of the week known from the start.

    1. On time: one OR-Tools solve maximising the number on time (hard due times, equal drop
       penalties). The visits on time in that plan are a set that one plan serves on time
       together -- a stricter denominator than `could_be_on_time` (each visit alone).
    2. Travel with that many on time: the same visits' due times hard, every other visit served
       without a due time, minimum km. What a plan serving the on-time set on time (and the
       rest whenever) travels.
    3. Travel with no SLA at all: every visit served whenever within the horizon, minimum km.
       No plan serving the same visits travels less, whatever its on-time share.
    Returns ({visit id: True if on time in plan 1}, {"on_time_km", "served", "no_sla_km",
    "no_sla_served"})."""
    from services.dispatch.routing import solve

    out = {}
    km = {"on_time_km": 0.0, "served": 0, "no_sla_km": 0.0, "no_sla_served": 0}
    for tenant, vs, problem, dues in _tenant_problems(
        visits, techs, outlet_status, calendar, travel_model, tz, horizon_days
    ):
        if not problem.visits:
            out.update({v["id"]: False for v in vs})
            continue
        _set_windows(problem, dues, lambda i: True)  # on time or not at all: what one plan does together
        plan = solve(problem, seconds, workers=2)
        on = {
            st.visit
            for r in plan.routes
            for st in r.stops
            if dues[st.visit] is None or st.arrival <= dues[st.visit] + 1e-6
        }
        on_ids = {problem.visits[i].id for i in on}
        out.update({v["id"]: v["id"] in on_ids for v in vs})
        _set_windows(problem, dues, lambda i, on=on: i in on)
        plan2 = solve(problem, seconds, workers=2)
        _set_windows(problem, dues, lambda i: False)
        plan3 = solve(problem, seconds, workers=2)
        km["on_time_km"] += plan2.distance
        km["served"] += sum(len(r.stops) for r in plan2.routes)
        km["no_sla_km"] += plan3.distance
        km["no_sla_served"] += sum(len(r.stops) for r in plan3.routes)
        if log:
            log(
                f"  offline bound {tenant}: {len(on)}/{len(vs)} on time together; {plan2.distance:,.0f} km serving "
                f"{sum(len(r.stops) for r in plan2.routes)} with those on time; {plan3.distance:,.0f} km with no SLA"
            )
    return out, km


# ---------------------------------------------------------------- metrics


def summarise(visits, checkin, could, km):
    """checkin: visit id -> check-in datetime (None: never served)."""
    by_tier = {}
    for tier in TIERS + ("all",):
        vs = [v for v in visits if tier == "all" or v["tier"] == tier]
        cv = [v for v in vs if could[v["id"]]]
        on = [v for v in cv if checkin.get(v["id"]) is not None and (v["due"] is None or checkin[v["id"]] <= v["due"])]
        on_all = [
            v for v in vs if checkin.get(v["id"]) is not None and (v["due"] is None or checkin[v["id"]] <= v["due"])
        ]
        by_tier[tier] = {
            "visits": len(vs),
            "could_be_on_time": len(cv),
            "on_time": len(on),
            "on_time_share": round(len(on) / len(cv), 4) if cv else None,
            "on_time_share_of_all": round(len(on_all) / len(vs), 4) if vs else None,
            "served": sum(1 for v in vs if checkin.get(v["id"]) is not None),
        }
    return {"by_tier": by_tier, "travel_km": round(km, 1)}


# ---------------------------------------------------------------- the replay


def run_bench(
    time_limit=2.0,
    amqp_uri="amqp://guest:guest@127.0.0.1:5672/",
    vhost="fsm-bench-dispatch",
    requests_csv=REQUESTS,
    out=None,
    horizon_days=6,
    freeze_minutes=120,
    workers=2,
    max_days=12,
    log=_print,
    bound_seconds=20.0,
    target_hours=4.0,
    batch_minutes=1.0,
    target_slack_share=0.0,
    frontier=None,
    target_min_slack_hours=0.0,
    target_day_end=False,
    target_km_per_hour=60.0,
):
    import eventlet
    from nameko.runners import ServiceRunner
    from nameko.standalone.rpc import ServiceRpcProxy

    from services.dispatch import domain
    from services.dispatch.service import DispatchService
    from services.intake.schemas import csv_row_to_payload
    from services.intake.service import IntakeService
    from shared import clock
    from shared.config import load_config
    from shared.geo import TravelModel
    from shared.tenancy import Principal
    from shared.tenants import TenantDirectory
    from shared.workcal import ChinaCalendar

    tz = domain.LOCAL_TZ
    wall0 = time.monotonic()
    calendar = ChinaCalendar.default()
    monday = pick_week(calendar, clock.now().astimezone(tz).date())
    days = [monday + timedelta(days=i) for i in range(5)]
    with open(requests_csv, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    arrivals = compress_arrivals(rows, days, tz)
    tech_payloads, techs = load_technicians()

    uri, vh = prepare_vhost(amqp_uri, vhost)
    tmp = tempfile.mkdtemp(prefix="fsm-bench-dispatch-")
    config = load_config(
        AMQP_URI=uri,
        DATABASES={"intake": f"sqlite:///{tmp}/intake.db", "dispatch": f"sqlite:///{tmp}/dispatch.db"},
        HTTP_PORTS={"intake": 0, "dispatch": 0},
        HTTP_HOST="127.0.0.1",
        AUTH_SECRET=uuid.uuid4().hex * 2,
        OUTBOX_POLL_SECONDS=0.1,
        SLA_CHECK_SECONDS=3600,
        DISPATCH_TIME_LIMIT=float(time_limit),
        DISPATCH_WORKERS=int(workers),
        DISPATCH_BATCH_SECONDS=1e9,
        DISPATCH_REOPT_SECONDS=1e9,  # the driver triggers every solve
        DISPATCH_HORIZON_DAYS=int(horizon_days),
        DISPATCH_FREEZE_MINUTES=float(freeze_minutes),
        DISPATCH_TARGET_HOURS=float(target_hours),
        DISPATCH_TARGET_SLACK_SHARE=float(target_slack_share),
        DISPATCH_TARGET_MIN_SLACK_HOURS=float(target_min_slack_hours),
        DISPATCH_TARGET_DAY_END=bool(target_day_end),
        DISPATCH_TARGET_KM_PER_HOUR=float(target_km_per_hour),
        LOGGING={"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}},
    )
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    directory = TenantDirectory.from_config(config)
    outlet_status = {o.id: o.status for o in directory.outlets.values()}
    travel = Travel(TravelModel.from_config(config.get("TRAVEL_MODEL") or {}))
    tech_by_id = {t.id: t for t in techs}

    log(
        f"bench dispatch: week of {monday} ({', '.join(d.strftime('%a %d') for d in days)}), {len(arrivals)} requests, "
        f"{len(techs)} technicians, solve limit {time_limit}s x {workers} workers, data in {tmp}"
    )
    runner = ServiceRunner(config)
    runner.add_service(IntakeService)
    runner.add_service(DispatchService)
    hq = Principal("bench-dispatch", "hq")
    ctx = {"principal": hq.encode()}
    solves = []  # per re-optimisation: dict
    registered = {}  # ticket id -> register result
    rpc_errors = []
    try:
        clock.travel_to(arrivals[0][0] - timedelta(hours=2))
        runner.start()
        with (
            ServiceRpcProxy("intake", config, context_data=ctx, timeout=120) as intake,
            ServiceRpcProxy("dispatch", config, context_data=ctx, timeout=300) as dispatch,
        ):
            res = dispatch.import_technicians(tech_payloads)
            bad = [r for r in res if not r["ok"]]
            if bad:
                raise RuntimeError(f"technician import failed: {bad[:3]}")
            log(f"  imported {len(res)} technicians")

            def board():
                return dispatch.board({"limit": 1000})["items"]

            expected_visits = [0]

            def wait_visits(timeout=30.0):
                end = time.monotonic() + timeout
                while time.monotonic() < end:
                    items = board()
                    if len(items) >= expected_visits[0]:
                        return items
                    eventlet.sleep(0.05)
                log(f"  warning: {expected_visits[0] - len(items)} visits missing after {timeout}s")
                return items

            # execution state per technician
            state = {}  # tech id -> {"day", "pos", "free", "busy": (visit id, checkout at) | None}
            executed = defaultdict(list)  # (tech id, day) -> [(lat, lon)] in check-in order
            checkins = {}

            def tech_state(tid, day):
                tech = tech_by_id[tid]
                st = state.get(tid)
                if st is None or st["day"] != day:
                    s, _ = shift_bounds(tech, day, tz)
                    st = state[tid] = {"day": day, "pos": (tech.lat, tech.lon), "free": s, "busy": None}
                return st

            def next_exec(items):
                """Earliest execution event: ("out", t, visit) or ("in", t, visit)."""
                best = None
                started = {v["technician_id"]: v for v in items if v["status"] == "started"}
                for st in state.values():
                    if st["busy"] is not None:
                        ev = ("out", st["busy"][1], st["busy"][0])
                        if best is None or ev[1] < best[1]:
                            best = ev
                per_tech = defaultdict(list)
                for v in items:
                    if v["status"] == "scheduled" and v["planned_arrival"]:
                        per_tech[v["technician_id"]].append(v)
                for tid, vs in per_tech.items():
                    if tid in started or (tid in state and state[tid]["busy"] is not None):
                        continue
                    v = min(vs, key=lambda x: (parse_dt(x["planned_arrival"]), x["route_order"] or 0))
                    planned = parse_dt(v["planned_arrival"])
                    st = tech_state(tid, planned.astimezone(tz).date())
                    reach = st["free"] + timedelta(minutes=travel(st["pos"], (v["lat"], v["lon"]))[1])
                    t = max(planned, reach)
                    if best is None or t < best[1]:
                        best = ("in", t, v)
                return best

            def first_visits(items):
                """Each technician's next scheduled visit, unless on site or busy."""
                started = {v["technician_id"] for v in items if v["status"] == "started"}
                per_tech = defaultdict(list)
                for v in items:
                    if v["status"] == "scheduled" and v["planned_arrival"]:
                        per_tech[v["technician_id"]].append(v)
                return {
                    tid: min(vs, key=lambda x: (parse_dt(x["planned_arrival"]), x["route_order"] or 0))
                    for tid, vs in per_tech.items()
                    if tid not in started and not (tid in state and state[tid]["busy"] is not None)
                }

            def on_the_road(items, now):
                """Technicians driving to their next visit at `now`: tech id -> (visit id, from, to, arrival)."""
                out = {}
                for tid, v in first_visits(items).items():
                    planned = parse_dt(v["planned_arrival"])
                    st = tech_state(tid, planned.astimezone(tz).date())
                    to = (v["lat"], v["lon"])
                    mins = travel(st["pos"], to)[1]
                    arrive = max(planned, st["free"] + timedelta(minutes=mins))
                    if arrive - timedelta(minutes=mins) < now:
                        out[tid] = (v["id"], st["pos"], to, arrive)
                return out

            def redirected(before, items, now):
                """A technician whose next visit changed while driving stops where the car is: the
                km driven so far count (a stop at that point), and the next drive starts there."""
                after = first_visits(items)
                for tid, (vid, frm, to, arrive) in before.items():
                    nxt = after.get(tid)
                    if nxt is not None and nxt["id"] == vid:
                        continue
                    at = domain.en_route_point(frm, to, arrive, now, travel.model)
                    st = state[tid]
                    executed[(tid, st["day"])].append(tuple(at))
                    st["pos"], st["free"] = tuple(at), now
                    redirects.append(
                        {
                            "technician_id": tid,
                            "from_visit": vid,
                            "at": now.isoformat(),
                            "to_visit": nxt["id"] if nxt is not None else None,
                        }
                    )

            redirects = []
            i_arr = 0
            pending = set()  # tenants with new tickets since their last solve
            reopt_at = None
            last_morning = None
            idle_mornings = 0  # morning re-plans with nothing scheduled and no arrivals left
            cap = datetime.combine(days[-1] + timedelta(days=max_days - 4), DAY_END, tz).astimezone(UTC)
            items = []
            n_events = 0
            last_log = time.monotonic()
            while True:
                items = board()
                open_tenants = {
                    v["tenant_id"] for v in items if v["status"] in ("unplanned", "scheduled", "unassignable")
                }
                now = clock.now()
                # next working-day morning re-plan
                d = now.astimezone(tz).date()
                morning = None
                for k in range(10):
                    dd = d + timedelta(days=k)
                    m = datetime.combine(dd, MORNING, tz).astimezone(UTC)
                    if calendar.is_workday(dd) and m > now and dd != last_morning:
                        morning = (m, dd)
                        break
                cands = []
                ex = next_exec(items)
                if ex is not None:
                    cands.append((ex[1], 0 if ex[0] == "out" else 1, ex))
                if i_arr < len(arrivals):
                    cands.append((arrivals[i_arr][0], 2, ("arrive",)))
                if pending:
                    cands.append((reopt_at, 3, ("reopt",)))
                if morning is not None and open_tenants and idle_mornings < 2:
                    cands.append((morning[0], 4, ("morning", morning[1])))
                busy = any(st["busy"] for st in state.values())
                if not cands or (min(cands, key=lambda c: (c[0], c[1]))[0] > cap and not busy):
                    break
                t, _, ev = min(cands, key=lambda c: (c[0], c[1]))
                if t > clock.now():
                    clock.travel_to(t)
                n_events += 1
                if ev[0] == "out":
                    vid, at = ev[2], ev[1]
                    v = next(x for x in items if x["id"] == vid)
                    dispatch.check_out(vid, {"at": at.isoformat(), "work_done": "bench", "customer_confirmed": True})
                    st = state[v["technician_id"]]
                    st["busy"], st["free"], st["pos"] = None, at, (v["lat"], v["lon"])
                elif ev[0] == "in":
                    v, at = ev[2], ev[1]
                    tid = v["technician_id"]
                    day = parse_dt(v["planned_arrival"]).astimezone(tz).date()
                    try:
                        dispatch.check_in(
                            v["id"], {"at": at.isoformat(), "lat": v["lat"], "lon": v["lon"], "technician_id": tid}
                        )
                    except Exception as exc:  # report, keep going
                        rpc_errors.append(f"check_in {v['id']}: {exc!r}")
                        continue
                    checkins[v["id"]] = at
                    executed[(tid, day)].append((v["lat"], v["lon"]))
                    st = tech_state(tid, day)
                    st["busy"] = (v["id"], at + timedelta(minutes=v["service_minutes"]))
                elif ev[0] == "arrive":
                    at, row = arrivals[i_arr]
                    i_arr += 1
                    payload = csv_row_to_payload(row)
                    payload.pop("wished_visit_at", None)
                    payload["received_at"] = at.isoformat()
                    r = intake.register_ticket(payload)
                    registered[r["id"]] = r
                    if r.get("status") != "triage" and r["kind"] in ONSITE_KINDS:
                        expected_visits[0] += 1
                        pending.add(r["tenant_id"])
                        if reopt_at is None:
                            if batch_minutes >= 60:  # at the top of the next hour
                                nxt = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
                            else:  # as the service batches new tickets (DISPATCH_BATCH_SECONDS)
                                nxt = at + timedelta(minutes=batch_minutes)
                            reopt_at = nxt
                elif ev[0] in ("reopt", "morning"):
                    tenants = sorted(pending) if ev[0] == "reopt" else sorted(open_tenants | pending)
                    if ev[0] == "morning":
                        last_morning = ev[1]
                        if ex is None and i_arr >= len(arrivals):
                            idle_mornings += 1
                    driving = on_the_road(wait_visits(), clock.now())
                    for tenant in tenants:
                        t1 = time.monotonic()
                        r = dispatch.reoptimise(tenant)
                        wall = time.monotonic() - t1
                        if r.get("visits"):
                            solves.append(
                                {
                                    "tenant": tenant,
                                    "trigger": ev[0],
                                    "at": clock.now().isoformat(),
                                    "rpc_s": round(wall, 3),
                                    "service_s": r.get("seconds"),
                                    "visits": r.get("visits"),
                                    "scheduled": r.get("scheduled"),
                                    "unassignable": r.get("unassignable"),
                                    "late": r.get("late"),
                                }
                            )
                    redirected(driving, board(), clock.now())
                    pending.clear()
                    reopt_at = None
                if time.monotonic() - last_log > 10:
                    last_log = time.monotonic()
                    log(
                        f"  sim {clock.now().astimezone(tz):%a %d %H:%M}  arrivals {i_arr}/{len(arrivals)}  "
                        f"solves {len(solves)}  checked in {len(checkins)}  wall {time.monotonic() - wall0:.0f}s"
                    )
            items = board()
        sim_end = clock.now()
    finally:
        runner.stop()
        clock.reset()
        drop_vhost(vh)

    # ------------------------------------------------------------ figures
    visits = []
    for v in items:
        if v["lat"] is None:
            continue
        visits.append(
            {
                "id": v["id"],
                "tenant_id": v["tenant_id"],
                "tier": v["tier"],
                "kind": v["kind"],
                "priority": v["priority"],
                "product_line": v["product_line"],
                "lat": v["lat"],
                "lon": v["lon"],
                "received": parse_dt(v["received_at"]),
                "due": parse_dt(v["onsite_due"]),
                "service_minutes": v["service_minutes"],
                "status": v["status"],
                "started_at": parse_dt(v["started_at"]),
                "onsite_on_time": v["onsite_on_time"],
            }
        )
    could = {v["id"]: could_be_on_time(v, techs, outlet_status, calendar, travel, horizon_days, tz) for v in visits}
    svc_checkin = {v["id"]: v["started_at"] for v in visits}
    # consistency: the service's own onsite_on_time flag agrees with our reading of the check-in
    mismatch = sum(
        1
        for v in visits
        if v["started_at"] is not None
        and v["due"] is not None
        and bool(v["onsite_on_time"]) != (v["started_at"] <= v["due"])
    )
    svc_km = sum(
        route_km(travel, (tech_by_id[tid].lat, tech_by_id[tid].lon), stops) for (tid, _), stops in executed.items()
    )
    product = summarise(visits, svc_checkin, could, svc_km)
    g_assign, g_km = greedy(visits, techs, outlet_status, calendar, travel, horizon_days, tz)
    g_checkin = {k: (v[2] if v else None) for k, v in g_assign.items()}
    baseline = summarise(visits, g_checkin, could, g_km)
    clairvoyant = None
    if bound_seconds:
        log(f"  clairvoyant bounds: three {bound_seconds:.0f} s solves per tenant with the whole week known ...")
        bound, bound_km = offline_bound(
            visits, techs, outlet_status, calendar, travel.model, tz, seconds=bound_seconds, log=log
        )
        pb = summarise(visits, svc_checkin, bound, svc_km)["by_tier"]["all"]
        gb = summarise(visits, g_checkin, bound, g_km)["by_tier"]["all"]
        clairvoyant = {
            "on_time_together": sum(bound.values()),
            "solve_s": bound_seconds,
            "product_on_time_among": pb["on_time"],
            "product_share": pb["on_time_share"],
            "greedy_on_time_among": gb["on_time"],
            "greedy_share": gb["on_time_share"],
            "travel_km_with_those_on_time": round(bound_km["on_time_km"], 1),
            "served_with_those_on_time": bound_km["served"],
            "travel_km_no_sla": round(bound_km["no_sla_km"], 1),
            "served_no_sla": bound_km["no_sla_served"],
            "saving_vs_greedy_with_those_on_time": round(1 - bound_km["on_time_km"] / g_km, 4) if g_km else None,
            "saving_vs_greedy_no_sla": round(1 - bound_km["no_sla_km"] / g_km, 4) if g_km else None,
        }
    versus = None
    if frontier:  # the clairvoyant plans of bench/dispatch_budget.py runs (their --out, pooled)
        from bench.dispatch_budget import load_curves, versus_clairvoyant

        everything = product["by_tier"]["all"]
        curves, _, _ = load_curves(frontier.split(","))
        late = everything["could_be_on_time"] - everything["on_time"]
        versus = dict(versus_clairvoyant(product["travel_km"], late, curves, baseline["travel_km"]), source=frontier)
    secs = [s["rpc_s"] for s in solves]
    result = {
        "week": [d.isoformat() for d in days],
        "requests": len(arrivals),
        "tickets": len(registered),
        "triage": sum(1 for r in registered.values() if r.get("status") == "triage"),
        "onsite_visits": len(visits),
        "technicians": len(techs),
        "solve_time_limit_s": time_limit,
        "workers": workers,
        "horizon_days": horizon_days,
        "freeze_minutes": freeze_minutes,
        "simulated_until": sim_end.astimezone(tz).isoformat(),
        "reoptimisations": len(solves),
        "solve_s": {
            "mean": round(statistics.mean(secs), 3) if secs else None,
            "p95": round(percentile(secs, 95), 3) if secs else None,
            "max": round(max(secs), 3) if secs else None,
        },
        "solve_visits": {
            "mean": round(statistics.mean(s["visits"] for s in solves), 1) if solves else None,
            "max": max((s["visits"] for s in solves), default=None),
        },
        "product": product,
        "greedy": baseline,
        "clairvoyant": clairvoyant,
        "travel_vs_clairvoyant_same_late": versus,
        "travel_saving_vs_greedy": round(1 - product["travel_km"] / baseline["travel_km"], 4)
        if baseline["travel_km"]
        else None,
        "left_open": {
            s: sum(1 for v in visits if v["status"] == s) for s in ("unplanned", "scheduled", "unassignable")
        },
        "onsite_flag_mismatches": mismatch,
        "rpc_errors": rpc_errors[:20],
        "rpc_error_count": len(rpc_errors),
        "redirects": redirects,
        "wall_s": round(time.monotonic() - wall0, 1),
        "solves": solves,
        # per visit, to diagnose where the product and greedy differ
        "visits": [
            {
                "id": v["id"],
                "tenant": v["tenant_id"],
                "tier": v["tier"],
                "priority": v["priority"],
                "kind": v["kind"],
                "service_minutes": v["service_minutes"],
                "product_line": v["product_line"],
                "lat": v["lat"],
                "lon": v["lon"],
                "received": v["received"].isoformat(),
                "due": v["due"].isoformat() if v["due"] else None,
                "could": could[v["id"]],
                "status": v["status"],
                "checkin": v["started_at"].isoformat() if v["started_at"] else None,
                "technician": next((x["technician_id"] for x in items if x["id"] == v["id"]), None),
                "greedy": (
                    {"technician": g_assign[v["id"]][0], "arrival": g_assign[v["id"]][2].isoformat()}
                    if g_assign.get(v["id"])
                    else None
                ),
            }
            for v in visits
        ],
    }
    floor_on_time = product["by_tier"]["all"]["on_time_share"]
    result["floor"] = {
        "on_time_ge_98pct": floor_on_time is not None and floor_on_time >= 0.98,
        "travel_le_85pct_of_greedy": result["travel_saving_vs_greedy"] is not None
        and result["travel_saving_vs_greedy"] >= 0.15,
    }
    print(table(result), flush=True)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def table(r):
    lines = [
        f"dispatch bench: {r['onsite_visits']} on-site visits of {r['requests']} requests "
        f"({r['triage']} in triage), week {r['week'][0]}..{r['week'][-1]}, {r['technicians']} technicians",
        f"{'':22s}{'product':>24s}{'greedy':>24s}",
    ]
    for tier in TIERS + ("all",):
        p, g = r["product"]["by_tier"][tier], r["greedy"]["by_tier"][tier]

        def cell(x):
            share = "n/a" if x["on_time_share"] is None else f"{100 * x['on_time_share']:.1f}%"
            return f"{share} ({x['on_time']}/{x['could_be_on_time']})"

        lines.append(f"on time {tier:14s}{cell(p):>24s}{cell(g):>24s}   visits {p['visits']}")
    lines.append(
        f"{'on time, all visits':22s}{100 * r['product']['by_tier']['all']['on_time_share_of_all']:>23.1f}%"
        f"{100 * r['greedy']['by_tier']['all']['on_time_share_of_all']:>23.1f}%"
    )
    lines.append(
        f"{'served':22s}{r['product']['by_tier']['all']['served']:>24d}{r['greedy']['by_tier']['all']['served']:>24d}"
    )
    lines.append(
        f"{'travel km':22s}{r['product']['travel_km']:>24.1f}{r['greedy']['travel_km']:>24.1f}"
        f"   saving {100 * (r['travel_saving_vs_greedy'] or 0):.1f}%"
    )
    s = r["solve_s"]
    lines.append(
        f"re-optimisations {r['reoptimisations']}: solve s mean {s['mean']} p95 {s['p95']} max {s['max']} "
        f"(limit {r['solve_time_limit_s']} s; visits per solve mean {r['solve_visits']['mean']}, "
        f"max {r['solve_visits']['max']})"
    )
    c = r.get("clairvoyant")
    if c:
        lines.append(
            f"clairvoyant bound (whole week known, {c['solve_s']:.0f} s per solve): "
            f"{c['on_time_together']} visits on time together; product on time among them "
            f"{c['product_on_time_among']} ({100 * (c['product_share'] or 0):.1f}%), greedy "
            f"{c['greedy_on_time_among']} ({100 * (c['greedy_share'] or 0):.1f}%)"
        )
        lines.append(
            f"clairvoyant travel: {c['travel_km_with_those_on_time']:,.1f} km serving "
            f"{c['served_with_those_on_time']} with those on time "
            f"({100 * (c['saving_vs_greedy_with_those_on_time'] or 0):.1f}% less than greedy); "
            f"{c['travel_km_no_sla']:,.1f} km serving {c['served_no_sla']} with no SLA at all "
            f"({100 * (c['saving_vs_greedy_no_sla'] or 0):.1f}% less)"
        )
    v = r.get("travel_vs_clairvoyant_same_late")
    if v:
        clair = (
            "no clairvoyant plan within that many late"
            if v["clairvoyant_km"] is None
            else f"clairvoyant {v['clairvoyant_km']:,.1f} km, product {100 * v['more_than_clairvoyant']:+.1f}%"
        )
        lines.append(
            f"travel at {v['late']} could-be visits late: {clair}; "
            f"vs greedy {v['greedy_km']:,.1f} km: {100 * (v['less_than_greedy'] or 0):.1f}% less"
        )
    lines.append(
        f"floor: on time >= 98% of could-be-on-time: {r['floor']['on_time_ge_98pct']}; "
        f">= 15% less travel than greedy: {r['floor']['travel_le_85pct_of_greedy']}   "
        f"(wall {r['wall_s']} s, rpc errors {r['rpc_error_count']}, left open {r['left_open']}, "
        f"drives redirected {len(r.get('redirects', []))})"
    )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=2.0, help="seconds per re-optimisation (default 2)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--horizon-days", type=int, default=6)
    ap.add_argument("--freeze-minutes", type=float, default=120)
    ap.add_argument("--requests", default=str(REQUESTS))
    ap.add_argument("--amqp-uri", default="amqp://guest:guest@127.0.0.1:5672/")
    ap.add_argument("--vhost", default="fsm-bench-dispatch")
    ap.add_argument("--out", help="write the figures as JSON")
    ap.add_argument(
        "--batch-minutes",
        type=float,
        default=1.0,
        help="re-plan this long after a tenant's first new ticket (60: at the top of the next hour)",
    )
    ap.add_argument(
        "--target-hours",
        type=float,
        default=4.0,
        help="the planner's soft service target after a visit becomes available (DISPATCH_TARGET_HOURS)",
    )
    ap.add_argument(
        "--target-slack-share",
        type=float,
        default=0.0,
        help="the soft target is at least this share of a visit's slack after it came in (DISPATCH_TARGET_SLACK_SHARE)",
    )
    ap.add_argument(
        "--target-min-slack-hours",
        type=float,
        default=0.0,
        help="the slack share applies to visits with at least this much slack (DISPATCH_TARGET_MIN_SLACK_HOURS)",
    )
    ap.add_argument(
        "--target-day-end",
        action="store_true",
        help="the soft target moved to the end of its working day (DISPATCH_TARGET_DAY_END)",
    )
    ap.add_argument(
        "--target-km-per-hour",
        type=float,
        default=60.0,
        help="the price of each hour a visit waits past its soft target, km x priority (DISPATCH_TARGET_KM_PER_HOUR)",
    )
    ap.add_argument(
        "--frontier",
        metavar="FILE.json[,FILE.json]",
        help="bench/dispatch_budget.py --out file(s): report km against the clairvoyant plan with as many "
        "could-be visits late as the product (and against greedy)",
    )
    ap.add_argument(
        "--bound-seconds",
        type=float,
        default=20.0,
        help="solve time of each clairvoyant-bound solve, three per tenant (0: skip them)",
    )
    a = ap.parse_args(argv)
    r = run_bench(
        a.time_limit,
        a.amqp_uri,
        a.vhost,
        a.requests,
        a.out,
        a.horizon_days,
        a.freeze_minutes,
        a.workers,
        bound_seconds=a.bound_seconds,
        target_hours=a.target_hours,
        batch_minutes=a.batch_minutes,
        target_slack_share=a.target_slack_share,
        frontier=a.frontier,
        target_min_slack_hours=a.target_min_slack_hours,
        target_day_end=a.target_day_end,
        target_km_per_hour=a.target_km_per_hour,
    )
    return 0 if all(r["floor"].values()) else 2


if __name__ == "__main__":
    sys.exit(main())
