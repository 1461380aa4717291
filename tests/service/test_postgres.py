"""intake on PostgreSQL (a fresh database per test): Alembic schema, tenancy scoping, outbox relay,
idempotent event consumption."""

from __future__ import annotations

import json
import uuid
from datetime import UTC

import pytest
from sqlalchemy import create_engine, inspect, select, text

from services.intake.service import IntakeService
from shared.config import database_url
from shared.errors import NotFound
from shared.outbox import outbox_table
from tests.conftest import C01, C02, HQ
from tests.service.test_dead_letter import publish_event, wait_for
from tests.service.test_outbox import bind_queue, collect

pytestmark = pytest.mark.postgres

WUHAN = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}
JINAN = dict(WUHAN, customer_name="济南测试公司", address="山东省济南市历下区泉城路1号")


@pytest.fixture
def pg_intake(container_factory, service_config, pg_url):
    service_config["DATABASES"]["intake"] = pg_url
    assert database_url(service_config, "intake") == pg_url  # no DATABASE_URL_INTAKE override
    container = container_factory(IntakeService, service_config)
    container.start()
    return container


def _require_bigint_outbox_seq(pg_url):
    """outbox.seq holds microseconds since the epoch (about 1.8e15): INTEGER (int4) would overflow
    on PostgreSQL and every unit of work that emits would fail. The migration must make it BIGINT."""
    engine = create_engine(pg_url)
    try:
        column = next(c for c in inspect(engine).get_columns("outbox") if c["name"] == "seq")
    finally:
        engine.dispose()
    if str(column["type"]).upper() not in ("BIGINT", "BIGINTEGER"):
        pytest.fail(f"outbox.seq is {column['type']} in the migration: needs BIGINT (see docstring)")


def test_migrations_created_the_schema(pg_intake, pg_url):
    engine = create_engine(pg_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {
            "tickets",
            "sla_deadlines",
            "audit_entries",
            "outbox",
            "processed_messages",
            "alembic_version",
        } <= tables
        with engine.connect() as conn:
            head = conn.execute(text("select version_num from alembic_version")).scalar_one()
        assert head  # stamped at the head revision
        assert "tenant_id" in {c["name"] for c in inspect(engine).get_columns("tickets")}
    finally:
        engine.dispose()


def test_tenancy_and_outbox_on_postgres(pg_intake, service_config, rpc_as, pg_url):
    _require_bigint_outbox_seq(pg_url)
    uri = service_config["AMQP_URI"]
    queue = bind_queue(uri, "intake", "ticket.registered")

    with rpc_as(C01) as intake:
        wuhan = [intake.register_ticket(dict(WUHAN, customer_name=f"武汉{i}")) for i in range(3)]
    with rpc_as(C02) as intake:
        jinan = [intake.register_ticket(dict(JINAN, customer_name=f"济南{i}")) for i in range(2)]
    assert {t["tenant_id"] for t in wuhan} == {"C01"}
    assert {t["tenant_id"] for t in jinan} == {"C02"}

    # scoping: each center sees its own, HQ sees all, another tenant's ticket is "not found"
    with rpc_as(C01) as intake:
        page = intake.list_tickets()
        assert {t["id"] for t in page["items"]} == {t["id"] for t in wuhan} and page["total"] == 3
        with pytest.raises(NotFound):
            intake.get_ticket(jinan[0]["id"])
        assert intake.list_tickets({"tenant_id": "C02"})["total"] == 0  # a filter cannot widen scope
    with rpc_as(C02) as intake:
        assert {t["id"] for t in intake.list_tickets()["items"]} == {t["id"] for t in jinan}
        with pytest.raises(NotFound):
            intake.get_ticket(wuhan[0]["id"])
    with rpc_as(HQ) as intake:
        assert intake.list_tickets()["total"] == 5
        assert set(intake.sla_summary()) == {"C01", "C02"}

    # the relay published every committed event, once, and marked the rows
    got = collect(uri, queue, expect=5, timeout=20, settle=0.5)
    assert sorted(json.loads(m.body)["ticket_id"] for m in got) == sorted(t["id"] for t in wuhan + jinan)
    engine = create_engine(pg_url)
    try:

        def all_marked():
            with engine.connect() as conn:
                return not conn.execute(select(outbox_table.c.id).where(outbox_table.c.published_at.is_(None))).all()

        wait_for(all_marked, timeout=10, what="outbox rows marked published")
    finally:
        engine.dispose()


def test_event_consumed_once_on_postgres(pg_intake, service_config, rpc_as, pg_url):
    from datetime import datetime

    _require_bigint_outbox_seq(pg_url)

    with rpc_as(C01) as intake:
        ticket = intake.register_ticket(WUHAN)
    body = {
        "tenant_id": "C01",
        "visit_id": "v-pg-1",
        "ticket_id": ticket["id"],
        "outlet_id": None,
        "technician_id": "tech-1",
        "at": datetime.now(UTC).isoformat(),
        "planned_arrival": None,
        "reason": None,
    }
    event_id = uuid.uuid4().hex
    publish_event(service_config["AMQP_URI"], "dispatch", "visit.started", body, event_id=event_id)
    publish_event(service_config["AMQP_URI"], "dispatch", "visit.started", body, event_id=event_id)

    def applied():
        with rpc_as(C01) as intake:
            t = intake.get_ticket(ticket["id"])
        return t if t["status"] == "on_site" else None

    wait_for(applied, what="visit.started applied on PostgreSQL")
    import time

    time.sleep(1.0)  # let the duplicate's worker finish
    with rpc_as(C01) as intake:
        t = intake.get_ticket(ticket["id"])
    assert len([a for a in t["audit"] if a["action"] == "visit_started"]) == 1
