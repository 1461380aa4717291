"""Stopping the platform as an operator does: `make run` started as the README says, tickets
coming in through the gateway, a signal (SIGTERM as k8s/docker/systemd send it, SIGINT as
Ctrl-C in a terminal does: to the whole process group), and what is left afterwards.

Used by tests/e2e/test_make_run.py, tests/service/test_clean_stop.py and bench/stop_times.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

from shared.tenancy import Principal
from tests.chaos_broker import free_port
from tests.paths import VENV
from tests.processes import REPO, SERVICE_CLASSES

SECRET = "stop-test-secret-of-at-least-thirty-two-bytes"
CENTER = Principal("stop-agent", "center", tenant="C01")
STOP_BOUND = 10.0  # s: the issue's bound for SIGTERM and Ctrl-C


def ticket_body(n: int) -> dict:
    return {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": f"停机客户{n}",
        "phone": f"1380000{n % 10000:04d}",
        "address": "湖北省武汉市洪山区珞喻路1号",
        "product_line": "数控车床",
        "purchase_date": "2025-06-01",
        "fault": "无法启动",
    }


class TicketLoad:
    """Client threads registering tickets through the gateway (each on a keep-alive session, one
    Idempotency-Key per ticket, no retries) until `stop`: `accepted` holds the ids answered 201,
    `answers` counts every answer (status codes, or the exception's name)."""

    def __init__(self, base_url: str, token: str, threads: int = 4):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.accepted: list[str] = []
        self.answers: Counter = Counter()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)]

    def start(self) -> TicketLoad:
        for t in self._threads:
            t.start()
        return self

    def wait_accepted(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.accepted)} tickets accepted in {timeout} s: {dict(self.answers)}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(40)

    def _run(self, k: int) -> None:
        session = requests.Session()
        n = 0
        while not self._stop.is_set():
            n += 1
            headers = dict(self.headers, **{"Idempotency-Key": f"stop-{uuid.uuid4().hex}"})
            try:
                r = session.post(
                    f"{self.base_url}/api/v1/tickets", json=ticket_body(k * 1000 + n), headers=headers, timeout=30
                )
                answer: int | str = r.status_code
            except requests.RequestException as exc:
                r, answer = None, type(exc).__name__
            with self._lock:
                self.answers[answer] += 1
                if answer == 201:
                    self.accepted.append(r.json()["id"])
            if answer != 201:
                time.sleep(0.2)  # refused or stopping: do not spin


class MakeRun:
    """`make run` as the README gives it, with this run's folder for the SQLite files, free
    HTTP ports, a broker (vhost) of its own and a token secret; output in ``make-run.log``."""

    def __init__(self, folder: Path, amqp_uri: str, **env):
        self.folder = Path(folder)
        self.ports = {name: free_port() for name in SERVICE_CLASSES}
        self.env = dict(os.environ)
        self.env.update(
            {
                "AMQP_URI": amqp_uri,
                "VAR_DIR": str(self.folder / "var"),
                "FSM_DEV": "1",
                "FSM_AUTH_SECRET": SECRET,
                "HTTP_HOST": "127.0.0.1",
                "OUTBOX_POLL_SECONDS": "0.2",
                "VENV": str(VENV),  # make runs the virtualenv's nameko: the one running the tests
            }
        )
        self.env.update({f"HTTP_PORT_{name.upper()}": str(port) for name, port in self.ports.items()})
        self.env.update({k: str(v) for k, v in env.items()})
        self.log_path = self.folder / "make-run.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            ["make", "run"], cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self.proc

    def url(self, service: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def ready(self, service: str) -> bool:
        try:
            return requests.get(self.url(service, "/health/ready"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds until every /health/ready answers 200 (AssertionError if `make run` exits or
        `timeout` passes first)."""
        started = time.monotonic()
        waiting = set(self.ports)
        while waiting:
            assert self.proc.poll() is None, f"make run exited with {self.proc.returncode}:\n{self.log()[-3000:]}"
            waiting = {s for s in waiting if not self.ready(s)}
            if waiting and time.monotonic() - started > timeout:
                raise AssertionError(f"not ready within {timeout} s: {sorted(waiting)}\n{self.log()[-3000:]}")
            if waiting:
                time.sleep(0.3)
        return time.monotonic() - started

    def signal(self, sig: int, wait: float = 30) -> float:
        """`sig` to the process group (what Ctrl-C in a terminal does, and `kill -- -PGID`; make
        also passes SIGTERM on to nameko, which so gets it twice); seconds until make exited.
        Killed, and AssertionError, if it is still running after `wait` s."""
        return signal_group(self.proc, sig, wait, self.log)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def db(self, service: str) -> sqlite3.Connection:
        return sqlite3.connect(self.folder / "var" / f"{service}.db", timeout=30)

    def token(self, principal: Principal = CENTER) -> str:
        from shared.auth import issue_token

        return issue_token(SECRET, principal)


def signal_group(
    proc: subprocess.Popen, sig: int, wait: float, log=lambda: "", again_after: float | None = None
) -> float:
    """`sig` to `proc`'s process group (and to `proc` once more `again_after` s later, as make
    passes SIGTERM on to its child); seconds until it exited (killed, AssertionError, after `wait`)."""
    started = time.monotonic()
    os.killpg(proc.pid, sig)
    if again_after is not None:
        time.sleep(again_after)
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        raise AssertionError(f"still running {wait} s after {signal.Signals(sig).name}:\n{log()[-4000:]}") from None
    return time.monotonic() - started


def stored_tickets(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT id FROM tickets")}


def registered_events(db: sqlite3.Connection) -> dict[str, bool]:
    """ticket id -> whether its ticket.registered event left the outbox (False: it waits there)."""
    rows = db.execute("SELECT payload, published_at FROM outbox WHERE event_type = 'ticket.registered'")
    return {json.loads(payload)["ticket_id"]: published is not None for payload, published in rows}


CLEAN_STOP = re.compile(r'"msg": "stopped ([a-z, ]+) in ([0-9.]+) s \(')


def clean_stops(text: str) -> list[tuple[str, float]]:
    """(services, seconds) of each "stopped ... in N s (...)" line: a stop that needed no kill."""
    return [(m.group(1), float(m.group(2))) for m in CLEAN_STOP.finditer(text)]


def log_problems(text: str) -> list[str]:
    """The lines of a service log that a clean stop must not have."""
    bad = ("Traceback", "AssertionError", "re-send()")
    return [line[:500] for line in text.splitlines() if any(b in line for b in bad)]


def processes() -> list[tuple[int, int, int, str, str]]:
    """(pid, ppid, process group, state, command line) of every process on the machine."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found.append((int(entry.name), int(fields[1]), int(fields[2]), fields[0], cmdline))
    return found


def solver_processes(service_pid: int) -> set[int]:
    """The dispatch solver processes a service process started (children running
    services.dispatch.solver_worker) and every process in their groups (OR-Tools workers)."""
    table = processes()
    solvers = {pid for pid, ppid, _, _, cmd in table if ppid == service_pid and "dispatch.solver_worker" in cmd}
    return {pid for pid, _, group, _, _ in table if group in solvers} | solvers


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies count as gone)."""
    return {pid for pid, _, _, state, _ in processes() if pid in pids and state != "Z"}
