"""Clairvoyant travel with a budget of late visits: how little a plan knowing the whole week can
travel when it may miss up to N of the visits that could be on time (the replay's floor allows
2% of them: 5 of 257).

    .venv/bin/python bench/dispatch_budget.py --from bench/out/dispatch.json [--late 5] [--seconds 15]

Reads the visits (sites, arrival and due times, "could be on time") and greedy's km of a replay
written by `bench/dispatch.py --out`. Per tenant, every visit of the week known from the start
(`dispatch._tenant_problems`, 10-day horizon), each visit is offered to OR-Tools twice: an
on-time copy (its due time the hard end of its window) and a late copy (no due time), with the
constraint that exactly one of the two is served. Serving the late copy costs a fixed lambda km
(the on-time copy's drop penalty), so each solve minimises km + lambda x (visits late): a
Lagrangian sweep over lambda traces the trade-off between travel and visits late. The search
starts from the clairvoyant plan that keeps every could-be visit on time (`offline_bound`'s
second plan); its guided local search swaps copies (OR-Tools' extended swap-active operator).
The tenants' points are then combined (a knapsack over the late budget) into the least total
km with at most N could-be visits late. These are plans found by a heuristic, not proven optima.
"""

import argparse
import json
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for p in (str(REPO), str(REPO / "bench")):
    if p not in sys.path:
        sys.path.insert(0, p)

LAMBDAS = (150.0, 300.0, 600.0, 1200.0)


def load_replay(path):
    r = json.loads(Path(path).read_text(encoding="utf-8"))
    visits = []
    for v in r["visits"]:
        visits.append(
            dict(
                v,
                tenant_id=v["tenant"],
                received=datetime.fromisoformat(v["received"]),
                due=datetime.fromisoformat(v["due"]) if v["due"] else None,
            )
        )
    return r, visits


def twin_problem(problem, dues, lam):
    """Visits 0..n-1: on-time copies (hard due, drop penalty lam); n..2n-1: late copies."""
    import math

    on, late = [], []
    for rv, d in zip(problem.visits, dues):
        lo = min(a for a, _ in rv.windows)
        common = dict(deadline=None, deadline_hard=True, lateness_penalty=0.0)
        on.append(replace(rv, windows=((lo, d if d is not None else math.inf),), drop_penalty=lam, **common))
        late.append(replace(rv, windows=((lo, math.inf),), drop_penalty=0.0, **common))
    return replace(problem, visits=on + late)


def solve_twin(problem, start_routes, seconds):
    """One in-process OR-Tools search on the twin problem from `start_routes`: exactly one copy
    served of each visit the start serves, at most one of the others."""
    from services.dispatch import routing

    n = len(problem.visits) // 2
    served = {v % n for r in start_routes for v in r}

    class TwinModel(routing._Model):
        def __init__(self, p):
            super().__init__(p)
            solver, r = self.routing.solver(), self.routing
            for i in range(n):
                a, b = (self.manager.NodeToIndex(self.nd + j) for j in (i, n + i))
                both = r.ActiveVar(a) + r.ActiveVar(b)
                solver.Add(both == 1 if i in served else both <= 1)

    cfg = {"fs": "PATH_CHEAPEST_ARC", "meta": "GLS", "lams": [0.1], "ops": {"use_extended_swap_active": True}}
    original = routing._Model
    routing._Model = TwinModel
    try:
        search = routing._Search(problem, cfg)
    finally:
        routing._Model = original
    res = search.run(routing._epoch_cfg(cfg, 0), seconds, start_routes)
    if res["routes"] is None:
        return None
    return routing.evaluate_routes(problem, res["routes"])


