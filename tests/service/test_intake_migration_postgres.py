"""Intake's migration adding tickets.status_before_scheduled, backfilled from the audit, on
PostgreSQL (the same scenario as tests/unit/test_intake_migration.py on SQLite)."""

import pytest

from tests.intake_migration import run_backfill_scenario

pytestmark = pytest.mark.postgres


def test_status_before_scheduled_backfilled_from_the_audit_on_postgres(pg_url):
    run_backfill_scenario(pg_url)
