"""certification on PostgreSQL: concurrent steps on one outlet — exactly one wins, the others
are refused (409) and nothing is applied twice (one step row, one event)."""

import eventlet
import pytest
from sqlalchemy import create_engine, text

from services.certification.service import CertificationService
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import HEAD, drive

pytestmark = pytest.mark.postgres


def test_concurrent_head_approvals_apply_once(container_factory, service_config, pg_url, rpc_as):
    service_config["DATABASES"]["certification"] = pg_url
    service_config["CERTIFICATION_CHECK_SECONDS"] = 3600
    container = container_factory(CertificationService, service_config)
    container.start()
    drive(rpc_as, "C01-O20", "technical_reviewed")

    def approve(n):
        with rpc_as(HEAD.__class__(f"head-{n}", "hq", duty="service_head"), "certification") as cert:
            try:
                return cert.outlet_step("C01-O20", {"action": "head_approval", "decision": "pass"})["status"]
            except Exception as exc:  # noqa: BLE001 (the remote error's code is checked)
                return getattr(exc, "code", repr(exc))

    results = list(eventlet.GreenPool(8).imap(approve, range(8)))
    assert results.count("approved") == 1, results
    assert set(results) - {"approved"} <= {"conflict", "invalid_transition"}, results
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        steps = conn.execute(
            text("select count(*) from outlet_steps where outlet_id='C01-O20' and action='head_approval'")
        ).scalar()
        events = conn.execute(
            text("select count(*) from outbox where event_type='outlet.approved' and payload like '%C01-O20%'")
        ).scalar()
    engine.dispose()
    assert steps == 1 and events == 1
