"""``fsm demo``: every service in-process on fresh SQLite databases, each service's part of the
scenario played against them from outside (RPC and the gateway's API), and one report.

A service takes part with ``services/<name>/demo.py``:

    prepare(ctx)             optional: before the platform starts (read its inputs, adjust ctx.config)
    run(ctx) -> (lines, ok)  required: its part, against the running platform
    summary(ctx) -> lines    optional: the report's opening lines, written once every part ran

Everything a run writes goes under its run folder, var/demo-<timestamp>-<pid>/ (--var-dir moves
it): the databases, demo.log, and each document a part issues. A part asks for the folder with
``ctx.run_folder("documents")`` and lists what it wrote with ``ctx.record_document(path, what)``;
the report ends with those paths.

The parts run in PART_ORDER (then by name). The first (intake: it registers the sample requests
the others work on) opens the report; a part that fails is reported and fails the demo (exit 1),
and a part that had some of its input refused sets ``ctx.partial`` (exit 2).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fsm.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    SAMPLE_REQUESTS,
    CliError,
    cli_config,
    rpc_consumers,
    safe_uri,
    service_classes,
    service_modules,
)
from shared.config import REPO_ROOT

PART_ORDER = ("intake", "dispatch", "certification", "parts", "settlement", "qa")
NEEDED = ("intake", "gateway")  # the scenario starts with intake's requests and goes through the gateway
RULE = 78


def register(subparsers):
    p = subparsers.add_parser("demo", help="run the services in-process, import the sample requests, report")
    p.add_argument("--requests", default=str(SAMPLE_REQUESTS), metavar="FILE")
    p.add_argument(
        "--centers", nargs="*", metavar="ID", help="only report these tenants (default: every center and HQ triage)"
    )
    p.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="HTTP ports from this number up (0: any free port; default: config HTTP_PORTS)",
    )
    p.add_argument("--var-dir", help="where the demo-<timestamp> directory goes (default: var/)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument(
        "--no-shift", action="store_true", help="import the dates as they are (rows dated in the future then fail)"
    )
    p.add_argument("--event-timeout", type=float, default=20.0)
    p.add_argument("-v", "--verbose", action="store_true", help="service logs to stderr too")
    p.set_defaults(func=cmd_demo)


# ====================================================================== what a part gets
class Gateway:
    """Tiny HTTP client for the demo's calls through the gateway."""

    def __init__(self, base_url, secret):
        import requests

        self.base_url = base_url
        self.secret = secret
        self.http = requests.Session()

    def token(self, principal):
        from shared.auth import issue_token

        return issue_token(self.secret, principal, ttl_seconds=3600)

    def call(self, method, path, principal, **kw):
        headers = {"Authorization": f"Bearer {self.token(principal)}"}
        resp = self.http.request(method, self.base_url + path, headers=headers, timeout=30, **kw)
        body = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else resp.text
        return resp.status_code, body


@dataclass
class DemoContext:
    """What a service's demo part gets: the running platform, seen from outside, and what the
    parts before it found."""

    config: dict
    gateway: Gateway | None
    directory: object
    tickets: list = field(default_factory=list)  # intake's tickets once its part ran
    timings: dict = field(default_factory=dict)  # label -> seconds, printed in the report
    tap: object = None  # intake's tap: what intake.events published
    names: list = field(default_factory=list)  # the services running
    options: argparse.Namespace | None = None  # the `fsm demo` options
    requests: list = field(default_factory=list)  # the imported request rows (.payload, .result)
    notes: dict = field(default_factory=dict)  # what a part keeps for its summary, by service
    partial: bool = False  # some input was refused (exit 2)
    run_dir: Path | None = None  # this run's folder (var/demo-<timestamp>-<pid>)
    documents: list = field(default_factory=list)  # (path, what) of each document written, in order

    def option(self, name, default=None):
        return getattr(self.options, name, default) if self.options is not None else default

    def run_folder(self, *sub: str) -> Path:
        """This run's folder, or a folder inside it (made when missing)."""
        if self.run_dir is None:
            raise CliError("the demo's run folder is not set up yet")
        folder = self.run_dir.joinpath(*sub)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def record_document(self, path: Path, what: str) -> Path:
        """Note a document a part wrote (under the run folder): the report lists it at the end."""
        self.documents.append((Path(path), what))
        return Path(path)

    def rpc(self, service: str, principal=None, timeout: float = 120):
        """A standalone RPC proxy to `service` acting as `principal` (default: HQ)."""
        from nameko.standalone.rpc import ServiceRpcProxy

        from shared.tenancy import Principal

        principal = principal or Principal("fsm-demo", "hq")
        return ServiceRpcProxy(service, self.config, context_data={"principal": principal.encode()}, timeout=timeout)


