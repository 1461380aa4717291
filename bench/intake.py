"""End-to-end intake benchmark: POST /api/v1/tickets -> `ticket.registered` on the broker.

    .venv/bin/python bench/intake.py --count 10000 --concurrency 16 [--out bench.json]
    .venv/bin/python bench/intake.py --database-url postgresql+psycopg2://postgres@127.0.0.1:5432/fsm_bench

Two processes, so the load generator never shares the services' eventlet hub:
- the child (this file with --serve) runs intake + gateway with nameko's ServiceRunner,
  eventlet monkey-patched, against the local RabbitMQ and a fresh database;
- the parent (no eventlet) binds a queue to `intake.events` / `ticket.registered`, then
  drives the HTTP API from a thread pool with requests, and times each ticket from its
  POST being sent to its event being received.

It prints a progress line every second and at the end: the sustained end-to-end rate, the
latency percentiles, the HTTP rate and the service process' peak RSS (VmHWM).
A PostgreSQL URL names a database that the script creates (and drops afterwards unless --keep-db).
"""

import sys

if __name__ == "__main__" and "--serve" in sys.argv:  # the service process: eventlet first
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import eventlet

    eventlet.monkey_patch()

import argparse
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ADDRESSES = [  # each places into a tenant (no triage), so every ticket emits ticket.registered
    "湖北省武汉市洪山区珞喻路1号",
    "山东省济南市历下区泉城路1号",
    "湖北省武汉市江汉区解放大道690号",
    "山东省济南市市中区经四路88号",
]


# ---------------------------------------------------------------- service process


def serve(args):
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    from nameko.runners import ServiceRunner

    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from shared.config import load_config
    from shared.web import JsonHttpHandler

    config = load_config(
        AMQP_URI=args.amqp_uri,
        DATABASES={"intake": args.database_url, "gateway": "sqlite://"},
        HTTP_PORTS={"gateway": 0, "intake": 0},
        HTTP_HOST="127.0.0.1",
        AUTH_SECRET=args.secret,
        OUTBOX_POLL_SECONDS=1.0,
        LOGGING={"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING", "handlers": []}},
    )
    if args.max_workers:
        config["max_workers"] = args.max_workers
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    runner = ServiceRunner(config)
    runner.add_service(IntakeService)
    runner.add_service(GatewayService)
    runner.start()
    gateway = next(c for c in runner.containers if c.service_name == "gateway")
    port = next(e.server.port for e in gateway.entrypoints if isinstance(e, JsonHttpHandler))
    print(
        json.dumps({"ready": True, "port": port, "pid": os.getpid(), "max_workers": config.get("max_workers")}),
        flush=True,
    )

    def stop(*_):
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.wait()


# ---------------------------------------------------------------- load generator


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def prepare_vhost(amqp_uri, vhost):
    """A vhost of our own (via the management API), so no other process' queues interfere."""
    from urllib.parse import quote, urlparse

    import requests

    if not vhost:
        return amqp_uri
    parts = urlparse(amqp_uri)
    api = f"http://{parts.hostname}:15672/api"
    auth = (parts.username or "guest", parts.password or "guest")
    requests.delete(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=30)
    requests.put(f"{api}/vhosts/{quote(vhost, safe='')}", auth=auth, timeout=30).raise_for_status()
    requests.put(
        f"{api}/permissions/{quote(vhost, safe='')}/{auth[0]}",
        auth=auth,
        timeout=30,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).raise_for_status()
    return f"{parts.scheme}://{parts.netloc}/{vhost}"


def prepare_database(url, keep):
    """SQLite: a file in a fresh temp dir. PostgreSQL: create the named database (dropped at exit)."""
    if url is None:
        tmp = tempfile.mkdtemp(prefix="fsm-bench-")
        return f"sqlite:///{tmp}/intake.db", lambda: None
    if not url.startswith("postgresql"):
        return url, lambda: None
    import psycopg2

    base, name = url.rsplit("/", 1)
    admin = base.replace("postgresql+psycopg2://", "postgresql://") + "/postgres"
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.cursor().execute(f'CREATE DATABASE "{name}"')

    def drop():
        if not keep:
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()

    return url, drop


