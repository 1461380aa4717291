"""customers: who decided a flagged customer is no duplicate (kept apart), and when

Revision ID: a2c4e6f8b135
Revises: f3b5d7e9a146
Create Date: 2026-12-03 11:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a2c4e6f8b135"
down_revision: str | Sequence[str] | None = "f3b5d7e9a146"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duplicate_decided_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("duplicate_decided_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("duplicate_decided_at")
        batch_op.drop_column("duplicate_decided_by")
