"""training_plans, and training_sessions.plan_id: the plan a session was held under

Revision ID: d4e7a2c91b35
Revises: aef13d67550e
Create Date: 2026-12-03 13:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'd4e7a2c91b35'
down_revision: Union[str, Sequence[str], None] = 'aef13d67550e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "training_plans",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("organiser", sa.String(length=16), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("launch_on", sa.Date(), nullable=True),
        sa.Column("sessions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_training_plans_group_id"), "training_plans", ["group_id"], unique=False)
    op.create_index(op.f("ix_training_plans_tenant_id"), "training_plans", ["tenant_id"], unique=False)
    op.create_index("ix_training_plan_line_year", "training_plans", ["product_line", "year"], unique=False)
    with op.batch_alter_table("training_sessions") as batch:
        batch.add_column(sa.Column("plan_id", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_training_sessions_plan_id"), ["plan_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("training_sessions") as batch:
        batch.drop_index(batch.f("ix_training_sessions_plan_id"))
        batch.drop_column("plan_id")
    op.drop_index("ix_training_plan_line_year", table_name="training_plans")
    op.drop_index(op.f("ix_training_plans_tenant_id"), table_name="training_plans")
    op.drop_index(op.f("ix_training_plans_group_id"), table_name="training_plans")
    op.drop_table("training_plans")
