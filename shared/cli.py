"""``fsm``: the operator's command line.

    fsm geocode ADDRESS...                 one JSON line per address
    fsm token --user U --role R [...]      a bearer token for the gateway
    fsm import-requests FILE [--via ...]   import a request export (CSV) with a per-row report
    fsm bridge-submit FILE                 the same through the hotline/fax bridge
    fsm migrate [SERVICE...]               bring service databases to the newest schema
    fsm dead-letters list SERVICE          a service's dead letters (origin, id, reason, body), left queued
    fsm dead-letters replay SERVICE        publish them again to where they came from (shared/dead_letters.py)
    fsm demo                               run the services in-process, play a scenario, report
    fsm bench routing --instances DIR ...  Solomon VRPTW benchmark of the routing code (bench/routing.py)
    fsm bench dispatch [--scale] ...       the dispatch replay / scale benchmark (bench/dispatch*.py)

Every command prints its errors to stderr and exits non-zero when it fails
(1: could not run; 2: ran, but some rows failed).
"""
from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import eventlet  # noqa: E402

eventlet.monkey_patch()  # noqa: E402  (nameko's runner and proxies need it; before other imports)

import argparse  # noqa: E402
from dataclasses import dataclass  # noqa: E402
import csv  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import unicodedata  # noqa: E402
import uuid  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from shared.config import REPO_ROOT, database_url, load_config  # noqa: E402

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_REQUESTS = REPO_ROOT / "data" / "service_requests_sample.csv"
IMPORT_USER = "fsm-import"
TIERS = ("local", "in_province", "out_of_province", "unplaced")
KINDS = ("repair", "install", "maintenance", "complaint", "consultation")
TRIAGE_TENANT = "HQ"
TECHNICIANS_CSV = REPO_ROOT / "shared" / "data" / "technicians.csv"
ONSITE_KINDS = ("repair", "install", "maintenance", "complaint")  # kinds that become dispatch visits
LIVE_KINDS = ("repair", "install", "maintenance")
LIVE_PER_CENTER = 7            # the demo's "live day": 7 hotline calls per center, received now
DEMO_SOLVE_SECONDS = 2.0       # DISPATCH_TIME_LIMIT for the demo

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2


class CliError(Exception):
    """A failure the operator can act on: printed as ``fsm: error: ...``, exit code 1."""


def _err(message: str):
    print(f"fsm: error: {message}", file=sys.stderr)


# ====================================================================== services
def service_classes(root: Path | None = None, strict: bool = False) -> list:
    """The nameko service classes of ``services/*/service.py`` that import, sorted by name.

    A module that fails to import is reported on stderr and skipped (``strict``: raised).
    """
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    root = Path(root or REPO_ROOT / "services")
    found = {}
    for path in sorted(root.glob("*/service.py")):
        module_name = f"services.{path.parent.name}.service"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a service under construction must not stop the others
            if strict:
                raise
            print(f"fsm: warning: skipping {module_name}: {exc!r}", file=sys.stderr)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not isinstance(getattr(cls, "name", None), str):
                continue
            if not inspect.getmembers(cls, lambda m: hasattr(m, ENTRYPOINT_EXTENSIONS_ATTR)):
                continue
            if cls.name in found and found[cls.name] is not cls:
                raise CliError(f"two services are named {cls.name!r}: "
                               f"{found[cls.name].__module__} and {module_name}")
            found[cls.name] = cls
    return [found[name] for name in sorted(found)]


def _config(args, **overrides) -> dict:
    try:
        config = load_config(getattr(args, "config", None))
    except OSError as exc:
        raise CliError(f"cannot read the configuration: {exc}") from None
    if getattr(args, "amqp_uri", None):
        config["AMQP_URI"] = args.amqp_uri
    config.update(overrides)
    return config


# ====================================================================== geocode
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


