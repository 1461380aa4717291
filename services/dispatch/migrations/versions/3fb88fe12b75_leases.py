"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: 3fb88fe12b75
Revises: d948033aedcf
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = '3fb88fe12b75'
down_revision: Union[str, Sequence[str], None] = 'd948033aedcf'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
