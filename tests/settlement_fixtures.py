"""Fixtures and helpers of the settlement tests: the running service (with the gateway), and
the facts other services would publish, sent with nameko's standalone event dispatcher."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nameko.standalone.events import event_dispatcher

from shared import events as catalogue
from shared.tenancy import Principal
from tests.conftest import Platform, wait_for

UTC = UTC

C01_LEAD = Principal("wuhan-tech-lead", "center", tenant="C01", duty="technical_lead")
C02_LEAD = Principal("jinan-tech-lead", "center", tenant="C02", duty="technical_lead")
HQ_AUDITOR = Principal("hq-auditor", "hq")
OUTLET_A = Principal("xiangyang-clerk", "outlet", tenant="C01", outlet="C01-O01")  # grade A
OUTLET_B = Principal("other-clerk", "outlet", tenant="C01", outlet="C01-O03")  # grade B
OUTLET_C02 = Principal("jinan-clerk", "outlet", tenant="C02", outlet="C02-O01")

SOURCES = {name: spec.source for name, spec in catalogue.CATALOGUE.items()}


@pytest.fixture
def settlement_platform(runner_factory, service_config):
    """settlement + gateway against this test's vhost and SQLite files."""
    from services.gateway.service import GatewayService
    from services.settlement.service import SettlementService

    runner = runner_factory(service_config, SettlementService, GatewayService)
    runner.start()
    yield Platform(runner, service_config)


@pytest.fixture
def publish(service_config):
    """``publish("visit.completed", payload, event_id=None)``: as the owning service would."""

    def _publish(event_type, payload, event_id=None):
        body = catalogue.dump(event_type, payload)
        headers = {"nameko.event_id": event_id or uuid.uuid4().hex}
        dispatch = event_dispatcher(service_config, headers=headers)
        dispatch(SOURCES[event_type], event_type, body)
        return body

    return _publish


def ticket_event(
    ticket_id,
    tenant="C01",
    *,
    kind="repair",
    product_line="数控车床",
    fault="无法启动",
    serial_no=None,
    warranty="warranty",
    tier="in_province",
    purchase_date=None,
    received_at=None,
):
    return {
        "tenant_id": tenant,
        "ticket_id": ticket_id,
        "number": f"{tenant}-{ticket_id[-6:]}",
        "kind": kind,
        "channel": "hotline",
        "priority": 3,
        "received_at": received_at or datetime.now(UTC) - timedelta(days=2),
        "product_line": product_line,
        "model": "CK6150",
        "serial_no": serial_no or f"SN-{ticket_id}",
        "fault": fault,
        "warranty": warranty,
        "tier": tier,
        "geo_ambiguous": False,
        "purchase_date": purchase_date,
    }


def visit_event(
    visit_id,
    ticket_id,
    tenant="C01",
    outlet="C01-O01",
    *,
    at=None,
    planned_km=25.0,
    product_line="数控车床",
    kind="repair",
    parts=0,
    confirmed=True,
):
    return {
        "tenant_id": tenant,
        "visit_id": visit_id,
        "ticket_id": ticket_id,
        "outlet_id": outlet,
        "technician_id": f"{outlet}-T1",
        "at": at or datetime.now(UTC) - timedelta(days=1),
        "planned_km": planned_km,
        "product_line": product_line,
        "kind": kind,
        "work_done": "修复",
        "parts_used": [{"part_no": f"P-{i}", "quantity": 1} for i in range(parts)],
        "customer_confirmed": confirmed,
        "onsite_on_time": True,
    }


def wait_claim(rpc_as, visit_id, principal=None, timeout=20, where=None):
    """The live claim of `visit_id` once it exists (and `where(claim)` holds)."""
    from shared.errors import NotFound
    from tests.conftest import HQ

    def probe():
        with rpc_as(principal or HQ, "settlement") as s:
            try:
                claim = s.claim_for_visit(visit_id)
            except NotFound:
                return None
            return claim if where is None or where(claim) else None

    return wait_for(probe, timeout=timeout, what=f"claim of visit {visit_id}")


def new_id(prefix):
    return f"{prefix}{uuid.uuid4().hex[:12]}"
