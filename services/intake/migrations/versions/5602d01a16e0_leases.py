"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: 5602d01a16e0
Revises: a719a4765f2a
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = '5602d01a16e0'
down_revision: Union[str, Sequence[str], None] = 'a719a4765f2a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
