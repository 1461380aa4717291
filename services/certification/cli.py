"""``fsm certification ...``: tokens for users holding a certification duty (technical lead,
service department head), and the network plan computed offline from the CSV files."""

from __future__ import annotations

import json
import sys

from fsm.common import CliError, cli_config, mint_token


def register(subparsers):
    p = subparsers.add_parser("certification", help="certification: duty tokens, network planning")
    sub = p.add_subparsers(dest="certification_command", metavar="CERTIFICATION_COMMAND")
    sub.required = True

    t = sub.add_parser(
        "token",
        help="a bearer token for a center/HQ user with a duty "
        "(technical_lead: technical reviews; service_head: approvals)",
    )
    t.add_argument("--user", required=True)
    t.add_argument("--role", choices=("center", "hq"), required=True)
    t.add_argument("--tenant", help="the center (for --role center)")
    t.add_argument("--duty", choices=("technical_lead", "service_head"), required=True)
    t.add_argument(
        "--ttl-days",
        type=float,
        default=30.0,
        help="lifetime in days (default 30; at most TOKEN_MAX_TTL_SECONDS, 30 days unless configured)",
    )
    t.set_defaults(func=cmd_token)

    n = sub.add_parser("network-plan", help="yearly repair volume per area, outlets needed, gaps (offline)")
    n.add_argument("--capacity", type=int, default=1000, help="repairs one outlet handles a year (default 1000)")
    n.add_argument("--tenant", help="only this center's areas")
    n.add_argument(
        "--installed-base",
        help="CSV: tenant_id,province,city,district,model,product_line,installed,"
        "planned_sales (default: the shipped sample)",
    )
    n.add_argument("--repair-rates", help="CSV: model,product_line,repair_rate (default: the shipped sample)")
    n.add_argument("--gaps-only", action="store_true")
    n.add_argument("--json", action="store_true", help="print JSON instead of a table")
    n.set_defaults(func=cmd_network_plan)


def cmd_token(args) -> int:
    print(
        mint_token(cli_config(args), args.ttl_days, user=args.user, role=args.role, tenant=args.tenant, duty=args.duty)
    )
    return 0


def network_plan_offline(capacity, tenant=None, installed_base=None, repair_rates=None, directory=None):
    from services.certification import domain, seed
    from shared.tenants import TenantDirectory

    directory = directory or TenantDirectory.load()
    rates = {m: r for m, (_, r) in seed.read_repair_rates(repair_rates or seed.REPAIR_RATES_FILE).items()}
    base = [
        r
        for r in seed.read_installed_base(installed_base or seed.INSTALLED_BASE_FILE)
        if tenant is None or r["tenant_id"] == tenant
    ]
    outlets = [
        (o.id, o.center, o.province, o.city)
        for o in directory.outlets.values()
        if o.status in domain.OPERATING and (tenant is None or o.center == tenant)
    ]
    return [a.as_dict() for a in domain.network_plan(base, rates, outlets, capacity)]


def cmd_network_plan(args) -> int:
    from shared.errors import DomainError

    try:
        areas = network_plan_offline(args.capacity, args.tenant, args.installed_base, args.repair_rates)
    except (DomainError, OSError, KeyError) as exc:
        raise CliError(f"network plan: {getattr(exc, 'message', None) or exc}") from None
    if args.gaps_only:
        areas = [a for a in areas if a["gap"] > 0]
    if args.json:
        print(json.dumps(areas, ensure_ascii=False, indent=1))
        return 0
    out = sys.stdout
    out.write(f"{'center':<7}{'area':<12}{'installed':>10}{'repairs/yr':>12}{'needed':>8}{'current':>8}{'gap':>5}\n")
    for a in areas:
        out.write(
            f"{a['tenant_id']:<7}{a['city']:<12}{a['installed']:>10}{a['yearly_repairs']:>12}"
            f"{a['outlets_needed']:>8}{a['outlets_current']:>8}{a['gap']:>5}\n"
        )
    out.write(
        f"capacity {args.capacity} repairs per outlet a year; {sum(max(a['gap'], 0) for a in areas)} "
        f"outlets short in {sum(1 for a in areas if a['gap'] > 0)} areas\n"
    )
    return 0
