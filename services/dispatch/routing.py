"""Vehicle routing on OR-Tools' routing library (plain Python, no nameko).

`solve(problem, time_limit_s)` solves a `RoutingProblem` (`services.dispatch.routing_problem`:
technician-days as vehicles, visits as nodes with windows, deadlines, eligibility and drop
penalties). It runs `workers` OR-Tools searches in parallel child processes
(multiprocessing "spawn" context, so it is safe to call from an eventlet service or any process
that must not fork) with different first-solution strategies and metaheuristic settings, and
returns the best plan as a `RoutingPlan`. `_Model` builds the OR-Tools model of a problem,
`_Search` runs searches on it inside one process.

Integer scaling (see STACK-NOTES "Routing with OR-Tools"): arc costs round(d * 1000),
times ceil(t * 1000), so an integer-feasible plan stays feasible in doubles; the plan's
distance and arrival times are recomputed in doubles from the given float matrices.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue as queue_mod
import time

from services.dispatch.routing_problem import RoutingPlan, RoutingProblem, evaluate_routes

SCALE = 1000
# above this many (visit, vehicle) pairs SAVINGS is not used as a first solution (memory)
SAVINGS_MAX_PAIRS = 60_000
DEFAULT_SEED = 1
EPS = 1e-6


# ----------------------------------------------------------------------------- search configs

# Worker i runs WORKER_CONFIGS[i % len]. Keys: fs = first-solution strategy; meta =
# metaheuristic ("GLS" or an OR-Tools LocalSearchMetaheuristic name, or a list to switch
# between); lams = GUIDED_LOCAL_SEARCH lambda per epoch (cycled); optional "params" (scalar
# search parameters) and "ops" (local_search_operators on/off).
# Measured on Solomon at 10 s (bench/routing.py): OR-Tools' GLS outcome swings by several
# percent with the first solution and lambda, per instance and without a winner overall
# (SAVINGS is best on tight windows -- PATH_CHEAPEST_ARC finds nothing there without drop
# penalties -- and PATH_CHEAPEST_ARC with lambda 0.1 on clustered ones). So the workers
# run complementary full-length trajectories and the best plan wins; restarting all
# workers from the best plan every few seconds ("epochs" > 1) resets the GLS penalties
# and did not help in the full run.
#
# Worker 0 first runs PyVRP (services/dispatch/hgs.py) for 85% of its budget where PyVRP
# expresses the problem exactly, and OR-Tools' GLS continues from those routes in the OR-Tools
# model; elsewhere (or with a warm start given) it is SAVINGS + GLS as before.
WORKER_CONFIGS: list[dict] = [
    {"fs": "PYVRP", "fallback_fs": "SAVINGS", "pyvrp_share": 0.85, "meta": "GLS", "lams": [0.2]},
    {"fs": "PATH_CHEAPEST_ARC", "meta": "GLS", "lams": [0.1]},
    {"fs": "PARALLEL_CHEAPEST_INSERTION", "meta": "GLS", "lams": [0.25]},
    {"fs": "SAVINGS", "meta": "GLS", "lams": [0.3]},
]
DEFAULT_EPOCHS = 1


def _merge_windows(windows) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted((max(0.0, a), b) for a, b in windows):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _big_penalty(problem: RoutingProblem) -> int:
    """Drop penalty for must-serve visits: larger than any plan's cost (safety net only)."""
    n = len(problem.distance)
    dmax = max((max(row) for row in problem.distance), default=0.0) if n else 0.0
    fixed = sum(v.fixed_cost for v in problem.vehicles)
    return int(
        min(2**52, max(1.0, (dmax * (len(problem.visits) + 2 * len(problem.vehicles)) + fixed) * SCALE * 10 + 10**6))
    )