# ====================================================================== the command
def cmd_demo(args) -> int:
    from nameko.runners import ServiceRunner

    from shared.tenants import TenantDirectory

    t0 = time.monotonic()
    classes = service_classes()
    names = [cls.name for cls in classes]
    for needed in NEEDED:
        if needed not in names:
            raise CliError(f"the demo needs the {needed} service (services/{needed}/service.py)")
    parts = demo_parts(names)
    ctx = DemoContext(config=cli_config(args), gateway=None, directory=None, names=names, options=args)
    for _name, module, _ in parts:
        if module is not None and hasattr(module, "prepare"):
            module.prepare(ctx)

    import jwt.warnings

    warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # the dev secret is short
    amqp_uri = ctx.config["AMQP_URI"]
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        busy = [name for name, n in rpc_consumers(amqp_uri, names).items() if n]
    except Exception as exc:
        raise CliError(
            f"cannot reach RabbitMQ at {safe_uri(amqp_uri)}: {exc!r} (start it with `make rabbitmq`)"
        ) from None
    logging.getLogger("pika").setLevel(logging.NOTSET)
    if busy:
        raise CliError(
            f"{', '.join(busy)} already running on {safe_uri(amqp_uri)}: the demo would share "
            "their RPC queues. Stop them or point AMQP_URI at another vhost."
        )
    ctx.config, demo_dir = demo_config(ctx.config, args, names)
    ctx.run_dir = demo_dir
    demo_logging(demo_dir, args.verbose)
    print(f"fsm demo: services {', '.join(names)}; broker {safe_uri(amqp_uri)}; data in {demo_dir}", file=sys.stderr)

    runner = ServiceRunner(ctx.config)
    for cls in classes:
        runner.add_service(cls)
    exit_code = EXIT_OK
    try:
        runner.start()
        containers = {c.service_name: c for c in runner.containers}
        for container in containers.values():
            port = _container_port(container)
            if port:
                _wait_http(f"http://127.0.0.1:{port}/health", 20)
        ctx.gateway = Gateway(f"http://127.0.0.1:{_container_port(containers['gateway'])}", ctx.config["AUTH_SECRET"])
        ctx.directory = TenantDirectory.from_config(ctx.config)
        ctx.timings["start"] = time.monotonic() - t0
        sections = []
        for name, module, error in parts:
            lines, ok = run_part(ctx, name, module, error, lead=not sections)
            sections.append((name, lines))
            if not ok:
                exit_code = EXIT_ERROR
        if ctx.partial:
            exit_code = exit_code or EXIT_PARTIAL
        ctx.timings["total"] = time.monotonic() - t0
        print(report(ctx, parts, sections), flush=True)
        print(f"(logs and databases in {demo_dir})")
    finally:
        runner.stop()
    return exit_code


def demo_parts(names) -> list:
    """(service, its demo module or None, the import error or None) of each running service
    with a demo.py, in PART_ORDER; the lead (intake) must import."""
    found = [(name, path) for name, path in service_modules("demo.py") if name in names]
    found.sort(key=lambda item: (PART_ORDER.index(item[0]) if item[0] in PART_ORDER else len(PART_ORDER), item[0]))
    parts = []
    for name, _ in found:
        try:
            parts.append((name, importlib.import_module(f"services.{name}.demo"), None))
        except Exception as exc:
            if not parts:
                raise
            parts.append((name, None, exc))
    if not parts or parts[0][0] != PART_ORDER[0]:
        raise CliError(f"the demo needs services/{PART_ORDER[0]}/demo.py")
    return parts


def run_part(ctx, name, module, error, lead=False) -> tuple[list[str], bool]:
    """One part, timed. The lead's failure stops the demo (nothing else has its data); any other
    part's is logged and reported in its section."""
    t1 = time.monotonic()
    timed = set(ctx.timings)
    if lead:
        return module.run(ctx)
    try:
        if error is not None:
            raise error
        lines, ok = module.run(ctx)
    except CliError:
        raise
    except Exception as exc:
        logging.getLogger("fsm.demo").exception("the %s part failed", name)
        lines, ok = [f"  the {name} part failed: {getattr(exc, 'message', None) or exc!r}"], False
    if set(ctx.timings) == timed:  # a part that timed its own steps keeps them
        ctx.timings[name] = time.monotonic() - t1
    return lines, ok