class EventListener(threading.Thread):
    """Consumes `ticket.registered` from a queue bound before the load starts."""

    def __init__(self, amqp_uri):
        super().__init__(daemon=True)
        from kombu import Connection, Exchange, Queue

        self.received = {}  # ticket_id -> perf_counter at receipt
        self.duplicates = 0
        self._halt = threading.Event()
        self.conn = Connection(amqp_uri)
        exchange = Exchange("intake.events", type="topic", durable=True, auto_delete=False)
        self.queue = Queue(
            f"bench-{uuid.uuid4().hex[:8]}",
            exchange=exchange,
            routing_key="ticket.registered",
            exclusive=True,
            auto_delete=True,
        )
        self.queue.bind(self.conn).declare()

    def run(self):
        from kombu import Consumer

        def on_message(body, message):
            now = time.perf_counter()
            ticket_id = body.get("ticket_id") if isinstance(body, dict) else None
            if ticket_id in self.received:
                self.duplicates += 1
            else:
                self.received[ticket_id] = now
            message.ack()

        with Consumer(self.conn, queues=[self.queue], callbacks=[on_message], accept=["json"]) as consumer:
            consumer.qos(prefetch_count=500)
            while not self._halt.is_set():
                try:
                    self.conn.drain_events(timeout=0.5)
                except TimeoutError:
                    pass
                except OSError:
                    if self._halt.is_set():
                        break
                    raise

    def stop(self):
        self._halt.set()
        self.join(5)
        self.conn.release()


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run(args):
    import requests

    from shared.auth import issue_token
    from shared.tenancy import Principal

    amqp_uri = prepare_vhost(args.amqp_uri, args.vhost)
    db_url, drop_db = prepare_database(args.database_url, args.keep_db)
    secret = uuid.uuid4().hex + uuid.uuid4().hex
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        "--amqp-uri",
        amqp_uri,
        "--database-url",
        db_url,
        "--secret",
        secret,
    ]
    if args.max_workers:
        cmd += ["--max-workers", str(args.max_workers)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(REPO))
    listener = None
    try:
        line = child.stdout.readline()
        if not line:
            raise SystemExit(f"service process exited ({child.wait()})")
        info = json.loads(line)
        base = f"http://127.0.0.1:{info['port']}"
        print(
            f"services up: pid {info['pid']}, gateway {base}, database {db_url.split('@')[-1]}, "
            f"max_workers {info['max_workers']}, concurrency {args.concurrency}",
            flush=True,
        )
        listener = EventListener(amqp_uri)
        listener.start()

        token = issue_token(secret, Principal("bench-hq", "hq"))
        local = threading.local()
        sent = {}  # ticket_id -> (t_sent, t_response)
        failures = []
        done = [0]
        lock = threading.Lock()

        def session():
            if not hasattr(local, "s"):
                local.s = requests.Session()
                local.s.headers["Authorization"] = f"Bearer {token}"
            return local.s

        def one(i):
            body = {
                "kind": "repair",
                "channel": "web",
                "customer_name": f"压测客户{i}",
                "phone": f"138{i:08d}"[:11],
                "address": ADDRESSES[i % len(ADDRESSES)],
                "product_line": "数控车床",
                "model": "CK6150",
                "purchase_date": "2025-06-01",
                "fault": "无法启动",
                "external_ref": f"bench-{i}",
            }
            t0 = time.perf_counter()
            try:
                r = session().post(f"{base}/api/v1/tickets", json=body, timeout=60)
                t1 = time.perf_counter()
                if r.status_code != 201:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:200]}")
                with lock:
                    sent[r.json()["id"]] = (t0, t1)
                    done[0] += 1
            except Exception as exc:
                with lock:
                    failures.append(repr(exc))

        # warm-up (connections, first queries), not measured
        for i in range(min(20, args.count)):
            one(-1 - i)
        warm = set(sent)
        sent.clear()
        done[0] = 0

        start = time.perf_counter()
        stop_progress = threading.Event()

        def progress():
            last_t, last_n = start, 0
            while not stop_progress.wait(1.0):
                now = time.perf_counter()
                n_ev = len(listener.received)
                print(
                    f"  {now - start:6.1f}s  posted {done[0]:>6}/{args.count}  events {n_ev - len(warm):>6}  "
                    f"failed {len(failures)}  rate {(n_ev - last_n) / (now - last_t):7.1f}/s  "
                    f"rss {vm_hwm_kib(info['pid']) // 1024} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                last_t, last_n = now, n_ev

        progress_thread = threading.Thread(target=progress, daemon=True)
        progress_thread.start()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, range(args.count), chunksize=16))
        http_end = time.perf_counter()
        deadline = time.perf_counter() + args.drain_timeout
        while time.perf_counter() < deadline and not set(sent) <= set(listener.received):
            time.sleep(0.05)
        stop_progress.set()
        progress_thread.join()
        peak_kib = vm_hwm_kib(info["pid"])

        latencies = sorted(listener.received[t] - s[0] for t, s in sent.items() if t in listener.received)
        http_lat = sorted(s[1] - s[0] for s in sent.values())
        got = len(latencies)
        last_event = max((listener.received[t] for t in sent if t in listener.received), default=start)
        elapsed = last_event - start
        result = {
            "database": "postgresql" if db_url.startswith("postgresql") else "sqlite",
            "count": args.count,
            "concurrency": args.concurrency,
            "max_workers": info["max_workers"],
            "created": len(sent),
            "failed": len(failures),
            "events_received": got,
            "events_missing": len(sent) - got,
            "duplicate_events": listener.duplicates,
            "elapsed_s": round(elapsed, 3),
            "rate_end_to_end_per_s": round(got / elapsed, 1) if elapsed > 0 else None,
            "rate_http_per_s": round(len(sent) / (http_end - start), 1),
            "latency_ms": {f"p{p}": round(percentile(latencies, p) * 1000, 1) for p in (50, 95, 99)}
            if latencies
            else None,
            "latency_max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "http_latency_ms": {f"p{p}": round(percentile(http_lat, p) * 1000, 1) for p in (50, 95, 99)}
            if http_lat
            else None,
            "peak_rss_mib": round(peak_kib / 1024, 1) if peak_kib else None,
            "failures_sample": failures[:5],
        }
        print(json.dumps(result, indent=2, ensure_ascii=False))
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        return 0 if not failures and got == len(sent) else 1
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        if listener is not None:
            listener.stop()
        drop_db()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="tickets to register (default 10000)")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients (default 16)")
    parser.add_argument(
        "--database-url",
        default=None,
        help="intake's database (default: SQLite in a temp dir); a PostgreSQL URL names a "
        "database to create, e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/fsm_bench",
    )
    parser.add_argument("--amqp-uri", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--vhost", default="fsm-bench", help="vhost to (re)create for the run ('' = use the URI's)")
    parser.add_argument("--max-workers", type=int, default=None, help="nameko max_workers (default: config.yml)")
    parser.add_argument(
        "--drain-timeout", type=float, default=60.0, help="seconds to wait for outstanding events after the last POST"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the PostgreSQL database afterwards")
    parser.add_argument("--out", help="write the figures as JSON to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
