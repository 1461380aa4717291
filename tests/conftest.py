import eventlet

eventlet.monkey_patch()  # noqa: E402  (must precede every other import)

import os
import uuid
import warnings
from contextlib import contextmanager

import pytest

# services started by the tests (and their subprocesses) may use the development secret
os.environ["FSM_DEV"] = "1"

warnings.filterwarnings("ignore", category=DeprecationWarning)

from nameko.standalone.rpc import ServiceRpcProxy  # noqa: E402

from shared.tenancy import Principal  # noqa: E402

SERVICES = ("gateway", "intake", "dispatch", "parts", "settlement", "certification", "qa", "notify")

HQ = Principal("hq-admin", "hq")
C01 = Principal("wuhan-agent", "center", tenant="C01")
C02 = Principal("jinan-agent", "center", tenant="C02")


@pytest.fixture
def service_config(rabbit_config, tmp_path):
    """nameko config for one test: its own RabbitMQ vhost, SQLite files in tmp, free ports."""
    return service_config_in(rabbit_config, tmp_path)


def service_config_in(rabbit_config, folder):
    """nameko config on `rabbit_config`'s vhost with SQLite files in `folder`, free ports (the
    `service_config` fixture's, also for a platform shared by a module's tests)."""
    config = dict(rabbit_config)
    config["DATABASES"] = {name: f"sqlite:///{folder}/{name}.db" for name in SERVICES}
    config["HTTP_PORTS"] = {name: 0 for name in SERVICES}
    config["HTTP_HOST"] = "127.0.0.1"
    config["OUTBOX_POLL_SECONDS"] = 0.2
    config["AUTH_SECRET"] = "test-secret-of-at-least-thirty-two-bytes"
    config["max_workers"] = 10
    return config


@pytest.fixture
def rpc_as(service_config):
    """``with rpc_as(principal, "intake") as intake: intake.get_ticket(...)``"""

    @contextmanager
    def _proxy(principal, service="intake"):
        context = {"principal": principal.encode()} if principal else {}
        with ServiceRpcProxy(service, service_config, context_data=context, timeout=30) as proxy:
            yield proxy

    return _proxy


LANES = {"unit": "unit", "service": "service", "e2e": "e2e", "browser": "browser", "bench": "slow"}


def pytest_collection_modifyitems(config, items):
    """Each test gets the marker of its lane (the folder it is in): unit, service, e2e; the
    bench yardsticks' tests (tests/bench) and the chaos tests are also `slow`.
    `make test-fast` runs ``-m "unit and not slow"``."""
    for item in items:
        lane = LANES.get(item.path.parent.name)
        if lane:
            item.add_marker(lane)
        if item.get_closest_marker("chaos"):
            item.add_marker("slow")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test (dropped afterwards)."""
    import psycopg2

    base = os.environ.get("FSM_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    name = f"fsm_test_{uuid.uuid4().hex[:10]}"
    dsn = base.replace("postgresql+psycopg2://", "postgresql://")
    try:
        conn = psycopg2.connect(dsn)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {dsn}: {exc}")
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def http_port_of(container):
    """The port the service's HTTP server actually bound (config asks for 0 = any free port)."""
    from shared.web import JsonHttpHandler

    for ext in container.entrypoints:
        if isinstance(ext, JsonHttpHandler):
            return ext.server.port
    raise LookupError(f"{container.service_name} has no HTTP entrypoint")


class Platform:
    """Running services plus an HTTP client that signs in as any principal."""

    def __init__(self, runner, config):
        import requests

        self.runner = runner
        self.config = config
        self.containers = {c.service_name: c for c in runner.containers}
        self.base_url = f"http://127.0.0.1:{http_port_of(self.containers['gateway'])}"
        self.http = requests.Session()

    def token(self, principal):
        from shared.auth import issue_token

        return issue_token(self.config["AUTH_SECRET"], principal)

    def request(self, method, path, principal=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if principal is not None:
            headers["Authorization"] = f"Bearer {self.token(principal)}"
        return self.http.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path, principal=None, **kw):
        return self.request("GET", path, principal, **kw)

    def post(self, path, principal=None, **kw):
        return self.request("POST", path, principal, **kw)


@pytest.fixture
def platform(runner_factory, service_config):
    """intake + gateway running against this test's vhost and SQLite files."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    runner = runner_factory(service_config, IntakeService, GatewayService)
    runner.start()
    yield Platform(runner, service_config)


@pytest.fixture
def dispatch_config(service_config):
    return dispatch_config_of(service_config)


def dispatch_config_of(config):
    """`config` with the planner's test figures: a 1 s solve, batches every 0.3 s."""
    return dict(config, DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=0.3)


@pytest.fixture
def full_platform(runner_factory, dispatch_config):
    """intake + dispatch + gateway."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    runner = runner_factory(dispatch_config, IntakeService, DispatchService, GatewayService)
    runner.start()
    yield Platform(runner, dispatch_config)


def technician_rows(tenant=None):
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "shared" / "data" / "technicians.csv"
    with open(path, encoding="utf-8") as fh:
        return [r for r in csv.DictReader(fh) if tenant is None or r["tenant_id"] == tenant]


def wait_for(fn, timeout=30, interval=0.2, what="condition"):
    """Poll `fn` until it returns something truthy; that value is returned."""
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout} s")


@pytest.fixture
def working_morning():
    """The process-wide clock (the services in this process read it) moved to 07:00 Beijing time
    of the next working day, before any shift starts: a plan made in the test does not depend on
    the hour the tests run at (in shift hours a technician sent at once is already on the road
    seconds later, and a re-plan keeps that drive). Request it before the platform fixture."""
    from datetime import datetime, time, timedelta

    from services.dispatch.domain import LOCAL_TZ
    from shared import clock
    from shared.workcal import ChinaCalendar

    calendar = ChinaCalendar.default()
    day = datetime.now(LOCAL_TZ).date() + timedelta(days=1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    clock.travel_to(datetime.combine(day, time(7, 0), LOCAL_TZ))
    try:
        yield clock.now()
    finally:
        clock.reset()


@pytest.fixture
def quiet_platform(runner_factory, dispatch_config):
    """intake + dispatch + gateway; the planner only plans when asked (reoptimise)."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(dispatch_config, DISPATCH_BATCH_SECONDS=3600)
    runner = runner_factory(config, IntakeService, DispatchService, GatewayService)
    runner.start()
    yield Platform(runner, config)
