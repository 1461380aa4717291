"""rma shipment: the outlet's word that it sent an old part back (rmas.shipped_at, waybill_no, carrier, shipped_by)

Revision ID: c2d8e5f1a7b3
Revises: 9e0986eea78a
Create Date: 2026-12-03 08:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'c2d8e5f1a7b3'
down_revision: Union[str, Sequence[str], None] = '9e0986eea78a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("rmas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("waybill_no", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("carrier", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("shipped_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rmas", schema=None) as batch_op:
        batch_op.drop_column("shipped_by")
        batch_op.drop_column("carrier")
        batch_op.drop_column("waybill_no")
        batch_op.drop_column("shipped_at")
