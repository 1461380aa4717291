"""report_jobs: HQ's requests to make a month's stored reports, run in the background by qa's
report_jobs timer, with their state and progress

Revision ID: b8d2f4a6c913
Revises: a7c9e1f3b524
Create Date: 2026-12-03 14:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d2f4a6c913"
down_revision: str | Sequence[str] | None = "a7c9e1f3b524"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=8), nullable=False),
        sa.Column("quarter", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("made", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_jobs_month"), ["month"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_jobs_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_jobs_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_jobs_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_report_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_report_jobs_month"))
    op.drop_table("report_jobs")
