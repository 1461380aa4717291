"""Fixtures and helpers of the portal's tests (tests/service/test_portal_*.py, tests/browser/):
the platform with the gateway's accounts, accounts added as ``fsm user add`` adds them, and an
outlet with planned visits.

    from tests.portal_fixtures import *  # noqa: F401,F403   (the fixtures)
    from tests.portal_fixtures import add_account, plan_outlet_visits
"""

from __future__ import annotations

import csv
import io
from contextlib import ExitStack
from urllib.parse import urlparse

import pytest

from shared import clock
from shared.tenancy import Principal
from tests.conftest import C01, HQ, Platform, dispatch_config_of, service_config_in, technician_rows, wait_for

API = "/api/v1"
PASSWORD = "portal-test-pw-1"
# Argon2 at its smallest cost: the tests sign in dozens of times (the rules are the same)
CHEAP_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192, "ARGON2_PARALLELISM": 1}
O05 = Principal("o5-user", "outlet", tenant="C01", outlet="C01-O05")  # Ezhou, within reach of Wuhan


def wuhan_tickets():
    """Two repairs in Wuhan: one bought 100 days ago (in warranty), one in 2019 (self-paid)."""
    from datetime import timedelta

    recent = (clock.now().astimezone(clock.LOCAL_TZ).date() - timedelta(days=100)).isoformat()
    return [
        {
            "kind": "repair",
            "channel": "hotline",
            "customer_name": name,
            "phone": "138****0000",
            "address": address,
            "product_line": "数控车床",
            "model": "CK6150",
            "purchase_date": purchase,
            "fault": fault,
        }
        for name, address, purchase, fault in (
            ("武汉精工机械有限公司", "湖北省武汉市洪山区珞喻路1号", recent, "主轴异响，无法启动"),
            ("武汉江岸汽配厂", "湖北省武汉市江岸区解放大道1000号", "2019-03-01", "刀塔不转位"),
        )
    ]


def portal_config(config, **extra):
    config = dict(config, **CHEAP_ARGON2)
    config.update(extra)
    return config


@pytest.fixture
def portal_platform(runner_factory, dispatch_config):
    """intake + dispatch + gateway (with its accounts); the planner plans only when asked."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = portal_config(dispatch_config, DISPATCH_BATCH_SECONDS=3600, LOGIN_MAX_FAILURES=3)
    runner = runner_factory(config, IntakeService, DispatchService, GatewayService)
    runner.start()
    yield Platform(runner, config)
    clock.reset()


@pytest.fixture(scope="module")
def module_platforms(request, vhost_pipeline, tmp_path_factory):
    """``module_platforms(*services, **config)``: a platform the module's tests share (its own
    vhost and SQLite files, the portal's config as `portal_platform`'s, the planner planning only
    when asked), started once: a browser module overrides `portal_platform` with it where its
    tests do not need a fresh state (they find their own rows by id, number or name, never "the
    only one"). Stopped after the module; the clock is reset after each test by `browser`."""
    from nameko.runners import ServiceRunner

    broker = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    with ExitStack() as stack:

        def start(*services, **extra):
            vhost = stack.enter_context(vhost_pipeline.get())
            rabbit = {"AMQP_URI": f"{broker.scheme}://{broker.netloc}/{vhost}", "username": broker.username}
            folder = tmp_path_factory.mktemp("platform")
            config = portal_config(
                dispatch_config_of(service_config_in(dict(rabbit, vhost=vhost), folder)),
                DISPATCH_BATCH_SECONDS=3600,
                **extra,
            )
            runner = ServiceRunner(config)
            for service in services:
                runner.add_service(service)
            stack.callback(runner.kill)
            runner.start()
            return Platform(runner, config)

        yield start
    clock.reset()


@pytest.fixture(scope="module")
def module_portal_platform(module_platforms):
    """intake + dispatch + gateway, shared by the module's tests (see `module_platforms`)."""
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    return module_platforms(IntakeService, DispatchService, GatewayService)


def add_account(platform, username, role="outlet", password=PASSWORD, name=None, **fields):
    """An account in the running gateway's database, as ``fsm user add`` makes it. On a platform
    shared by a module's tests the account may be there already: the same account is kept (an
    account of that name with another role or site is an error)."""
    from services.gateway import accounts
    from services.gateway.portal.web import GATEWAY

    if role == "outlet" and not fields:
        fields = {"tenant": "C01", "outlet": "C01-O05"}
    store = platform.containers["gateway"].dependencies
    db = next(d for d in store if type(d).__name__ == "Database")
    with db.store.uow(GATEWAY) as uow:
        known = uow.session.get(accounts.User, username)
        if known is not None:
            site = (known.role, known.tenant_id, known.outlet_id, known.warehouse_id, known.duty)
            wanted = (role,) + tuple(fields.get(k) for k in ("tenant", "outlet", "warehouse", "duty"))
            assert site == wanted, f"account {username} exists as {site}, not {wanted}"
            return username
        accounts.add_user(
            uow.session,
            accounts.Passwords.from_config(platform.config),
            clock.now(),
            username,
            password,
            role,
            display_name=name,
            **fields,
        )
        uow.commit()
    return username


def _import_technicians(platform: Platform, rows):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    r = platform.post(
        f"{API}/technicians/import", HQ, data=buf.getvalue().encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 200 and r.json()["failed"] == 0, r.text


def _board(platform: Platform):
    r = platform.get(f"{API}/dispatch/board", HQ)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def plan_outlet_visits(platform: Platform, technician="C01-O05-T1", tickets=None):
    """Tickets registered in Wuhan, pinned to an Ezhou technician and planned: the visits
    (scheduled, in route order) the outlet C01-O05 then has."""
    _import_technicians(platform, technician_rows("C01"))
    visits = []
    for body in tickets or wuhan_tickets():
        r = platform.post(f"{API}/tickets", C01, json=body)
        assert r.status_code == 201, r.text
        ticket_id = r.json()["id"]
        visit = wait_for(lambda t=ticket_id: next((v for v in _board(platform) if v["ticket_id"] == t), None))
        r = platform.post(f"{API}/visits/{visit['id']}/pin", C01, json={"technician_id": technician})
        assert r.status_code == 200, r.text
        visits.append(visit["id"])
    r = platform.post(f"{API}/dispatch/reoptimise", C01)
    assert r.status_code == 200, r.text

    def scheduled():
        items = {v["id"]: v for v in _board(platform)}
        return [items[v] for v in visits] if all(items[v]["status"] == "scheduled" for v in visits) else None

    planned = wait_for(scheduled, what="the visits planned")
    # intake hears of the plan (visit.scheduled): the outlet then sees the tickets' details
    wait_for(
        lambda: all(platform.get(f"{API}/tickets/{v['ticket_id']}", O05).status_code == 200 for v in planned),
        what="intake assigned the tickets to the outlet",
    )
    return sorted(planned, key=lambda v: v["planned_arrival"])
