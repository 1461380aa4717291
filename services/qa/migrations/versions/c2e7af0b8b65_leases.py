"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: c2e7af0b8b65
Revises: 636a74742763
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = 'c2e7af0b8b65'
down_revision: Union[str, Sequence[str], None] = '636a74742763'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
