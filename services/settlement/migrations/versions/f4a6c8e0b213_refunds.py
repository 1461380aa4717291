"""refunds: refunds and compensations to pay (退赔款; services/settlement/refunds.py)

Revision ID: f4a6c8e0b213
Revises: 6295c7f7ccd7
Create Date: 2026-12-03 13:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f4a6c8e0b213"
down_revision: str | Sequence[str] | None = "6295c7f7ccd7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("return_case_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("approved_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_by", sa.String(length=64), nullable=True),
        sa.Column("paid_at", TZ, nullable=True),
        sa.Column("payment_ref", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_refunds_tenant_id", "refunds", ["tenant_id"])
    op.create_index("ix_refunds_ticket_id", "refunds", ["ticket_id"])
    op.create_index("ix_refund_tenant_status", "refunds", ["tenant_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_refund_tenant_status", table_name="refunds")
    op.drop_index("ix_refunds_ticket_id", table_name="refunds")
    op.drop_index("ix_refunds_tenant_id", table_name="refunds")
    op.drop_table("refunds")