class _Model:
    """OR-Tools model built from a RoutingProblem (inside the worker process)."""

    def __init__(self, problem: RoutingProblem):
        from ortools.constraint_solver import pywrapcp

        self.problem = problem
        visits, vehicles = problem.visits, problem.vehicles
        # Manager nodes: depot locations first, then one node per visit.
        depot_locs: list[int] = []
        for v in vehicles:
            for loc in (v.start, v.end):
                if loc not in depot_locs:
                    depot_locs.append(loc)
        self.depot_locs = depot_locs
        nd = len(depot_locs)
        self.nd = nd
        node_loc = depot_locs + [vi.location for vi in visits]
        node_service = [0.0] * nd + [float(vi.service) for vi in visits]
        starts = [depot_locs.index(v.start) for v in vehicles]
        ends = [depot_locs.index(v.end) for v in vehicles]
        nn = len(node_loc)
        self.manager = pywrapcp.RoutingIndexManager(nn, len(vehicles), starts, ends)
        self.routing = routing = pywrapcp.RoutingModel(self.manager)
        D, T = problem.distance, problem.travel_time
        cost = [[int(round(D[a][b] * SCALE)) for b in node_loc] for a in node_loc]
        ts = max(1, int(getattr(problem, "time_scale", SCALE)))  # OR-Tools time units per minute
        svc = [int(math.ceil(s * ts - EPS)) for s in node_service]
        tt = [[svc[i] + int(math.ceil(T[a][b] * ts - EPS)) for b in node_loc] for i, a in enumerate(node_loc)]
        for i in range(nn):
            cost[i][i] = 0
            tt[i][i] = svc[i]
        self.cost_cb = routing.RegisterTransitMatrix(cost)
        routing.SetArcCostEvaluatorOfAllVehicles(self.cost_cb)
        for k, v in enumerate(vehicles):
            if v.fixed_cost:
                routing.SetFixedCostOfVehicle(int(round(v.fixed_cost * SCALE)), k)

        # capacity
        demands = [0] * nd + [int(vi.demand) for vi in visits]
        if any(demands):
            dem_cb = routing.RegisterUnaryTransitVector(demands)
            routing.AddDimensionWithVehicleCapacity(
                dem_cb, 0, [int(min(v.capacity, 2**40)) for v in vehicles], True, "Capacity"
            )

        # time
        def sc(t: float) -> int:
            return int(math.floor(t * ts + EPS)) if math.isfinite(t) else None

        finite = [t for vi in visits for w in vi.windows for t in w if math.isfinite(t)]
        finite += [t for v in vehicles for t in v.shift if math.isfinite(t)]
        finite += [vi.deadline for vi in visits if vi.deadline is not None]
        max_tt = max((max(r) for r in tt), default=0)
        horizon = int((max(finite, default=0.0)) * ts) + max_tt * (len(visits) + 1) + 1
        horizon = min(horizon, 2**50)
        self.horizon = horizon
        time_cb = routing.RegisterTransitMatrix(tt)
        self.time_cb = time_cb
        routing.AddDimension(time_cb, horizon, horizon, False, "Time")
        td = self.time_dim = routing.GetDimensionOrDie("Time")
        for k, v in enumerate(vehicles):
            lo = sc(v.shift[0]) or 0
            hi = sc(v.shift[1])
            hi = horizon if hi is None else min(hi, horizon)
            td.CumulVar(routing.Start(k)).SetRange(lo, hi)
            td.CumulVar(routing.End(k)).SetRange(lo, hi)
        penalty_must = _big_penalty(problem)
        self.must_penalty = penalty_must
        for i, vi in enumerate(visits):
            idx = self.manager.NodeToIndex(nd + i)
            ws = _merge_windows(vi.windows)
            lo = sc(ws[0][0]) or 0
            his = [sc(b) for _, b in ws]
            hi = horizon if any(h is None for h in his) else min(max(his), horizon)
            if vi.deadline is not None and vi.deadline_hard:
                hi = min(hi, sc(vi.deadline))
            cv = td.CumulVar(idx)
            if hi < lo:  # no feasible arrival at all: the visit can only be dropped
                routing.ActiveVar(idx).SetValue(0)
            else:
                cv.SetRange(lo, hi)
            for (_a1, b1), (a2, _b2) in zip(ws, ws[1:]):  # gaps between windows
                g0, g1 = sc(b1), sc(a2)
                if g0 is not None and g1 is not None and g1 - g0 > 1:
                    cv.RemoveInterval(g0 + 1, g1 - 1)
            if vi.deadline is not None and not vi.deadline_hard:
                # km per minute late x priority, in cost units (km x SCALE) per time unit
                coef = max(1, int(round(vi.lateness_penalty * max(vi.priority, 0.0) * SCALE / ts)))
                td.SetCumulVarSoftUpperBound(idx, sc(vi.deadline), coef)
            if vi.allowed_vehicles is not None:
                allowed = sorted({int(k) for k in vi.allowed_vehicles if 0 <= int(k) < len(vehicles)})
                if allowed:
                    # same effect as SetAllowedVehiclesForIndex (whose absl::Span argument the
                    # 9.15 Python wrapper rejects): the vehicle var may only take these values
                    # or -1 (unperformed).
                    routing.VehicleVar(idx).SetValues([-1] + allowed)
                else:  # no eligible vehicle: can only be dropped
                    routing.ActiveVar(idx).SetValue(0)
            pen = penalty_must if vi.drop_penalty is None else int(round(vi.drop_penalty * SCALE))
            routing.AddDisjunction([idx], pen)
        solver = routing.solver()
        for group, limit in problem.group_limits:
            members = sorted({int(k) for k in group})
            member_set = set(members)
            flags = []
            for i, vi in enumerate(visits):
                if vi.allowed_vehicles is None or member_set.intersection(int(k) for k in vi.allowed_vehicles):
                    idx = self.manager.NodeToIndex(nd + i)
                    flags.append(solver.IsMemberVar(routing.VehicleVar(idx), members))
            if len(flags) > max(limit, 0):
                solver.Add(solver.Sum(flags) <= max(int(limit), 0))
        for k in range(len(vehicles)):
            routing.AddVariableMinimizedByFinalizer(td.CumulVar(routing.Start(k)))
            routing.AddVariableMinimizedByFinalizer(td.CumulVar(routing.End(k)))

    # -- helpers
    def routes_of(self, assignment) -> list[list[int]]:
        routing, m = self.routing, self.manager
        out = []
        for k in range(len(self.problem.vehicles)):
            idx = routing.Start(k)
            r = []
            idx = assignment.Value(routing.NextVar(idx))
            while not routing.IsEnd(idx):
                r.append(m.IndexToNode(idx) - self.nd)
                idx = assignment.Value(routing.NextVar(idx))
            out.append(r)
        return out

    def _params_for(self, cfg: dict, seconds: float):
        from ortools.constraint_solver import pywrapcp
        from ortools.constraint_solver import routing_enums_pb2 as E

        p = pywrapcp.DefaultRoutingSearchParameters()
        p.first_solution_strategy = getattr(E.FirstSolutionStrategy, cfg.get("fs", "SAVINGS"))
        meta = cfg.get("meta", "GLS")
        if meta == "ILS":
            p.use_iterated_local_search = True
            p.local_search_metaheuristic = E.LocalSearchMetaheuristic.GREEDY_DESCENT
            ils = p.iterated_local_search_parameters
            rr = ils.ruin_recreate_parameters
            del rr.ruin_strategies[:]
            s = rr.ruin_strategies.add()
            s.sisr.max_removed_sequence_size = cfg.get("sisr_len", 10)
            s.sisr.avg_num_removed_visits = cfg.get("sisr_avg", 10)
            s.sisr.bypass_factor = cfg.get("sisr_bypass", 0.01)
            rr.recreate_strategy.heuristic = E.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
            rr.route_selection_neighbors_ratio = 1.0
            ils.improve_perturbed_solution = cfg.get("improve", True)
            sa = ils.reference_solution_acceptance_strategy.simulated_annealing
            sa.cooling_schedule_strategy = 1  # EXPONENTIAL
            sa.initial_temperature = cfg.get("t0", 100.0) * SCALE
            sa.final_temperature = cfg.get("t1", 1.0) * SCALE
            sa.automatic_temperatures = cfg.get("auto_temp", False)
        else:
            names = meta if isinstance(meta, list) else [meta]
            metas = [getattr(E.LocalSearchMetaheuristic, {"GLS": "GUIDED_LOCAL_SEARCH"}.get(m, m)) for m in names]
            if len(metas) == 1:
                p.local_search_metaheuristic = metas[0]
            else:  # switch metaheuristic every num_max_local_optima_before_metaheuristic_switch optima
                p.local_search_metaheuristic = E.LocalSearchMetaheuristic.UNSET
                p.local_search_metaheuristics.extend(metas)
                if "switch_every" in cfg:
                    p.num_max_local_optima_before_metaheuristic_switch = cfg["switch_every"]
            p.guided_local_search_lambda_coefficient = cfg.get("lam", 0.1)
            if "gls_reset" in cfg:
                p.guided_local_search_reset_penalties_on_new_best_solution = cfg["gls_reset"]
        if "neighbors_ratio" in cfg:
            p.ls_operator_neighbors_ratio = cfg["neighbors_ratio"]
            p.ls_operator_min_neighbors = cfg.get("min_neighbors", 10)
        for key, val in cfg.get("params", {}).items():  # plain scalar search parameters
            setattr(p, key, val)
        for op, val in cfg.get("ops", {}).items():
            setattr(p.local_search_operators, op, 3 if val else 2)  # BOOL_TRUE / BOOL_FALSE
        p.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
        return p


