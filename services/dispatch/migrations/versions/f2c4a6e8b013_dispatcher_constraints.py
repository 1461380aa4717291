"""visits: the center's outlet assignment, a confirmed appointment and why a constraint is not kept;
plan_runs: a re-plan's reason and the confirmed visits it moved

Revision ID: f2c4a6e8b013
Revises: 5a7c3e91d0b2
Create Date: 2026-12-03 10:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'f2c4a6e8b013'
down_revision: Union[str, Sequence[str], None] = '5a7c3e91d0b2'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("required_outlet_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("constraint_unmet", sa.String(length=255), nullable=True))
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("moved_confirmed", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.drop_column("moved_confirmed")
        batch_op.drop_column("reason")
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("constraint_unmet")
        batch_op.drop_column("appointment_at")
        batch_op.drop_column("required_outlet_id")
