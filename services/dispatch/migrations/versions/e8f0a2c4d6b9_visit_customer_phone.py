"""visits.customer_phone: the customer's phone from ticket.registered, for the appointment SMS

Only visit.scheduled carries it (notify's 上门预约 SMS to the customer); the API's visit answers
do not show it.

Revision ID: e8f0a2c4d6b9
Revises: c5e7a9b1d3f6
Create Date: 2026-12-03 13:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e8f0a2c4d6b9"
down_revision: str | Sequence[str] | None = "c5e7a9b1d3f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("customer_phone")