class _Search:
    """A model plus its search state inside one worker process."""

    def __init__(self, problem: RoutingProblem, cfg: dict):
        t0 = time.time()
        self.problem = problem
        self.seed = DEFAULT_SEED
        self.pyvrp_s = None  # seconds PyVRP took for the first solution, if it ran
        self.model = _Model(problem)
        self.routing = self.model.routing
        self.build_s = time.time() - t0
        self.t0 = t0
        self.first_s = None
        self.first_obj = None
        self.cfg = cfg
        self.closed = False
        routing = self.routing

        def on_solution():
            if self.first_s is None:
                self.first_s = time.time() - self.t0
                self.first_obj = routing.CostVar().Max()

        routing.AddAtSolutionCallback(on_solution)

    def run(self, cfg: dict, seconds: float, start_routes=None) -> dict:
        routing, model = self.routing, self.model
        if cfg.get("fs") == "PYVRP":
            if start_routes is None:
                from services.dispatch import hgs

                t1 = time.time()
                found = hgs.first_routes(self.problem, seconds * cfg.get("pyvrp_share", 0.85), SCALE, seed=self.seed)
                self.pyvrp_s = time.time() - t1
                if found is not None:
                    start_routes = found
                    seconds = max(0.05, seconds - self.pyvrp_s)
            cfg = dict(cfg, fs=cfg.get("fallback_fs", "SAVINGS"))
        if cfg.get("fs") == "SAVINGS" and len(self.problem.visits) * len(self.problem.vehicles) > SAVINGS_MAX_PAIRS:
            # OR-Tools' savings builds per-vehicle-class savings lists: at 1,000 visits x 300
            # technician-days it took 3 GB and found nothing in 15 s, where cheapest arc took
            # 370 MB and 2 s (insertion heuristics and our greedy start did worse after GLS)
            cfg = dict(cfg, fs="PATH_CHEAPEST_ARC")
        params = model._params_for(cfg, seconds)
        if not self.closed:
            routing.CloseModelWithParameters(params)
            self.closed = True
        sol = None
        if start_routes is not None:
            m = model.manager
            idx_routes = [[m.NodeToIndex(model.nd + v) for v in r] for r in start_routes]
            # RoutesToAssignment only fills the next variables (no nested solve: the
            # nested solve of ReadAssignmentFromRoutes fails once a previous solve's time
            # limit has expired); SolveFromAssignmentWithParameters restores the rest.
            start = routing.solver().Assignment()
            if not routing.RoutesToAssignment(idx_routes, True, True, start):
                start = None
            self.restarts_ok = getattr(self, "restarts_ok", 0) + (start is not None)
            self.restarts_failed = getattr(self, "restarts_failed", 0) + (start is None)
            if start is not None:
                sol = routing.SolveFromAssignmentWithParameters(start, params)
                if sol is None:  # keep the given solution rather than nothing
                    sol = start
        if sol is None:
            sol = routing.SolveWithParameters(params)
        if sol is None:
            return {"cfg": cfg, "routes": None, "objective": None, "status": routing.status()}
        return {
            "cfg": cfg,
            "routes": model.routes_of(sol),
            "objective": sol.ObjectiveValue(),
            "status": routing.status(),
        }

    def stats(self) -> dict:
        return {
            "build_s": self.build_s,
            "first_s": self.first_s,
            "first_obj": self.first_obj,
            "pyvrp_s": self.pyvrp_s,
            "wall_s": time.time() - self.t0,
            "restarts_ok": getattr(self, "restarts_ok", 0),
            "restarts_failed": getattr(self, "restarts_failed", 0),
        }


