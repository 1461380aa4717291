"""claim_facts: settlement's fee claims (claim.audited, latest step) for the centers' benefit indicators

Revision ID: a7c9e1f3b524
Revises: e4b6c8d0a2f1
Create Date: 2026-12-03 13:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c9e1f3b524"
down_revision: str | Sequence[str] | None = "e4b6c8d0a2f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_facts",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("outlet_id", sa.String(length=32), nullable=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index(op.f("ix_claim_facts_tenant_id"), "claim_facts", ["tenant_id"], unique=False)
    op.create_index("ix_claim_facts_tenant_period", "claim_facts", ["tenant_id", "period"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_claim_facts_tenant_period", table_name="claim_facts")
    op.drop_index(op.f("ix_claim_facts_tenant_id"), table_name="claim_facts")
    op.drop_table("claim_facts")
