"""outlet_assignments: the center's assign_outlet per ticket, kept for visits opened later

Revision ID: a9d3f1c7e524
Revises: f2c4a6e8b013
Create Date: 2026-12-03 12:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'a9d3f1c7e524'
down_revision: Union[str, Sequence[str], None] = 'f2c4a6e8b013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "outlet_assignments",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("outlet_id", sa.String(length=32), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id"),
    )
    op.create_index(op.f("ix_outlet_assignments_tenant_id"), "outlet_assignments", ["tenant_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outlet_assignments_tenant_id"), table_name="outlet_assignments")
    op.drop_table("outlet_assignments")
