"""The services run on a read-only root filesystem, as every pod in k8s/ and every service in
deploy/docker-compose.yml runs them: nothing is written outside VAR_DIR and /tmp.

The seven services start in one `nameko run` inside a mount namespace of their own in which
every filesystem is remounted read-only (the checkout and the virtualenv included) and /tmp is
a fresh tmpfs holding VAR_DIR, as the image's volumes are; the environment is the image's
(deploy/Dockerfile ENV: no bytecode writes, caches under /tmp). Each must answer
/health/ready (SQLite database migrated in VAR_DIR, broker connected) and serve a request.
Needs root and unshare(1), as the CI machine has; without them the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import requests

from tests.chaos_broker import free_port
from tests.processes import REPO, SERVICE_CLASSES

# remount every filesystem read-only (not /proc, /sys, /dev), /tmp a fresh tmpfs, then check
# that the root and the checkout really refuse a write before running the command
READ_ONLY = r"""
set -eu
awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
mount -t tmpfs -o mode=1777 tmpfs /tmp
for probe in /.fsm-ro-probe "$FSM_REPO/.fsm-ro-probe"; do
  if touch "$probe" 2>/dev/null; then rm -f "$probe"; echo "still writable: $probe" >&2; exit 97; fi
done
mkdir -p "$VAR_DIR"
exec "$@"
"""


def image_env() -> dict[str, str]:
    """The ENV of deploy/Dockerfile's final stage, VAR_DIR moved under /tmp (no /app here)."""
    text = (REPO / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    env = {}
    for block in text.split("\nENV ")[1:]:
        for line in block.split("\n\n")[0].replace("\\\n", " ").split():
            if "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    assert {"PYTHONDONTWRITEBYTECODE", "VAR_DIR", "MPLCONFIGDIR"} <= set(env), env
    env["VAR_DIR"] = "/tmp/var"
    return env


def test_services_run_with_a_read_only_root(tmp_path, rabbit_config):
    unshare = shutil.which("unshare")
    assert unshare and os.geteuid() == 0, "needs root and unshare(1) (util-linux) for a mount namespace"
    ports = {name: free_port() for name in SERVICE_CLASSES}
    env = dict(os.environ, **image_env())
    env.update(
        {
            "AMQP_URI": rabbit_config["AMQP_URI"],
            "FSM_DEV": "1",
            "FSM_REPO": str(REPO),
            "HOME": str(REPO),  # the image's user has its home in the (read-only) /app
            "HTTP_HOST": "127.0.0.1",
            **{f"HTTP_PORT_{name.upper()}": str(port) for name, port in ports.items()},
        }
    )
    log_path = tmp_path / "services.log"
    command = [
        unshare,
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        READ_ONLY,
        "read-only",
        str(REPO / ".venv" / "bin" / "nameko"),
        "run",
        "--config",
        "config.yml",
        *SERVICE_CLASSES.values(),
    ]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        waiting = set(ports)
        while waiting and time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text(errors="replace")[-4000:]
            for name in sorted(waiting):
                try:
                    answer = requests.get(f"http://127.0.0.1:{ports[name]}/health/ready", timeout=2)
                except requests.RequestException:
                    continue
                if answer.status_code == 200:
                    waiting.discard(name)
            time.sleep(0.5)
        assert not waiting, f"not ready: {sorted(waiting)}\n{log_path.read_text(errors='replace')[-4000:]}"
        # a request through the gateway to a service and back (RPC over the broker)
        openapi = requests.get(f"http://127.0.0.1:{ports['gateway']}/openapi.json", timeout=10)
        assert openapi.status_code == 200 and openapi.json()["paths"]
        assert requests.get(f"http://127.0.0.1:{ports['intake']}/metrics", timeout=10).status_code == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    log = log_path.read_text(errors="replace")
    assert "Read-only file system" not in log, log[-4000:]
