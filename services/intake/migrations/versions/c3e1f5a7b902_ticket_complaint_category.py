"""tickets.complaint_category: what a complaint is about (投诉类别)

Only a complaint about the machine or the work on it gets an on-site deadline; existing
complaints keep theirs and are left without a category (read as a product complaint).

Revision ID: c3e1f5a7b902
Revises: 8de405ba935e
Create Date: 2026-12-03 10:50:00

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = "c3e1f5a7b902"
down_revision: Union[str, Sequence[str], None] = "8de405ba935e"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("complaint_category", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (see 8de405ba935e): the deadlines' and audit rows' foreign keys
    with op.batch_alter_table("tickets", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("complaint_category")
