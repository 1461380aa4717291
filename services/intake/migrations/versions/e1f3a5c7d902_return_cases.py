"""return_cases: returned and exchanged machines (退换机, 15 天包退 / 30 天包换; services/intake/returns.py)

Revision ID: e1f3a5c7d902
Revises: b8d0f2a4c617
Create Date: 2026-12-03 13:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1f3a5c7d902"
down_revision: str | Sequence[str] | None = "b8d0f2a4c617"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "return_cases",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("serial_no", sa.String(length=64), nullable=False),
        sa.Column("purchase_date", sa.Date(), nullable=False),
        sa.Column("installed_on", sa.Date(), nullable=True),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("counted_from", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("quality_fault", sa.Boolean(), nullable=True),
        sa.Column("finding", sa.Text(), nullable=True),
        sa.Column("inspected_by", sa.String(length=64), nullable=True),
        sa.Column("inspected_at", TZ, nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("refund_amount", sa.Numeric(12, 2), nullable=True),
        sa.Column("received_by", sa.String(length=64), nullable=True),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("refund_id", sa.String(length=32), nullable=True, unique=True),
        sa.Column("refund_paid_at", TZ, nullable=True),
        sa.Column("replacement_serial", sa.String(length=64), nullable=True),
        sa.Column("replaced_by", sa.String(length=64), nullable=True),
        sa.Column("replaced_at", TZ, nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_return_cases_tenant_id", "return_cases", ["tenant_id"])
    op.create_index("ix_return_cases_ticket_id", "return_cases", ["ticket_id"])
    op.create_index("ix_return_case_tenant_step", "return_cases", ["tenant_id", "step"])


def downgrade() -> None:
    op.drop_index("ix_return_case_tenant_step", table_name="return_cases")
    op.drop_index("ix_return_cases_ticket_id", table_name="return_cases")
    op.drop_index("ix_return_cases_tenant_id", table_name="return_cases")
    op.drop_table("return_cases")