# ====================================================================== token
def cmd_token(args) -> int:
    from shared.auth import issue_token, max_ttl
    from shared.errors import DomainError
    from shared.tenancy import Principal

    config = _config(args)
    secret = config.get("AUTH_SECRET")
    if not secret:
        raise CliError("AUTH_SECRET is not configured")
    if args.ttl_days <= 0:
        raise CliError("--ttl-days must be positive")
    try:
        principal = Principal(user=args.user, role=args.role, tenant=args.tenant, outlet=args.outlet,
                              warehouse=args.warehouse, customer=args.customer, duty=args.duty)
        token = issue_token(secret, principal, ttl_seconds=int(args.ttl_days * 24 * 3600),
                            max_ttl_seconds=max_ttl(config))
    except (DomainError, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(token)
    return EXIT_OK


# ====================================================================== import
class Row:
    """One data row of the CSV: its number (1 = first data row), raw cells and payload."""

    __slots__ = ("number", "line", "raw", "payload", "result")

    def __init__(self, number, line, raw, payload):
        self.number, self.line, self.raw, self.payload = number, line, raw, payload
        self.result = None

    @property
    def request_id(self):
        return self.payload.get("external_ref") or ""


def read_requests(path) -> tuple[list[str], list[Row]]:
    from services.intake.schemas import csv_row_to_payload

    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise CliError(f"{path}: empty file (expected a header row)")
            rows = []
            for number, raw in enumerate(reader, start=1):
                rows.append(Row(number, reader.line_num, raw, csv_row_to_payload(raw)))
            return list(reader.fieldnames), rows
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 ({exc})") from None
    except csv.Error as exc:
        raise CliError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise CliError(f"{path}: {exc}") from None


def _chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _progress(total, desc, disable=False, unit="row"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable,
                dynamic_ncols=True, leave=True)


def import_principal(as_tenant: str | None):
    from shared.tenancy import Principal

    if as_tenant:
        return Principal(IMPORT_USER, "center", tenant=as_tenant)
    return Principal(IMPORT_USER, "hq")


def _rpc_result(row: Row, result: dict):
    row.result = dict(result, row=row.number, request_id=row.request_id)


def _fail(row: Row, error: str, fields=None):
    row.result = {"row": row.number, "request_id": row.request_id, "ok": False, "error": error,
                  "fields": fields or {}}


def require_intake(config):
    """Fail fast (instead of waiting for an RPC timeout) when nothing consumes intake's RPC queue."""
    try:
        running = rpc_consumers(config["AMQP_URI"], ["intake"])["intake"]
    except Exception as exc:
        raise CliError(f"cannot reach the broker at {_safe_uri(config['AMQP_URI'])}: {exc!r}") from None
    if not running:
        raise CliError(f"the intake service is not running on {_safe_uri(config['AMQP_URI'])} "
                       "(start it with `make run`)")


def send_rpc(rows, config, principal, batch, progress, timeout=120.0):
    from nameko.exceptions import RemoteError, UnknownService
    from nameko.standalone.rpc import ServiceRpcProxy

    context = {"principal": principal.encode()}
    try:
        with ServiceRpcProxy("intake", config, context_data=context, timeout=timeout) as intake:
            for chunk in _chunks(rows, batch):
                try:
                    results = intake.import_requests([r.payload for r in chunk])
                except UnknownService:
                    raise CliError("the intake service is not running on this broker "
                                   f"({_safe_uri(config['AMQP_URI'])})") from None
                except (RemoteError, Exception) as exc:
                    if isinstance(exc, CliError):
                        raise
                    message = getattr(exc, "message", None) or str(exc)
                    for row in chunk:
                        _fail(row, f"batch failed: {message}", getattr(exc, "fields", None))
                    progress.update(len(chunk))
                    continue
                for row, result in zip(chunk, results):
                    _rpc_result(row, result)
                progress.update(len(chunk))
    except (OSError, ConnectionError) as exc:
        raise CliError(f"cannot reach the broker at {_safe_uri(config['AMQP_URI'])}: {exc}") from None


def send_http(rows, fieldnames, config, principal, batch, progress, url=None, token=None, timeout=120.0):
    import requests

    from shared.auth import issue_token

    if not url:
        port = (config.get("HTTP_PORTS") or {}).get("gateway") or 8000
        url = f"http://127.0.0.1:{port}"
    endpoint = url.rstrip("/") + "/api/v1/tickets/import"
    token = token or os.environ.get("FSM_TOKEN") or issue_token(config["AUTH_SECRET"], principal, 3600)
    headers = {"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {token}"}
    session = requests.Session()
    for chunk in _chunks(rows, batch):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r.raw for r in chunk)
        try:
            resp = session.post(endpoint, data=buf.getvalue().encode("utf-8"), headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach the gateway at {url}: {exc}") from None
        if resp.status_code in (401, 403):
            raise CliError(f"the gateway refused the token ({resp.status_code}): {_error_text(resp)}")
        if resp.status_code != 200:
            for row in chunk:
                _fail(row, f"batch failed: HTTP {resp.status_code}: {_error_text(resp)}")
            progress.update(len(chunk))
            continue
        for row, result in zip(chunk, resp.json()["rows"]):
            _rpc_result(row, result)
        progress.update(len(chunk))


def _error_text(resp):
    try:
        err = resp.json()["error"]
        return err.get("message") + (f" {err['fields']}" if err.get("fields") else "")
    except Exception:
        return resp.text[:200]


def send_bridge(rows, config, progress):
    from services.intake.schemas import BridgeRequest
    from shared.bridge import BridgeClient, BridgeError

    schema = BridgeRequest()
    with BridgeClient(config["AMQP_URI"]) as bridge:
        aborted = None
        for row in rows:
            if aborted:
                _fail(row, f"not sent: {aborted}")
            else:
                problems = schema.validate(row.payload)
                if problems:
                    _fail(row, "not a valid bridge request", problems)
                else:
                    try:
                        bridge.submit(row.payload)
                        row.result = {"row": row.number, "request_id": row.request_id, "ok": True,
                                      "queued": True}
                    except BridgeError as exc:
                        _fail(row, exc.message)
                        aborted = "an earlier row could not be delivered"
            progress.update(1)


def cmd_import(args) -> int:
    from shared.errors import DomainError

    via = args.via
    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    config = _config(args)
    fieldnames, rows = read_requests(args.file)
    if not rows:
        raise CliError(f"{args.file}: no data rows")
    try:
        principal = import_principal(args.as_tenant)
    except DomainError as exc:
        raise CliError(str(exc)) from None
    if via == "rpc":
        require_intake(config)
    started = time.monotonic()
    with _progress(len(rows), f"import via {via}") as progress:
        if via == "rpc":
            send_rpc(rows, config, principal, args.batch, progress)
        elif via == "http":
            send_http(rows, fieldnames, config, principal, args.batch, progress, url=args.url, token=args.token)
        else:
            from shared.bridge import BridgeError

            try:
                send_bridge(rows, config, progress)
            except BridgeError as exc:
                raise CliError(exc.message) from None
    elapsed = time.monotonic() - started
    for row in rows:
        if row.result is None:
            _fail(row, "no result")
    failed = [r for r in rows if not r.result["ok"]]
    ok = len(rows) - len(failed)
    dups = sum(1 for r in rows if r.result.get("duplicate"))
    verb = "queued for intake" if via == "bridge" else "registered"
    print(f"{ok} of {len(rows)} rows {verb}" + (f" ({dups} already known)" if dups else "")
          + f", {len(failed)} failed, in {elapsed:.1f} s via {via}")
    if via != "bridge" and ok:
        by_tenant = Counter(r.result.get("tenant_id") for r in rows if r.result["ok"])
        print("by tenant: " + ", ".join(f"{t} {n}" for t, n in sorted(by_tenant.items())))
    if failed:
        print()
        print(error_table(failed))
    if args.report:
        write_report(args.report, rows)
        print(f"report written to {args.report}")
    return EXIT_PARTIAL if failed else EXIT_OK


def error_table(failed_rows) -> str:
    table = [("row", "request id", "error", "fields")]
    for r in failed_rows:
        res = r.result
        table.append((str(r.number), r.request_id, res.get("error") or "",
                      _fields_text(res.get("fields"))))
    return "rows that failed:\n" + format_table(table, align="rlll")


def _fields_text(fields) -> str:
    if not fields:
        return ""
    parts = []
    for name, messages in fields.items():
        if isinstance(messages, (list, tuple)):
            messages = "; ".join(str(m) for m in messages)
        elif isinstance(messages, dict):
            messages = json.dumps(messages, ensure_ascii=False)
        parts.append(f"{name}: {messages}")
    return " | ".join(parts)


def write_report(path, rows):
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "line", "request_id", "ok", "ticket_number", "tenant_id", "duplicate",
                             "error", "fields"])
            for r in rows:
                res = r.result
                writer.writerow([r.number, r.line, r.request_id, "yes" if res["ok"] else "no",
                                 res.get("number") or "", res.get("tenant_id") or "",
                                 "yes" if res.get("duplicate") else "",
                                 res.get("error") or "",
                                 json.dumps(res.get("fields") or {}, ensure_ascii=False) if not res["ok"] else ""])
    except OSError as exc:
        raise CliError(f"cannot write the report {path}: {exc}") from None


# ====================================================================== migrate
def cmd_migrate(args) -> int:
    from shared import migrations
    from shared.db import make_engine

    config = _config(args)
    names = args.services or [cls.name for cls in service_classes()]
    failed = 0
    for name in names:
        package = f"services.{name}.migrations"
        try:
            importlib.import_module(package)
        except ModuleNotFoundError:
            if args.services:
                _err(f"service {name!r} has no migrations ({package})")
                failed += 1
            else:
                print(f"{name}: no database")
            continue
        url = database_url(config, name)
        engine = make_engine(url)
        try:
            migrations.upgrade(engine, package)
            print(f"{name}: up to date ({_safe_uri(url)})")
        except Exception as exc:
            _err(f"{name}: migration failed: {exc}")
            failed += 1
        finally:
            engine.dispose()
    return EXIT_ERROR if failed else EXIT_OK


# ====================================================================== tables
def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, align: str) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if align == "r" else text + gap


def format_table(rows, align=None, indent="  ") -> str:
    """Rows of strings as an aligned table (CJK counted double width); first row is the header."""
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    ncols = max(len(r) for r in rows)
    rows = [r + [""] * (ncols - len(r)) for r in rows]
    align = (align or "l" * ncols).ljust(ncols, "l")
    widths = [max(_width(r[i]) for r in rows) for i in range(ncols)]
    out = []
    for n, row in enumerate(rows):
        out.append(indent + "  ".join(_pad(c, widths[i], align[i]) for i, c in enumerate(row)).rstrip())
        if n == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(out)