def report(ctx, parts, sections) -> str:
    """The parts' summaries, then each part's lines: the lead's under the title, the next under a
    ruled heading, the others under their name."""
    out = ["=" * RULE, "FIELD-SERVICE DEMO REPORT", "=" * RULE]
    for _, module, _ in parts:
        if module is not None and hasattr(module, "summary"):
            out.extend(module.summary(ctx))
    for i, (name, lines) in enumerate(sections):
        if i == 1:
            out.extend(["", "-" * RULE, name.upper(), "-" * RULE])
        elif i > 1:
            out.extend(["", name.capitalize()])
        out.extend(lines)
    out.extend(documents_written(ctx))
    out.append("=" * RULE)
    return "\n".join(out)


def documents_written(ctx) -> list[str]:
    """The report's closing list: each document the parts wrote, its size and what it is."""
    if not ctx.documents:
        return []
    out = ["", f"Documents written ({len(ctx.documents)}), under {ctx.run_dir}:"]
    for path, what in ctx.documents:
        size = f"{path.stat().st_size:,} bytes" if path.is_file() else "MISSING"
        out.append(f"  {path}  ({size}; {what})")
    return out


# ====================================================================== the platform
def demo_config(config, args, services) -> tuple[dict, Path]:
    """The configuration of the in-process platform: a fresh directory of SQLite databases, HTTP
    ports that are free, a fast outbox relay and no logging configuration of its own."""
    config = dict(config)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(args.var_dir) if args.var_dir else REPO_ROOT / "var"
    demo_dir = base / f"demo-{stamp}-{os.getpid()}"
    demo_dir.mkdir(parents=True, exist_ok=False)
    names = set(services) | set((config.get("DATABASES") or {}).keys())
    config["DATABASES"] = {name: f"sqlite:///{demo_dir / f'{name}.db'}" for name in sorted(names)}
    for name in names:  # an environment override would point the demo at a persistent database
        os.environ.pop(f"DATABASE_URL_{name.upper()}", None)
    host = "127.0.0.1"
    config["HTTP_HOST"] = host
    configured = dict(config.get("HTTP_PORTS") or {})
    order = list(configured) + [n for n in services if n not in configured]
    ports = {}
    for name in order:
        if args.port_base is not None:
            ports[name] = 0 if args.port_base == 0 else args.port_base + order.index(name)
        else:
            port = int(configured.get(name) or 0)
            if port and name in services and not _port_free(host, port):
                print(f"fsm: note: port {port} for {name} is in use, using a free one", file=sys.stderr)
                port = 0
            ports[name] = port
    config["HTTP_PORTS"] = ports
    config["OUTBOX_POLL_SECONDS"] = min(float(config.get("OUTBOX_POLL_SECONDS") or 1.0), 0.2)
    config.pop("LOGGING", None)
    return config, demo_dir


def _port_free(host: str, port: int) -> bool:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _not_domain_error(record) -> bool:
    """nameko logs every failed worker at ERROR; a refused request (404, 409, 422) is no error."""
    from shared.errors import DomainError

    if record.name.startswith("pika."):
        return False  # connection failures are reported by the demo itself, once
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, DomainError)


def demo_logging(demo_dir: Path, verbose: bool):
    """Everything to demo.log in the demo's directory; errors (every log with -v) to stderr."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    fh = logging.FileHandler(demo_dir / "demo.log", encoding="utf-8")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(fh)
    root.setLevel(logging.INFO)
    err = logging.StreamHandler(sys.stderr)
    err.setLevel(logging.INFO if verbose else logging.ERROR)
    err.addFilter(_not_domain_error)
    err.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(err)


def _container_port(container):
    from shared.web import JsonHttpHandler

    for ext in container.entrypoints:
        if isinstance(ext, JsonHttpHandler):
            return ext.server.port
    return None


def _wait_http(url, timeout):
    import eventlet
    import requests

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            resp = requests.get(url, timeout=2)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = str(exc)
        eventlet.sleep(0.1)
    raise CliError(f"{url} did not come up within {timeout:.0f} s ({last})")
