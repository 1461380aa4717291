"""Services as an operator runs them: `nameko run` processes, started, killed and restarted
by a test, each service on its own HTTP port, SQLite files in the test's folder."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import requests

from tests.chaos_broker import free_port
from tests.paths import venv_tool

REPO = Path(__file__).resolve().parents[1]
SERVICE_CLASSES = {
    "intake": "services.intake.service:IntakeService",
    "dispatch": "services.dispatch.service:DispatchService",
    "parts": "services.parts.service:PartsService",
    "settlement": "services.settlement.service:SettlementService",
    "certification": "services.certification.service:CertificationService",
    "qa": "services.qa.service:QaService",
    "notify": "services.notify.service:NotifyService",
    "gateway": "services.gateway.service:GatewayService",
}
SECRET = "chaos-test-secret-of-at-least-thirty-two-bytes"


class ServiceProcesses:
    """Groups of services, each group one `nameko run` process."""

    def __init__(self, amqp_uri: str, folder: Path, **env):
        self.folder = Path(folder)
        self.ports = {name: free_port() for name in SERVICE_CLASSES}
        self.env = dict(os.environ)
        self.env.update(
            {
                "AMQP_URI": amqp_uri,
                "VAR_DIR": str(self.folder / "var"),
                "FSM_AUTH_SECRET": SECRET,
                "FSM_DEV": "1",
                "HTTP_HOST": "127.0.0.1",
                "OUTBOX_POLL_SECONDS": "0.2",
                "LOG_LEVEL": "INFO",
            }
        )
        self.env.update({f"HTTP_PORT_{name.upper()}": str(port) for name, port in self.ports.items()})
        self.env.update({k: str(v) for k, v in env.items()})
        self.groups: dict[str, tuple[list[str], subprocess.Popen]] = {}

    def start(self, group: str, services: list[str]):
        log = open(self.folder / f"{group}.log", "a")
        proc = subprocess.Popen(
            [
                venv_tool("nameko"),
                "run",
                "--config",
                str(REPO / "config.yml"),
                *[SERVICE_CLASSES[s] for s in services],
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.groups[group] = (services, proc)
        return proc

    def process(self, group: str) -> subprocess.Popen:
        return self.groups[group][1]

    def kill9(self, group: str):
        proc = self.process(group)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def terminate(self, group: str, timeout=30.0) -> float:
        """SIGTERM, as a supervisor stops a process; seconds until it exited (AssertionError
        if it hangs, after which it is killed)."""
        proc = self.process(group)
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
            raise AssertionError(f"{group} ignored SIGTERM for {timeout} s:\n{self.log_tail(group)}") from None
        return time.monotonic() - started

    def stop_all(self):
        for _, proc in self.groups.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in self.groups.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def ready(self, service: str) -> bool:
        try:
            return requests.get(self.url(service, "/health/ready"), timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def wait_ready(self, services, timeout=120):
        deadline = time.monotonic() + timeout
        waiting = list(services)
        while waiting:
            waiting = [s for s in waiting if not self.ready(s)]
            if not waiting:
                return
            for group, (members, proc) in self.groups.items():
                if proc.poll() is not None and set(members) & set(waiting):
                    raise AssertionError(f"{group} exited with {proc.returncode}:\n{self.log_tail(group)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready within {timeout} s: {waiting}")
            time.sleep(0.5)

    def log_tail(self, group: str, chars=4000) -> str:
        path = self.folder / f"{group}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def db(self, service: str):
        return sqlite3.connect(self.folder / "var" / f"{service}.db", timeout=30)

    def scalar(self, service: str, sql: str, *args):
        with self.db(service) as conn:
            return conn.execute(sql, args).fetchone()[0]

    def token(self, principal) -> str:
        from shared.auth import issue_token

        return issue_token(SECRET, principal)
