"""Intake's migration adding tickets.status_before_scheduled, backfilled from the audit (SQLite;
the PostgreSQL run is tests/service/test_intake_migration_postgres.py)."""

from tests.intake_migration import run_backfill_scenario


def test_status_before_scheduled_backfilled_from_the_audit_on_sqlite(tmp_path):
    run_backfill_scenario(f"sqlite:///{tmp_path / 'intake.db'}")
