"""replacement_requests: an exchange's replacement asked by intake, issued at once or waiting for a
good unit and issued when one is received (services/parts/replacements.py)

Revision ID: d5e7f9a1b3c6
Revises: c2d8e5f1a7b3
Create Date: 2026-12-03 14:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e7f9a1b3c6"
down_revision: str | Sequence[str] | None = "c2d8e5f1a7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "replacement_requests",
        sa.Column("return_case_id", sa.String(length=32), primary_key=True),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("location_id", sa.String(length=32), nullable=False),
        sa.Column("part_no", sa.String(length=32), nullable=False),
        sa.Column("wanted_serial", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("short_at", TZ, nullable=True),
        sa.Column("issued_at", TZ, nullable=True),
        sa.Column("issued_by", sa.String(length=64), nullable=True),
        sa.Column("movement_no", sa.String(length=32), nullable=True),
        sa.Column("serial", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_replacement_requests_tenant_id", "replacement_requests", ["tenant_id"])
    op.create_index("ix_replacement_waiting", "replacement_requests", ["location_id", "part_no", "status"])


def downgrade() -> None:
    op.drop_index("ix_replacement_waiting", table_name="replacement_requests")
    op.drop_index("ix_replacement_requests_tenant_id", table_name="replacement_requests")
    op.drop_table("replacement_requests")
