"""planner state for replicas: plan_requests, plan_runs.finished_at/holder, visits.plan_run_id

Revision ID: b7e2d5a91c40
Revises: 3fb88fe12b75
Create Date: 2026-12-02 22:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'b7e2d5a91c40'
down_revision: Union[str, Sequence[str], None] = '3fb88fe12b75'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "plan_requests",
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planning_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planning_holder", sa.String(length=128), nullable=True),
        sa.Column("last_planned_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("holder", sa.String(length=128), nullable=True))
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("plan_run_id", sa.Integer(), nullable=True))
    # the tenants that have visits were known to the planner's memory before: each gets a row,
    # never planned, so the first planner tick after the upgrade re-plans it once
    op.execute("INSERT INTO plan_requests (tenant_id) SELECT DISTINCT tenant_id FROM visits")


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("plan_run_id")
    with op.batch_alter_table("plan_runs", schema=None) as batch_op:
        batch_op.drop_column("holder")
        batch_op.drop_column("finished_at")
    op.drop_table("plan_requests")
