"""visits: a confirmed appointment a re-plan with a reason moved (the time told and the reason)

Revision ID: c5e7a9b1d3f6
Revises: a9d3f1c7e524
Create Date: 2026-12-03 13:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'c5e7a9b1d3f6'
down_revision: Union[str, Sequence[str], None] = 'a9d3f1c7e524'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("appointment_moved_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("appointment_moved_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("appointment_moved_reason")
        batch_op.drop_column("appointment_moved_from")
