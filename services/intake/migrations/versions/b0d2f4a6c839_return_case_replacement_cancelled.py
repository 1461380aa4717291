"""return_cases: an exchange's replacement awaiting stock cancelled (replacement_cancelled_by/_at,
replacement_cancel_reason, replacement_cancel_outcome refund | withdraw; step withdrawn)

Revision ID: b0d2f4a6c839
Revises: a9c1e3f5b724
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b0d2f4a6c839"
down_revision: str | Sequence[str] | None = "a9c1e3f5b724"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("return_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replacement_cancelled_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("replacement_cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("replacement_cancel_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("replacement_cancel_outcome", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("return_cases", schema=None) as batch_op:
        batch_op.drop_column("replacement_cancel_outcome")
        batch_op.drop_column("replacement_cancel_reason")
        batch_op.drop_column("replacement_cancelled_at")
        batch_op.drop_column("replacement_cancelled_by")
