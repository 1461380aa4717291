"""sla_deadlines.at_risk_at: when the watchdog warned a deadline was at risk (sla.at_risk, once)

Revision ID: b8d0f2a4c617
Revises: a2c4e6f8b135
Create Date: 2026-12-03 13:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b8d0f2a4c617"
down_revision: str | Sequence[str] | None = "a2c4e6f8b135"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sla_deadlines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at_risk_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_deadlines", schema=None) as batch_op:
        batch_op.drop_column("at_risk_at")