def tenant_curve(problem, dues, could, seconds, lambdas, log):
    """[(visits late among could-be, km)] for the kept-on-time plan and each lambda."""
    from bench.dispatch import _set_windows
    from services.dispatch.routing import solve

    n = len(problem.visits)
    _set_windows(problem, dues, lambda i: True)
    plan1 = solve(problem, seconds, workers=2)
    on = {
        st.visit
        for r in plan1.routes
        for st in r.stops
        if dues[st.visit] is None or st.arrival <= dues[st.visit] + 1e-6
    }
    _set_windows(problem, dues, lambda i: i in on)
    plan2 = solve(problem, seconds, workers=2)

    def late_among_could(plan):
        served_on = {st.visit for r in plan.routes for st in r.stops if st.visit < n}
        return sum(1 for i in range(n) if could[i] and i not in served_on)

    start = [[] for _ in problem.vehicles]  # plan 2 in twin indices: the on-time set's on-time copies
    for r in plan2.routes:
        start[r.vehicle] = [st.visit if st.visit in on else n + st.visit for st in r.stops]
    plan2_served = sum(len(r.stops) for r in plan2.routes)
    if plan2_served == 0 < n:  # no plan found in the time given (seen on a loaded machine): no yardstick
        log(f"    no plan keeping the on-time set found for {n} visits: no points for this tenant")
        return []
    base_late = sum(1 for i in range(n) if could[i] and i not in on)
    points = [(base_late, plan2.distance, "kept")]
    for lam in lambdas:
        plan = solve_twin(twin_problem(problem, dues, lam), start, seconds)
        served = 0 if plan is None else sum(len(r.stops) for r in plan.routes)
        if served < plan2_served:  # (the copy not served of each visit is "dropped" by design)
            log(f"    lambda {lam:g}: serves {served} of the {plan2_served} visits, left out")
            continue
        points.append((late_among_could(plan), plan.distance, f"lambda {lam:g}"))
        log(f"    lambda {lam:g}: {points[-1][0]} could-be late, {plan.distance:,.0f} km")
    return points


def combine(curves, budget):
    """Least total km over the tenants with at most `budget` could-be visits late (knapsack)."""
    best = {0: (0.0, [])}
    for tenant, points in curves:
        nxt = {}
        for used, (km, picks) in best.items():
            for late, dist, label in points:
                u = used + late
                if u > budget:
                    continue
                cand = (km + dist, picks + [(tenant, label, late, round(dist, 1))])
                if u not in nxt or cand[0] < nxt[u][0]:
                    nxt[u] = cand
        best = nxt
    return min(best.values(), key=lambda x: x[0]) if best else None


def versus_clairvoyant(km, late, curves, greedy_km):
    """The issue-19 travel measure of a replay travelling `km` with `late` could-be visits late:
    its km against the clairvoyant plan allowed as many late (the least of `curves`, pooled
    tenants' points) and against greedy's. None for the first when no clairvoyant point is
    within that budget."""
    best = combine(curves, late) if curves else None
    return {
        "late": late,
        "clairvoyant_km": round(best[0], 1) if best else None,
        "more_than_clairvoyant": round(km / best[0] - 1, 4) if best and best[0] else None,
        "greedy_km": greedy_km,
        "less_than_greedy": round(1 - km / greedy_km, 4) if greedy_km else None,
    }


def frontier(curves, greedy_km, could_total, floor=0.15):
    """[(late budget, least km)] where the least km drops, up to the first budget whose plan
    travels `floor` less than greedy (or every budget, if none does)."""
    points = []
    for b in range(could_total + 1):
        got = combine(curves, b)
        if got is None:
            continue
        if not points or got[0] < points[-1][1] - 0.05:
            points.append((b, round(got[0], 1)))
        if got[0] <= (1 - floor) * greedy_km:
            break
    return points


def summarise(curves, greedy_km, could_total, late):
    """The figures of a sweep: each tenant's points, the plan kept on time, the least km with at
    most `late` could-be visits late, and the frontier up to 15% less than greedy."""
    best = combine(curves, late)
    kept = sum(min((n, d) for n, d, lab in pts if lab.startswith("kept"))[1] for _, pts in curves)
    return {
        "greedy_km": greedy_km,
        "could_be_on_time": could_total,
        "late_budget": late,
        "curves": {t: [{"late": n, "km": round(d, 1), "plan": lab} for n, d, lab in pts] for t, pts in curves},
        "kept_km": round(kept, 1),
        "kept_saving_vs_greedy": round(1 - kept / greedy_km, 4),
        "budget_km": round(best[0], 1) if best else None,
        "budget_saving_vs_greedy": round(1 - best[0] / greedy_km, 4) if best else None,
        "budget_picks": best[1] if best else None,
        "frontier": [
            {"late": b, "km": km, "saving_vs_greedy": round(1 - km / greedy_km, 4)}
            for b, km in frontier(curves, greedy_km, could_total)
        ],
    }


