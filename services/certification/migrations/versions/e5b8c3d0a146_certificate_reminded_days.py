"""certificates.reminded_days: the nearest reminder threshold sent (once per certificate and threshold)

Revision ID: e5b8c3d0a146
Revises: d4e7a2c91b35
Create Date: 2026-12-03 13:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'e5b8c3d0a146'
down_revision: Union[str, Sequence[str], None] = 'd4e7a2c91b35'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("reminded_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("reminded_days")
