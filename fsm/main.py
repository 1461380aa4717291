"""``fsm``: the operator's command line.

    fsm geocode ADDRESS...                 one JSON line per address
    fsm token --user U --role R [...]      a bearer token for the gateway
    fsm migrate [SERVICE...]               bring service databases to the newest schema
    fsm dead-letters list SERVICE          a service's dead letters (origin, id, reason, body), left queued
    fsm dead-letters replay SERVICE        publish them again to where they came from
    fsm demo                               run the services in-process, play a scenario, report
    fsm calendar import FILE               store one year's holidays and make-up working days (validated)
    fsm calendar status                    the years the working-day calendar knows, and from where

and each service's own, from ``services/<name>/cli.py``'s ``register(subparsers)``:

    fsm import-requests FILE [--via ...]   intake: import a request export (CSV) with a per-row report
    fsm bridge-submit FILE                 intake: the same through the hotline/fax bridge
    fsm bench routing|dispatch ...         dispatch: the Solomon VRPTW and replay/scale benchmarks
    fsm parts ..., fsm certification ..., fsm settlement ...

Every command prints its errors to stderr and exits non-zero when it fails
(1: could not run; 2: ran, but some rows failed).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fsm.common import EXIT_ERROR, CliError, print_error, service_modules


def build_parser() -> argparse.ArgumentParser:
    from fsm import calendar, commands, dead_letters, demo

    parser = argparse.ArgumentParser(prog="fsm", description="Field-service platform command line")
    parser.add_argument("--config", help="config file (default: $FSM_CONFIG or the repo's config.yml)")
    parser.add_argument("--amqp-uri", help="broker URI (default: config AMQP_URI, i.e. $AMQP_URI)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    commands.register(sub)
    calendar.register(sub)
    demo.register(sub)
    dead_letters.register(sub)
    register_service_commands(sub)
    return parser


def register_service_commands(sub) -> None:
    """Each ``services/<name>/cli.py`` with ``register(subparsers)`` adds its own commands
    (e.g. ``fsm parts post-receipt``); a module that fails to import is reported, not fatal."""
    for name, _ in service_modules("cli.py"):
        module_name = f"services.{name}.cli"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            print(f"fsm: warning: skipping {module_name}: {exc!r}", file=sys.stderr)
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)


def green() -> None:
    """eventlet's monkey patching, before any command works: nameko's runner and proxies (and the
    demo's in-process services) need it. Once per process, never at import."""
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import eventlet

    eventlet.monkey_patch()


def main(argv=None) -> int:
    green()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CliError as exc:
        print_error(str(exc))
        code = EXIT_ERROR
    except KeyboardInterrupt:
        print_error("interrupted")
        code = 130
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
