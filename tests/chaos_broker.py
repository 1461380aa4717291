"""A RabbitMQ node of a test's own, on other ports, that the test may stop and start.

The shared broker (127.0.0.1:5672) is never touched: this node has its own node name,
AMQP and distribution ports, Mnesia and log folders, config file (the machine's
``/etc/rabbitmq/rabbitmq.conf`` pins the listener to 5672) and no plugins.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

RABBITMQ_SBIN = ("/usr/sbin", "/usr/local/sbin", "/usr/lib/rabbitmq/bin")


def _tool(name):
    found = shutil.which(name)
    if found:
        return found
    for folder in RABBITMQ_SBIN:
        path = Path(folder) / name
        if path.exists():
            return str(path)
    raise RuntimeError(
        f"{name} not found: the chaos tests need a local rabbitmq-server (apt-get install rabbitmq-server)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ChaosBroker:
    """``with ChaosBroker() as broker: ... broker.stop_app(); broker.start_app()``

    `plugins` are enabled (the management plugin's and the prometheus plugin's listeners get
    free ports, ``management_port`` and ``prometheus_port``) and `extra_conf` is appended to
    the node's rabbitmq.conf: a test can boot the node with the deployment's own settings."""

    def __init__(self, plugins: tuple[str, ...] = (), extra_conf: str = ""):
        self.plugins = tuple(plugins)
        self.extra_conf = extra_conf
        self.management_port = free_port()
        self.prometheus_port = free_port()
        self.name = f"fsmchaos{uuid.uuid4().hex[:6]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="fsm-chaos-mq-"))
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @property
    def env(self):
        env = dict(os.environ)
        env.update(
            {
                "RABBITMQ_NODENAME": self.name,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.base / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "plugins"),
                "RABBITMQ_PID_FILE": str(self.base / "pid"),
                "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(self.base / "env.conf"),
                "ERL_EPMD_ADDRESS": "127.0.0.1",
            }
        )
        return env

    def _ctl(self, *args, timeout=90):
        return subprocess.run(
            [_tool("rabbitmqctl"), "-n", self.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, timeout=60):
        (self.base / "plugins").write_text(f"[{','.join(self.plugins)}].\n")
        conf = f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n"
        if "rabbitmq_management" in self.plugins:
            conf += f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {self.management_port}\n"
        if "rabbitmq_prometheus" in self.plugins:
            conf += f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {self.prometheus_port}\n"
        (self.base / "rabbitmq.conf").write_text(conf + self.extra_conf)
        (self.base / "env.conf").write_text("")
        if os.geteuid() == 0:  # the packaged wrapper runs the server as user rabbitmq
            shutil.chown(self.base, "rabbitmq", "rabbitmq")
            for p in self.base.iterdir():
                shutil.chown(p, "rabbitmq", "rabbitmq")
        subprocess.run([_tool("rabbitmq-server"), "-detached"], env=self.env, capture_output=True, timeout=60, cwd="/")
        self.wait_up(timeout)
        return self

    def wait_up(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if time.monotonic() > deadline:
                log = "\n".join(p.read_text(errors="replace")[-3000:] for p in (self.base / "log").glob("*.log"))
                raise RuntimeError(f"chaos RabbitMQ {self.name} did not start on {self.port}:\n{log}")
            time.sleep(0.3)

    def stop_app(self):
        """The broker goes away: every connection is closed and new ones are refused."""
        out = self._ctl("stop_app")
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl stop_app failed: {out.stderr}")
        deadline = time.monotonic() + 30
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def start_app(self, timeout=60):
        out = self._ctl("start_app")
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl start_app failed: {out.stderr}")
        self.wait_up(timeout)

    def queue_depths(self) -> dict[str, int]:
        out = self._ctl("list_queues", "-q", "--no-table-headers", "name", "messages")
        depths = {}
        for line in out.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                depths[parts[0]] = int(parts[1])
        return depths

    def stop(self):
        self._ctl("stop", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