# ====================================================================== demo
def _safe_uri(uri: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return uri


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


class EventTap:
    """A private queue on ``intake.events`` (every routing key) read with pika: what was published."""

    def __init__(self, amqp_uri, source="intake"):
        import pika

        from shared.bridge import pika_parameters

        self.connection = pika.BlockingConnection(pika_parameters(amqp_uri, connection_attempts=1,
                                                                  socket_timeout=10))
        self.channel = self.connection.channel()
        exchange = f"{source}.events"
        # the same declaration nameko's publishers make (topic, durable, not auto-delete)
        self.channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True, auto_delete=False)
        self.queue = f"fsm-demo-tap-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        self.channel.queue_bind(self.queue, exchange, routing_key="#")
        self.counts = Counter()
        self.registered_ids = set()
        self.registered_by_tenant = Counter()

    def drain(self) -> int:
        got = 0
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return got
            got += 1
            self.counts[method.routing_key] += 1
            if method.routing_key == "ticket.registered":
                try:
                    payload = json.loads(body)
                except ValueError:
                    continue
                self.registered_ids.add(payload.get("ticket_id"))
                self.registered_by_tenant[payload.get("tenant_id")] += 1

    def wait_registered(self, ticket_ids: set, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            if ticket_ids <= self.registered_ids:
                return True
            if time.monotonic() > deadline:
                return False
            eventlet.sleep(0.1)

    def close(self):
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception:  # pragma: no cover
            pass


def rpc_consumers(amqp_uri, names) -> dict:
    """How many workers consume each service's RPC queue on this vhost (None: no such queue)."""
    import pika
    from pika.exceptions import ChannelClosedByBroker

    from shared.bridge import pika_parameters

    counts = {}
    conn = pika.BlockingConnection(pika_parameters(amqp_uri, connection_attempts=1, socket_timeout=10))
    try:
        for name in names:
            channel = conn.channel()
            try:
                counts[name] = channel.queue_declare(f"rpc-{name}", passive=True).method.consumer_count
                channel.close()
            except ChannelClosedByBroker:
                counts[name] = None  # no such queue: nobody served it here yet
    finally:
        conn.close()
    return counts


def _busy_consumers(amqp_uri, names) -> list[str]:
    """Services that already have RPC consumers on this vhost (another `nameko run` or demo)."""
    return [name for name, n in rpc_consumers(amqp_uri, names).items() if n]


def _container_port(container):
    from shared.web import JsonHttpHandler

    for ext in container.entrypoints:
        if isinstance(ext, JsonHttpHandler):
            return ext.server.port
    return None


def _wait_http(url, timeout):
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


def _step_line(label, status, body, show):
    if status >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        return f"  {_pad(label, 32, 'l')} -> HTTP {status} {err.get('code', '')}: {err.get('message', body)}"
    return f"  {_pad(label, 32, 'l')} -> HTTP {status}  {show(body)}"


def demo_workflow(gateway: Gateway, tickets: list) -> tuple[list[str], bool]:
    """A center agent accepts a ticket and takes a complaint through 立案 → 内查 → 派员预案."""
    from shared.tenancy import Principal

    lines, ok = [], True

    def local(iso):
        return _local(iso) if iso else "-"

    def met(t, sla):
        d = next((d for d in t.get("deadlines", []) if d["sla"] == sla), None)
        if d is None:
            return f"{sla}: no deadline"
        state = ("met late" if d.get("breached_at") else "met in time") if d.get("met_at") else "open"
        return f"{sla} due {local(d['due_at'])}: {state}"

    def step(principal, ticket_id, action, note, **extra):
        nonlocal ok
        status, body = gateway.call("POST", f"/api/v1/tickets/{ticket_id}/transitions", principal,
                                    json={"action": action, "note": note, **extra})
        if status >= 400:
            ok = False
        return status, body

    repair = next((t for t in tickets if t["tenant_id"] == "C01" and t["status"] == "registered"
                   and t["kind"] == "repair"), None) or \
        next((t for t in tickets if t["status"] == "registered" and t["kind"] != "complaint"), None)
    if repair is None:
        return ["  (no registered ticket to accept)"], False
    agent = Principal(f"demo-agent-{repair['tenant_id'].lower()}", "center", tenant=repair["tenant_id"])
    lines.append(f"{agent.user} ({repair['tenant_id']}) accepts {repair['number']} "
                 f"({repair['kind']}, {repair['city'] or repair['province']}):")
    status, body = gateway.call("GET", f"/api/v1/tickets?status=registered&kind=repair&limit=1", agent)
    lines.append(_step_line("GET /tickets?status=registered", status, body,
                            lambda b: f"{b['total']} registered repair tickets in {agent.tenant}"))
    status, body = step(agent, repair["id"], "accept", "受理: 已电话联系客户")
    lines.append(_step_line("accept (受理)", status, body,
                            lambda b: f"status {b['status']}, {met(b, 'accept')}"))
    other = Principal("demo-agent-other", "center", tenant="C02" if repair["tenant_id"] != "C02" else "C01")
    status, body = gateway.call("GET", f"/api/v1/tickets/{repair['id']}", other)
    lines.append(f"  {_pad(f'GET it as a {other.tenant} agent', 32, 'l')} -> HTTP {status}  "
                 + ("not found: other tenants cannot see it" if status == 404 else "VISIBLE (tenancy leak!)"))
    if status != 404:
        ok = False

    complaint = next((t for t in tickets if t["tenant_id"] == agent.tenant and t["kind"] == "complaint"
                      and t["case_state"] == "accepted"), None) or \
        next((t for t in tickets if t["kind"] == "complaint" and t["case_state"] == "accepted"
              and t["tenant_id"] != TRIAGE_TENANT), None)
    if complaint is None:
        lines.append("  (no complaint to take through the case workflow)")
        return lines, False
    agent = Principal(f"demo-agent-{complaint['tenant_id'].lower()}", "center", tenant=complaint["tenant_id"])
    lines.append(f"{agent.user} ({complaint['tenant_id']}) takes complaint {complaint['number']} "
                 f"({complaint['fault'] or complaint['product_line']}) through the case workflow:")
    for action, label, note, extra in (
            ("register", "register (立案)", "立案: 客户投诉设备质量", {}),
            ("internal_check", "internal_check (内查)", "内查: 调取出厂检验记录",
             {"cause": "quality", "responsibility": "own"}),
            ("plan_dispatch", "plan_dispatch (派员预案)", "派员预案: 派工程师现场核实", {})):
        status, body = step(agent, complaint["id"], action, note, **extra)
        lines.append(_step_line(label, status, body,
                                lambda b: f"status {b['status']}, case {b['case_state']}"
                                + (f", {met(b, 'complaint_plan')}" if action == "plan_dispatch" else "")))
        if status >= 400:
            break
    status, body = gateway.call("GET", f"/api/v1/tickets/{complaint['id']}", agent)
    if status == 200:
        trail = " → ".join(f"{a['action']}({a['to_state']})" for a in body.get("audit", []))
        lines.append(f"  audit trail: {trail}")
    return lines, ok


# ---------------------------------------------------------------------- demo: dispatch
def read_technicians(path=TECHNICIANS_CSV) -> list[dict]:
    from services.dispatch.schemas import technician_row_to_payload

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [technician_row_to_payload(r) for r in csv.DictReader(fh)]
    except OSError as exc:
        raise CliError(f"cannot read the technicians {path}: {exc}") from None


def live_day_rows(rows, per_center=LIVE_PER_CENTER, stamp=None) -> list[Row]:
    """Hotline calls received now: the address, product and fault of the first sample rows of each
    center (repair, install, maintenance), without the export's dates and with fresh references."""
    stamp = stamp or datetime.now(LOCAL_TZ).strftime("%y%m%d%H%M%S")
    picked, per = [], Counter()
    for r in rows:
        res = r.result or {}
        tenant = res.get("tenant_id")
        if not res.get("ok") or tenant in (None, TRIAGE_TENANT) or r.payload.get("kind") not in LIVE_KINDS:
            continue
        if per[tenant] >= per_center:
            continue
        per[tenant] += 1
        payload = {k: v for k, v in r.payload.items() if k not in ("received_at", "wished_visit_at", "external_ref")}
        payload["channel"] = "hotline"
        payload["external_ref"] = f"LIVE-{stamp}-{len(picked) + 1:03d}"
        picked.append(Row(len(picked) + 1, 0, r.raw, payload))
    return picked


def all_visits(dispatch, page=1000) -> list:
    items, offset = [], 0
    while True:
        res = dispatch.board({"limit": page, "offset": offset})
        items.extend(res["items"])
        offset += len(res["items"])
        if not res["items"] or offset >= res["total"]:
            return items


def _wait_visits(dispatch, expected: int, timeout: float) -> int:
    """Wait until dispatch has made a visit of every on-site ticket (it learns them from events)."""
    deadline = time.monotonic() + timeout
    while True:
        total = dispatch.board({"limit": 1})["total"]
        if total >= expected or time.monotonic() > deadline:
            return total
        eventlet.sleep(0.2)


def _deadline_state(ticket, sla) -> str:
    d = next((d for d in ticket.get("deadlines", []) if d["sla"] == sla), None)
    if d is None:
        return f"{sla}: no deadline"
    state = ("met LATE" if d.get("breached_at") else "met in time") if d.get("met_at") else "open"
    met = f" at {_local(d['met_at'])}" if d.get("met_at") else ""
    return f"{sla} SLA due {_local(d['due_at'])}: {state}{met}"


def _short(text, width=60):
    text = text or ""
    return text if _width(text) <= width else text[:width - 1] + "…"


def demo_dispatch(config, gateway, intake, dispatch, rows, tickets, directory, batch, timings,
                  event_timeout) -> tuple[list[str], bool]:
    """Technicians, a live day of hotline calls, one re-optimisation per tenant, a route, and an
    outlet checking in and out of its first visit through the gateway."""
    from shared.tenancy import Principal

    lines, ok = [], True

    # -- technicians
    t1 = time.monotonic()
    techs = read_technicians()
    results = dispatch.import_technicians(techs)
    failed = [r for r in results if not r["ok"]]
    timings["technicians"] = time.monotonic() - t1
    lines.append(f"technicians imported: {len(results) - len(failed)}/{len(techs)} from "
                 f"{TECHNICIANS_CSV.relative_to(REPO_ROOT)}"
                 + (f" ({len(failed)} failed: {failed[0]['error']} {_fields_text(failed[0].get('fields'))})"
                    if failed else ""))
    if failed:
        ok = False

    # -- the live day: hotline calls received now
    t1 = time.monotonic()
    live = live_day_rows(rows)
    with _progress(len(live), "live day via rpc") as progress:
        send_rpc(live, config, import_principal(None), batch, progress)
    live_ok = [r for r in live if r.result and r.result["ok"] and not r.result.get("duplicate")]
    live_ids = {r.result["ticket_id"] for r in live_ok}
    if len(live_ok) != len(live):
        ok = False
        bad = next(r for r in live if r not in live_ok)
        lines.append(f"  live request {bad.request_id} failed: {(bad.result or {}).get('error')}")
    onsite = sum(1 for t in tickets if t["tenant_id"] != TRIAGE_TENANT and t["status"] != "triage"
                 and t["kind"] in ONSITE_KINDS)
    onsite += sum(1 for r in live_ok if r.result["tenant_id"] != TRIAGE_TENANT)
    n_visits = _wait_visits(dispatch, onsite, event_timeout)
    timings["live day"] = time.monotonic() - t1
    live_by_tenant = Counter(r.result["tenant_id"] for r in live_ok)
    lines.append(f"live day: {len(live_ok)} hotline requests received now "
                 f"({', '.join(f'{t} {n}' for t, n in sorted(live_by_tenant.items()))}); "
                 f"visits in dispatch: {n_visits}/{onsite} on-site tickets")
    if n_visits < onsite:
        ok = False
        lines.append(f"  only {n_visits} of {onsite} visits arrived within {event_timeout:.0f} s")

    # -- one re-optimisation per tenant, in sequence
    t1 = time.monotonic()
    tenants = sorted(directory.centers)
    with _progress(len(tenants), f"dispatch re-optimise ({DEMO_SOLVE_SECONDS:g} s each)", unit="tenant") as bar:
        for tenant in tenants:
            bar.set_postfix_str(tenant)
            dispatch.reoptimise(tenant)
            bar.update(1)
    timings["planning"] = time.monotonic() - t1

    runs = {}
    for run in dispatch.plan_runs(200):  # newest first
        if run["trigger"] == "manual" and run["tenant_id"] not in runs:
            runs[run["tenant_id"]] = run
    visits = all_visits(dispatch)
    by_tenant = defaultdict(list)
    for v in visits:
        by_tenant[v["tenant_id"]].append(v)
    live_visits = [v for v in visits if v["ticket_id"] in live_ids]
    live_sched = [v for v in live_visits if v["status"] == "scheduled"]
    live_on_time = [v for v in live_sched if not v["late_risk"]]

    lines.append(f"planning: one re-optimisation per tenant, {DEMO_SOLVE_SECONDS:g} s solver limit each, "
                 f"{timings['planning']:.1f} s in all (automatic planning off for the demo); "
                 "overdue historical visits are planned late, after the on-time ones")
    header = ["tenant", "visits", "scheduled", "of them late", "unassignable", "late risk", "planned km",
              "solve s", "tech-days"]
    table, totals = [header], Counter()
    for tenant in tenants:
        run = runs.get(tenant)
        items = by_tenant.get(tenant, [])
        status = Counter(v["status"] for v in items)
        risk = sum(1 for v in items if v["late_risk"])
        if run is None:
            table.append([tenant, str(len(items)), str(status.get("scheduled", 0)), "", str(status.get("unassignable", 0)),
                          str(risk), "", "(no run)", ""])
            ok = False
            continue
        row = {"visits": run["visits"], "scheduled": run["scheduled"], "of them late": run["late"],
               "unassignable": run["dropped"], "late risk": risk}
        totals.update(row)
        totals["km"] += run["planned_km"] or 0.0
        totals["s"] += run["seconds"] or 0.0
        table.append([tenant] + [str(row[k]) for k in header[1:6]]
                     + [f"{run['planned_km'] or 0:.0f}", f"{run['seconds']:.1f}", str(run["vehicles"])])
    table.append(["all"] + [str(totals[k]) for k in header[1:6]] + [f"{totals['km']:.0f}", f"{totals['s']:.1f}", ""])
    lines.append("Visits per tenant after planning (late risk: planned past, or still open near, the on-site due):")
    lines.append(format_table(table, align="l" + "r" * (len(header) - 1)))
    if sum(int(r[2]) for r in table[1:-1] if r[2].isdigit()) == 0:
        ok = False
    reasons = defaultdict(Counter)
    for v in visits:
        if v["status"] == "unassignable":
            reasons[v["tenant_id"]][v.get("unassignable_reason") or "?"] += 1
    if reasons:
        lines.append("Unassignable visits, top reasons:")
        for tenant in tenants:
            for i, (why, n) in enumerate(reasons[tenant].most_common(2)):
                lines.append(f"  {tenant if i == 0 else '':4}  {n:3d} x {_short(why, 90)}")
    lines.append(f"live-day visits: {len(live_visits)}, {len(live_sched)} scheduled, {len(live_on_time)} of them "
                 "before their on-site due")
    lines.append("")

    # -- one technician's route on the first planned day
    scheduled = [v for v in visits if v["status"] == "scheduled" and v.get("planned_arrival")]
    if not scheduled:
        lines.append("no visit was scheduled: no route to show")
        return lines, False
    day_of = {v["id"]: datetime.fromisoformat(v["planned_arrival"]).astimezone(LOCAL_TZ).date() for v in scheduled}
    first_day = min(day_of.values())
    stops = Counter(v["technician_id"] for v in scheduled if day_of[v["id"]] == first_day)
    tech_id = sorted(stops, key=lambda t: (-stops[t], t))[0]
    names = {t["id"]: t for t in dispatch.list_technicians()}
    tech = names.get(tech_id, {})
    route = dispatch.route(tech_id, {"date": first_day.isoformat()})
    lines.append(f"Route of {tech_id} {tech.get('name', '')} (outlet {route['outlet_id']}) on {route['date']}, "
                 f"the first planned day: {len(route['stops'])} stops, {route['planned_km']:.1f} km "
                 "(times Asia/Shanghai):")
    table = [["#", "arrival", "ticket", "kind", "city", "product line", "leg km", "on-site due"]]
    for s in route["stops"]:
        table.append([str(s["order"]), _local(s["planned_arrival"])[11:], s["ticket_number"], s["kind"],
                      s["city"] or "", s["product_line"] or "", f"{s['leg_km'] or 0:.1f}",
                      _local(s["onsite_due"]) if s.get("onsite_due") else "-"])
    lines.append(format_table(table, align="rlllllrl"))
    lines.append("")

    # -- the outlet checks in and out of its first visit, through the gateway
    t1 = time.monotonic()
    outlet_id = route["outlet_id"]
    tenant = tech.get("tenant_id") or directory.outlets[outlet_id].center
    outlet = Principal(f"demo-outlet-{outlet_id.lower()}", "outlet", tenant=tenant, outlet=outlet_id)
    lines.append(f"{outlet.user} (outlet token) does its first visit through the gateway API:")
    status, body = gateway.call("GET", "/api/v1/outlet/jobs?status=scheduled&limit=1000", outlet)
    lines.append(_step_line("GET /outlet/jobs?status=scheduled", status, body,
                            lambda b: f"{b['total']} scheduled jobs of {outlet_id}"))
    if status != 200 or not body["items"]:
        return lines, False
    job = min(body["items"], key=lambda v: (v["planned_arrival"], v["route_order"] or 0))
    lines.append(f"  first visit: {job['ticket_number']} ({job['kind']}, {job['city']}, {job['product_line']}), "
                 f"planned {_local(job['planned_arrival'])} with {job['technician_id']}")
    status, body = gateway.call("POST", f"/api/v1/visits/{job['id']}/check-in", outlet,
                                json={"lat": job["lat"], "lon": job["lon"], "technician_id": job["technician_id"]})
    lines.append(_step_line("POST /visits/<id>/check-in", status, body,
                            lambda b: f"visit {b['status']}, on-site on time: {b['onsite_on_time']}"))
    if status != 200:
        return lines, False
    status, body = gateway.call("POST", f"/api/v1/visits/{job['id']}/check-out", outlet,
                                json={"work_done": "现场检修: 故障排除, 试机正常", "parts_used": [],
                                      "customer_confirmed": True})
    lines.append(_step_line("POST /visits/<id>/check-out", status, body, lambda b: f"visit {b['status']}"))
    if status != 200:
        return lines, False
    deadline = time.monotonic() + event_timeout
    while True:  # intake learns it from dispatch's events
        ticket = intake.get_ticket(job["ticket_id"])
        if ticket["status"] == "resolved" or time.monotonic() > deadline:
            break
        eventlet.sleep(0.2)
    timings["on site"] = time.monotonic() - t1
    lines.append(f"  ticket {ticket['number']} in intake: status {ticket['status']}, "
                 f"{_deadline_state(ticket, 'onsite')}")
    if ticket["status"] != "resolved":
        ok = False
    return lines, ok


def _local(iso: str) -> str:
    dt = datetime.fromisoformat(iso)
    return dt.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def all_tickets(intake, page=500) -> list:
    items, offset = [], 0
    while True:
        res = intake.list_tickets({"limit": page, "offset": offset})
        items.extend(res["items"])
        offset += len(res["items"])
        if not res["items"] or offset >= res["total"]:
            return items


def demo_report(tickets, summary, directory, import_rows, tap, expected_events, events_ok,
                workflow_lines, timings, shifted_weeks=0, centers=None, dispatch_lines=None) -> str:
    out = []
    by_tenant = defaultdict(list)
    for t in tickets:
        by_tenant[t["tenant_id"]].append(t)
    tenants = sorted(directory.centers) + [TRIAGE_TENANT]
    tenants += sorted(set(by_tenant) - set(tenants))
    if centers:
        tenants = [t for t in tenants if t in centers]

    rows_ok = [r for r in import_rows if r.result and r.result["ok"]]
    failed = [r for r in import_rows if not (r.result and r.result["ok"])]
    triage_rows = [r for r in rows_ok if r.result.get("tenant_id") == TRIAGE_TENANT]
    placed = len(rows_ok) - len(triage_rows)

    out.append("=" * 78)
    out.append("FIELD-SERVICE DEMO REPORT")
    out.append("=" * 78)
    out.append(f"requests registered: {len(rows_ok)}/{len(import_rows)} "
               f"({placed} placed with {len([t for t in directory.centers if by_tenant.get(t)])} centers, "
               f"{len(triage_rows)} in HQ triage, {len(failed)} failed)")
    out.append(f"tickets in intake:   {len(tickets)}")
    event_list = ", ".join(f"{k} {v}" for k, v in sorted(tap.counts.items())) or "none"
    out.append(f"events seen:         {sum(tap.counts.values())} on intake.events ({event_list})")
    out.append(f"ticket.registered:   {len(tap.registered_ids & expected_events)}/{len(expected_events)} "
               f"expected ({'all published' if events_ok else 'MISSING SOME'}; triage tickets publish none)")
    if shifted_weeks:
        out.append(f"dates:               shifted back {shifted_weeks} weeks so that no request lies in the "
                   "future (the sample runs past today)")
    out.append("timings:             " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    out.append("")

    per = {}
    for tenant in tenants:
        items = by_tenant.get(tenant, [])
        tiers = Counter((t["tier"] or "unplaced") for t in items)
        s_tiers = (summary.get(tenant) or {}).get("by_tier", {})
        if s_tiers and dict(s_tiers) != dict(tiers):  # sla_summary counts in SQL; prefer it if they differ
            tiers = Counter(s_tiers)
        per[tenant] = {"n": len(items), "tiers": tiers, "kinds": Counter(t["kind"] for t in items),
                       "warranty": Counter(t["warranty"] for t in items),
                       "open": sum(1 for t in items if t["status"] not in ("closed", "cancelled"))}

    def name_of(tenant):
        return directory.centers[tenant].name if tenant in directory.centers else "HQ triage (待分拨)"

    header = ["tenant", "tickets", "open", "local", "in_province", "out_of_province", "unplaced",
              "warranty", "self_paid", "unknown", "events"]
    table, totals = [header], Counter()
    for tenant in tenants:
        d = per[tenant]
        counts = [d["n"], d["open"]] + [d["tiers"].get(x, 0) for x in TIERS] + \
            [d["warranty"].get(w, 0) for w in ("warranty", "self_paid", "unknown")] + \
            [tap.registered_by_tenant.get(tenant, 0)]
        totals.update(dict(zip(header[1:], counts)))
        table.append([tenant] + [str(c) for c in counts])
    table.append(["all"] + [str(totals[k]) for k in header[1:]])
    out.append("Tickets per tenant by SLA tier and warranty (保修 / 自费); events = ticket.registered seen:")
    out.append(format_table(table, align="l" + "r" * (len(header) - 1)))
    out.append("")

    header = ["tenant", "center"] + list(KINDS)
    table, totals = [header], Counter()
    for tenant in tenants:
        kinds = per[tenant]["kinds"]
        totals.update(kinds)
        table.append([tenant, name_of(tenant)] + [str(kinds.get(k, 0)) for k in KINDS])
    table.append(["all", ""] + [str(totals.get(k, 0)) for k in KINDS])
    out.append("Tickets per tenant by kind:")
    out.append(format_table(table, align="ll" + "r" * len(KINDS)))
    out.append("")

    out.append("Earliest open on-site deadlines per tenant (Asia/Shanghai time):")
    table = [["tenant", "#", "ticket", "due (CST)", "tier"]]
    for tenant in tenants:
        entries = (summary.get(tenant) or {}).get("earliest_onsite", [])[:3]
        if not entries:
            if tenant != TRIAGE_TENANT:
                table.append([tenant, "", "(none open)", "", ""])
            continue
        for i, e in enumerate(entries, 1):
            table.append([tenant if i == 1 else "", str(i), e["number"], _local(e["due_at"]), e.get("tier") or ""])
    out.append(format_table(table, align="lrlll"))
    out.append("")

    out.append(f"Rows sent to HQ triage ({len(triage_rows)}): the territory cannot be told from the address")
    if triage_rows:
        by_number = {t["number"]: t for t in tickets}
        table = [["row", "request id", "address", "why", "candidates"]]
        for r in triage_rows:
            t = by_number.get(r.result.get("number"), {})
            why = t.get("triage_reason") or "unplaced"
            candidates = ""
            if t.get("geo_ambiguous") or why == "ambiguous district name":
                from shared.geo import ChinaGeocoder

                geo = _geocoder(ChinaGeocoder).parse(r.payload.get("address"))
                candidates = ", ".join(f"{c['city']}{c['district']}" for c in geo.candidates[:4])
            table.append([str(r.number), r.request_id, r.payload.get("address", ""), why, candidates])
        out.append(format_table(table, align="rllll"))
    out.append("")

    if failed:
        out.append(error_table(failed))
        out.append("")

    out.append("Workflow through the gateway API (center token):")
    out.extend(workflow_lines)
    if dispatch_lines is not None:
        out.append("")
        out.append("-" * 78)
        out.append("DISPATCH")
        out.append("-" * 78)
        out.extend(dispatch_lines)
    out.append("=" * 78)
    return "\n".join(out)


_GEOCODER = None


def _geocoder(cls):
    global _GEOCODER
    if _GEOCODER is None:
        _GEOCODER = cls()
    return _GEOCODER


def shift_into_past(rows, now=None) -> int:
    """Move every row's dates back by whole weeks so that no request lies in the future.

    The sample export runs up to a fixed date; on a machine whose clock is earlier, intake
    rightly refuses requests "received" in the future. Whole weeks keep weekdays and times
    of day (and so the working-time SLA arithmetic) alike. Returns the weeks shifted (0: none).
    """
    from datetime import date, timedelta, timezone

    now = now or datetime.now(timezone.utc)
    latest = None
    for row in rows:
        value = row.payload.get("received_at")
        if not value:
            continue
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            continue
        dt = dt if dt.tzinfo else dt.replace(tzinfo=LOCAL_TZ)
        latest = dt if latest is None or dt > latest else latest
    if latest is None or latest < now - timedelta(minutes=5):
        return 0
    weeks = int((latest - now) / timedelta(weeks=1)) + 1
    delta = timedelta(weeks=weeks)
    for row in rows:
        for key in ("received_at", "purchase_date", "wished_visit_at"):
            value = row.payload.get(key)
            if not value:
                continue
            try:
                if len(value) == 10:
                    row.payload[key] = (date.fromisoformat(value) - delta).isoformat()
                else:
                    row.payload[key] = (datetime.fromisoformat(value) - delta).isoformat()
            except ValueError:
                pass  # left for intake to report
    return weeks


def _demo_config(args, services) -> tuple[dict, Path]:
    config = _config(args)
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
    # dispatch: short solves, and no planning on its own timer (each new visit makes its tenant
    # "dirty"; while 300 historical tickets stream in that would re-solve every tenant again and
    # again on this machine's two cores): the demo re-optimises each tenant once, explicitly
    config["DISPATCH_TIME_LIMIT"] = DEMO_SOLVE_SECONDS
    config["DISPATCH_BATCH_SECONDS"] = 10 ** 9
    config["DISPATCH_REOPT_SECONDS"] = 10 ** 9
    config.pop("LOGGING", None)
    return config, demo_dir


def _not_domain_error(record) -> bool:
    """nameko logs every failed worker at ERROR; a refused request (404, 409, 422) is no error."""
    from shared.errors import DomainError

    if record.name.startswith("pika."):
        return False  # connection failures are reported by the demo itself, once
    exc = record.exc_info[1] if record.exc_info else None
    return not isinstance(exc, DomainError)


def _demo_logging(demo_dir: Path, verbose: bool):
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


def cmd_demo(args) -> int:
    from nameko.runners import ServiceRunner
    from nameko.standalone.rpc import ServiceRpcProxy

    from shared.tenancy import Principal
    from shared.tenants import TenantDirectory

    t0 = time.monotonic()
    timings = {}
    classes = service_classes()
    names = [cls.name for cls in classes]
    for needed in ("intake", "gateway"):
        if needed not in names:
            raise CliError(f"the demo needs the {needed} service (services/{needed}/service.py)")
    fieldnames, rows = read_requests(args.requests)
    if not rows:
        raise CliError(f"{args.requests}: no data rows")
    shifted = 0 if args.no_shift else shift_into_past(rows)
    if args.centers:
        unknown = set(args.centers) - set(TenantDirectory.from_config(_config(args)).centers) - {TRIAGE_TENANT}
        if unknown:
            raise CliError(f"unknown center(s): {', '.join(sorted(unknown))}")
    import jwt.warnings

    warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # the dev secret is short
    amqp_uri = _config(args)["AMQP_URI"]
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    try:
        busy = _busy_consumers(amqp_uri, names)
    except Exception as exc:
        raise CliError(f"cannot reach RabbitMQ at {_safe_uri(amqp_uri)}: {exc!r} "
                       "(start it with `make rabbitmq`)") from None
    logging.getLogger("pika").setLevel(logging.NOTSET)
    if busy:
        raise CliError(f"{', '.join(busy)} already running on {_safe_uri(amqp_uri)}: the demo would share "
                       "their RPC queues. Stop them or point AMQP_URI at another vhost.")
    config, demo_dir = _demo_config(args, names)
    _demo_logging(demo_dir, args.verbose)
    print(f"fsm demo: services {', '.join(names)}; broker {_safe_uri(amqp_uri)}; data in {demo_dir}",
          file=sys.stderr)

    tap = EventTap(amqp_uri)
    runner = ServiceRunner(config)
    for cls in classes:
        runner.add_service(cls)
    exit_code = EXIT_OK
    try:
        runner.start()
        containers = {c.service_name: c for c in runner.containers}
        for name, container in containers.items():
            port = _container_port(container)
            if port:
                _wait_http(f"http://127.0.0.1:{port}/health", 20)
        gateway_url = f"http://127.0.0.1:{_container_port(containers['gateway'])}"
        hq = Principal("fsm-demo", "hq")
        with ServiceRpcProxy("intake", config, context_data={"principal": hq.encode()}, timeout=60) as intake:
            intake.list_tickets({"limit": 1})
            timings["start"] = time.monotonic() - t0

            t1 = time.monotonic()
            with _progress(len(rows), "import via rpc") as progress:
                send_rpc(rows, config, import_principal(None), args.batch, progress)
            timings["import"] = time.monotonic() - t1

            t1 = time.monotonic()
            expected = {r.result["ticket_id"] for r in rows
                        if r.result and r.result["ok"] and r.result.get("tenant_id") != TRIAGE_TENANT
                        and not r.result.get("duplicate")}
            events_ok = tap.wait_registered(expected, timeout=args.event_timeout)
            timings["events"] = time.monotonic() - t1
            if not events_ok:
                exit_code = EXIT_ERROR
                _err(f"only {len(tap.registered_ids & expected)} of {len(expected)} ticket.registered "
                     f"events arrived within {args.event_timeout:.0f} s")

            t1 = time.monotonic()
            tickets = all_tickets(intake)
            workflow_lines, workflow_ok = demo_workflow(Gateway(gateway_url, config["AUTH_SECRET"]), tickets)
            if not workflow_ok:
                exit_code = EXIT_ERROR
            timings["workflow"] = time.monotonic() - t1
            eventlet.sleep(0.5)  # let the relay publish what the workflow emitted
            tap.drain()
            tickets = all_tickets(intake)
            summary = intake.sla_summary()
            directory = TenantDirectory.from_config(config)

            dispatch_lines = None
            if "dispatch" in names:
                with ServiceRpcProxy("dispatch", config, context_data={"principal": hq.encode()},
                                     timeout=180) as dispatch:
                    try:
                        dispatch_lines, dispatch_ok = demo_dispatch(
                            config, Gateway(gateway_url, config["AUTH_SECRET"]), intake, dispatch, rows, tickets,
                            directory, args.batch, timings, args.event_timeout)
                    except CliError:
                        raise
                    except Exception as exc:  # the report still shows the intake part
                        logging.getLogger("fsm.demo").exception("the dispatch part failed")
                        dispatch_lines = [f"  the dispatch part failed: {getattr(exc, 'message', None) or exc!r}"]
                        dispatch_ok = False
                if not dispatch_ok:
                    exit_code = EXIT_ERROR
            else:
                dispatch_lines = ["  (no dispatch service: services/dispatch/service.py did not load)"]
            ctx = DemoContext(config=config, gateway=Gateway(gateway_url, config["AUTH_SECRET"]),
                              directory=directory, tickets=tickets, timings=timings, tap=tap, names=names)
            for section, (lines, ok) in run_service_demos(ctx):
                dispatch_lines = (dispatch_lines or []) + ["", section] + lines
                if not ok:
                    exit_code = EXIT_ERROR
        if any(not (r.result and r.result["ok"]) for r in rows):
            exit_code = exit_code or EXIT_PARTIAL
        timings["total"] = time.monotonic() - t0
        print(demo_report(tickets, summary, directory, rows, tap, expected, events_ok, workflow_lines,
                          timings, shifted_weeks=shifted, centers=args.centers,
                          dispatch_lines=dispatch_lines), flush=True)
        print(f"(logs and databases in {demo_dir})")
    finally:
        tap.close()
        runner.stop()
    return exit_code


@dataclass
class DemoContext:
    """What a service's demo part gets: the running platform, seen from outside."""
    config: dict
    gateway: "Gateway"
    directory: object
    tickets: list
    timings: dict
    tap: object
    names: list

    def rpc(self, service: str, principal=None, timeout: float = 120):
        """A standalone RPC proxy to `service` acting as `principal` (default: HQ)."""
        from nameko.standalone.rpc import ServiceRpcProxy

        from shared.tenancy import Principal

        principal = principal or Principal("fsm-demo", "hq")
        return ServiceRpcProxy(service, self.config, context_data={"principal": principal.encode()},
                               timeout=timeout)


DEMO_ORDER = ("certification", "parts", "settlement", "qa")


def run_service_demos(ctx: DemoContext):
    """Each ``services/<name>/demo.py`` with ``run(ctx) -> (lines, ok)`` adds its part to the
    demo, in DEMO_ORDER (then by name); a part that fails is reported and fails the demo."""
    found = sorted((REPO_ROOT / "services").glob("*/demo.py"),
                   key=lambda p: (DEMO_ORDER.index(p.parent.name) if p.parent.name in DEMO_ORDER else 99,
                                  p.parent.name))
    for path in found:
        name = path.parent.name
        if name not in ctx.names:
            continue
        t1 = time.monotonic()
        try:
            module = importlib.import_module(f"services.{name}.demo")
            lines, ok = module.run(ctx)
        except Exception as exc:
            logging.getLogger("fsm.demo").exception("the %s part failed", name)
            lines, ok = [f"  the {name} part failed: {getattr(exc, 'message', None) or exc!r}"], False
        ctx.timings[name] = time.monotonic() - t1
        yield f"{name.capitalize()}", (lines, ok)


# ====================================================================== bench
def _bench_module(name: str):
    """Load bench/<name>.py by path (bench/ is no package and is not installed)."""
    import importlib.util

    path = REPO_ROOT / "bench" / f"{name}.py"
    if not path.exists():
        raise CliError(f"{path} not found")
    if str(REPO_ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"fsm_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def cmd_bench_routing(args) -> int:
    mod = _bench_module("routing")
    rows = mod.run_bench(args.instances, args.time_limit, args.out, bks=args.bks, only=args.only,
                         baseline=args.baseline, workers=args.workers)
    return EXIT_OK if rows else EXIT_ERROR


def cmd_bench_dispatch(args) -> int:
    if args.scale:
        mod = _bench_module("dispatch_scale")
        res = mod.run_bench(args.visits, args.techs, args.budget, args.long, args.inserts, out=args.out,
                            phases=tuple(args.phases.split(",")))
    else:
        mod = _bench_module("dispatch")
        amqp = args.amqp_uri or _config(args)["AMQP_URI"]
        res = mod.run_bench(args.time_limit, amqp, args.vhost, args.requests, args.out, args.horizon_days,
                            args.freeze_minutes, args.workers, bound_seconds=args.bound_seconds,
                            target_hours=args.target_hours, batch_minutes=args.batch_minutes)
    return EXIT_OK if all(res["floor"].values()) else EXIT_PARTIAL


# ====================================================================== main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsm", description="Field-service platform command line")
    parser.add_argument("--config", help="config file (default: $FSM_CONFIG or the repo's config.yml)")
    parser.add_argument("--amqp-uri", help="broker URI (default: config AMQP_URI, i.e. $AMQP_URI)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("geocode", help="geocode addresses offline: one JSON line per address")
    p.add_argument("addresses", nargs="*", metavar="ADDRESS")
    p.set_defaults(func=cmd_geocode)

    p = sub.add_parser("token", help="issue a bearer token for the gateway")
    p.add_argument("--user", required=True)
    p.add_argument("--role", required=True, choices=("hq", "center", "outlet", "warehouse", "customer"))
    p.add_argument("--tenant")
    p.add_argument("--outlet")
    p.add_argument("--warehouse")
    p.add_argument("--customer")
    p.add_argument("--duty", choices=("technical_lead", "service_head"),
                   help="a center/HQ user's duty: technical lead (technical reviews, claim checks) or "
                        "service department head (outlet approvals)")
    p.add_argument("--ttl-days", type=float, default=30,
                   help="lifetime in days (default 30; at most TOKEN_MAX_TTL_SECONDS, 30 days unless configured)")
    p.set_defaults(func=cmd_token)

    def import_options(p, via=True):
        p.add_argument("file", metavar="FILE", help="CSV, UTF-8 with a header row")
        if via:
            p.add_argument("--via", choices=("rpc", "http", "bridge"), default="rpc")
        p.add_argument("--batch", type=int, default=50, help="rows per call (default 50)")
        p.add_argument("--as-tenant", metavar="T", help="import as a center agent of tenant T (default: HQ)")
        p.add_argument("--url", help="gateway base URL for --via http (default: http://127.0.0.1:<gateway port>)")
        p.add_argument("--token", help="bearer token for --via http (default: $FSM_TOKEN or one from AUTH_SECRET)")
        p.add_argument("--report", metavar="FILE.csv", help="write the per-row result as CSV")

    p = sub.add_parser("import-requests", help="import a request export (CSV) with a per-row report")
    import_options(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("bridge-submit", help="submit a CSV of requests through the hotline/fax bridge")
    import_options(p, via=False)
    p.set_defaults(func=cmd_import, via="bridge")

    p = sub.add_parser("migrate", help="upgrade service databases to the newest schema")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("demo", help="run the services in-process, import the sample requests, report")
    p.add_argument("--requests", default=str(DEFAULT_REQUESTS), metavar="FILE")
    p.add_argument("--centers", nargs="*", metavar="ID",
                   help="only report these tenants (default: every center and HQ triage)")
    p.add_argument("--port-base", type=int, default=None,
                   help="HTTP ports from this number up (0: any free port; default: config HTTP_PORTS)")
    p.add_argument("--var-dir", help="where the demo-<timestamp> directory goes (default: var/)")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--no-shift", action="store_true",
                   help="import the dates as they are (rows dated in the future then fail)")
    p.add_argument("--event-timeout", type=float, default=20.0)
    p.add_argument("-v", "--verbose", action="store_true", help="service logs to stderr too")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("bench", help="benchmarks: routing (Solomon), dispatch (replay, scale)")
    bench = p.add_subparsers(dest="bench", metavar="BENCH")
    bench.required = True
    b = bench.add_parser("routing", help="Solomon VRPTW: the product's solver vs plain OR-Tools")
    b.add_argument("--instances", required=True, metavar="DIR")
    b.add_argument("--time-limit", type=float, required=True)
    b.add_argument("--out", required=True, metavar="FILE.csv")
    b.add_argument("--bks", metavar="FILE.csv")
    b.add_argument("--only", metavar="NAMES")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--no-baseline", dest="baseline", action="store_false", default=True)
    b.set_defaults(func=cmd_bench_routing)
    b = bench.add_parser("dispatch", help="replay the sample requests through intake + dispatch vs greedy; "
                                          "--scale: 1,000 visits x 60 technicians")
    b.add_argument("--out", metavar="FILE.json")
    b.add_argument("--time-limit", type=float, default=2.0, help="seconds per re-optimisation (replay)")
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--horizon-days", type=int, default=6)
    b.add_argument("--freeze-minutes", type=float, default=120)
    b.add_argument("--requests", default=str(DEFAULT_REQUESTS), metavar="FILE")
    b.add_argument("--vhost", default="fsm-bench-dispatch")
    b.add_argument("--batch-minutes", type=float, default=1.0,
                   help="replay: re-plan this long after a tenant's first new ticket (60: top of the hour)")
    b.add_argument("--target-hours", type=float, default=4.0, help="replay: DISPATCH_TARGET_HOURS")
    b.add_argument("--bound-seconds", type=float, default=20.0,
                   help="replay: solve time of each clairvoyant-bound solve, three per tenant (0: skip)")
    b.add_argument("--scale", action="store_true", help="the scale benchmark instead of the replay")
    b.add_argument("--visits", type=int, default=1000)
    b.add_argument("--techs", type=int, default=60)
    b.add_argument("--budget", type=float, default=60.0)
    b.add_argument("--long", type=float, default=300.0)
    b.add_argument("--inserts", type=int, default=20)
    b.add_argument("--phases", default="single,decomposed,reference")
    b.set_defaults(func=cmd_bench_dispatch)

    from shared import dead_letters

    dead_letters.register(sub)
    register_service_commands(sub)
    return parser


def register_service_commands(sub) -> None:
    """Each ``services/<name>/cli.py`` with ``register(subparsers)`` adds its own commands
    (e.g. ``fsm parts post-receipt``); a module that fails to import is reported, not fatal."""
    for path in sorted((REPO_ROOT / "services").glob("*/cli.py")):
        module_name = f"services.{path.parent.name}.cli"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            print(f"fsm: warning: skipping {module_name}: {exc!r}", file=sys.stderr)
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except CliError as exc:
        _err(str(exc))
        code = EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
