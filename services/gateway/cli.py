"""``fsm user ...``: people's accounts in the gateway's database (DATABASE_URL_GATEWAY, else
var/gateway.db), the ones the portal and ``POST /api/v1/auth/login`` sign in.

    fsm user add USERNAME --role R [--tenant T] [--outlet O] [--warehouse W] [--duty D] [--name 显示名]
    fsm user list [--json]
    fsm user disable USERNAME
    fsm user reset-password USERNAME

A password is read from standard input when it is piped (the first line), else asked for twice
on the terminal; it is never an argument (it would stay in the shell's history and in ps).
"""

from __future__ import annotations

import getpass
import json
import sys

from fsm.common import EXIT_OK, CliError, cli_config, format_table, local_time


def register(subparsers):
    p = subparsers.add_parser("user", help="people's accounts for the portal and the API's sign-in")
    sub = p.add_subparsers(dest="user_command", metavar="USER_COMMAND")
    sub.required = True

    a = sub.add_parser("add", help="add an account (password from stdin when piped, else prompted twice)")
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=("hq", "center", "outlet", "warehouse"))
    a.add_argument("--tenant", help="the regional center (center, outlet; a warehouse's center)")
    a.add_argument("--outlet", help="the outlet (role outlet)")
    a.add_argument("--warehouse", help="the warehouse (role warehouse)")
    a.add_argument("--duty", choices=("technical_lead", "service_head"), help="a center or HQ user's duty")
    a.add_argument("--name", help="the name shown in the portal (default: the username)")
    a.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="every account with its role, tenant, outlet and state")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    d = sub.add_parser("disable", help="stop an account from signing in (its portal sessions end)")
    d.add_argument("username")
    d.set_defaults(func=cmd_disable)

    r = sub.add_parser("reset-password", help="set a new password (its portal sessions end, the lock clears)")
    r.add_argument("username")
    r.set_defaults(func=cmd_reset_password)


# ---------------------------------------------------------------- the database
def open_store(config):
    """The gateway's database, migrated to the newest schema."""
    from services.gateway.models import Base
    from shared.config import database_url
    from shared.db import Store

    store = Store("gateway", database_url(config, "gateway"), Base.metadata, "services.gateway.migrations")
    try:
        store.create_schema()
    except Exception as exc:
        store.dispose()
        raise CliError(f"cannot open the gateway's database: {exc}") from None
    return store


def _run(args, work):
    """`work(uow, passwords, now)` in one unit of work on the gateway's database."""
    from services.gateway.accounts import Passwords
    from services.gateway.portal.web import GATEWAY
    from shared import clock

    config = cli_config(args)
    store = open_store(config)
    try:
        with store.uow(GATEWAY) as uow:
            result = _checked(work, uow, Passwords.from_config(config), clock.now())
            uow.commit()
            return result
    finally:
        store.dispose()


def _checked(fn, *args):
    """`fn(*args)`, a domain error becoming ``fsm: error: ...`` with the fields it names."""
    from shared.errors import DomainError

    try:
        return fn(*args)
    except DomainError as exc:
        details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (exc.fields or {}).items())
        raise CliError(f"{exc.message}{f' ({details})' if details else ''}") from None


def read_password(username: str) -> str:
    """The first line of standard input when it is piped, else typed twice (not echoed)."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise CliError("no password on standard input")
        return line.rstrip("\r\n")
    first = getpass.getpass(f"password for {username}: ")
    second = getpass.getpass("again: ")
    if first != second:
        raise CliError("the two passwords differ")
    return first


# ---------------------------------------------------------------- the commands
def cmd_add(args) -> int:
    from services.gateway import accounts
    from shared.tenants import TenantDirectory

    centers = TenantDirectory.from_config(cli_config(args)).centers
    account = (args.role, args.tenant, args.outlet, args.warehouse, args.duty)
    # a wrong name, role, tenant or outlet is refused before a password is asked for
    _checked(lambda: accounts.account_principal(accounts.check_username(args.username), *account, centers))
    password = read_password(args.username)

    def add(uow, passwords, now):
        user = accounts.add_user(
            uow.session,
            passwords,
            now,
            args.username,
            password,
            args.role,
            display_name=args.name,
            tenant=args.tenant,
            outlet=args.outlet,
            warehouse=args.warehouse,
            duty=args.duty,
            known_tenants=centers,
        )
        return user.username, user.display_name

    username, display = _run(args, add)
    print(f"added {username} ({display}, {args.role})")
    return EXIT_OK


def cmd_list(args) -> int:
    from services.gateway import accounts

    def rows(uow, passwords, now):
        return [
            {
                "username": u.username,
                "name": u.display_name,
                "role": u.role,
                "tenant": u.tenant_id,
                "outlet": u.outlet_id,
                "warehouse": u.warehouse_id,
                "duty": u.duty,
                "disabled": u.disabled,
                "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
            }
            for u in accounts.list_users(uow.session)
        ]

    users = _run(args, rows)
    if args.json:
        print(json.dumps(users, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not users:
        print("no accounts (fsm user add USERNAME --role R ...)")
        return EXIT_OK
    table = [["username", "name", "role", "tenant", "outlet/warehouse", "duty", "state", "last sign-in"]]
    for u in users:
        state = "disabled" if u["disabled"] else ("locked" if u["locked_until"] else "active")
        last = local_time(u["last_login_at"]) if u["last_login_at"] else ""
        table.append(
            [u["username"], u["name"], u["role"], u["tenant"], u["outlet"] or u["warehouse"], u["duty"], state, last]
        )
    print(format_table(table))
    return EXIT_OK


def cmd_disable(args) -> int:
    from services.gateway import accounts

    def disable(uow, passwords, now):
        accounts.disable(uow.session, accounts.get_user(uow.session, args.username))

    _run(args, disable)
    print(f"disabled {args.username}")
    return EXIT_OK


def cmd_reset_password(args) -> int:
    from services.gateway import accounts

    def exists(uow, passwords, now):
        accounts.get_user(uow.session, args.username)

    _run(args, exists)  # an unknown user is said before a password is asked for
    password = read_password(args.username)

    def reset(uow, passwords, now):
        accounts.set_password(uow.session, passwords, now, accounts.get_user(uow.session, args.username), password)

    _run(args, reset)
    print(f"new password set for {args.username}")
    return EXIT_OK
