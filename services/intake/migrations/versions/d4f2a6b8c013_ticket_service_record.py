"""tickets: how a ticket was served, for the ledger (服务信息台帐)

服务方式 (service_mode), 服务内容 (work_done) and 服务人员 (technician_name) from the check-out
(visit.completed), and the latest callback's answers (回访记录: callback_at, callback_satisfaction,
callback_negative, callback_comment) from qa's callback.completed. Existing tickets start empty.

Revision ID: d4f2a6b8c013
Revises: c3e1f5a7b902
Create Date: 2026-12-03 11:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4f2a6b8c013"
down_revision: str | Sequence[str] | None = "c3e1f5a7b902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("service_mode", sa.String(length=16)),
    ("work_done", sa.Text()),
    ("technician_name", sa.String(length=64)),
    ("callback_at", sa.DateTime(timezone=True)),
    ("callback_satisfaction", sa.Integer()),
    ("callback_negative", sa.Boolean()),
    ("callback_comment", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (see 8de405ba935e): the deadlines' and audit rows' foreign keys
    with op.batch_alter_table("tickets", schema=None, recreate="never") as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
