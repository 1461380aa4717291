"""Where the clairvoyant plan's saving comes from: knowing the future, or waiting for it.

    .venv/bin/python bench/dispatch_foresight.py --from bench/out/dispatch.json [--seconds 20]

Issue 19 point 3 asks the online planner to travel within 8% of the clairvoyant plan (every
visit of the week known from the start). This solves the same clairvoyant problems as
`bench/dispatch_budget.py` (per tenant, `dispatch._tenant_problems`, 10-day horizon, each
visit's window opening when it is received, every could-be visit's due time hard, the others
with none) three times, changing only what waiting costs:

- `free`: waiting costs nothing (the clairvoyant plan that keeps every could-be visit on time);
- `prompt`: each minute a visit waits past 4 h after it came in costs 1 km x its priority
  weight -- the product's own service target (DISPATCH_TARGET_HOURS 4, 60 km an hour);
- `cheap`: the same target at 6 km an hour (`bench/dispatch.py --target-km-per-hour 6`).

All three know the whole week. If `prompt` travels about as much as the product online, knowing
the future is worth little to a planner that serves promptly: the clairvoyant saving comes from
letting a visit wait for another one that has not come in yet. `cheap` shows what a low price
of waiting gains when the future is known (online, the same price gained nothing: the replay's
re-plans see ~6 open visits a tenant). Heuristic plans (OR-Tools, guided local search).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (str(REPO), str(REPO / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

TARGET_MINUTES = 240.0
VARIANTS = {"free": None, "prompt": 60.0, "cheap": 6.0}  # km an hour past the target


def priced(problem, dues, could, received, km_per_hour):
    """The clairvoyant problem with could-be visits' due times hard, the others open-ended, and
    (km_per_hour not None) a soft target 4 h after each visit came in, at that price."""
    from dataclasses import replace

    from services.dispatch import domain
    from services.dispatch.routing_problem import time_scale_for

    visits = []
    for rv, d, c, rec in zip(problem.visits, dues, could, received):
        lo = min(a for a, _ in rv.windows)
        hi = d if (c and d is not None) else math.inf
        soft = dict(deadline=None, deadline_hard=True, lateness_penalty=0.0)
        if km_per_hour is not None:
            target = min(max(rec, lo) + TARGET_MINUTES, hi)
            soft = dict(deadline=target, deadline_hard=False, lateness_penalty=km_per_hour / 60.0)
        visits.append(replace(rv, windows=((lo, hi),), drop_penalty=domain.DROP_PENALTY_KM, **soft))
    scale = time_scale_for(1.0 if km_per_hour is None else km_per_hour / 60.0)
    return replace(problem, visits=visits, time_scale=scale)


def variant_plans(problem, dues, could, seconds):
    """{variant: plan} for one tenant's clairvoyant problem, and each visit's earliest start
    (when it came in, in the problem's minutes)."""
    from services.dispatch.routing import solve

    received = [min(a for a, _ in rv.windows) for rv in problem.visits]
    plans, start = {}, None
    for name, price in VARIANTS.items():
        pb = priced(problem, dues, could, received, price)
        # the priced variants start from the free plan (feasible for them too): under load a
        # cold search may find no first plan within its time
        plans[name] = plan = solve(pb, seconds, workers=2, initial_routes=start)
        if start is None:
            start = [[] for _ in pb.vehicles]
            for rt in plan.routes:
                start[rt.vehicle] = [st.visit for st in rt.stops]
    return plans, received


def waits(plan, received):
    """Hours from coming in to the start of service, per served visit."""
    return [(st.arrival - received[st.visit]) / 60.0 for r in plan.routes for st in r.stops]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="src", required=True, help="bench/dispatch.py --out JSON")
    ap.add_argument("--seconds", type=float, default=20.0, help="OR-Tools time per solve (3 per tenant)")
    ap.add_argument("--out", help="write the figures as JSON")
    a = ap.parse_args(argv)

    from bench.dispatch import _tenant_problems, load_technicians
    from bench.dispatch_budget import load_replay
    from services.dispatch import domain
    from shared.config import load_config
    from shared.geo import TravelModel
    from shared.tenants import TenantDirectory
    from shared.workcal import ChinaCalendar

    r, visits = load_replay(a.src)
    _, techs = load_technicians()
    config = load_config()
    status = {o.id: o.status for o in TenantDirectory.from_config(config).outlets.values()}
    model = TravelModel.from_config(config.get("TRAVEL_MODEL") or {})
    totals = {k: {"km": 0.0, "served": 0, "late": 0, "waits": []} for k in VARIANTS}
    t0 = time.monotonic()
    for tenant, vs, problem, dues in _tenant_problems(
        visits, techs, status, ChinaCalendar.default(), model, domain.LOCAL_TZ, 10
    ):
        by_id = {v["id"]: v for v in vs}
        could = [bool(by_id[rv.id]["could"]) for rv in problem.visits]
        plans, received = variant_plans(problem, dues, could, a.seconds)
        line = []
        for name, plan in plans.items():
            served = {st.visit for rt in plan.routes for st in rt.stops}
            late = sum(1 for i in range(len(problem.visits)) if could[i] and i not in served)
            tot = totals[name]
            tot["km"] += plan.distance
            tot["served"] += len(served)
            tot["late"] += late
            tot["waits"] += waits(plan, received)
            line.append(f"{name} {plan.distance:,.0f} km ({len(served)} served, {late} could-be dropped)")
        print(f"  {tenant} ({len(problem.visits)} visits): " + "; ".join(line), flush=True)
    product = r["product"]["travel_km"]
    out = {"source": a.src, "seconds_per_solve": a.seconds, "product_km": product, "variants": {}}
    for name, tot in totals.items():
        w = sorted(tot.pop("waits"))
        tot["median_wait_h"] = round(w[len(w) // 2], 1) if w else None
        tot["served_after_4h"] = sum(1 for x in w if x > TARGET_MINUTES / 60.0 + 1e-6)
        tot["km"] = round(tot["km"], 1)
        out["variants"][name] = tot
        print(
            f"clairvoyant {name:6s}: {tot['km']:10,.1f} km, {tot['served']} served, "
            f"{tot['late']} could-be not on time, "
            f"median wait {tot['median_wait_h']} h, {tot['served_after_4h']} served more than 4 h after coming in; "
            f"the product online travels {100 * (product / tot['km'] - 1):+.1f}% more",
            flush=True,
        )
    print(f"wall {time.monotonic() - t0:.0f} s")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
