"""stored_reports: the monthly center reports, HQ's roll-ups and the quarterly satisfaction reports
QA generated (content, PDF, XLSX), one per tenant, kind and period (issue 18.5)

Revision ID: e4b6c8d0a2f1
Revises: d9e1a3b5c728
Create Date: 2026-12-03 13:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e4b6c8d0a2f1"
down_revision: str | Sequence[str] | None = "d9e1a3b5c728"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stored_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("title", sa.String(length=128), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("xlsx", sa.LargeBinary(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "kind", "period"),
    )
    with op.batch_alter_table("stored_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stored_reports_period"), ["period"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_reports_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stored_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_reports_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_stored_reports_period"))
    op.drop_table("stored_reports")
