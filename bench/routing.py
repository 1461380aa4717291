"""Solomon VRPTW benchmark of the product's routing code against plain OR-Tools.

    .venv/bin/python bench/routing.py --instances ../shared/data/vrptw/solomon --time-limit 10 \
        --out bench/out/routing_10s.csv --bks ../shared/data/vrptw/solomon_bks_distance_only.csv

For every Solomon file in DIR it solves with the product (`services.dispatch.routing.solve`,
parallel workers) and, unless --no-baseline, with plain OR-Tools (PATH_CHEAPEST_ARC +
GUIDED_LOCAL_SEARCH, same time limit, one process, no drop penalties). Both use the
integer-scaled transit matrices; the distance reported is recomputed in doubles.
CSV columns: instance, solver, vehicles, distance, bks, gap_pct, seconds (distance empty when
no full plan was found). `run_bench()` is the entry point for `fsm bench routing`.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.dispatch.routing import SCALE, RoutingProblem, evaluate_routes, solve  # noqa: E402
from services.dispatch.solomon import load_bks, parse_solomon  # noqa: E402

COLUMNS = ["instance", "solver", "vehicles", "distance", "bks", "gap_pct", "seconds"]


def solve_baseline(problem: RoutingProblem, time_limit_s: float):
    """Plain OR-Tools: PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, every visit mandatory.

    Returns (plan or None, seconds)."""
    from ortools.constraint_solver import pywrapcp
    from ortools.constraint_solver import routing_enums_pb2 as E

    t0 = time.time()
    n = len(problem.visits) + 1  # Solomon: node 0 = depot = location 0, node i = location i
    locs = [0] + [v.location for v in problem.visits]
    D, T = problem.distance, problem.travel_time
    svc = [0] + [int(math.ceil(v.service * SCALE)) for v in problem.visits]
    cost = [[int(round(D[a][b] * SCALE)) for b in locs] for a in locs]
    tt = [[svc[i] + int(math.ceil(T[a][b] * SCALE)) for b in locs] for i, a in enumerate(locs)]
    nv = len(problem.vehicles)
    manager = pywrapcp.RoutingIndexManager(n, nv, 0)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitMatrix(cost)
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    dem = routing.RegisterUnaryTransitVector([0] + [v.demand for v in problem.visits])
    routing.AddDimensionWithVehicleCapacity(dem, 0, [v.capacity for v in problem.vehicles], True, "Capacity")
    tcb = routing.RegisterTransitMatrix(tt)
    h0, h1 = problem.vehicles[0].shift
    horizon = int(h1 * SCALE)
    routing.AddDimension(tcb, horizon, horizon, False, "Time")
    td = routing.GetDimensionOrDie("Time")
    for i, v in enumerate(problem.visits, start=1):
        a, b = v.windows[0]
        td.CumulVar(manager.NodeToIndex(i)).SetRange(int(a * SCALE), int(b * SCALE))
    for k in range(nv):
        td.CumulVar(routing.Start(k)).SetRange(int(h0 * SCALE), horizon)
        td.CumulVar(routing.End(k)).SetRange(int(h0 * SCALE), horizon)
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = E.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    p.local_search_metaheuristic = E.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    p.time_limit.FromMilliseconds(int(time_limit_s * 1000))
    sol = routing.SolveWithParameters(p)
    if sol is None:
        return None, time.time() - t0
    routes = []
    for k in range(nv):
        r, idx = [], sol.Value(routing.NextVar(routing.Start(k)))
        while not routing.IsEnd(idx):
            r.append(manager.IndexToNode(idx) - 1)
            idx = sol.Value(routing.NextVar(idx))
        routes.append(r)
    return evaluate_routes(problem, routes), time.time() - t0


def _print(msg):
    print(msg, flush=True)


def _fmt(x, nd=2):
    return "" if x is None else f"{x:.{nd}f}"


def run_bench(instances_dir, time_limit, out, bks=None, only=None, baseline=True, workers=2, log=None):
    """Solve every Solomon instance in `instances_dir`; write the CSV to `out`; return the rows."""
    log = log or _print
    files = sorted(Path(instances_dir).glob("*.txt"), key=lambda p: p.stem.upper())
    if only:
        want = {s.strip().upper() for s in (only.split(",") if isinstance(only, str) else only)}
        files = [f for f in files if f.stem.upper() in want]
    bks_map = load_bks(bks) if bks else {}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for f in files:
            problem = parse_solomon(f)
            name = f.stem.upper()
            ref = bks_map.get(name, {}).get("distance")
            runs = [("product", lambda problem=problem: _product(problem, time_limit, workers))]
            if baseline:
                runs.append(("baseline", lambda problem=problem: solve_baseline(problem, time_limit)))
            for solver, fn in runs:
                plan, secs = fn()
                full = plan is not None and not plan.dropped
                dist = plan.distance if full else None
                gap = 100.0 * (dist / ref - 1.0) if (full and ref) else None
                row = {
                    "instance": name,
                    "solver": solver,
                    "vehicles": plan.vehicles_used if full else "",
                    "distance": _fmt(dist, 3),
                    "bks": _fmt(ref),
                    "gap_pct": _fmt(gap, 3),
                    "seconds": _fmt(secs, 2),
                    "_gap": gap,
                    "_full": full,
                    "_dropped": (len(plan.dropped) if plan is not None else len(problem.visits)),
                }
                rows.append(row)
                w.writerow([row[c] for c in COLUMNS])
                fh.flush()
                extra = "" if full else f"  NO FULL PLAN (dropped {row['_dropped']})"
                log(
                    f"{name:6s} {solver:8s} veh={row['vehicles']!s:>3} dist={row['distance']:>10} "
                    f"bks={row['bks']:>8} gap={row['gap_pct']:>7}% t={row['seconds']}s{extra}"
                )
    summarize(rows, log=log)
    return rows


def _product(problem, time_limit, workers):
    t0 = time.time()
    plan = solve(problem, time_limit, workers=workers)
    if not plan.stats.get("found"):
        return None, time.time() - t0
    return plan, time.time() - t0


def summarize(rows, log=None, exclude=("R109",)):
    log = log or _print
    for solver in ("product", "baseline"):
        rs = [r for r in rows if r["solver"] == solver]
        if not rs:
            continue
        gaps = [r["_gap"] for r in rs if r["_gap"] is not None]
        gaps_x = [r["_gap"] for r in rs if r["_gap"] is not None and r["instance"] not in exclude]
        missing = [r["instance"] for r in rs if not r["_full"]]
        worst = sorted((r for r in rs if r["_gap"] is not None), key=lambda r: -r["_gap"])[:5]
        mean = f"{statistics.mean(gaps):.3f}%" if gaps else "n/a"
        mean_x = f"{statistics.mean(gaps_x):.3f}%" if gaps_x else "n/a"
        worst_s = ", ".join("{} {:.2f}%".format(r["instance"], r["_gap"]) for r in worst)
        log(
            f"[{solver}] instances={len(rs)} with gap={len(gaps)} mean gap={mean} "
            f"(excl. {','.join(exclude)}: {mean_x}); no full plan: {', '.join(missing) or 'none'}; "
            f"worst: {worst_s}"
        )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", required=True)
    ap.add_argument("--time-limit", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--bks")
    ap.add_argument("--only")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", dest="baseline", action="store_true", default=True)
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    a = ap.parse_args(argv)
    run_bench(a.instances, a.time_limit, a.out, bks=a.bks, only=a.only, baseline=a.baseline, workers=a.workers)


if __name__ == "__main__":
    main()
