"""callbacks.due_notified_at: when the callback's caller was told it comes due (callback.due, once)

Revision ID: d9e1a3b5c728
Revises: 7f8ff34bb5e6
Create Date: 2026-12-03 13:35:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d9e1a3b5c728"
down_revision: str | Sequence[str] | None = "7f8ff34bb5e6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_notified_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callbacks", schema=None) as batch_op:
        batch_op.drop_column("due_notified_at")
