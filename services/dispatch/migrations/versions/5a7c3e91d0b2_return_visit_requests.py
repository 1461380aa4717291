"""visits: a return visit the outlet asks for (its reason, who asked)

Revision ID: 5a7c3e91d0b2
Revises: e41c7a9d2b60
Create Date: 2026-12-03 10:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '5a7c3e91d0b2'
down_revision: Union[str, Sequence[str], None] = 'e41c7a9d2b60'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("return_reason", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("return_requested_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("return_requested_by")
        batch_op.drop_column("return_reason")