def _epoch_cfg(cfg: dict, epoch: int) -> dict:
    """Per-epoch variation: GLS lambdas cycle through cfg["lams"] (diversification)."""
    lams = cfg.get("lams")
    if not lams:
        return cfg
    out = dict(cfg)
    out["lam"] = lams[epoch % len(lams)]
    return out


def _worker_loop(problem, cfg, seed, in_q, out_q):
    """Persistent worker: builds the model once, then runs one search per command."""
    try:
        search = _Search(problem, cfg)
        search.seed = seed
        out_q.put({"ready": True, "build_s": search.build_s})
        while True:
            cmd = in_q.get()
            if cmd is None:
                break
            epoch, start_routes, seconds = cmd
            try:
                res = search.run(_epoch_cfg(cfg, epoch), seconds, start_routes)
            except Exception as exc:  # report, never block the parent
                res = {"cfg": cfg, "routes": None, "objective": None, "error": repr(exc)}
            res.update(search.stats())
            res["epoch"] = epoch
            out_q.put(res)
    except BaseException as exc:
        out_q.put({"cfg": cfg, "routes": None, "objective": None, "error": repr(exc), "epoch": -1})


def _key(problem: RoutingProblem, res: dict):
    plan = evaluate_routes(problem, res["routes"])
    return (len(plan.dropped), res["objective"]), plan


