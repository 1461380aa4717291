"""tickets.status_before_scheduled: the status a released visit returns the ticket to

Until now `visit.released` found it in the audit trail (the `from_state` of the
`visit_scheduled` entries whose JSON `data` named the visit). The column holds it on the ticket;
existing tickets get the status they had when they last entered `scheduled` from the audit.

Revision ID: 8de405ba935e
Revises: 5602d01a16e0
Create Date: 2026-12-05 21:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '8de405ba935e'
down_revision: Union[str, Sequence[str], None] = '5602d01a16e0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# the statuses a visit.scheduled moves a ticket out of (services.intake.facts.SCHEDULABLE less
# `scheduled` itself), spelled out: a migration does not follow later changes of the code
BACKFILL = sa.text("""
    UPDATE tickets SET status_before_scheduled = (
        SELECT a.from_state FROM audit_entries a
        WHERE a.ticket_id = tickets.id AND a.action = 'visit_scheduled'
          AND a.from_state IN ('registered', 'accepted')
        ORDER BY a.id DESC LIMIT 1)
""")


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_before_scheduled', sa.String(length=16), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode's copy of the table would drop the
    # original, which the deadlines' and audit rows' foreign keys refuse
    with op.batch_alter_table('tickets', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('status_before_scheduled')