def load_curves(paths):
    """The tenants' points pooled from earlier runs' JSON (every plan found is a valid point)."""
    pooled, seconds, lambdas = {}, set(), set()
    for i, path in enumerate(paths):
        earlier = json.loads(Path(path).read_text(encoding="utf-8"))
        seconds.add(earlier.get("seconds_per_solve"))
        lambdas.update(earlier.get("lambdas") or [])
        for t, pts in earlier["curves"].items():
            for p in pts:
                label = p["plan"] if len(paths) == 1 else f"{p['plan']} (run {i + 1})"
                pooled.setdefault(t, []).append((p["late"], p["km"], label))
    return sorted(pooled.items()), sorted(x for x in seconds if x is not None), sorted(lambdas)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="src", required=True, help="a replay's JSON (bench/dispatch.py --out)")
    ap.add_argument("--late", type=int, default=5, help="could-be visits allowed late (default 5: 2%% of 257)")
    ap.add_argument("--seconds", type=float, default=15.0, help="per solve")
    ap.add_argument("--lambdas", default=",".join(f"{x:g}" for x in LAMBDAS), help="km per late visit, comma-separated")
    ap.add_argument(
        "--curves",
        metavar="FILE.json[,FILE.json]",
        help="take the tenants' points from earlier runs' --out (pooled) instead of solving",
    )
    ap.add_argument("--out", help="write the figures as JSON")
    a = ap.parse_args(argv)

    def log(*x):
        print(*x, flush=True)

    r, visits = load_replay(a.src)
    greedy_km = r["greedy"]["travel_km"]
    could_total = sum(1 for v in visits if v["could"])
    lambdas = [float(x) for x in a.lambdas.split(",") if x]
    if a.curves:
        curves, seconds, lambdas = load_curves(a.curves.split(","))
    else:
        curves, seconds = solve_curves(visits, lambdas, a.seconds, log), a.seconds
    out = dict(
        source=a.src, seconds_per_solve=seconds, lambdas=lambdas, **summarise(curves, greedy_km, could_total, a.late)
    )
    log(
        f"greedy {greedy_km:,.1f} km; clairvoyant, every could-be visit on time: {out['kept_km']:,.1f} km "
        f"({100 * out['kept_saving_vs_greedy']:.1f}% less)"
    )
    if out["budget_km"] is not None:
        log(
            f"clairvoyant, at most {a.late} of {could_total} could-be visits late: {out['budget_km']:,.1f} km "
            f"({100 * out['budget_saving_vs_greedy']:.1f}% less than greedy; the floor asks 15%)"
        )
    log(
        "least km by could-be visits late: "
        + "; ".join(
            f"{p['late']}: {p['km']:,.0f} km ({100 * p['saving_vs_greedy']:.1f}% less)" for p in out["frontier"]
        )
    )
    everything = r["product"]["by_tier"]["all"]
    out["replay_vs_clairvoyant"] = versus_clairvoyant(
        r["product"]["travel_km"], everything["could_be_on_time"] - everything["on_time"], curves, greedy_km
    )
    v = out["replay_vs_clairvoyant"]
    if v["clairvoyant_km"] is not None:
        log(
            f"the replay: {r['product']['travel_km']:,.1f} km with {v['late']} could-be visits late, "
            f"{100 * v['more_than_clairvoyant']:+.1f}% against the clairvoyant plan with as many late "
            f"({v['clairvoyant_km']:,.1f} km), {100 * v['less_than_greedy']:.1f}% less than greedy"
        )
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1, ensure_ascii=False), encoding="utf-8")
    return 0


def solve_curves(visits, lambdas, seconds, log):
    """Each tenant's (visits late, km, plan) points: the kept plan and one per lambda."""
    from bench.dispatch import _tenant_problems, load_technicians
    from services.dispatch import domain
    from shared.config import load_config
    from shared.geo import TravelModel
    from shared.tenants import TenantDirectory
    from shared.workcal import ChinaCalendar

    _, techs = load_technicians()
    config = load_config()
    status = {o.id: o.status for o in TenantDirectory.from_config(config).outlets.values()}
    model = TravelModel.from_config(config.get("TRAVEL_MODEL") or {})
    curves = []
    for tenant, vs, problem, dues in _tenant_problems(
        visits, techs, status, ChinaCalendar.default(), model, domain.LOCAL_TZ, 10
    ):
        by_id = {v["id"]: v for v in vs}
        could = [bool(by_id[rv.id]["could"]) for rv in problem.visits]
        log(f"  {tenant}: {len(problem.visits)} visits, {sum(could)} could be on time")
        curves.append((tenant, tenant_curve(problem, dues, could, seconds, lambdas, log)))
    return curves


if __name__ == "__main__":
    sys.exit(main())
