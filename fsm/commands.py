"""The commands that are no one service's: ``fsm geocode``, ``fsm token`` and ``fsm migrate``."""

from __future__ import annotations

import importlib
import sys

from fsm.common import EXIT_ERROR, EXIT_OK, SERVICES_DIR, CliError, cli_config, mint_token, print_error, safe_uri


def register(subparsers):
    p = subparsers.add_parser("geocode", help="geocode addresses offline: one JSON line per address")
    p.add_argument("addresses", nargs="*", metavar="ADDRESS")
    p.set_defaults(func=cmd_geocode)

    p = subparsers.add_parser("token", help="issue a bearer token for the gateway")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True, choices=("hq", "center", "outlet", "warehouse", "customer"))
    p.add_argument("--tenant")
    p.add_argument("--outlet")
    p.add_argument("--warehouse")
    p.add_argument("--customer")
    p.add_argument(
        "--duty",
        choices=("technical_lead", "service_head"),
        help="a center/HQ user's duty: technical lead (technical reviews, claim checks) or "
        "service department head (outlet approvals)",
    )
    p.add_argument(
        "--ttl-days",
        type=float,
        default=30,
        help="lifetime in days (default 30; at most TOKEN_MAX_TTL_SECONDS, 30 days unless configured)",
    )
    p.set_defaults(func=cmd_token)

    p = subparsers.add_parser("migrate", help="upgrade service databases to the newest schema")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_migrate)


def cmd_geocode(args) -> int:
    from shared.geo import geocode_lines

    addresses = list(args.addresses)
    if not addresses:
        if sys.stdin.isatty():
            raise CliError("give one or more addresses (or pipe them in, one per line)")
        addresses = [line for line in (raw.strip() for raw in sys.stdin) if line]
    for line in geocode_lines(addresses):
        print(line, flush=True)
    return EXIT_OK


def cmd_token(args) -> int:
    print(
        mint_token(
            cli_config(args),
            args.ttl_days,
            user=args.user,
            role=args.role,
            tenant=args.tenant,
            outlet=args.outlet,
            warehouse=args.warehouse,
            customer=args.customer,
            duty=args.duty,
        )
    )
    return EXIT_OK


def cmd_migrate(args) -> int:
    from shared import migrations
    from shared.config import database_url
    from shared.db import make_engine

    config = cli_config(args)
    # no service named: every service with a migrations package (services/<name>/migrations),
    # found on disk, so a service that gains a database is migrated with no change here
    names = args.services or sorted(path.parent.parent.name for path in SERVICES_DIR.glob("*/migrations/__init__.py"))
    failed = 0
    for name in names:
        package = f"services.{name}.migrations"
        try:
            importlib.import_module(package)
        except ModuleNotFoundError:
            print_error(f"service {name!r} has no migrations ({package})")
            failed += 1
            continue
        url = database_url(config, name)
        engine = make_engine(url)
        try:
            migrations.upgrade(engine, package)
            print(f"{name}: up to date ({safe_uri(url)})")
        except Exception as exc:
            print_error(f"{name}: migration failed: {exc}")
            failed += 1
        finally:
            engine.dispose()
    return EXIT_ERROR if failed else EXIT_OK
