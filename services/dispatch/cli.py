"""``fsm bench routing`` (Solomon VRPTW: the routing code against plain OR-Tools, bench/routing.py)
and ``fsm bench dispatch [--scale]`` (the replay of the sample requests through intake + dispatch
against a greedy baseline, bench/dispatch.py; --scale: bench/dispatch_scale.py)."""

from __future__ import annotations

from fsm.common import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, SAMPLE_REQUESTS, bench_module, cli_config, command_group

BENCH_HELP = "benchmarks: routing (Solomon), dispatch (replay, scale)"


def register(subparsers):
    bench = command_group(subparsers, "bench", BENCH_HELP)
    b = bench.add_parser("routing", help="Solomon VRPTW: the product's solver vs plain OR-Tools")
    b.add_argument("--instances", required=True, metavar="DIR")
    b.add_argument("--time-limit", type=float, required=True)
    b.add_argument("--out", required=True, metavar="FILE.csv")
    b.add_argument("--bks", metavar="FILE.csv")
    b.add_argument("--only", metavar="NAMES")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--no-baseline", dest="baseline", action="store_false", default=True)
    b.set_defaults(func=cmd_bench_routing)

    b = bench.add_parser(
        "dispatch",
        help="replay the sample requests through intake + dispatch vs greedy; --scale: 1,000 visits x 60 technicians",
    )
    b.add_argument("--out", metavar="FILE.json")
    b.add_argument("--time-limit", type=float, default=2.0, help="seconds per re-optimisation (replay)")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--horizon-days", type=int, default=6)
    b.add_argument("--freeze-minutes", type=float, default=120)
    b.add_argument("--requests", default=str(SAMPLE_REQUESTS), metavar="FILE")
    b.add_argument("--vhost", default="fsm-bench-dispatch")
    b.add_argument(
        "--batch-minutes",
        type=float,
        default=1.0,
        help="replay: re-plan this long after a tenant's first new ticket (60: top of the hour)",
    )
    b.add_argument("--target-hours", type=float, default=4.0, help="replay: DISPATCH_TARGET_HOURS")
    b.add_argument(
        "--bound-seconds",
        type=float,
        default=20.0,
        help="replay: solve time of each clairvoyant-bound solve, three per tenant (0: skip)",
    )
    b.add_argument("--scale", action="store_true", help="the scale benchmark instead of the replay")
    b.add_argument("--visits", type=int, default=1000)
    b.add_argument("--techs", type=int, default=60)
    b.add_argument("--budget", type=float, default=60.0)
    b.add_argument("--long", type=float, default=300.0)
    b.add_argument("--inserts", type=int, default=20)
    b.add_argument("--phases", default="single,decomposed,reference")
    b.set_defaults(func=cmd_bench_dispatch)


def cmd_bench_routing(args) -> int:
    mod = bench_module("routing")
    rows = mod.run_bench(
        args.instances,
        args.time_limit,
        args.out,
        bks=args.bks,
        only=args.only,
        baseline=args.baseline,
        workers=args.workers,
    )
    return EXIT_OK if rows else EXIT_ERROR


def cmd_bench_dispatch(args) -> int:
    if args.scale:
        mod = bench_module("dispatch_scale")
        res = mod.run_bench(
            args.visits,
            args.techs,
            args.budget,
            args.long,
            args.inserts,
            out=args.out,
            phases=tuple(args.phases.split(",")),
        )
    else:
        mod = bench_module("dispatch")
        amqp = args.amqp_uri or cli_config(args)["AMQP_URI"]
        res = mod.run_bench(
            args.time_limit,
            amqp,
            args.vhost,
            args.requests,
            args.out,
            args.horizon_days,
            args.freeze_minutes,
            args.workers,
            bound_seconds=args.bound_seconds,
            target_hours=args.target_hours,
            batch_minutes=args.batch_minutes,
        )
    return EXIT_OK if all(res["floor"].values()) else EXIT_PARTIAL
