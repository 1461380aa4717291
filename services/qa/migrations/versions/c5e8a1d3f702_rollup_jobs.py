"""report_jobs.kind and the made roll-up (content, pdf, xlsx): HQ's on-demand roll-up of a month
made in the background as a report job (kind rollup), kept on the row for its download

Revision ID: c5e8a1d3f702
Revises: b8d2f4a6c913
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5e8a1d3f702"
down_revision: str | Sequence[str] | None = "b8d2f4a6c913"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="store", nullable=False))
        batch_op.add_column(sa.Column("content", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("pdf", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("xlsx", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_jobs", schema=None) as batch_op:
        batch_op.drop_column("xlsx")
        batch_op.drop_column("pdf")
        batch_op.drop_column("content")
        batch_op.drop_column("kind")
