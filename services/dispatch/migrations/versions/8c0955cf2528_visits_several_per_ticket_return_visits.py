"""visits: several per ticket (return visits)

Revision ID: 8c0955cf2528
Revises: 116ef7ee3b53
Create Date: 2026-11-26 13:16:10.472409

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8c0955cf2528'
down_revision: Union[str, Sequence[str], None] = '116ef7ee3b53'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# SQLite reflects the initial schema's unique constraint on visits.ticket_id without a name:
# a naming convention gives it one inside batch mode so it can be dropped (PostgreSQL named it
# itself, visits_ticket_id_key; we look the name up rather than guess it)
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _ticket_uniques(bind):
    return [uc["name"] for uc in sa.inspect(bind).get_unique_constraints("visits")
            if uc["column_names"] == ["ticket_id"]]


def upgrade() -> None:
    """A ticket may have several visits (return visits after a negative callback)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("visits", recreate="always", naming_convention=_CONVENTION) as batch_op:
            if _ticket_uniques(bind):
                batch_op.drop_constraint("uq_visits_ticket_id", type_="unique")
            batch_op.add_column(sa.Column("return_of", sa.String(length=32), nullable=True))
            batch_op.create_index(batch_op.f("ix_visits_ticket_id"), ["ticket_id"], unique=False)
    else:
        for name in _ticket_uniques(bind):
            op.drop_constraint(name, "visits", type_="unique")
        with op.batch_alter_table("visits", schema=None) as batch_op:
            batch_op.add_column(sa.Column("return_of", sa.String(length=32), nullable=True))
            batch_op.create_index(batch_op.f("ix_visits_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    """Back to one visit per ticket (fails if return visits exist)."""
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visits_ticket_id"))
        batch_op.drop_column("return_of")
        batch_op.create_unique_constraint("uq_visits_ticket_id", ["ticket_id"])
