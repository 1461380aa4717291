"""``fsm settlement ...``: month-end statements, the tariff in force, and the month benchmark."""

from __future__ import annotations

import json

from fsm.common import CliError, bench_module, cli_config


def register(subparsers):
    p = subparsers.add_parser("settlement", help="settlement: month-end statements, tariff, benchmark")
    sub = p.add_subparsers(dest="settlement_command", metavar="SETTLEMENT_COMMAND")
    sub.required = True
    s = sub.add_parser("issue-statements", help="issue the month's statement of every outlet with items (as HQ)")
    s.add_argument("--month", required=True, help="YYYY-MM")
    s.add_argument("--tenant", help="only this center's outlets")
    s.set_defaults(func=cmd_issue_statements)
    t = sub.add_parser("tariff", help="print the tariff in force (HQ default merged with the center's override)")
    t.add_argument("--tenant")
    t.add_argument("--on", help="YYYY-MM-DD (default: today)")
    t.set_defaults(func=cmd_tariff)
    b = sub.add_parser("bench", help="price and audit N claims and issue statements (bench/settlement_month.py)")
    b.add_argument("--claims", type=int, default=200_000)
    b.add_argument("--outlets", type=int, default=200)
    b.add_argument("--database-url")
    b.set_defaults(func=cmd_bench)


def _proxy(args, timeout=300):
    from nameko.standalone.rpc import ServiceRpcProxy

    from shared.tenancy import Principal

    return ServiceRpcProxy(
        "settlement", cli_config(args), context_data={"principal": Principal("fsm-cli", "hq").encode()}, timeout=timeout
    )


def _call(fn):
    from shared.errors import DomainError

    try:
        return fn()
    except DomainError as exc:
        raise CliError(str(exc)) from None


def cmd_issue_statements(args) -> int:
    with _proxy(args) as settlement:
        result = _call(lambda: settlement.issue_statements({"month": args.month, "tenant_id": args.tenant}))
    for st in result["issued"]:
        print(f"{st['outlet_id']:<10} {st['statement_id']}  {st['lines']:>5} lines  total {st['total']:>12}")
    print(f"{len(result['issued'])} statement(s) issued for {result['month']}")
    return 0


def cmd_tariff(args) -> int:
    query = {k: v for k, v in (("tenant_id", args.tenant), ("on", args.on)) if v}
    with _proxy(args, timeout=30) as settlement:
        print(json.dumps(_call(lambda: settlement.tariff_in_force(query)), ensure_ascii=False, indent=2))
    return 0


def cmd_bench(args) -> int:
    argv = ["--claims", str(args.claims), "--outlets", str(args.outlets)]
    if args.database_url:
        argv += ["--database-url", args.database_url]
    return bench_module("settlement_month").main(argv)
