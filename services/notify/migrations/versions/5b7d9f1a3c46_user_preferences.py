"""preferences: each portal user's channels per notice kind, own e-mail and phone, quiet hours

Revision ID: 5b7d9f1a3c46
Revises: 09c41c2c545c
Create Date: 2026-12-03 13:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7d9f1a3c46"
down_revision: str | Sequence[str] | None = "09c41c2c545c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preferences",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("outlet_id", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("quiet_hours", sa.String(length=16), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_preferences_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preferences_tenant_id"))
    op.drop_table("preferences")
