"""`make run`, exactly as the README gives it, starts all seven services."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import requests

from tests.chaos_broker import free_port
from tests.processes import REPO, SERVICE_CLASSES


def test_make_run_starts_every_service_ready(tmp_path):
    ports = {name: free_port() for name in SERVICE_CLASSES}
    env = dict(os.environ, VAR_DIR=str(tmp_path / "var"), FSM_DEV="1", HTTP_HOST="127.0.0.1")
    env.update({f"HTTP_PORT_{name.upper()}": str(port) for name, port in ports.items()})
    log = open(tmp_path / "make-run.log", "w")
    proc = subprocess.Popen(
        ["make", "run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        waiting = set(ports)
        while waiting and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            for name in list(waiting):
                try:
                    r = requests.get(f"http://127.0.0.1:{ports[name]}/health/ready", timeout=2)
                except requests.RequestException:
                    continue
                if r.status_code == 200:
                    assert r.json()["service"] == name
                    waiting.discard(name)
            time.sleep(0.5)
        assert not waiting, f"not ready: {sorted(waiting)}\n{(tmp_path / 'make-run.log').read_text()[-3000:]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
