"""leases: which replica does a singleton job (a timer, a re-plan) until when (shared.leases)

Revision ID: aef13d67550e
Revises: cb1d6807f0cc
Create Date: 2026-12-02 22:00:00

"""
from typing import Sequence, Union

from shared.migrations import create_leases, drop_leases

revision: str = 'aef13d67550e'
down_revision: Union[str, Sequence[str], None] = 'cb1d6807f0cc'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_leases()


def downgrade() -> None:
    drop_leases()
