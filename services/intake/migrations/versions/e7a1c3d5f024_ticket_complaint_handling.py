"""tickets: complaint handling (issue 17.4, services/intake/complaints.py)

The responsibility decided in the case (own, other department, grey zone) with who and when,
HQ's ruling of a grey zone; the escalation of a major quality or safety issue to the tenant's
named managers (the level reached, its manager, the acknowledgement due and given); the
countermeasure against recurrence and its follow-up date. Existing tickets start empty.

Revision ID: e7a1c3d5f024
Revises: d4f2a6b8c013
Create Date: 2026-12-03 11:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a1c3d5f024"
down_revision: str | Sequence[str] | None = "d4f2a6b8c013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("responsibility", sa.String(length=32)),
    ("responsibility_by", sa.String(length=64)),
    ("responsibility_at", sa.DateTime(timezone=True)),
    ("grey_zone_ruled_by", sa.String(length=64)),
    ("grey_zone_ruled_at", sa.DateTime(timezone=True)),
    ("escalation_level", sa.Integer()),
    ("escalation_manager", sa.String(length=64)),
    ("escalated_at", sa.DateTime(timezone=True)),
    ("escalation_ack_due", sa.DateTime(timezone=True)),
    ("escalation_acked_by", sa.String(length=64)),
    ("escalation_acked_at", sa.DateTime(timezone=True)),
    ("countermeasure", sa.Text()),
    ("follow_up_on", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_index("ix_tickets_escalation_ack_due", ["escalation_ack_due"], unique=False)


def downgrade() -> None:
    # DROP COLUMN in place (see 8de405ba935e): the deadlines' and audit rows' foreign keys
    with op.batch_alter_table("tickets", schema=None, recreate="never") as batch_op:
        batch_op.drop_index("ix_tickets_escalation_ack_due")
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
