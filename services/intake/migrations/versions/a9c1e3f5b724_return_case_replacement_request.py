"""return_cases: the replacement asked of parts (return_cases.step widened for replacement_requested
and awaiting_stock; replacement_requested_by/_at, awaiting_stock_at)

Revision ID: a9c1e3f5b724
Revises: e1f3a5c7d902
Create Date: 2026-12-03 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a9c1e3f5b724"
down_revision: str | Sequence[str] | None = "e1f3a5c7d902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("return_cases", schema=None) as batch_op:
        batch_op.alter_column("step", existing_type=sa.String(length=16), type_=sa.String(length=32))
        batch_op.add_column(sa.Column("replacement_requested_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("replacement_requested_at", TZ, nullable=True))
        batch_op.add_column(sa.Column("awaiting_stock_at", TZ, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("return_cases", schema=None) as batch_op:
        batch_op.drop_column("awaiting_stock_at")
        batch_op.drop_column("replacement_requested_at")
        batch_op.drop_column("replacement_requested_by")
        batch_op.alter_column("step", existing_type=sa.String(length=32), type_=sa.String(length=16))