def solve(
    problem: RoutingProblem,
    time_limit_s: float,
    *,
    workers: int = 2,
    seed: int = DEFAULT_SEED,
    configs: list[dict] | None = None,
    epochs: int | None = None,
    initial_routes: list[list[int]] | None = None,
) -> RoutingPlan:
    """Solve with `workers` parallel OR-Tools searches (spawned processes); best plan wins.

    The budget is split into `epochs`: in the first each worker builds its own first
    solution (its config's strategy) and improves it; in each later one every worker
    restarts its metaheuristic from the best plan so far with its next parameter set.
    Plans are compared by (number of dropped visits, OR-Tools objective). A worker that
    finds nothing, crashes or overruns does not block the others; the call returns within
    about time_limit_s (+ a grace period if a worker hangs).
    """
    t_start = time.time()
    configs = list(configs or WORKER_CONFIGS)
    epochs = max(1, int(epochs if epochs is not None else DEFAULT_EPOCHS))
    deadline = t_start + float(time_limit_s)
    results: list[dict] = []
    best = best_key = best_res = None

    def consider(res):
        nonlocal best, best_key, best_res
        results.append(res)
        if res.get("routes") is None:
            return
        key, plan = _key(problem, res)
        if best_key is None or key < best_key:
            best, best_key, best_res = plan, key, res

    if workers <= 1:
        search = _Search(problem, configs[0])
        for e in range(epochs):
            left = deadline - time.time()
            if left <= 0.02 and best is not None:
                break
            slice_s = max(0.05, left / (epochs - e))
            res = search.run(
                _epoch_cfg(configs[0], e), slice_s, initial_routes if best_res is None else best_res["routes"]
            )
            res.update(search.stats())
            res["epoch"] = e
            consider(res)
    else:
        ctx = mp.get_context("spawn")
        out_q = ctx.Queue()
        procs, in_qs = [], []
        for w in range(workers):
            in_q = ctx.Queue()
            p = ctx.Process(
                target=_worker_loop, args=(problem, configs[w % len(configs)], seed + w, in_q, out_q), daemon=True
            )
            p.start()
            procs.append(p)
            in_qs.append(in_q)
        grace = 3.0 + 0.01 * len(problem.visits)
        alive = set(range(workers))
        # wait until the workers have built their models (spawn + import + build)
        ready = 0
        while ready < sum(p.is_alive() for p in procs) and time.time() < deadline:
            try:
                msg = out_q.get(timeout=0.2)
            except queue_mod.Empty:
                continue
            if msg.get("ready"):
                ready += 1
            else:
                results.append(msg)
        alive = {w for w in range(workers) if procs[w].is_alive()}
        for e in range(epochs):
            left = deadline - time.time()
            if left <= 0.05 and (best is not None or e > 0):
                break
            slice_s = max(0.1, left / (epochs - e))
            start_routes = None if best_res is None else best_res["routes"]
            sent = 0
            for w in alive:
                # a warm start (e.g. the current plan) seeds the first worker; the others build
                # their own first solution, so the search does not depend on it
                seed_routes = initial_routes if (start_routes is None and w == min(alive)) else start_routes
                in_qs[w].put((e, seed_routes, slice_s))
                sent += 1
            got = 0
            epoch_end = time.time() + slice_s + grace
            while got < sent and time.time() < epoch_end:
                try:
                    res = out_q.get(timeout=0.2)
                except queue_mod.Empty:
                    if got >= sum(procs[w].is_alive() for w in alive):
                        break  # the missing workers died
                    continue
                if res.get("ready"):
                    continue
                got += 1
                consider(res)
            if got < sent:  # a worker overran or died: stop using the stragglers
                break
        for q in in_qs:
            try:
                q.put(None)
            except Exception:
                pass
        for p in procs:
            p.join(timeout=0.5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=1)
    wall = time.time() - t_start
    worker_stats = [
        {
            k: r.get(k)
            for k in (
                "cfg",
                "epoch",
                "objective",
                "first_s",
                "first_obj",
                "build_s",
                "status",
                "error",
                "wall_s",
                "restarts_ok",
                "restarts_failed",
            )
        }
        for r in results
    ]
    if best is None:
        return RoutingPlan(
            routes=[],
            dropped=list(range(len(problem.visits))),
            distance=0.0,
            objective=None,
            stats={"wall_s": wall, "workers": worker_stats, "found": False},
        )
    best.objective = best_res["objective"]
    firsts = [r["first_s"] for r in results if r.get("first_s") is not None]
    best.stats = {
        "wall_s": wall,
        "first_solution_s": min(firsts) if firsts else None,
        "objective": best_res["objective"],
        "config": best_res["cfg"],
        "epochs": epochs,
        "workers": worker_stats,
        "found": True,
        "dropped": len(best.dropped),
    }
    return best
