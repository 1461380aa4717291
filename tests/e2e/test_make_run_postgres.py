"""`make run` on PostgreSQL the documented way (README "Configuration", config.yml: each
service's DATABASE_URL_<SERVICE>, ``postgresql+psycopg2://user@host/db``): all seven services
in one `nameko run`, each migrating its own database at start, get ready, and a request goes
through the gateway into intake's database."""

from __future__ import annotations

import signal
import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.postgres_databases import postgres_databases
from tests.processes import SERVICE_CLASSES
from tests.stopping import MakeRun, ticket_body

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_databases():
    with postgres_databases(SERVICE_CLASSES) as urls:
        yield urls


def test_make_run_on_postgres_gets_every_service_ready(rabbit_config, tmp_path, pg_databases):
    env = {f"DATABASE_URL_{service.upper()}": url for service, url in pg_databases.items()}
    run = MakeRun(tmp_path, rabbit_config["AMQP_URI"], **env)
    run.start()
    try:
        run.wait_ready(timeout=120)
        for service in SERVICE_CLASSES:
            checks = requests.get(run.url(service, "/health/ready"), timeout=10).json()["checks"]
            assert checks["database"] == {"ok": True, "detail": "postgresql"}, (service, checks)
        assert "asynchronous query is underway" not in run.log()

        headers = {"Authorization": f"Bearer {run.token()}", "Idempotency-Key": f"pg-{uuid.uuid4().hex}"}
        r = requests.post(run.url("gateway", "/api/v1/tickets"), json=ticket_body(1), headers=headers, timeout=30)
        assert r.status_code == 201, r.text
        engine = create_engine(pg_databases["intake"])
        try:
            with engine.connect() as conn:
                stored = conn.execute(text("SELECT id FROM tickets WHERE id = :id"), {"id": r.json()["id"]}).all()
        finally:
            engine.dispose()
        assert len(stored) == 1

        run.signal(signal.SIGINT)  # Ctrl-C: it stops (AssertionError if it does not)
    finally:
        run.kill()
