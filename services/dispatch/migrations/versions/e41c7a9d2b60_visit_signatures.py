"""visit signatures: the customer's signature drawn at check-out (visit_signatures, visits.signed)

Revision ID: e41c7a9d2b60
Revises: b7e2d5a91c40
Create Date: 2026-12-10 10:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = 'e41c7a9d2b60'
down_revision: Union[str, Sequence[str], None] = 'b7e2d5a91c40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "visit_signatures",
        sa.Column("visit_id", sa.String(length=32), nullable=False),
        sa.Column("outlet_id", sa.String(length=32), nullable=True),
        sa.Column("png", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("visit_id"),
    )
    with op.batch_alter_table("visit_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_signatures_outlet_id"), ["outlet_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_signatures_tenant_id"), ["tenant_id"], unique=False)
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("signed")
    with op.batch_alter_table("visit_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_signatures_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_visit_signatures_outlet_id"))
    op.drop_table("visit_signatures")
