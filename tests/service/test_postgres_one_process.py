"""Every service on PostgreSQL in one process, started together by one ServiceRunner as `make run`'s
`nameko run` starts them: each migrates its own database at start, and all of them get ready.
(Alembic's migration context is process-global: upgrades run at once in one process used to
run each other's statements on each other's connection; shared.migrations takes turns.)"""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import SERVICES, http_port_of
from tests.postgres_databases import postgres_databases

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_databases():
    with postgres_databases(SERVICES) as urls:
        yield urls


def test_every_service_on_postgres_in_one_runner_gets_ready(runner_factory, service_config, pg_databases):
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService
    from shared.migrations import _config

    config = dict(service_config, DATABASES=dict(pg_databases))
    classes = (
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
        NotifyService,
        GatewayService,
    )
    runner = runner_factory(config, *classes)
    runner.start()  # the containers' set-ups (and so their migrations) run together, as in nameko run

    containers = {c.service_name: c for c in runner.containers}
    assert set(containers) == set(SERVICES)
    for name, container in containers.items():
        r = requests.get(f"http://127.0.0.1:{http_port_of(container)}/health/ready", timeout=10)
        assert r.status_code == 200, (name, r.text)
        assert r.json()["checks"]["database"] == {"ok": True, "detail": "postgresql"}, (name, r.json())

    from alembic.script import ScriptDirectory

    for name, url in pg_databases.items():
        heads = set(ScriptDirectory.from_config(_config(f"services.{name}.migrations")).get_heads())
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                versions = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
        finally:
            engine.dispose()
        assert versions == heads, name
