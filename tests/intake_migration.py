"""Intake's migration 8de405ba935e (tickets.status_before_scheduled), run against a database
at the revision before it with tickets and audit rows written the old way; the same scenario on
SQLite (tests/unit/test_intake_migration.py) and PostgreSQL (tests/service/...)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text

from shared import migrations
from shared.db import make_engine

PACKAGE = "services.intake.migrations"
BEFORE = "5602d01a16e0"
REVISION = "8de405ba935e"
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

TICKET = text("""
    INSERT INTO tickets (id, number, kind, channel, status, priority, customer_id, customer_name, phone,
                         address, geo_ambiguous, warranty, owner_user, received_at, registered_at, version,
                         tenant_id)
    VALUES (:id, :id, 'repair', 'hotline', :status, 3, 'cu_1', '客户', '138', '武汉', false, 'warranty',
            'agent', :at, :at, 1, 'C01')
""")
AUDIT = text("""
    INSERT INTO audit_entries (ticket_id, at, "user", role, action, from_state, to_state, data, tenant_id)
    VALUES (:ticket, :at, 'dispatch', 'service', :action, :from_state, :to_state, :data, 'C01')
""")

# ticket: (status now, its audit trail as (action, from, to, visit), expected column)
CASES = {
    "once": (
        "scheduled",
        [("register", None, "registered", None), ("visit_scheduled", "registered", "scheduled", "v1")],
        "registered",
    ),
    # released, accepted by hand, planned again, then re-planned: the last status it was scheduled from
    "again": (
        "scheduled",
        [
            ("register", None, "registered", None),
            ("visit_scheduled", "registered", "scheduled", "v1"),
            ("visit_released", "scheduled", "registered", "v1"),
            ("accept", "registered", "accepted", None),
            ("visit_scheduled", "accepted", "scheduled", "v1"),
            ("visit_scheduled", "scheduled", "scheduled", "v1"),
        ],
        "accepted",
    ),
    "never": ("registered", [("register", None, "registered", None)], None),
    # another ticket's trail does not leak into this one's
    "other": ("accepted", [("accept", "registered", "accepted", None)], None),
}


def run_backfill_scenario(url: str) -> None:
    engine = make_engine(url)
    try:
        migrations.upgrade(engine, PACKAGE, BEFORE)
        with engine.begin() as conn:
            for ticket, (status, trail, _) in CASES.items():
                conn.execute(TICKET, {"id": ticket, "status": status, "at": AT})
                for action, before, after, visit in trail:
                    conn.execute(
                        AUDIT,
                        {
                            "ticket": ticket,
                            "at": AT,
                            "action": action,
                            "from_state": before,
                            "to_state": after,
                            "data": f'{{"visit_id": "{visit}"}}' if visit else None,
                        },
                    )
        migrations.upgrade(engine, PACKAGE)
        with engine.connect() as conn:
            got = dict(conn.execute(text("SELECT id, status_before_scheduled FROM tickets")).all())
        assert got == {ticket: expected for ticket, (_, _, expected) in CASES.items()}, got

        with engine.begin() as conn:
            command.downgrade(migrations._config(PACKAGE, conn), BEFORE)
        assert "status_before_scheduled" not in {c["name"] for c in inspect(engine).get_columns("tickets")}
    finally:
        engine.dispose()
